"""Perceptual hash and a colour summary that also reads as words ("red", "black and white", "pastel")."""
from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image

from .base import Column, FrameReads, Signal, split_words

# Named hues by HSV angle; grey levels are decided by saturation/value first.
_HUES = [(15, "red"), (40, "orange"), (70, "yellow"), (160, "green"), (200, "teal"), (255, "blue"), (290, "purple"), (335, "pink"), (360, "red")]


def phash(image: Image.Image) -> int:
    """64-bit DCT perceptual hash (the classic pHash): robust to resize, recolour and mild crops."""
    from scipy.fft import dctn

    g = np.asarray(image.convert("L").resize((32, 32), Image.LANCZOS), dtype=np.float64)
    low = dctn(g, norm="ortho")[:8, :8].flatten()
    bits = low[1:] > np.median(low[1:])  # skip the DC term, it only carries brightness
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return value  # 63 bits: fits a signed BIGINT


def hamming(a: int, b: int) -> int:
    return int(bin(int(a) ^ int(b)).count("1"))


def color_name(r: float, g: float, b: float) -> str:
    h, s, v = colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)
    if v < 0.18:
        return "black"
    if s < 0.15:
        return "white" if v > 0.85 else "grey"
    deg = h * 360
    name = next(n for lim, n in _HUES if deg <= lim)
    if name == "orange" and v < 0.6:
        return "brown"
    return name


def color_summary(image: Image.Image, k: int = 5) -> dict:
    """Dominant colours (hex, share, name) and descriptive words for the ad document."""
    small = image.convert("RGB").resize((64, 64), Image.BILINEAR)
    quant = small.quantize(colors=k, method=Image.Quantize.MEDIANCUT)
    palette = quant.getpalette()[: 3 * k]
    counts = sorted(quant.getcolors(), reverse=True)
    total = sum(c for c, _ in counts)
    dominant = []
    for count, idx in counts:
        r, g, b = palette[3 * idx: 3 * idx + 3]
        dominant.append({"hex": f"#{r:02x}{g:02x}{b:02x}", "share": round(count / total, 3), "name": color_name(r, g, b)})
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32) / 255.0
    sat, val = float(hsv[..., 1].mean()), float(hsv[..., 2].mean())
    return {"dominant": dominant, "saturation": round(sat, 3), "brightness": round(val, 3), "words": color_words(dominant, sat, val)}


def color_words(dominant: list[dict], saturation: float, brightness: float) -> list[str]:
    shares: dict[str, float] = {}
    for d in dominant:
        shares[d["name"]] = shares.get(d["name"], 0.0) + d["share"]
    main = [n for n, s in sorted(shares.items(), key=lambda x: -x[1]) if s >= 0.12]
    words = list(main[:3])
    if set(main) <= {"black", "white", "grey"} and saturation < 0.12:
        words.append("black and white" if {"black", "white"} & set(main) else "monochrome")
    if saturation < 0.35 and brightness > 0.75:
        words.append("pastel")
    elif saturation > 0.55 and brightness > 0.5:
        words.append("vibrant")
    if brightness < 0.3:
        words.append("dark")
    elif brightness > 0.8:
        words.append("bright")
    if len(main) == 1 and shares[main[0]] > 0.6:
        words.append(f"{main[0]} background")
    return words


class Colours(Signal):
    """Signal: pHash (near-duplicates), dominant colours and the colour words of the document ("colours: …")."""

    name = "colours"
    columns = (Column("phash", "BIGINT"), Column("colors", "JSON"), Column("color_words", "VARCHAR"))
    document_label = "colours"

    def compute(self, frame: FrameReads) -> dict:
        summary = color_summary(frame.image)
        return {"phash": phash(frame.image), "colors": summary, "color_words": ", ".join(summary.get("words", []))}

    def words(self, row: dict) -> list[str]:
        return split_words(row.get("color_words"))

    def detail(self, row: dict) -> dict:
        return {"words": self.words(row), **(row.get("colors") or {})}
