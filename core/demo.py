"""Deterministic generator of a realistic sample ad library.

Writes template-family image ads (each family: concepts x variants), short paced videos, a
metadata.csv with copy and performance, and a ground_truth.json that tests and benchmarks score
against. Over four months, ads run 2-6 weeks (many across a month boundary), concepts are re-cut and
re-launched the next month, and the TREND_ROLES families grow, peak, appear, disappear and split. Photos come only from datasets bundled with installed packages (skimage.data, sklearn
sample images) and text uses Pillow's bundled scalable font, so the output is identical on every
machine for a given seed.
"""
from __future__ import annotations

import argparse
import calendar
import csv
import json
import shutil
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

MONTHS = [(2026, 5), (2026, 6), (2026, 7), (2026, 8)]
SCALE = 0.5          # canvases are specified at full size (1080 px wide) and rendered at half size
RESIZE_SCALE = 0.4   # the "resize" variant: same creative, smaller render
FORMATS = {"square": (1080, 1080), "portrait": (1080, 1350), "story": (1080, 1920), "landscape": (1200, 628)}
VIDEO_SIZE, VIDEO_FPS = (360, 640), 12

# family -> (format, file prefix, file extension); photo-heavy families are JPEG, flat graphics PNG
FAMILIES = {
    "product_closeup_discount": ("square", "deal", "jpg"),
    "testimonial_quote_card": ("square", "quote", "png"),
    "before_after_split": ("landscape", "ba", "jpg"),
    "ugc_caption_bar": ("story", "ugc", "jpg"),
    "text_only_offer": ("square", "offer", "png"),
    "lifestyle_cta_button": ("portrait", "life", "jpg"),
    "event_poster": ("portrait", "event", "png"),
    "app_screenshot_phone": ("landscape", "app", "png"),
    "carousel_grid_collage": ("square", "grid", "jpg"),
    "meme_top_bottom_text": ("square", "meme", "jpg"),
}
VIDEO_FAMILIES = ["video_ugc_fast", "video_slow_reveal"]

TREND_ROLES = {"grows": "lifestyle_cta_button", "peaks": "meme_top_bottom_text", "appears": "app_screenshot_phone",
               "disappears": "event_poster", "splits": "text_only_offer"}
# relative number of ads per month for each role; "steady" is every other family
MONTH_WEIGHTS = {"grows": (2, 3, 4, 6), "peaks": (2, 7, 3, 1), "appears": (0, 0, 4, 5),
                 "disappears": (4, 4, 0, 0), "splits": (2, 2, 6, 4), "steady": (2, 2, 2, 2)}
# spend per ad also scales by month for the growing family, so its monthly spend rises with its count
SPEND_TREND = {"grows": (1.0, 1.25, 1.5, 1.75)}
SPLIT_STYLES = (("classic",), ("classic",), ("warm_burst", "cool_frame"), ("warm_burst", "cool_frame"))
RUN_DAYS = (14, 43)  # an ad runs 2-6 weeks from its start date, so many run across a month boundary
N_VIDEOS = 8         # a fast and a slow video launch every month

# (category, product names) per photo source
PHOTOS = {
    "coffee": ("coffee", ["Morning Roast", "Cold Brew Kit", "Espresso Blend", "Single-Origin Beans"]),
    "flower": ("skincare", ["Bloom Face Oil", "Petal Serum", "Rose Toner", "Glow Mist"]),
    "china": ("travel", ["Temple Trail Tours", "Mountain Escapes", "Old Town Weekends"]),
    "astronaut": ("outdoor", ["Summit Jacket", "Explorer Pack", "Trail Thermos"]),
    "chelsea": ("pets", ["Purrfect Treats", "Cozy Cat Bed", "Feather Wand Toy"]),
    "cat": ("pets", ["Whisker Snacks", "Catnip Pillow", "Scratch Tower"]),
    "rocket": ("tech", ["Nova Laptop", "Orbit Earbuds", "Launch Smartwatch"]),
    "motorcycle": ("moto", ["Rider Jacket", "Track Helmet", "Touring Gloves"]),
    "hubble": ("astronomy", ["StarGazer App", "Night Sky Map"]),
    "ihc": ("wellness", ["Daily Probiotic", "Gut Health Kit"]),
    "retina": ("eyecare", ["Blue-Light Drops", "Eye Vitamins"]),
    "colorwheel": ("design", ["Color Studio", "Paint Starter Set"]),
    "coins": ("finance", ["Budget Buddy", "Smart Savings"]),
    "clock": ("productivity", ["Focus Timer", "Habit Tracker"]),
    "camera": ("photography", ["Film Camera Course", "Lens Kit"]),
    "brick": ("home", ["Loft Wall Paint", "Brick Sealant"]),
}
# per-family photo pools keep each family's imagery coherent (and distinct from other families)
POOLS = {
    "product_closeup_discount": ["rocket", "motorcycle", "coins", "clock", "colorwheel"],
    "testimonial_quote_card": ["astronaut", "chelsea", "cat", "camera"],
    "before_after_split": ["flower", "brick", "retina", "ihc", "coffee", "china"],
    "ugc_caption_bar": ["astronaut", "motorcycle", "camera", "rocket"],
    "lifestyle_cta_button": ["china", "coffee", "flower"],
    "app_screenshot_phone": ["hubble", "ihc", "retina", "colorwheel", "coins", "clock"],
    "carousel_grid_collage": ["coffee", "flower", "rocket", "motorcycle", "chelsea", "china", "colorwheel", "astronaut"],
    "meme_top_bottom_text": ["cat", "chelsea"],  # meme series reuse a couple of template images
    "text_only_offer": list(PHOTOS), "event_poster": list(PHOTOS),  # no photo; pool only names a product
}
# face centres for round avatar crops (fractions of the source image)
FACES = {"astronaut": (0.46, 0.24, 3.2), "chelsea": (0.5, 0.42, 2.0), "cat": (0.52, 0.42, 2.0), "camera": (0.48, 0.2, 4.0)}

