"""decode_image / probe_video / video_frame_at / make_thumbnail on the bad-input corpus."""
from __future__ import annotations

import io
import subprocess
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image, ImageFile

from core.limits import IngestLimits
from core.media import MediaError, decode_image, make_thumbnail, probe_video, video_frame_at
from core.sources import open_source
from badinput import EXPECTED_ZIP, build_bad_zip, image_bytes, png_claiming_size, video_bytes

IMAGE_CASES = sorted((name, EXPECTED_ZIP[name]) for name in image_bytes())
VIDEO_CASES = sorted((name, EXPECTED_ZIP[name]) for name in video_bytes())


def _decode(name: str, **kwargs):
    return decode_image(image_bytes()[name], name, **kwargs)


def _pixel(name: str, xy: tuple[int, int]) -> tuple[int, ...]:
    return _decode(name).image.getpixel(xy)


@pytest.mark.parametrize("name, expected", IMAGE_CASES)
def test_image_case(name: str, expected: str) -> None:
    if expected == "ok":
        decoded = _decode(name)
        assert decoded.image.mode == "RGB"
        assert decoded.image.size == (decoded.width, decoded.height)
        return
    with pytest.raises(MediaError) as err:
        _decode(name)
    assert err.value.code == expected
    assert f"'{name}'" in err.value.message


def test_cmyk_becomes_rgb() -> None:
    decoded = _decode("cmyk.jpg")
    assert decoded.mode_in == "CMYK"
    r, g, b = decoded.image.getpixel((16, 16))
    assert r > 180 and g < 90 and b < 90  # red ink stays red


def test_16_bit_is_scaled_not_clipped() -> None:
    decoded = _decode("gray16.png")
    assert decoded.mode_in.startswith("I")
    row = [decoded.image.getpixel((x, 4))[0] for x in range(64)]
    assert row[0] == 0 and row[-1] == 255
    assert 110 < row[32] < 145  # mid-grey, not white


def test_palette_transparency_composited_on_white() -> None:
    assert _decode("palette_transparent.png").mode_in == "P"
    assert _pixel("palette_transparent.png", (2, 2)) == (255, 255, 255)
    assert _pixel("palette_transparent.png", (30, 2)) == (255, 0, 0)


def test_rgba_composited_on_white() -> None:
    assert _decode("rgba.png").mode_in == "RGBA"
    assert _pixel("rgba.png", (2, 2)) == (255, 255, 255)
    assert _pixel("rgba.png", (30, 2)) == (0, 0, 255)


def test_exif_orientation_applied() -> None:
    decoded = _decode("rotated.jpg")
    assert (decoded.width, decoded.height) == (32, 64)


def test_animated_gif_first_frame_and_count() -> None:
    decoded = _decode("animated.gif")
    assert (decoded.frames, decoded.format) == (3, "GIF")
    r, g, b = decoded.image.getpixel((8, 8))
    assert r > 200 and g < 50 and b < 50


def test_multipage_tiff_counts_pages() -> None:
    decoded = _decode("multipage.tif")
    assert (decoded.frames, decoded.format, decoded.image.size) == (2, "TIFF", (16, 16))


def test_sniffs_content_not_extension() -> None:
    decoded = decode_image(image_bytes()["good.png"], "actually-a-png.jpg")
    assert decoded.format == "PNG"


def test_huge_declared_size_is_a_bomb_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("pixels decoded"))
    for width, height in ((12_000, 12_000), (100_000, 100_000)):  # ours, then Pillow's own error
        with pytest.raises(MediaError) as err:
            decode_image(png_claiming_size(width, height), "poster.png")
        assert err.value.code == "decompression_bomb" and "'poster.png'" in err.value.message


def test_pixel_limit_comes_from_limits_not_globals() -> None:
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(MediaError) as err:
        _decode("good.png", limits=IngestLimits(max_image_pixels=1000))
    assert err.value.code == "decompression_bomb"
    assert Image.MAX_IMAGE_PIXELS == before and ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("data, code, hint", [
    (b"%PDF-1.7\n1 0 obj\n", "not_an_image", "PDF"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "unsupported_image", "HEIC"),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "not_an_image", "video"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "unsupported_image", "SVG"),
])
def test_not_an_image_says_what_it_looks_like(data: bytes, code: str, hint: str) -> None:
    with pytest.raises(MediaError) as err:
        decode_image(data, "banner.jpg")
    assert err.value.code == code and hint in err.value.message and "'banner.jpg'" in err.value.message


