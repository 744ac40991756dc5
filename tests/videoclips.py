"""Generated video clips with known hard cuts, for tests/test_video.py and bench/video.py.

A clip is a list of shots; each shot is a still photo, a solid colour, a slow zoom or a slow pan,
optionally with a caption box that OCR can read. Cut times are exact frame boundaries.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "china", "flower")
CODECS = {  # extension → (codec, pixel format, extra encoder options)
    ".mp4": ("libx264", "yuv420p", ["-preset", "veryfast"]),
    ".webm": ("libvpx-vp9", "yuv420p", ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "400k"]),
    ".mov": ("mjpeg", "yuvj420p", ["-q:v", "4"]),
}


@dataclass(frozen=True)
class Shot:
    seconds: float
    kind: str = "photo"          # photo | color | zoom | pan
    photo: str = "astronaut"
    color: tuple = (200, 40, 40)
    text: str = ""
    center: tuple = (0.5, 0.5)   # crop centre, as fractions of the photo
    move: float = 0.3            # zoom: extra magnification over the shot; pan: share of the frame travelled
    noise: float = 0.0           # per-frame Gaussian noise (sd, 0..255), like a camera sensor


@lru_cache(maxsize=None)
def _photo(key: str) -> Image.Image:
    if key in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return Image.fromarray(load_sample_image(f"{key}.jpg"))
    from skimage import data

    return Image.fromarray(getattr(data, key)()[..., :3])


def _frame(shot: Shot, progress: float, size: tuple[int, int]) -> Image.Image:
    w, h = size
    if shot.kind == "color":
        img = Image.new("RGB", size, shot.color)
    else:
        src = _photo(shot.photo)
        sw, sh = src.size
        zoom = 1.6 * (1 + shot.move * progress) if shot.kind == "zoom" else 1.6  # room to move the crop
        cw = min(sw, sh * w / h) / zoom
        ch = cw * h / w
        cx = shot.center[0] * sw + (shot.move * cw * (progress - 0.5) if shot.kind == "pan" else 0)
        cx = min(max(cx, cw / 2), sw - cw / 2)
        cy = min(max(shot.center[1] * sh, ch / 2), sh - ch / 2)
        img = src.resize(size, Image.BILINEAR, box=(cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2))
    if shot.text:
        d = ImageDraw.Draw(img)
        px = max(12, min(w, h) // 10)
        font = ImageFont.load_default(size=px)
        d.rectangle((w * 0.05, h * 0.08, w * 0.95, h * 0.08 + px * 1.6), fill="white")
        d.text((w * 0.08, h * 0.1), shot.text, fill="black", font=font)
    return img


def write_clip(path: str | Path, shots: list[Shot], size: tuple[int, int] = (320, 240), fps: int = 24) -> dict:
    """Encode the shots (codec by extension); returns the truth: shot_count, cut_times_s, duration_s."""
    path = Path(path)
    codec, pix_fmt, opts = CODECS[path.suffix.lower()]
    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec=codec, pix_fmt_out=pix_fmt, macro_block_size=1,
                                         ffmpeg_log_level="error", ffmpeg_timeout=120, output_params=opts)
    writer.send(None)
    counts = [max(1, round(s.seconds * fps)) for s in shots]
    rng = np.random.default_rng(0)
    for shot, n in zip(shots, counts):
        still = None if shot.kind in ("zoom", "pan") else np.asarray(_frame(shot, 0.0, size))
        for f in range(n):
            frame = still if still is not None else np.asarray(_frame(shot, f / max(1, n - 1), size))
            if shot.noise:
                frame = np.clip(frame + rng.normal(0, shot.noise, frame.shape), 0, 255).astype(np.uint8)
            writer.send(np.ascontiguousarray(frame))
    writer.close()
    bounds = np.cumsum(counts)
    return dict(shot_count=len(shots), cut_times_s=[round(b / fps, 4) for b in bounds[:-1]], duration_s=bounds[-1] / fps)


def lavfi_clip(path: str | Path, seconds: float, size: str = "32x32", rate: int = 1, source: str = "testsrc") -> None:
    """A synthetic clip straight from ffmpeg's own sources: fast to make even when hours long."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"{source}=size={size}:rate={rate}:duration={seconds}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], check=True, timeout=120)


def audio_clip(path: str | Path, seconds: float = 1.0) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={seconds}", "-c:a", "aac", str(path)], check=True, timeout=60)