COPY = {
    "product_closeup_discount": dict(
        headlines=["Save {pct} on {product}", "{product}, now {pct} off", "Flash sale: {product}",
                   "Today only: {pct} off", "{product} at its lowest price", "Last call on {product}"],
        copy=["Limited stock, so grab yours before it's gone.", "Free shipping on every order over $35.",
              "Loved by over 50,000 customers.", "The price drops automatically at checkout.",
              "Offer ends Sunday at midnight.", "Free returns within 30 days."],
        cta=["Shop now", "Grab the deal", "Buy now", "Get the offer"], tags=["discount", "product", "close-up"],
        campaigns=["Summer Sale 2026", "Flash Deals", "Retargeting - Cart"]),
    "testimonial_quote_card": dict(
        headlines=["Best purchase I've made all year.", "I noticed a difference in two weeks.",
                   "Honestly, I wish I'd found this sooner.", "My whole family is obsessed with it.",
                   "Fast delivery and great quality.", "It replaced three products in my routine.",
                   "Support answered in minutes. Impressed!", "Worth every single penny."],
        copy=["Rated 4.8 out of 5 by 12,000 verified buyers.", "Join thousands of happy customers.",
              "Real reviews from real people.", "See why customers keep coming back.",
              "Try it risk-free for 60 days."],
        cta=["Read reviews", "Learn more", "Try it free", "Shop now"], tags=["testimonial", "review", "social-proof"],
        campaigns=["Social Proof Always-On", "Reviews Push"]),
    "before_after_split": dict(
        headlines=["See the difference in 14 days", "Real results, no filters", "From dull to glowing",
                   "Same space, new life", "Two weeks with {product}", "The results speak for themselves"],
        copy=["Results from real customers, unedited.", "Tested on 200 volunteers.", "Visible change after the first use.",
              "Individual results may vary.", "Backed by a 30-day guarantee."],
        cta=["See results", "Shop now", "Learn more"], tags=["before-after", "transformation", "results"],
        campaigns=["Results Campaign", "Skincare Launch"]),
    "ugc_caption_bar": dict(
        headlines=["POV: you finally tried {product}", "ok this {product} is actually insane",
                   "things I wish I knew sooner", "day 7 of using {product}", "honest review, no filter",
                   "why is nobody talking about this"],
        bottoms=["link in bio", "wait for the end", "10/10 would buy again", "my new daily habit", "you need this"],
        copy=["I was skeptical, but here we are.", "Filmed on my phone, no edits.",
              "Saw it on my feed and had to try it.", "Still using it three months later.", "Tag someone who needs this."],
        cta=["Shop now", "Learn more", "Watch more"], tags=["ugc", "creator", "authentic"],
        campaigns=["Creator Program", "UGC Whitelisting"]),
    "text_only_offer": dict(
        headlines=["50% OFF", "BUY 1 GET 1", "FREE SHIPPING", "2 FOR $30", "LAST CHANCE", "$10 OFF", "70% OFF", "FLASH SALE"],
        subs=["Ends Sunday at midnight", "Sitewide. No code needed.", "Use code SUMMER20", "Today only",
              "While stocks last", "Members get early access"],
        copy=["Our biggest sale of the season is here.", "Stock up on your favourites.", "No tricks, just great prices.",
              "Discount applied at checkout.", "Don't miss out this time."],
        cta=["Shop the sale", "Claim offer", "Shop now"], tags=["offer", "text-only", "sale"],
        campaigns=["Summer Sale 2026", "Flash Deals"]),
    "lifestyle_cta_button": dict(
        headlines=["Made for slow mornings", "Your weekend starts here", "Live a little louder",
                   "Go further, feel lighter", "Crafted for everyday moments", "Find your quiet place",
                   "Small rituals, big days"],
        copy=["Designed in small batches for people who care about details.", "Bring a little calm into your routine.",
              "Thoughtfully made, built to last.", "Discover the collection everyone is talking about.",
              "Made with materials you can feel good about."],
        cta=["Shop now", "Shop now", "Discover more", "Shop the look"], tags=["lifestyle", "cta", "aspirational"],
        campaigns=["Brand Awareness", "Summer Collection"]),
    "event_poster": dict(
        headlines=["Summer Beats Festival", "Night Market Live", "Founders Meetup", "Open Air Cinema",
                   "Jazz on the Roof", "Design Week Talks", "Midnight Run Club", "Indie Game Night"],
        venues=["Harbor Hall, Lisbon", "Pier 7, Brooklyn", "The Warehouse, Berlin", "Rooftop 21, Austin",
                "Old Mill, Manchester", "Dock Arena, Rotterdam"],
        copy=["Early-bird tickets are limited.", "Live music, street food and good company.", "Doors open at 7 pm.",
              "Bring a friend, the second ticket is half price.", "All ages welcome."],
        cta=["Get tickets", "RSVP now", "Book your seat"], tags=["event", "poster", "tickets"],
        campaigns=["Events Summer 2026", "Ticket Sales"]),
    "app_screenshot_phone": dict(
        headlines=["Track every habit in one tap", "Your money, finally organized", "Explore the night sky tonight",
                   "Learn a language in 5 minutes a day", "Plan meals without the stress", "Sleep better starting tonight",
                   "Edit photos like a pro"],
        copy=["Free to download. No credit card needed.", "Rated 4.8 by over a million users.",
              "Works offline, syncs everywhere.", "Join 2 million people who switched.", "New: widgets and dark mode."],
        cta=["Download free", "Get the app", "Install now"], tags=["app", "install", "mobile"],
        campaigns=["App Installs", "App Re-engagement"]),
    "carousel_grid_collage": dict(
        headlines=["New Collection", "The Summer Edit", "Shop the Lookbook", "Bestsellers Are Back",
                   "Curated for You", "Fresh Arrivals"],
        copy=["Swipe through our freshest picks.", "Mix, match and save on bundles.",
              "Every piece hand-picked by our stylists.", "Limited runs, restocked weekly.", "Find your new favourite."],
        cta=["Shop the edit", "See all", "Browse now"], tags=["collection", "grid", "catalog"],
        campaigns=["Catalog Sales", "Summer Collection"]),
    "meme_top_bottom_text": dict(
        headlines=["WHEN THE SALE STARTS|AND YOUR CART IS READY", "ME: I DON'T NEED IT|ALSO ME: ADD TO CART",
                   "NOBODY:|ME BUYING {PRODUCT} AT 2AM", "ONE DOES NOT SIMPLY|SKIP FREE SHIPPING",
                   "MONDAY MOOD|FIXED BY {PRODUCT}", "THEY SAID IT WOULDN'T LAST|IT'S BEEN 3 YEARS",
                   "ME WAITING FOR|MY PACKAGE TO ARRIVE"],
        copy=["We know. We've been there too.", "Tag a friend who does this.", "Relatable? Thought so.",
              "Send this to your group chat.", "Your cart called. It misses you."],
        cta=["Shop now", "Learn more"], tags=["meme", "humor", "viral"],
        campaigns=["Viral Tests", "Brand Awareness"]),
    "video_ugc_fast": dict(
        headlines=["3 reasons I switched", "wait for it", "this changed my mornings", "unboxing time",
                   "ok but look at this", "no way it's this good", "day in my life", "the final result"],
        copy=["Quick cuts, real results.", "Shot in one afternoon with my phone.", "You asked, so here it is."],
        cta=["Shop now"], tags=["video", "ugc", "fast-paced"], campaigns=["Creator Program"]),
    "video_slow_reveal": dict(
        headlines=["Introducing {product}", "Crafted slowly. Made to last.", "A closer look", "Designed for you"],
        copy=["Take a moment. This one is worth it.", "Every detail, considered.", "The wait is over."],
        cta=["Discover more"], tags=["video", "reveal", "cinematic"], campaigns=["Brand Video"]),
}
EXTRA_TAGS = ["summer", "bestseller", "new", "limited", "evergreen"]
# the split family's sale line in July diverges into two messages: urgency (warm burst) and value (cool frame);
# its classic offers of May-June mix both, so each new line continues part of the old one
SUBSTYLE_COPY = {
    "warm_burst": dict(
        headlines=["FLASH SALE", "LAST CHANCE", "70% OFF", "FINAL HOURS", "50% OFF"],
        subs=["Ends tonight at midnight", "Today only", "While stocks last", "Gone at midnight"],
        copy=["The clock is ticking on our biggest sale.", "Hurry, prices go back up at midnight.",
              "Last chance before it's gone.", "Flash prices, today only."],
        cta=["Shop the sale", "Shop now"]),
    "cool_frame": dict(
        headlines=["FREE SHIPPING", "BUY 1 GET 1", "2 FOR $30", "$10 OFF", "MEMBER DEAL"],
        subs=["Use code SUMMER20", "Members get early access", "Sitewide. No code needed.", "On every order over $35"],
        copy=["Members save more on every order.", "Stock up on your favourites and save.",
              "Discount applied at checkout with your code.", "More value in every basket."],
        cta=["Claim offer", "Get the code"]),
}

