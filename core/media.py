"""Decode one image or probe one video, turning every failure into a MediaError a person can act on.

Images are sniffed by content (never by extension), checked against the pixel limit
before any pixel is decoded, and normalised to 8-bit RGB on white.  Videos are read
only through the ffmpeg binary bundled with imageio-ffmpeg, with timeouts, and with
ffmpeg restricted to local files and the MP4/MOV/WebM demuxers, so a hostile file can
neither hang ingest nor make ffmpeg fetch other files (HLS/concat playlists).

Error codes: empty_file, truncated_image, not_an_image, decompression_bomb, extreme_aspect_ratio,
unsupported_image, corrupt_video, no_video_stream, video_too_long.  Frame and page counts are
walked only up to ``limits.max_frames`` (only the first frame is ever decoded).
"""
from __future__ import annotations

import io
import math
import re
import struct
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageCms, ImageOps

from core.limits import DEFAULT_LIMITS, IngestLimits

# Only these decoders ever see upload bytes (JPEG also covers camera MPO files).
_IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")
_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_HIGH_BIT_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
# What Pillow's decoders raise on hostile or broken input (fuzzing finds all of these).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError)
_SRGB = ImageCms.createProfile("sRGB")
_FIX_IMAGE = "export it as JPG/PNG and upload again."

_FFMPEG_TIMEOUT_S = 60
_FFMPEG_INPUT_GUARDS = ["-protocol_whitelist", "file", "-format_whitelist", "mov,matroska"]
_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_PROGRESS_TIME = re.compile(r"time=(\d+):(\d\d):(\d\d(?:\.\d+)?)")
_VIDEO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+)(.*)")
_FRAME_SIZE = re.compile(r"(?<![\w.])([1-9]\d{0,4})x([1-9]\d{0,4})(?!\w)")
_RATE = re.compile(r"(\d+(?:\.\d+)?)(k?) (fps|tbr)")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees")


class MediaError(Exception):
    """A creative could not be decoded; ``message`` names the file and says what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class DecodedImage:
    image: Image.Image  # RGB, EXIF orientation applied, transparency composited on white; at most
                        # limits.max_work_pixels (every signal works far smaller), so memory stays bounded
    width: int          # the file's own size, after orientation
    height: int
    frames: int  # frame count of animated GIF/WebP and multi-page TIFF; 1 for stills
    format: str  # "PNG", "JPEG", ...
    mode_in: str  # the file's own mode, e.g. "CMYK", "I;16", "P", "RGBA"


@dataclass
class VideoProbe:
    duration_s: float
    fps: float
    width: int  # as displayed, i.e. after the rotation ffmpeg applies when decoding
    height: int
    frames: int  # estimated from duration and frame rate
    codec: str | None


# --- images ------------------------------------------------------------------------------------

def decode_image(data: bytes, name: str = "", limits: IngestLimits = DEFAULT_LIMITS) -> DecodedImage:
    """Decode the first frame of an image to RGB; raises MediaError on anything unusable."""
    label = name or "image"
    if not data:
        raise MediaError("empty_file", f"'{label}' is empty (0 bytes); export it again and upload it.")
    im = _open_checked(data, label, limits)
    try:
        frames = _frame_count(im, limits.max_frames)
        im.seek(0)
        full_size = im.size
        if im.format in ("JPEG", "MPO") and full_size[0] * full_size[1] > limits.max_work_pixels:
            im.draft("RGB", _fit(full_size, limits.max_work_pixels))  # decode at 1/2, 1/4 or 1/8 scale
        im.load()
        work = _working_copy(im, limits.max_work_pixels)
    except Image.DecompressionBombError as exc:
        raise _bomb(label, *im.size, limits) from exc
    except _DECODE_ERRORS as exc:
        raise _decode_failure(label, exc) from exc
    try:
        rgb = _to_rgb(_oriented(work))
    except ValueError as exc:  # e.g. a LAB TIFF Pillow cannot convert
        raise MediaError("unsupported_image", f"'{label}' uses colour mode {im.mode}, which cannot be "
                                              f"converted; {_FIX_IMAGE}") from exc
    fmt = "JPEG" if im.format == "MPO" else im.format  # MPO is a camera JPEG with extra views
    width, height = full_size if (rgb.width >= rgb.height) == (work.width >= work.height) else full_size[::-1]
    return DecodedImage(rgb, width, height, frames, fmt, im.mode)


def make_thumbnail(img: Image.Image, max_side: int = 320) -> bytes:
    """JPEG bytes (quality 85) of ``img`` scaled to fit in max_side x max_side."""
    thumb = _to_rgb(img)  # always a new image, so the caller's is untouched
    thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _open_checked(data: bytes, label: str, limits: IngestLimits) -> Image.Image:
    """Open (header only) and enforce the pixel limit before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            # Pillow's global threshold only warns; our own limit below is the one that decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
    except Image.DecompressionBombError as exc:  # over twice Pillow's threshold
        raise _bomb(label, 0, 0, limits) from exc
    except Image.UnidentifiedImageError as exc:
        raise _not_an_image(data, label) from exc
    except _DECODE_ERRORS as exc:
        raise _decode_failure(label, exc) from exc
    width, height = im.size
    if width * height > limits.max_image_pixels:
        raise _bomb(label, width, height, limits)
    if max(width, height) > limits.max_aspect_ratio * max(1, min(width, height)):
        raise MediaError("extreme_aspect_ratio",
                         f"'{label}' is {width:,}x{height:,} pixels, its long side more than "
                         f"{limits.max_aspect_ratio:g} times its short side; an image this thin cannot be analysed: crop or pad it and upload again.")
    return im


