"""A corpus of hostile and awkward uploads, built at test time (no binary fixtures in git).

``build_bad_zip(dir)`` and ``build_bad_folder(dir)`` write one source each, holding the
bad cases plus good images, a good video and metadata CSVs.  ``EXPECTED_ZIP`` and
``EXPECTED_FOLDER`` map every rel_path in them to its expected outcome:

* ``"ok"``: ``open_source`` returns it and it decodes (or, for a CSV, parses);
* a ``SkippedEntry.reason``: ``open_source`` skips it with that reason;
* a ``MediaError.code``: ``open_source`` returns it but decode_image/probe_video raises that code.

Names in ``DUPLICATES_ZIP`` are in the zip twice: the first copy is expected "ok", the
second is skipped as "duplicate_name".  ``metadata.csv`` names ``MISSING_REFERENCED_FILE``,
which is in neither source: the CSV parses fine and reporting the gap is the caller's job.
"""
from __future__ import annotations

import io
import os
import random
import stat
import struct
import subprocess
import tempfile
import unicodedata
import warnings
import zipfile
import zlib
from functools import cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

SOURCE_REASONS = {"path_traversal", "absolute_path", "symlink", "nested_zip", "too_large",
                  "zip_bomb_ratio", "too_many_files", "unsupported_type", "total_size_exceeded",
                  "encrypted", "unreadable_zip", "hidden_or_system", "duplicate_name", "unreadable_file"}
MISSING_REFERENCED_FILE = "missing.png"
CAFE = "café-été.png"  # NFC; the zip also holds its NFD spelling, which normalises to the same name

_GOOD_IMAGES = ["good.png", "good.jpg", "sub/good.webp", "cmyk.jpg", "gray16.png", "palette_transparent.png",
                "rgba.png", "rotated.jpg", "animated.gif", "multipage.tif", CAFE, "日本語.png", "dup.png"]
_MEDIA_EXPECTED = {
    **{name: "ok" for name in _GOOD_IMAGES},
    "empty.jpg": "empty_file",
    "truncated.png": "truncated_image",
    "truncated.jpg": "truncated_image",
    "text.jpg": "not_an_image",
    "bomb.png": "decompression_bomb",
    "good.mp4": "ok",
    "corrupt.mp4": "corrupt_video",
    "truncated.mp4": "corrupt_video",
    "audio_only.mp4": "no_video_stream",
    "metadata.csv": "ok",
    "no_file_column.csv": "ok",
    "cp1252.csv": "ok",
}
_SHARED_SKIPS = {
    "promo.zip": "nested_zip",
    "notes.txt": "unsupported_type",
    "brief.pdf": "unsupported_type",
    ".DS_Store": "hidden_or_system",
    "Thumbs.db": "hidden_or_system",
    ".hidden.png": "hidden_or_system",
}
EXPECTED_ZIP: dict[str, str] = {
    **_MEDIA_EXPECTED, **_SHARED_SKIPS,
    "__MACOSX/._good.png": "hidden_or_system",
    "../../evil.png": "path_traversal",
    "..\\..\\evil.png": "path_traversal",
    "/etc/evil.png": "absolute_path",
    "C:\\evil.png": "absolute_path",
    "link.png": "symlink",
    "secret.png": "encrypted",
    "huge.png": "too_large",  # its header claims 400 MB
    "zeros.bmp": "zip_bomb_ratio",  # 2 MB of zeros in about 2 KB
    "résumé-cp437.png": "ok",  # cp437 name, no UTF-8 flag
    "naïve-utf8.png": "ok",  # UTF-8 bytes without the UTF-8 flag (common in the wild)
}
DUPLICATES_ZIP = {"dup.png", CAFE}
EXPECTED_FOLDER: dict[str, str] = {
    **_MEDIA_EXPECTED, **_SHARED_SKIPS,
    "__MACOSX": "hidden_or_system",  # a hidden folder is skipped once, not file by file
    ".git": "hidden_or_system",
    "link.png": "symlink",
    "linked_dir": "symlink",
    "pipe.png": "unsupported_type",  # a FIFO: reading it would block forever
}