# family -> (ctr, cvr, cpm, average order value); deliberately spread so families perform differently
PERF = {
    "product_closeup_discount": (0.018, 0.045, 9.0, 45), "testimonial_quote_card": (0.012, 0.055, 8.0, 60),
    "before_after_split": (0.024, 0.035, 7.0, 55), "ugc_caption_bar": (0.029, 0.030, 6.5, 40),
    "text_only_offer": (0.008, 0.025, 5.0, 35), "lifestyle_cta_button": (0.014, 0.030, 10.0, 80),
    "event_poster": (0.010, 0.060, 7.5, 30), "app_screenshot_phone": (0.016, 0.080, 6.0, 12),
    "carousel_grid_collage": (0.015, 0.038, 8.5, 70), "meme_top_bottom_text": (0.032, 0.012, 4.5, 35),
    "video_ugc_fast": (0.022, 0.028, 7.0, 50), "video_slow_reveal": (0.009, 0.020, 11.0, 90),
}

# colour palettes (RGB); variants recolour within a family's palette so the family keeps its look
BADGE = [(226, 35, 52), (244, 101, 24), (214, 0, 110), (190, 20, 20)]
PASTEL = [((252, 228, 236), (220, 80, 125)), ((224, 247, 236), (40, 150, 105)), ((232, 228, 252), (110, 85, 210)),
          ((255, 239, 219), (225, 125, 35)), ((222, 240, 252), (45, 125, 205))]
