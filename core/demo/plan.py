"""Planning the sample: concepts, their variants, months, run dates, performance and metadata rows."""
from __future__ import annotations

import calendar
from datetime import date, timedelta

import numpy as np
from PIL import Image

from .data import (APP_GRAD, AUTHORS, BADGE, BA_ACCENT, BUTTON, COPY, EVENT_BG, EXTRA_TAGS, FACES, FAMILIES, FORMATS,
    GRID_ACCENT, HANDLES, MONTHS, MONTH_WEIGHTS, NEON, OFFER, PASTEL, PERF, PHOTOS, POOLS, RESIZE_SCALE, RUN_DAYS,
    SCALE, SPEND_TREND, SPLIT_STYLES, SUBSTYLE_COPY, TONES, TREND_ROLES, WEEKDAYS)
from .render import RENDERERS


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