# --- sources -----------------------------------------------------------------------------------

def build_bad_zip(directory: str | os.PathLike) -> Path:
    """Write bad.zip (see EXPECTED_ZIP and DUPLICATES_ZIP) into ``directory``."""
    path = Path(directory) / "bad.zip"
    files = _shared_files()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate we add on purpose
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("dup.png", image_bytes()["good.jpg"])
        zf.writestr(unicodedata.normalize("NFD", CAFE), image_bytes()["good.jpg"])
        zf.writestr("__MACOSX/._good.png", b"\x00\x05\x16\x07 AppleDouble")
        for name in ("../../evil.png", "..\\..\\evil.png", "/etc/evil.png", "C:\\evil.png"):
            zf.writestr(zipfile.ZipInfo(name), files["good.png"])
        zf.writestr(_symlink_info("link.png"), "../../etc/passwd")
        zf.writestr("secret.png", files["good.png"])
        zf.writestr("huge.png", files["good.png"])
        zf.writestr("zeros.bmp", bytes(2 * 1024**2))
        zf.writestr(_LegacyNameInfo("résumé-cp437.png".encode("cp437")), files["good.png"])
        zf.writestr(_LegacyNameInfo("naïve-utf8.png".encode("utf-8")), files["good.png"])
    _patch_central_directory(path, "secret.png", flag_bits=0x1)
    _patch_central_directory(path, "huge.png", file_size=400 * 1024**2)
    return path


def build_bad_folder(directory: str | os.PathLike) -> Path:
    """Write the folder ``bad_folder`` (see EXPECTED_FOLDER) into ``directory``."""
    root = Path(directory) / "bad_folder"
    for name, data in _shared_files().items():
        _write(root / name, data)
    _write(root / "__MACOSX" / "._good.png", b"\x00\x05\x16\x07 AppleDouble")
    _write(root / ".git" / "config", b"[core]\n")
    (root / "link.png").symlink_to("good.png")
    (root / "linked_dir").symlink_to("sub", target_is_directory=True)
    os.mkfifo(root / "pipe.png")
    return root


def build_many_files_zip(directory: str | os.PathLike, count: int) -> Path:
    """A zip of ``count`` small good PNGs named img_000.png, img_001.png, ..."""
    path = Path(directory) / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(count):
            zf.writestr(f"img_{i:03d}.png", image_bytes()["good.png"])
    return path


def build_lying_zip(directory: str | os.PathLike) -> Path:
    """A zip whose 'liar.png' header declares 100 bytes while its data is a few KB."""
    path = Path(directory) / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("liar.png", image_bytes()["truncated.png"] * 4)
    _patch_central_directory(path, "liar.png", file_size=100)
    return path


def build_unreadable_zips(directory: str | os.PathLike) -> list[Path]:
    """Three '.zip' files that are not readable zips: random bytes, half a zip, and 0 bytes."""
    directory = Path(directory)
    half = _zip_of({"good.png": image_bytes()["good.png"]})
    cases = {"random.zip": random.Random(1).randbytes(4096), "half.zip": half[: len(half) // 2],
             "empty.zip": b""}
    for name, data in cases.items():
        _write(directory / name, data)
    return [directory / name for name in cases]


def _shared_files() -> dict[str, bytes]:
    """Everything that can live in both a zip and a folder."""
    return {
        **image_bytes(), **video_bytes(), **csv_bytes(),
        "promo.zip": _zip_of({"inner.png": image_bytes()["good.png"]}),
        "notes.txt": b"remember to upload the summer set\n",
        "brief.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
        "Thumbs.db": b"\xd0\xcf\x11\xe0",
        ".hidden.png": image_bytes()["good.png"],
    }


# --- media -------------------------------------------------------------------------------------

@cache
def image_bytes() -> dict[str, bytes]:
    """Every image case (good and bad) by file name."""
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    return {
        "good.png": _encode(_gradient(64, 48), "PNG"),
        "good.jpg": _encode(_gradient(64, 48), "JPEG"),
        "sub/good.webp": _encode(_gradient(40, 30), "WEBP"),
        "cmyk.jpg": _encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG"),  # pure red ink
        "gray16.png": _encode(Image.fromarray(np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (8, 1))),
                              "PNG"),
        "palette_transparent.png": _palette_with_transparency(),
        "rgba.png": _half_transparent(),
        "rotated.jpg": _rotated_jpeg(),
        "animated.gif": _animated_gif(),
        "multipage.tif": _multipage_tiff(),
        CAFE: _encode(_gradient(16, 16), "PNG"),
        "日本語.png": _encode(_gradient(16, 16), "PNG"),
        "dup.png": _encode(_gradient(16, 16), "PNG"),
        "empty.jpg": b"",
        "truncated.png": _encode(noise, "PNG")[:2000],
        "truncated.jpg": _encode(noise, "JPEG")[:1500],
        "text.jpg": b"This is a banner brief, not a picture.\nHeadline: Summer sale\n",
        "bomb.png": png_claiming_size(12_000, 12_000),
    }