BA_ACCENT = [(20, 160, 120), (40, 110, 230), (230, 90, 40)]
OFFER = {"classic": [(230, 30, 60), (20, 90, 220), (240, 140, 0), (130, 40, 200), (0, 150, 105)],
         "warm_burst": [(232, 48, 40), (240, 100, 20), (215, 20, 100)],
         "cool_frame": [(20, 70, 200), (0, 120, 145), (25, 130, 75)]}
PAPER = (250, 249, 244)
BUTTON = [(240, 90, 40), (25, 25, 25), (20, 120, 90), (40, 90, 220)]
EVENT_BG = [(12, 12, 30), (22, 10, 38), (5, 22, 32)]
NEON = [(0, 240, 200), (255, 60, 170), (250, 230, 40), (120, 255, 80)]
APP_GRAD = [((40, 80, 230), (130, 50, 220)), ((0, 150, 170), (20, 60, 160)), ((250, 90, 110), (150, 40, 190))]
GRID_ACCENT = [(30, 30, 30), (170, 110, 50), (200, 60, 80)]
TONES = ["warm", "cool", "mono"]
HANDLES = ["@maya.makes", "@jonas_daily", "@priya.tries", "@leo.reviews", "@ana.everyday", "@tom_tests"]
AUTHORS = ["Maya R.", "Jonas K.", "Priya S.", "Leo M.", "Ana G.", "Tom B.", "Chloe D.", "Sam W."]
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]

CSV_COLUMNS = ["file", "headline", "copy", "cta", "tags", "format", "placement", "campaign", "date", "start_date",
               "end_date", "spend", "impressions", "clicks", "conversions", "revenue"]


# ----------------------------------------------------------------------------------------------- sources

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


# ------------------------------------------------------------------------------------------- concepts

def _pick(rng: np.random.Generator, items: list, exclude=None):
    choices = [x for x in items if x != exclude] or items
    return choices[int(rng.integers(len(choices)))]


def _crop(rng: np.random.Generator, key: str) -> tuple:
    return (key, float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7)), float(rng.uniform(1.0, 1.3)))


def _concept(family: str, substyle: str, month: int, rng: np.random.Generator) -> dict:
    """A creative concept: layout params plus the alternatives its variants may swap in."""
    c = {**COPY[family], **SUBSTYLE_COPY.get(substyle, {})}
    key = _pick(rng, POOLS[family])
    product = _pick(rng, PHOTOS[key][1])
    pct = f"{int(rng.integers(3, 13)) * 5}%"
    fill = lambda s: s.format(product=product, PRODUCT=product.upper(), pct=pct)  # noqa: E731
    head, alt = (fill(h) for h in rng.choice(c["headlines"], 2, replace=False))
    p = dict(family=family, substyle=substyle, month=month, product=product, category=PHOTOS[key][0], pct=pct,
             headline=head, cta=_pick(rng, c["cta"]), crops=[_crop(rng, key)], tone=None,
             campaign=_pick(rng, c["campaigns"]), extra_tag=_pick(rng, EXTRA_TAGS))
    swap, recolour = {"headline": alt}, {"tone": _pick(rng, TONES)}
    _FAMILY_EXTRAS[family](p, swap, recolour, rng)
    p["swap"], p["recolour"] = swap, recolour
    return p


def _extras_product(p, swap, recolour, rng):
    i = int(rng.integers(len(BADGE)))
    p["accent"], recolour["accent"] = BADGE[i], BADGE[(i + 1) % len(BADGE)]
    p["badge"] = f"-{p['pct']}"  # same discount as the headline


def _extras_testimonial(p, swap, recolour, rng):
    key = _pick(rng, list(FACES))
    fx, fy, zoom = FACES[key]
    p["crops"] = [(key, fx, fy, zoom)]
    i = int(rng.integers(len(PASTEL)))
    p["palette"], recolour["palette"] = PASTEL[i], PASTEL[(i + 2) % len(PASTEL)]
    p["author"] = _pick(rng, AUTHORS)
    recolour.pop("tone")  # the avatar is tiny; recolour the card instead


def _extras_before_after(p, swap, recolour, rng):
    i = int(rng.integers(len(BA_ACCENT)))
    p["accent"], recolour["accent"] = BA_ACCENT[i], BA_ACCENT[(i + 1) % len(BA_ACCENT)]