def _frame_count(im: Image.Image, cap: int) -> int:
    """Frames of an animation or pages of a TIFF, counted up to ``cap`` (only frame 0 is decoded)."""
    if im.format == "TIFF":
        # each page is an IFD to walk; a hostile file can chain millions, so stop at the cap
        count = 1
        try:
            while count < cap:
                im.seek(count)
                count += 1
        except EOFError:
            pass
        return count
    # GIF/WebP/PNG: n_frames skips over frame data without decoding it (bounded by the file size)
    return min(getattr(im, "n_frames", 1), cap)


def _fit(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    scale = min(1.0, (max_pixels / max(1, size[0] * size[1])) ** 0.5)
    return max(1, int(size[0] * scale)), max(1, int(size[1] * scale))


def _working_copy(im: Image.Image, max_pixels: int) -> Image.Image:
    """Shrink a decoded image to at most max_pixels before the colour conversions copy it."""
    width, height = im.size
    if width * height <= max_pixels:
        return im
    factor = math.ceil((width * height / max_pixels) ** 0.5)
    if im.mode in ("P", "PA", "1", "I;16", "I;16L", "I;16B", "I;16N"):  # averaging palette indices is meaningless
        small = im.resize((max(1, width // factor), max(1, height // factor)), Image.Resampling.NEAREST)
    else:
        small = im.reduce(factor)
    small.info = dict(im.info)  # keeps the ICC profile, transparency and EXIF orientation for what follows
    return small


def _oriented(im: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(im)
    except _DECODE_ERRORS:  # a broken EXIF block should not reject an otherwise good image
        return im.copy()


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in _HIGH_BIT_MODES:
        im = _to_8bit(im)
    elif im.mode == "CMYK":
        im = _cmyk_to_rgb(im)
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def _to_8bit(im: Image.Image) -> Image.Image:
    """Rescale 16/32-bit greyscale to 0..255; Pillow's own convert clips everything over 255 to white."""
    pixels = np.asarray(im).astype(np.float32)
    full_scale = 1.0 if im.mode == "F" and pixels.max(initial=0) <= 1.0 else 65535.0
    scaled = np.clip(pixels * (255.0 / full_scale) + 0.5, 0, 255)
    return Image.fromarray(scaled.astype(np.uint8))


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    """Use the embedded print profile when there is one; the naive formula oversaturates."""
    icc = im.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, source, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile falls back to the plain conversion
    return im.convert("RGB")


def _bomb(label: str, width: int, height: int, limits: IngestLimits) -> MediaError:
    size = f"{width:,}x{height:,} pixels" if width else "enormous"
    return MediaError("decompression_bomb",
                      f"'{label}' is {size}, over the {limits.max_image_pixels / 1e6:,.0f}-megapixel limit "
                      f"(a possible decompression bomb); resize it and upload again.")


def _decode_failure(label: str, exc: Exception) -> MediaError:
    if re.search(r"not available|unsupported|not supported", str(exc), re.IGNORECASE):
        return MediaError("unsupported_image", f"'{label}' uses an image feature that cannot be read "
                                               f"({exc}); {_FIX_IMAGE}")
    return MediaError("truncated_image", f"'{label}' is damaged or incomplete ({exc}); "
                                         f"export it again and upload it.")


def _not_an_image(data: bytes, label: str) -> MediaError:
    head = data[:1024]
    if head.startswith(_IMAGE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        # Cut off inside its own header: an image, just not a whole one.
        return MediaError("truncated_image", f"'{label}' is an incomplete image (its header is cut off); "
                                             f"export it again and upload it.")
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return MediaError("unsupported_image", f"'{label}' is a HEIC photo, which cannot be read; {_FIX_IMAGE}")
    if head.startswith(b"8BPS"):
        return MediaError("unsupported_image", f"'{label}' is a Photoshop file; {_FIX_IMAGE}")
    if b"<svg" in head.lower():
        return MediaError("unsupported_image", f"'{label}' is an SVG vector file; {_FIX_IMAGE}")
    what = ("a video" if head[4:8] == b"ftyp" else "a PDF" if head.startswith(b"%PDF")
            else "a zip or Office document" if head.startswith(b"PK\x03\x04")
            else "text" if _looks_like_text(head) else "an unknown file type")
    return MediaError("not_an_image", f"'{label}' is not an image (it looks like {what}); {_FIX_IMAGE}")


def _looks_like_text(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    odd = sum(ch == "\ufffd" or (ch < " " and ch not in "\t\r\n") for ch in text)
    return odd <= 2  # the sample may end mid-character


# --- video -------------------------------------------------------------------------------------

def probe_video(path: str | Path, limits: IngestLimits = DEFAULT_LIMITS, *, name: str = "") -> VideoProbe:
    """Duration, frame rate, size and codec of a video's first video stream; raises MediaError.

    A video over ``limits.max_video_seconds`` still probes (the caller samples frames within the
    cap); only one over ten times the cap is refused as video_too_long.  ``name`` is the file
    name used in messages (callers often probe a temporary copy); it defaults to the path's.
    """
    path = Path(path)
    label = name or path.name
    if path.stat().st_size == 0:
        raise MediaError("empty_file", f"'{label}' is empty (0 bytes); export it again and upload it.")
    log = _ffmpeg_log(["-hide_banner", "-nostdin", *_ffmpeg_input(path)], label)
    stream = next((m for m in _VIDEO_STREAM.finditer(log) if "attached pic" not in m.group(2)), None)
    if stream is None and "Audio:" in log:
        raise MediaError("no_video_stream", f"'{label}' has no video track (it looks audio-only); "
                                            f"upload the video itself.")
    size = _FRAME_SIZE.search(stream.group(2)) if stream else None
    if size is None:
        raise _corrupt(label)
    width, height = int(size.group(1)), int(size.group(2))
    if abs(float(m.group(1)) if (m := _ROTATION.search(log)) else 0.0) % 180 == 90:
        width, height = height, width
    duration = _hms(_DURATION.search(log)) or _measure_duration(path, label)
    if duration > 10 * limits.max_video_seconds:
        raise MediaError("video_too_long", f"'{label}' is {_fmt_seconds(duration)} long, far over the "
                                           f"{_fmt_seconds(limits.max_video_seconds)} limit; "
                                           f"trim it and upload again.")
    fps = _frame_rate(stream.group(2))
    return VideoProbe(duration, fps, width, height, round(duration * fps), stream.group(1))


def video_frame_at(path: str | Path, t_s: float, max_side: int = 640, *, name: str = "") -> Image.Image:
    """The RGB frame at ``t_s`` seconds, scaled to fit max_side; past the end, the last keyframe."""
    path = Path(path)
    label = name or path.name
    fit = (f"scale='min({max_side},iw)':'min({max_side},ih)'"
           f":force_original_aspect_ratio=decrease")
    # -ss before -i seeks in the container instead of decoding everything up to t.
    png = _ffmpeg(["-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{max(t_s, 0.0):.3f}",
                   *_ffmpeg_input(path), "-map", "0:v:0", "-frames:v", "1", "-vf", fit,
                   "-f", "image2pipe", "-c:v", "png", "-"], label).stdout
    if not png and t_s > 0:
        # Containers often report the audio's duration, which can outlast the picture.
        png = _last_keyframe(path, fit, label)
    if not png:
        raise _corrupt(label)
    try:
        return Image.open(io.BytesIO(png)).convert("RGB")
    except (*_DECODE_ERRORS, Image.UnidentifiedImageError) as exc:
        raise _corrupt(label) from exc


def _last_keyframe(path: Path, fit: str, label: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "last.png"
        _ffmpeg(["-hide_banner", "-nostdin", "-loglevel", "error", "-skip_frame", "nokey",
                 *_ffmpeg_input(path), "-map", "0:v:0", "-vf", fit, "-update", "1", "-c:v", "png",
                 str(out)], label)
        return out.read_bytes() if out.exists() else b""


def _measure_duration(path: Path, label: str) -> float:
    """For containers without a duration header (e.g. some WebM): remux the stream and read the clock."""
    log = _ffmpeg_log(["-hide_banner", "-nostdin", *_ffmpeg_input(path), "-map", "0:v:0",
                       "-c", "copy", "-f", "null", "-"], label)
    times = list(_PROGRESS_TIME.finditer(log))
    return _hms(times[-1]) if times else 0.0


def _ffmpeg(args: list[str], label: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), *args], capture_output=True,
                              timeout=_FFMPEG_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaError("corrupt_video", f"'{label}' took over {_FFMPEG_TIMEOUT_S} s to read, so it was "
                                          f"given up on; re-export it as MP4 (H.264) and upload again.") from exc


def _ffmpeg_log(args: list[str], label: str) -> str:
    """ffmpeg reports what it found on stderr (``ffmpeg -i FILE`` with no output exits 1; that's normal)."""
    return _ffmpeg(args, label).stderr.decode("utf-8", errors="replace")


def _ffmpeg_input(path: Path) -> list[str]:
    # "file:" stops a name like "concat:a|b" or "-x.mp4" being read as a protocol or an option.
    return [*_FFMPEG_INPUT_GUARDS, "-i", f"file:{path.resolve()}"]


def _hms(match: re.Match | None) -> float:
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3)) if match else 0.0


def _frame_rate(stream_details: str) -> float:
    rates = {unit: float(value) * (1000 if k else 1) for value, k, unit in _RATE.findall(stream_details)}
    return rates.get("fps") or rates.get("tbr") or 0.0


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:,.1f} s" if seconds < 120 else f"{seconds / 60:,.0f} min"


def _corrupt(label: str) -> MediaError:
    return MediaError("corrupt_video", f"'{label}' could not be read as a video (it is damaged, incomplete "
                                       f"or not a video); re-export it as MP4 (H.264) and upload again.")
