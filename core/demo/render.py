"""Drawing the sample's image ads: text fitting, shapes, photo crops and one renderer per template family."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from .data import PAPER


@lru_cache(maxsize=None)
def _source(key: str) -> Image.Image:
    """Bundled photos only: these load offline (other skimage images need a pooch download)."""
    from skimage import data
    if key in ("china", "flower"):
        from sklearn.datasets import load_sample_image
        return Image.fromarray(load_sample_image(f"{key}.jpg"))
    loaders = {"hubble": data.hubble_deep_field, "ihc": data.immunohistochemistry,
               "motorcycle": lambda: data.stereo_motorcycle()[0]}
    arr = loaders.get(key, getattr(data, key, None))()
    if arr.ndim == 2:  # grayscale sources get a duotone so they read as product shots
        dark, light = {"coins": ((60, 35, 0), (255, 215, 120)), "clock": ((10, 40, 60), (200, 240, 235)),
                       "camera": ((20, 20, 20), (235, 230, 220)), "brick": ((70, 25, 15), (240, 180, 150))}[key]
        return ImageOps.colorize(Image.fromarray(arr), dark, light)
    return Image.fromarray(arr[..., :3])


def _photo(crop: tuple, w: int, h: int, tone: str | None = None, resample=Image.LANCZOS) -> Image.Image:
    """Crop of aspect w/h centred at (cx, cy) (source fractions), `zoom` times tighter than the widest fit."""
    key, cx, cy, zoom = crop
    src = _source(key)
    sw, sh = src.size
    cw, ch = (sh * w / h, sh) if sw / sh > w / h else (sw, sw * h / w)
    cw, ch = cw / zoom, ch / zoom
    x0 = min(max(cx * sw - cw / 2, 0), sw - cw)
    y0 = min(max(cy * sh - ch / 2, 0), sh - ch)
    img = src.resize((w, h), resample, box=(x0, y0, x0 + cw, y0 + ch))
    return _tone(img, tone)


def _tone(img: Image.Image, tone: str | None) -> Image.Image:
    if tone == "mono":
        return ImageOps.grayscale(img).convert("RGB")
    if tone in ("warm", "cool"):
        gain = (1.12, 1.0, 0.85) if tone == "warm" else (0.88, 1.0, 1.15)
        arr = np.asarray(img, dtype=np.float32) * np.array(gain, dtype=np.float32)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img


# ------------------------------------------------------------------------------------------------- text

@lru_cache(maxsize=None)
def _font(px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=px)


def _wrap(text: str, font, max_w: float) -> list[str]:
    lines, cur = [], ""
    for word in text.split():
        cand = f"{cur} {word}".strip()
        if cur and font.getlength(cand) > max_w:
            lines.append(cur)
            cur = word
        else:
            cur = cand
    return lines + [cur] if cur else lines


def _fit(text: str, max_w: float, max_h: float, px: int, max_lines: int):
    """Largest font size <= px whose wrapped lines fit the box; shrinks long copy instead of clipping."""
    while px > 12:
        font = _font(px)
        lines = _wrap(text, font, max_w)
        if (len(lines) <= max_lines and len(lines) * px * 1.2 <= max_h
                and all(font.getlength(line) <= max_w for line in lines)):
            return font, lines
        px -= 2
    return _font(px), _wrap(text, _font(px), max_w)


def _text(d: ImageDraw.ImageDraw, text: str, box: tuple, px: int, fill, align: str = "center",
          valign: str = "middle", max_lines: int = 3, stroke: int = 0, stroke_fill=None) -> None:
    x0, y0, x1, y1 = box
    font, lines = _fit(text, x1 - x0, y1 - y0, px, max_lines)
    lh = font.size * 1.2
    top = {"top": y0, "middle": (y0 + y1 - lh * len(lines)) / 2, "bottom": y1 - lh * len(lines)}[valign]
    x, anchor = {"left": (x0, "la"), "center": ((x0 + x1) / 2, "ma"), "right": (x1, "ra")}[align]
    for i, line in enumerate(lines):
        d.text((x, top + i * lh), line, font=font, fill=fill, anchor=anchor, stroke_width=stroke, stroke_fill=stroke_fill)


def _pill(d: ImageDraw.ImageDraw, text: str, center: tuple, px: int, fill, text_fill, pad: float = 0.6) -> None:
    """Rounded button sized to its label."""
    font = _font(px)
    w = font.getlength(text) + 2 * px * pad * 1.5
    h = px * (1 + 2 * pad)
    cx, cy = center
    d.rounded_rectangle((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), radius=h / 2, fill=fill)
    d.text((cx, cy), text, font=font, fill=text_fill, anchor="mm")


def _star(cx: float, cy: float, r_out: float, r_in: float, points: int) -> list[tuple]:
    angles = np.arange(2 * points) * np.pi / points - np.pi / 2
    radii = np.where(np.arange(2 * points) % 2 == 0, r_out, r_in)
    return [(float(cx + r * np.cos(a)), float(cy + r * np.sin(a))) for r, a in zip(radii, angles)]


def _shade(img: Image.Image, box: tuple, alpha: int, top_alpha: int | None = None) -> Image.Image:
    """Dark overlay over box; a vertical gradient when top_alpha differs from alpha."""
    x0, y0, x1, y1 = (int(v) for v in box)
    ramp = np.linspace(alpha if top_alpha is None else top_alpha, alpha, y1 - y0)
    mask = Image.fromarray(np.repeat(ramp[:, None], x1 - x0, axis=1).astype(np.uint8))
    img.paste(Image.new("RGB", (x1 - x0, y1 - y0)), (x0, y0), mask)
    return img


# -------------------------------------------------------------------------------------------- renderers
# Each renderer gets the variant's params `p` (W, H, u = full-size units -> pixels) and returns an RGB image.

def _render_product(p: dict) -> Image.Image:
    W, H, u = p["W"], p["H"], p["u"]
    img = _shade(_photo(p["crops"][0], W, H, p.get("tone")), (0, H - u(220), W, H), 185, 120)
    d = ImageDraw.Draw(img)
    cx, cy, r = W - u(220), u(220), u(175)
    d.polygon(_star(cx, cy, r, r * 0.82, 18), fill=p["accent"], outline=(255, 255, 255), width=u(8))
    d.text((cx, cy), p["badge"], font=_font(u(110)), fill=(255, 255, 255), anchor="mm")
    _text(d, p["headline"], (u(50), H - u(210), W - u(50), H - u(20)), u(70), (255, 255, 255), max_lines=2)
    return img


def _render_testimonial(p: dict) -> Image.Image:
    W, H, u = p["W"], p["H"], p["u"]
    bg, accent = p["palette"]
    img = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(img)
    m = u(70)
    d.rounded_rectangle((m, m, W - m, H - m), radius=u(50), fill=(255, 255, 255))
    d.text((m + u(60), m + u(10)), "\u201c", font=_font(u(360)), fill=accent)
    _text(d, p["headline"], (m + u(70), m + u(250), W - m - u(70), H - m - u(330)), u(64), (30, 30, 35), max_lines=5)
    for i in range(5):
        d.polygon(_star(W / 2 + (i - 2) * u(70), H - m - u(280), u(28), u(12), 5), fill=accent)
    av, ay = u(150), H - m - u(210)
    mask = Image.new("L", (av, av))
    ImageDraw.Draw(mask).ellipse((0, 0, av - 1, av - 1), fill=255)
    img.paste(_photo(p["crops"][0], av, av, p.get("tone")), (m + u(80), ay), mask)
    d.text((m + u(260), ay + u(30)), p["author"], font=_font(u(50)), fill=(30, 30, 35))
    d.text((m + u(260), ay + u(95)), "Verified buyer", font=_font(u(36)), fill=(120, 120, 130))
    return img


def _render_before_after(p: dict) -> Image.Image:
    W, H, u = p["W"], p["H"], p["u"]
    half = W // 2
    shot = _photo(p["crops"][0], half, H, p.get("tone"))
    before = ImageEnhance.Brightness(ImageEnhance.Color(shot).enhance(0.15)).enhance(0.75).filter(ImageFilter.GaussianBlur(u(3)))
    after = ImageEnhance.Brightness(ImageEnhance.Color(shot).enhance(1.4)).enhance(1.08)
    img = Image.new("RGB", (W, H))
    img.paste(before, (0, 0))
    img.paste(after, (half, 0))
    img = _shade(img, (0, H - u(130), W, H), 200)
    d = ImageDraw.Draw(img)
    d.rectangle((half - u(5), 0, half + u(5), H - u(130)), fill=(255, 255, 255))
    _pill(d, "BEFORE", (half / 2, u(75)), u(52), (20, 20, 20), (255, 255, 255))
    _pill(d, "AFTER", (half + half / 2, u(75)), u(52), p["accent"], (255, 255, 255))
    _text(d, p["headline"], (u(40), H - u(125), W - u(40), H - u(5)), u(60), (255, 255, 255), max_lines=1)
    return img


def _render_ugc(p: dict) -> Image.Image:
    W, H, u = p["W"], p["H"], p["u"]
    img = _photo(p["crops"][0], W, H, p.get("tone"))
    d = ImageDraw.Draw(img)
    for text, (y0, y1) in ((p["headline"], (u(200), u(470))), (p["bottom"], (H - u(420), H - u(270)))):
        d.rounded_rectangle((u(60), y0, W - u(60), y1), radius=u(30), fill=(255, 255, 255))
        _text(d, text, (u(100), y0 + u(20), W - u(100), y1 - u(20)), u(66), (0, 0, 0), max_lines=3)
    d.text((u(60), H - u(200)), p["handle"], font=_font(u(44)), fill=(255, 255, 255), stroke_width=u(4), stroke_fill=(0, 0, 0))
    for i in range(3):  # the platform's side action buttons make it read as a phone capture
        y = H - u(900) + i * u(170)
        d.ellipse((W - u(150), y, W - u(60), y + u(90)), fill=(255, 255, 255), outline=(0, 0, 0), width=u(4))
    return img


def _render_offer(p: dict) -> Image.Image:
    W, H, u, style = p["W"], p["H"], p["u"], p["substyle"]
    # the value line turns the card over: a paper-white card in the palette colour, where the others are solid colour
    img = Image.new("RGB", (W, H), PAPER if style == "cool_frame" else p["bg"])
    d = ImageDraw.Draw(img)
    white, yellow = (255, 255, 255), (255, 225, 60)
    if style == "warm_burst":  # diagonal two-tone field with a sun-yellow underline
        dark = tuple(int(c * 0.65) for c in p["bg"])
        d.polygon([(W, 0), (W, H), (0, H)], fill=dark)
        _text(d, p["headline"], (u(80), u(180), W - u(80), u(640)), u(230), white, max_lines=2)
        d.rectangle((W / 2 - u(260), u(670), W / 2 + u(260), u(700)), fill=yellow)
        _text(d, p["sub"], (u(80), u(740), W - u(80), u(840)), u(64), yellow, max_lines=1)
        _text(d, p["cta"].upper(), (u(80), u(900), W - u(80), u(990)), u(54), white, max_lines=1)
    elif style == "cool_frame":  # inset white frame, left-aligned stack, corner tag
        ink = p["bg"]
        d.rectangle((u(40), u(40), W - u(40), H - u(40)), outline=ink, width=u(16))
        d.rectangle((W - u(300), u(40), W - u(40), u(160)), fill=ink)
        d.text((W - u(170), u(100)), "DEAL", font=_font(u(60)), fill=white, anchor="mm")
        _text(d, p["headline"], (u(110), u(220), W - u(110), u(700)), u(200), ink, "left", max_lines=2)
        _text(d, p["sub"], (u(110), u(720), W - u(110), u(820)), u(60), (70, 70, 80), "left", max_lines=1)
        _text(d, p["cta"] + " >", (u(110), u(860), W - u(110), u(960)), u(56), ink, "left", max_lines=1)
    else:  # classic: flat colour, centred white text
        _text(d, p["headline"], (u(70), u(200), W - u(70), u(700)), u(210), white, max_lines=2)
        _text(d, p["sub"], (u(70), u(730), W - u(70), u(830)), u(62), white, max_lines=1)
        _pill(d, p["cta"], (W / 2, u(930)), u(50), white, p["bg"])
    return img


def _render_lifestyle(p: dict) -> Image.Image:
    W, H, u = p["W"], p["H"], p["u"]
    img = _shade(_photo(p["crops"][0], W, H, p.get("tone")), (0, 0, W, u(480)), 0, 170)
    d = ImageDraw.Draw(img)
    _text(d, p["headline"], (u(70), u(70), W - u(70), u(420)), u(84), (255, 255, 255), "left", "top", max_lines=3)
    _pill(d, p["cta"], (W / 2, H - u(160)), u(56), p["accent"], (255, 255, 255), pad=0.7)
    return img


def _render_event(p: dict) -> Image.Image:
    W, H, u = p["W"], p["H"], p["u"]
    img = Image.new("RGB", (W, H), p["bg"])
    d = ImageDraw.Draw(img)
    accent, second = p["accent"], p["second"]
    for kind, fx, fy, fr, col in p["shapes"]:  # outline-only shapes in the right-hand column, clear of the text
        cx, cy, r = W * fx, H * fy, u(fr)
        colour = accent if col else second
        if kind == "circle":
            d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=u(12))
        else:
            d.polygon([(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)], outline=colour, width=u(12))
    d.text((u(80), u(90)), p["weekday"], font=_font(u(54)), fill=(255, 255, 255))
    d.text((u(80), u(160)), p["day"], font=_font(u(190)), fill=accent)
    _text(d, p["headline"].upper(), (u(80), u(480), W - u(240), u(980)), u(100), (255, 255, 255), "left", max_lines=3)
    d.rectangle((u(80), u(1010), u(380), u(1022)), fill=accent)
    d.text((u(80), u(1060)), p["venue"], font=_font(u(48)), fill=(190, 190, 205))
    d.rounded_rectangle((u(80), u(1160), u(560), u(1270)), radius=u(20), outline=accent, width=u(6))
    d.text((u(320), u(1215)), p["cta"], font=_font(u(50)), fill=accent, anchor="mm")
    return img


def _render_app(p: dict) -> Image.Image:
    W, H, u = p["W"], p["H"], p["u"]
    (r0, g0, b0), (r1, g1, b1) = p["gradient"]
    t = np.linspace(0, 1, W)[None, :, None]
    grad = np.array([r0, g0, b0]) * (1 - t) + np.array([r1, g1, b1]) * t
    img = Image.fromarray(np.repeat(grad, H, axis=0).astype(np.uint8))
    d = ImageDraw.Draw(img)
    px0, py0, pw, ph = u(110), u(30), u(300), H - u(60)
    d.rounded_rectangle((px0, py0, px0 + pw, py0 + ph), radius=u(40), fill=(15, 15, 20))
    sx0, sy0, sx1, sy1 = px0 + u(14), py0 + u(40), px0 + pw - u(14), py0 + ph - u(40)
    d.rectangle((sx0, sy0, sx1, sy1), fill=(245, 246, 250))
    d.rectangle((sx0, sy0, sx1, sy0 + u(60)), fill=p["gradient"][1])
    img.paste(_photo(p["crops"][0], sx1 - sx0 - u(30), u(200), p.get("tone")), (sx0 + u(15), sy0 + u(80)))
    for i in range(4):  # list rows of the fake app UI
        y = sy0 + u(300) + i * u(52)
        d.rounded_rectangle((sx0 + u(15), y, sx1 - u(15), y + u(36)), radius=u(10), fill=(218, 222, 232))
    _text(d, p["headline"], (u(490), u(50), W - u(60), u(390)), u(70), (255, 255, 255), "left", max_lines=3)
    d.text((u(490), u(410)), p["rating"], font=_font(u(38)), fill=(235, 235, 255))
    font = _font(u(48))
    bw = font.getlength(p["cta"]) + u(90)
    d.rounded_rectangle((u(490), u(480), u(490) + bw, u(580)), radius=u(50), fill=(255, 255, 255))
    d.text((u(490) + bw / 2, u(530)), p["cta"], font=font, fill=p["gradient"][0], anchor="mm")
    return img


def _render_grid(p: dict) -> Image.Image:
    W, H, u = p["W"], p["H"], p["u"]
    img = Image.new("RGB", (W, H), (246, 242, 234))
    d = ImageDraw.Draw(img)
    n, gap, top, bottom = p["grid"], u(16), u(30), H - u(220)
    cell_w, cell_h = (W - 2 * u(30) - (n - 1) * gap) / n, (bottom - top - (n - 1) * gap) / n
    for i, crop in enumerate(p["crops"][: n * n]):
        x, y = u(30) + (i % n) * (cell_w + gap), top + (i // n) * (cell_h + gap)
        img.paste(_photo(crop, int(cell_w), int(cell_h), p.get("tone")), (int(x), int(y)))
    _text(d, p["headline"], (u(40), bottom + u(20), W - u(440), H - u(20)), u(76), (25, 25, 25), "left", max_lines=2)
    _pill(d, p["cta"], (W - u(230), bottom + u(110)), u(44), p["accent"], (255, 255, 255))
    return img


def _render_meme(p: dict) -> Image.Image:
    W, H, u = p["W"], p["H"], p["u"]
    img = _photo(p["crops"][0], W, H, p.get("tone"))
    d = ImageDraw.Draw(img)
    top, bottom = p["headline"].split("|")
    style = dict(fill=(255, 255, 255), max_lines=2, stroke=u(8), stroke_fill=(0, 0, 0))
    _text(d, top, (u(40), u(30), W - u(40), u(290)), u(104), valign="top", **style)
    _text(d, bottom, (u(40), H - u(290), W - u(40), H - u(30)), u(104), valign="bottom", **style)
    return img


RENDERERS = {
    "product_closeup_discount": _render_product, "testimonial_quote_card": _render_testimonial,
    "before_after_split": _render_before_after, "ugc_caption_bar": _render_ugc, "text_only_offer": _render_offer,
    "lifestyle_cta_button": _render_lifestyle, "event_poster": _render_event, "app_screenshot_phone": _render_app,
    "carousel_grid_collage": _render_grid, "meme_top_bottom_text": _render_meme,
}