def _extras_ugc(p, swap, recolour, rng):
    p["bottom"] = _pick(rng, COPY["ugc_caption_bar"]["bottoms"])
    swap["bottom"] = _pick(rng, COPY["ugc_caption_bar"]["bottoms"], exclude=p["bottom"])
    p["handle"] = _pick(rng, HANDLES)


def _extras_offer(p, swap, recolour, rng):
    palette = OFFER[p["substyle"]]
    i = int(rng.integers(len(palette)))
    p["bg"], recolour["bg"] = palette[i], palette[(i + 1) % len(palette)]
    subs = SUBSTYLE_COPY.get(p["substyle"], COPY["text_only_offer"])["subs"]
    p["sub"] = _pick(rng, subs)
    swap["sub"] = _pick(rng, subs, exclude=p["sub"])
    p["crops"] = []
    recolour.pop("tone")


def _extras_lifestyle(p, swap, recolour, rng):
    i = int(rng.integers(len(BUTTON)))
    p["accent"], recolour["accent"] = BUTTON[i], BUTTON[(i + 1) % len(BUTTON)]
    recolour["tone"] = "warm"  # the lifestyle look stays warm; mono would turn it into a different mood


def _extras_event(p, swap, recolour, rng):
    year, month = MONTHS[p["month"]]
    day = int(rng.integers(1, calendar.monthrange(year, month)[1] + 1))
    p["weekday"] = WEEKDAYS[date(year, month, day).weekday()]
    p["day"] = f"{day} {calendar.month_abbr[month].upper()}"
    p["venue"] = _pick(rng, COPY["event_poster"]["venues"])
    swap["venue"] = _pick(rng, COPY["event_poster"]["venues"], exclude=p["venue"])
    i, j = rng.choice(len(NEON), 2, replace=False)
    p["bg"], p["accent"], p["second"] = _pick(rng, EVENT_BG), NEON[i], NEON[j]
    recolour.update(accent=NEON[j], second=NEON[i])
    recolour.pop("tone")
    p["crops"] = []
    p["shapes"] = [(_pick(rng, ["circle", "triangle"]), float(rng.uniform(0.8, 0.9)), float(fy),
                    int(rng.integers(60, 110)), int(k % 2)) for k, fy in enumerate(np.linspace(0.12, 0.88, 4))]


def _extras_app(p, swap, recolour, rng):
    i = int(rng.integers(len(APP_GRAD)))
    p["gradient"], recolour["gradient"] = APP_GRAD[i], APP_GRAD[(i + 1) % len(APP_GRAD)]
    p["rating"] = f"{rng.uniform(4.3, 4.9):.1f} rating, {int(rng.integers(1, 9))}M+ downloads"
    recolour.pop("tone")


def _extras_grid(p, swap, recolour, rng):
    p["grid"] = int(rng.choice([2, 3]))
    keys = rng.choice(POOLS["carousel_grid_collage"], 9, replace=True)
    p["crops"] = [_crop(rng, str(k)) for k in keys]
    i = int(rng.integers(len(GRID_ACCENT)))
    p["accent"], recolour["accent"] = GRID_ACCENT[i], GRID_ACCENT[(i + 1) % len(GRID_ACCENT)]


def _extras_meme(p, swap, recolour, rng):
    top = p["headline"].split("|")[0]
    swap["headline"] = f"{top}|{swap['headline'].split('|')[1]}"  # the classic meme edit: new punchline


_FAMILY_EXTRAS = {
    "product_closeup_discount": _extras_product, "testimonial_quote_card": _extras_testimonial,
    "before_after_split": _extras_before_after, "ugc_caption_bar": _extras_ugc, "text_only_offer": _extras_offer,
    "lifestyle_cta_button": _extras_lifestyle, "event_poster": _extras_event, "app_screenshot_phone": _extras_app,
    "carousel_grid_collage": _extras_grid, "meme_top_bottom_text": _extras_meme,
}


def _variant(concept: dict, kind: str, rng: np.random.Generator) -> dict:
    """Apply one re-cut to a concept: another crop, a recolour, a smaller render or a copy swap."""
    p = {k: v for k, v in concept.items() if k not in ("swap", "recolour", "months", "last_month", "kinds")}
    if kind == "crop":
        p["crops"] = [(k, min(max(x + rng.uniform(-0.08, 0.08), 0), 1), min(max(y + rng.uniform(-0.08, 0.08), 0), 1),
                       z * rng.uniform(1.05, 1.2)) for k, x, y, z in p["crops"]]
    elif kind == "recolour":
        p.update(concept["recolour"])
    elif kind == "text_swap":
        p.update(concept["swap"])
    p["scale"] = RESIZE_SCALE if kind == "resize" else SCALE
    return p


def _render(p: dict) -> Image.Image:
    w, h = FORMATS[FAMILIES[p["family"]][0]]
    s = p["scale"]
    return RENDERERS[p["family"]](dict(p, W=round(w * s), H=round(h * s), u=lambda v: max(1, round(v * s))))


# ------------------------------------------------------------------------------------------------ plan