def test_thumbnail_is_small_jpeg() -> None:
    thumb = Image.open(io.BytesIO(make_thumbnail(Image.new("RGB", (1000, 500), "red"))))
    assert thumb.format == "JPEG" and thumb.size == (320, 160)
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert Image.open(io.BytesIO(make_thumbnail(rgba, max_side=64))).getpixel((5, 5))[0] > 240


# --- video -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("videos")
    paths = {}
    for name, data in video_bytes().items():
        paths[name] = directory / f"copy-of-{name}"  # probed under a temp name, reported by its own
        paths[name].write_bytes(data)
    return paths


@pytest.mark.parametrize("name, expected", VIDEO_CASES)
def test_video_case(videos: dict[str, Path], name: str, expected: str) -> None:
    if expected == "ok":
        probe_video(videos[name], name=name)
        return
    with pytest.raises(MediaError) as err:
        probe_video(videos[name], name=name)
    assert err.value.code == expected
    assert f"'{name}'" in err.value.message


def test_probe_reads_stream_details(videos: dict[str, Path]) -> None:
    probe = probe_video(videos["good.mp4"])
    assert (probe.width, probe.height, probe.fps, probe.codec) == (64, 48, 10.0, "h264")
    assert probe.duration_s == pytest.approx(2.0, abs=0.1) and probe.frames == pytest.approx(20, abs=1)


def test_long_video_probes_but_far_too_long_is_refused(videos: dict[str, Path]) -> None:
    assert probe_video(videos["good.mp4"], IngestLimits(max_video_seconds=1.0)).duration_s > 1.0
    with pytest.raises(MediaError) as err:
        probe_video(videos["good.mp4"], IngestLimits(max_video_seconds=0.1), name="long.mp4")
    assert err.value.code == "video_too_long" and "'long.mp4'" in err.value.message


def test_empty_video(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(MediaError) as err:
        probe_video(tmp_path / "empty.mp4")
    assert err.value.code == "empty_file" and "'empty.mp4'" in err.value.message


def test_option_like_file_name_is_not_an_option(tmp_path: Path) -> None:
    path = tmp_path / "-y.mp4"
    path.write_bytes(video_bytes()["good.mp4"])
    assert probe_video(path).width == 64


def test_frame_at_time(videos: dict[str, Path]) -> None:
    frame = video_frame_at(videos["good.mp4"], 1.0)
    assert frame.mode == "RGB" and frame.size == (64, 48)
    assert video_frame_at(videos["good.mp4"], 0.5, max_side=32).size == (32, 24)


def test_frame_past_the_end_falls_back_to_last_keyframe(videos: dict[str, Path]) -> None:
    assert video_frame_at(videos["good.mp4"], 30.0).size == (64, 48)


def test_frame_of_corrupt_video_raises(videos: dict[str, Path]) -> None:
    with pytest.raises(MediaError) as err:
        video_frame_at(videos["corrupt.mp4"], 0.0, name="corrupt.mp4")
    assert err.value.code == "corrupt_video" and "'corrupt.mp4'" in err.value.message


def test_only_bundled_ffmpeg_with_timeouts(videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_run = subprocess.run

    def recording_run(args, **kwargs):
        calls.append((args, kwargs))
        return real_run(args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    probe_video(videos["good.mp4"])
    video_frame_at(videos["good.mp4"], 30.0)
    assert calls and all(args[0] == imageio_ffmpeg.get_ffmpeg_exe() for args, _ in calls)
    assert all(kwargs.get("timeout") for _, kwargs in calls)


def test_whole_corpus_is_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    entries, _ = open_source(build_bad_zip(tmp_path))
    for entry in entries:
        assert _outcome(entry.kind, entry.read_bytes(), entry.rel_path) == EXPECTED_ZIP[entry.rel_path]
    assert time.perf_counter() - start < 20


def _outcome(kind: str, data: bytes, name: str) -> str:
    try:
        if kind == "image":
            decode_image(data, name)
        elif kind == "video":
            with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
                f.write(data)
                f.flush()
                probe_video(f.name, name=name)
    except MediaError as err:
        return err.code
    return "ok"