def png_claiming_size(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose IHDR is patched to claim width x height (CRC recomputed)."""
    png = _encode(Image.new("RGB", (1, 1), "white"), "PNG")
    ihdr = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


@cache
def video_bytes() -> dict[str, bytes]:
    """good.mp4 (2 s, 64x48, 10 fps), a truncated and a random-bytes .mp4, and an audio-only .mp4."""
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    with tempfile.TemporaryDirectory() as tmp:
        good, audio = Path(tmp) / "good.mp4", Path(tmp) / "audio.mp4"
        writer = imageio_ffmpeg.write_frames(str(good), (64, 48), fps=10, macro_block_size=1)
        writer.send(None)
        rng = np.random.default_rng(0)
        for _ in range(20):  # noise, so the file is big enough that half of it lacks the index
            writer.send(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8).tobytes())
        writer.close()
        subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                        "sine=frequency=440:duration=1", "-c:a", "aac", str(audio)], check=True, timeout=60)
        good_data, audio_data = good.read_bytes(), audio.read_bytes()
    return {"good.mp4": good_data, "truncated.mp4": good_data[: len(good_data) // 2],
            "corrupt.mp4": random.Random(0).randbytes(4096), "audio_only.mp4": audio_data}


def csv_bytes() -> dict[str, bytes]:
    """metadata.csv (good rows, an unknown column, a bad number, a missing file), and two awkward CSVs."""
    metadata = (
        'file,headline,ad_text,spend,impressions,date,tags,brand_voice\n'
        'good.png,Summer sale,"Line one\nline two","$1,234.50","12,000",2017-05-03,summer;sale,playful\n'
        'good.jpg,Winter,Cozy up,abc,NA,"May 3, 2017",winter,calm\n'
        f'{MISSING_REFERENCED_FILE},Gone,Not in the upload,10,100,05/03/2017,,\n'
        'good.png,Summer sale,Different copy for the same image,5,50,2017-05-04,summer,playful\n'
    )
    return {
        "metadata.csv": metadata.encode("utf-8"),
        "no_file_column.csv": b"headline,spend\nHello,1\n",
        "cp1252.csv": "file;headline\ngood.png;Café été\n".encode("cp1252"),
    }


def _gradient(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    return Image.fromarray(np.dstack([np.tile(x, (height, 1)), np.tile(y[:, None], (1, width)),
                                      np.full((height, width), 128, np.uint8)]))


def _palette_with_transparency() -> bytes:
    im = Image.new("P", (32, 16), 0)  # index 0 (black) is transparent, index 1 is red
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (16, 0, 32, 16))
    return _encode(im, "PNG", transparency=0)


def _half_transparent() -> bytes:
    im = Image.new("RGBA", (32, 16), (0, 0, 0, 0))  # left half: transparent black
    im.paste((0, 0, 255, 255), (16, 0, 32, 16))  # right half: opaque blue
    return _encode(im, "PNG")


def _rotated_jpeg() -> bytes:
    """Stored 64x32; EXIF orientation 6 (rotate 90 degrees clockwise) means it displays as 32x64."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(_gradient(64, 32), "JPEG", exif=exif.tobytes())


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "green", "blue")]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _multipage_tiff() -> bytes:
    return _encode(_gradient(16, 16), "TIFF", save_all=True, append_images=[_gradient(8, 8)])