def _allocate(n_images: int) -> dict[str, list[int]]:
    """Ads per family per month, proportional to the role weights, summing exactly to n_images."""
    role_of = {fam: role for role, fam in TREND_ROLES.items()}
    cells = [(fam, m, MONTH_WEIGHTS[role_of.get(fam, "steady")][m]) for fam in FAMILIES for m in range(4)]
    unit = n_images / sum(w for _, _, w in cells)
    exact = np.array([w * unit for _, _, w in cells])
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")  # largest remainder; stable sort keeps ties deterministic
    counts[order[: n_images - counts.sum()]] += 1
    out = {fam: [0] * 4 for fam in FAMILIES}
    for (fam, m, _), n in zip(cells, counts):
        out[fam][m] = int(n)
    return out


def _chunks(n: int, rng: np.random.Generator) -> list[int]:
    """Split n ads into concepts of 2-3 variants (a lone ad only when n is 1)."""
    sizes = []
    while n > 0:
        k = min(n, int(rng.integers(2, 4)))
        if n - k == 1:
            k += 1 if k < 3 else -1
        sizes.append(k)
        n -= k
    return sizes


def _plan(n_images: int, rng: np.random.Generator) -> list[dict]:
    """Concepts with their variant kinds and launch months; a few concepts end in a byte-identical re-run.

    A family's launches (per substyle) are cut into concepts in launch order, so a concept whose
    variants fall on both sides of a month boundary is re-cut and re-launched the next month, as
    teams do with a creative that works."""
    concepts = []
    for fam, months in _allocate(n_images).items():
        styles = SPLIT_STYLES if fam == TREND_ROLES["splits"] else [("default",)] * 4
        slots: dict[str, list[int]] = {}   # substyle -> launch month of each of its ads, in order
        for m, count in enumerate(months):
            for style, part in zip(styles[m], np.array_split(np.arange(count), len(styles[m]))):
                slots.setdefault(style, []).extend([m] * len(part))
        idx = 0
        for style, launch in slots.items():
            pos = 0
            for size in _chunks(len(launch), rng):
                idx += 1
                c = _concept(fam, style, launch[pos], rng)
                c["index"], c["months"], c["last_month"] = idx, launch[pos:pos + size], launch[-1]
                pos += size
                kinds = ["crop", "recolour", "resize", "text_swap"] if c["crops"] else ["recolour", "resize", "text_swap"]
                # distinct re-cut kinds: two recolours (or resizes) of one concept would be byte-identical
                c["kinds"] = ["original"] + [str(k) for k in rng.choice(kinds, size - 1, replace=False)]
                concepts.append(c)
    _restyle_split_lines(concepts)
    multi = [i for i, c in enumerate(concepts) if len(c["kinds"]) > 1]
    n_reruns = min(len(multi), 8, max(1, n_images // 25))
    for i in rng.choice(multi, n_reruns, replace=False) if multi else []:
        concepts[i]["kinds"][-1] = "rerun"
    return concepts


def _restyle_split_lines(concepts: list[dict]) -> None:
    """The split family's two new lines open with re-styles of its classic offers, latest first: a new
    concept takes the headline, sub-line and button of a classic concept whose headline is its line's (same
    offer, new template: a new concept, not a variant), as a team re-cuts the offers that ran, so each new
    line visibly continues part of the old one."""
    fam = TREND_ROLES["splits"]
    classic = sorted((c for c in concepts if c["family"] == fam and c["substyle"] == "classic"),
                     key=lambda c: (-c["month"], c["index"]))
    for line in {s for styles in SPLIT_STYLES for s in styles} - {"classic"}:
        sources = [c for c in classic if c["headline"] in SUBSTYLE_COPY[line]["headlines"]]
        first = [c for c in concepts if c["family"] == fam and c["substyle"] == line]
        for src, new in zip(sources, first):
            new.update(headline=src["headline"], sub=src["sub"], cta=src["cta"])


def _month_end(month: int) -> date:
    year, mon = MONTHS[month]
    return date(year, mon, calendar.monthrange(year, mon)[1])


def _dates(months: list[int], last_month: int, rng: np.random.Generator) -> list[tuple[date, date]]:
    """(start, end) of each ad launched in `months` (sorted): variants start in order, so v1 is the
    earliest cut. An ad runs RUN_DAYS and may carry on into the next month, but never past the end
    of `last_month` (the last month its family/substyle launches: a look that stops, stops)."""
    out = []
    for month in months:
        year, mon = MONTHS[month]
        out.append(date(year, mon, int(rng.integers(1, calendar.monthrange(year, mon)[1] + 1))))
    out.sort()
    stop = _month_end(last_month)
    return [(s, min(stop, s + timedelta(days=int(rng.integers(*RUN_DAYS))))) for s in out]


def _performance(family: str, month: int, rng: np.random.Generator) -> dict:
    ctr, cvr, cpm, aov = PERF[family]
    role = {fam: r for r, fam in TREND_ROLES.items()}.get(family)
    spend = float(rng.lognormal(np.log(400), 0.45)) * SPEND_TREND.get(role, (1,) * 4)[month]
    impressions = int(spend / (cpm * rng.uniform(0.8, 1.25)) * 1000)
    clicks = int(rng.binomial(impressions, min(1.0, ctr * rng.lognormal(0, 0.2))))
    conversions = int(rng.binomial(clicks, min(1.0, cvr * rng.lognormal(0, 0.25))))
    revenue = conversions * aov * rng.uniform(0.8, 1.2)
    return dict(spend=f"{spend:.2f}", impressions=impressions, clicks=clicks, conversions=conversions,
                revenue=f"{revenue:.2f}")


def _placement(fmt: str, rng: np.random.Generator) -> str:
    return {"square": "feed", "portrait": "feed", "landscape": "display"}.get(fmt) or _pick(rng, ["stories", "reels"])


def _copy_text(family: str, rng: np.random.Generator, substyle: str = "default") -> str:
    return " ".join(rng.choice(SUBSTYLE_COPY.get(substyle, COPY[family])["copy"], 2, replace=False))


def _row(file: str, p: dict, fmt: str, placement: str, when: tuple[date, date], copy: str, rng) -> dict:
    tags = COPY[p["family"]]["tags"] + [p["category"], p["extra_tag"]]
    if p["substyle"] not in ("default", "classic"):
        tags.append(p["substyle"].replace("_", "-"))
    start, end = when
    return dict(file=file, headline=p["headline"].replace("|", " / "), copy=copy, cta=p["cta"],
                tags=";".join(tags), format=fmt, placement=placement, campaign=p["campaign"],
                date=start.isoformat(), start_date=start.isoformat(), end_date=end.isoformat(),
                **_performance(p["family"], p["month"], rng))


# ---------------------------------------------------------------------------------------------- images

def _save(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        img.save(path, quality=88)
    else:
        img.save(path)


def _write_images(out: Path, concepts: list[dict], rng, tick) -> tuple[list, dict]:
    rows, truth = [], {}
    for c in concepts:
        fam = c["family"]
        fmt, prefix, ext = FAMILIES[fam]
        group = f"{fam}/c{c['index']:02d}"
        first = None
        dates = _dates(c["months"], c["last_month"], rng)
        for v, (kind, month, when) in enumerate(zip(c["kinds"], c["months"], dates), start=1):
            file = f"images/{fam}/{prefix}_{c['index']:02d}_v{v}.{ext}"
            p = dict(_variant(c, "original" if kind == "rerun" else kind, rng), month=month)
            if kind == "rerun":  # same creative bytes, re-launched with new copy
                shutil.copyfile(out / first, out / file)
            else:
                _save(_render(p), out / file)
            first = first or file
            rows.append(_row(file, p, fmt, _placement(fmt, rng), when, _copy_text(fam, rng, c["substyle"]), rng))
            truth[file] = dict(family=fam, variant_group=group, kind="image", substyle=c["substyle"],
                               variant=kind, identical_to=first if kind == "rerun" else None)
            tick()
    return rows, truth


# ---------------------------------------------------------------------------------------------- videos

def _video_specs(n: int, rng: np.random.Generator) -> list[dict]:
    """Alternate fast (8-14 shots of 0.5-0.83 s) and slow (2-4 shots of 2-3 s) edits, all 4-12 s; two launches a month."""
    specs = []
    for i in range(n):
        fast = i % 2 == 0
        shots = int(rng.integers(8, 15)) if fast else int(rng.integers(2, 5))
        lengths = rng.integers(6, 11, shots) if fast else rng.integers(24, 37, shots)
        keys, prev = [], None
        for _ in range(shots):  # adjacent shots never reuse a photo, so every cut is a real change
            prev = _pick(rng, list(PHOTOS), exclude=prev)
            keys.append(prev)
        family = VIDEO_FAMILIES[0 if fast else 1]
        product = _pick(rng, PHOTOS[keys[0]][1])
        specs.append(dict(family=family, fast=fast, lengths=[int(x) for x in lengths], keys=keys, product=product,
                          category=PHOTOS[keys[0]][0], month=min(i // 2, len(MONTHS) - 1), captions=list(rng.choice(COPY[family]["headlines"], shots)),
                          colours=[_pick(rng, BADGE + BUTTON[2:] + [c for c, _ in APP_GRAD]) for _ in range(shots)],
                          crops=[_crop(rng, k) for k in keys], drift=[rng.uniform(-1, 1, 2) for _ in range(shots)]))
    return specs


def _video_shot_frames(spec: dict, s: int) -> list[np.ndarray]:
    """Frames of shot s: fast shots are stills (a solid end card last); slow shots zoom in 1.0 -> 1.08x."""
    W, H = VIDEO_SIZE
    n, caption = spec["lengths"][s], spec["captions"][s].format(product=spec["product"])
    last = s == len(spec["lengths"]) - 1
    if last:  # end card: flat colour with the CTA
        card = Image.new("RGB", (W, H), spec["colours"][s])
        d = ImageDraw.Draw(card)
        _text(d, spec["product"], (20, 160, W - 20, 360), 48, (255, 255, 255), max_lines=2)
        _pill(d, COPY[spec["family"]]["cta"][0], (W / 2, 460), 30, (255, 255, 255), spec["colours"][s])
        return [np.asarray(card)] * n
    if spec["fast"]:  # UGC-style still with a white caption bar
        img = _photo(spec["crops"][s], W, H)
        d = ImageDraw.Draw(img)
        d.rounded_rectangle((20, 90, W - 20, 190), radius=16, fill=(255, 255, 255))
        _text(d, caption, (34, 96, W - 34, 184), 34, (0, 0, 0), max_lines=2)
        return [np.asarray(img)] * n
    key, cx, cy, zoom = spec["crops"][s]
    dx, dy = spec["drift"][s]
    frames = []
    for f in range(n):  # gradual zoom + drift: no frame-to-frame jump a cut detector could mistake for a cut
        t = f / (n - 1)
        img = _photo((key, cx + 0.02 * dx * t, cy + 0.02 * dy * t, zoom * (1 + 0.08 * t)), W, H,
                     resample=Image.BILINEAR)  # per-frame resize: bilinear keeps video rendering fast
        _text(ImageDraw.Draw(img), caption, (24, H - 200, W - 24, H - 60), 40, (255, 255, 255), max_lines=2,
              stroke=3, stroke_fill=(0, 0, 0))
        frames.append(np.asarray(img))
    return frames


def _write_video(path: Path, spec: dict) -> dict:
    import imageio_ffmpeg
    path.parent.mkdir(parents=True, exist_ok=True)
    # one encoder thread + bitexact muxing: identical bytes on every run
    writer = imageio_ffmpeg.write_frames(str(path), VIDEO_SIZE, fps=VIDEO_FPS, codec="libx264", quality=6,
                                         macro_block_size=8, ffmpeg_log_level="error",
                                         output_params=["-threads", "1", "-preset", "veryfast", "-fflags", "+bitexact",
                                                        "-flags:v", "+bitexact", "-map_metadata", "-1"])
    writer.send(None)
    for s in range(len(spec["lengths"])):
        for frame in _video_shot_frames(spec, s):
            writer.send(np.ascontiguousarray(frame))
    writer.close()
    bounds = np.cumsum(spec["lengths"])
    return dict(shot_count=len(spec["lengths"]), cut_times_s=[round(int(b) / VIDEO_FPS, 4) for b in bounds[:-1]],
                pacing="fast" if spec["fast"] else "slow", duration_s=round(int(bounds[-1]) / VIDEO_FPS, 4), fps=VIDEO_FPS)


def _write_videos(out: Path, specs: list[dict], rng, tick) -> tuple[list, dict]:
    rows, truth = [], {}
    counters = {fam: 0 for fam in VIDEO_FAMILIES}
    for spec in specs:
        fam = spec["family"]
        counters[fam] += 1
        file = f"videos/{'fast' if spec['fast'] else 'slow'}_{counters[fam]:02d}.mp4"
        info = _write_video(out / file, spec)
        c = COPY[fam]
        p = dict(family=fam, month=spec["month"], substyle="default", category=spec["category"],
                 extra_tag=_pick(rng, EXTRA_TAGS), headline=spec["captions"][0].format(product=spec["product"]),
                 cta=c["cta"][0], campaign=c["campaigns"][0])
        placement = "reels" if spec["fast"] else "stories"   # video flights are booked month by month
        rows.append(_row(file, p, "video", placement, _dates([spec["month"]], spec["month"], rng)[0], _copy_text(fam, rng), rng))
        truth[file] = dict(family=fam, variant_group=f"{fam}/c{counters[fam]:02d}", kind="video", substyle="default",
                           variant="original", identical_to=None, **info)
        tick()
    return rows, truth


# ------------------------------------------------------------------------------------------------- API

def generate_sample(out_dir: str | Path, seed: int = 0, n_images: int = 200, with_videos: bool = True,
                    progress=None) -> Path:
    """Write a sample ad library (images/, videos/, metadata.csv, ground_truth.json) into out_dir.

    The same seed gives byte-identical files. progress(done, total) is called after every file.
    ground_truth.json files[f] holds family, variant_group, kind, identical_to, plus substyle (the split
    family's sub-style, else "default") and variant (original/crop/recolour/resize/text_swap/rerun);
    videos add shot_count, cut_times_s, pacing, duration_s and fps.
    """
    out = Path(out_dir)
    if (out / "ground_truth.json").exists():  # regenerating over an old sample: drop its media, not foreign files
        for sub in ("images", "videos"):
            shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    concepts = _plan(n_images, rng)
    specs = _video_specs(N_VIDEOS, rng) if with_videos else []
    total, done = n_images + len(specs), [0]

    def tick():
        done[0] += 1
        if progress:
            progress(done[0], total)

    rows, truth = _write_images(out, concepts, rng, tick)
    video_rows, video_truth = _write_videos(out, specs, rng, tick)
    with open(out / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows + video_rows)
    families = list(FAMILIES) + (VIDEO_FAMILIES if specs else [])
    gt = dict(files={**truth, **video_truth}, families=families, trend_roles=TREND_ROLES, seed=seed)
    (out / "ground_truth.json").write_text(json.dumps(gt, indent=1), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Generate the deterministic sample ad library.")
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-images", type=int, default=200)
    ap.add_argument("--no-videos", action="store_true")
    args = ap.parse_args(argv)
    path = generate_sample(args.out_dir, args.seed, args.n_images, not args.no_videos,
                           progress=lambda d, t: print(f"\r{d}/{t}", end="", flush=True))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