def _encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


# --- zip crafting ------------------------------------------------------------------------------

class _LegacyNameInfo(zipfile.ZipInfo):
    """Stores the name bytes as given, without the UTF-8 flag, like old Windows zip tools do."""

    def __init__(self, raw_name: bytes):
        super().__init__(raw_name.decode("cp437"))

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 (zipfile's name)
        return self.filename.encode("cp437"), self.flag_bits


def _symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, so external_attr holds st_mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _patch_central_directory(path: Path, name: str, *, flag_bits: int = 0, file_size: int | None = None) -> None:
    """Make a zip's headers lie: OR in flag bits, or claim another uncompressed size."""
    data = bytearray(path.read_bytes())
    raw_name = name.encode("utf-8")
    for signature, flags_at, size_at, name_len_at, name_at in ((b"PK\x01\x02", 8, 24, 28, 46),
                                                               (b"PK\x03\x04", 6, 22, 26, 30)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            (name_len,) = struct.unpack_from("<H", data, start + name_len_at)
            if data[start + name_at: start + name_at + name_len] == raw_name:
                (flags,) = struct.unpack_from("<H", data, start + flags_at)
                struct.pack_into("<H", data, start + flags_at, flags | flag_bits)
                if file_size is not None:
                    struct.pack_into("<I", data, start + size_at, file_size)
            start += 4
    path.write_bytes(bytes(data))


def _zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# --- hostile media: cheap files that cost a lot to analyse ---------------------------------------

def _palette_png(width: int, height: int) -> bytes:
    """A two-colour palette PNG: width x height pixels in a few kB (an 81 MP one is ~100 kB)."""
    im = Image.new("P", (width, height), 0)
    im.putpalette([255, 255, 255, 200, 30, 30] + [0] * 762)
    im.paste(1, (width // 8, height // 8, width // 2, height // 2))
    return _encode(im, "PNG")


def _many_frames_gif(count: int) -> bytes:
    frames = [Image.new("P", (8, 8), i % 2) for i in range(count)]
    for i, f in enumerate(frames):
        f.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
        f.putpixel((i % 8, (i // 8) % 8), 1 - i % 2)
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20)


def _many_pages_tiff(count: int) -> bytes:
    pages = [Image.new("L", (4, 4), i % 256) for i in range(count)]
    return _encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


@cache
def hostile_image_bytes() -> dict[str, bytes]:
    """Small files with hostile shapes; HOSTILE_EXPECTED says what each must give."""
    return {
        "thin_20000x2.png": _encode(Image.new("RGB", (20000, 2), "white"), "PNG"),   # ~200 bytes
        "thin_5000x5.png": _encode(Image.new("RGB", (5000, 5), "white"), "PNG"),
        "tall_3x4000.png": _encode(Image.new("RGB", (3, 4000), "white"), "PNG"),
        "banner_970x90.png": _encode(_gradient(970, 90), "PNG"),                      # a real leaderboard: fine
        "frames_2500.gif": _many_frames_gif(2500),
        "pages_2500.tif": _many_pages_tiff(2500),
        "huge_palette_81mp.png": _palette_png(9000, 9000),
    }


HOSTILE_EXPECTED = {
    "thin_20000x2.png": "extreme_aspect_ratio",
    "thin_5000x5.png": "extreme_aspect_ratio",
    "tall_3x4000.png": "extreme_aspect_ratio",
    "banner_970x90.png": "ok",
    "frames_2500.gif": "ok",
    "pages_2500.tif": "ok",
    "huge_palette_81mp.png": "ok",
}


def build_hostile_folder(directory: str | os.PathLike) -> Path:
    """A folder of hostile_image_bytes() plus two good images (see HOSTILE_EXPECTED)."""
    root = Path(directory) / "hostile"
    for name, data in {**hostile_image_bytes(), "good.png": image_bytes()["good.png"],
                       "good.jpg": image_bytes()["good.jpg"]}.items():
        _write(root / name, data)
    return root
