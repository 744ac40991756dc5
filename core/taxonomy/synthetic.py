"""A synthetic library for benchmarks and tests: planted families, sub-clusters and variant groups
as Gaussian blobs in the real vector dimensions (visual 3840, text 384), written as real rows
into a real library (DuckDB), with the ground truth returned beside it.

Within one sub-cluster the visual cosine is ≈ 0.65, within a family ≈ 0.45, between families ≈ 0;
variants of one creative ≈ 0.95 and share their pHash (a few bits flipped) and OCR text.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..documents import ad_document
from ..store import registered

_WORDS = ("coffee beans roast espresso morning sneaker running trail marathon laptop battery screen travel "
          "beach hotel flight skincare serum glow vegan burger pizza delivery insurance savings loan fitness "
          "yoga protein garden plants tools puppy kitten toys summer winter holiday discount bundle premium "
          "organic handmade vintage classic bold minimal family kids wedding gift jewelry watch camera lens "
          "guitar concert tickets festival recipe kitchen knife cookware solar energy electric bike scooter "
          "charity volunteer museum course language coding design career salary").split()
_COLOURS = ("red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "black", "white")
_LAYOUTS = (["square", "photo"], ["portrait", "text-heavy", "graphic design"], ["landscape", "photo"],
            ["wide banner", "text-only graphic"], ["vertical story", "illustration"])


@dataclass
class SyntheticSpec:
    n_ads: int = 1000
    n_families: int = 12
    subs_per_family: int = 3
    variant_share: float = 0.25     # share of creatives that are variants of another creative
    ocr_share: float = 0.6          # share of creatives with substantial OCR text
    duplicate_share: float = 0.05   # share of ads re-using another ad's creative (byte-identical file)
    visual_dim: int = 3840
    text_dim: int = 384
    seed: int = 0


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def _blob(rng, centres_f, centres_s, fam, sub, dim, noise=0.35, fam_w=0.45, sub_w=0.2) -> np.ndarray:
    e = rng.standard_normal((len(fam), dim), dtype=np.float32) / np.sqrt(dim)
    x = np.sqrt(fam_w) * centres_f[fam] + np.sqrt(sub_w) * centres_s[fam, sub] + np.sqrt(noise) * e
    return _unit(x).astype(np.float32)


def write_synthetic_library(library, spec: SyntheticSpec = SyntheticSpec(), chunk: int = 5000) -> pd.DataFrame:
    """Insert spec.n_ads ads into an empty library; returns ground truth (ad_id, family, sub, variant_group)."""
    rng = np.random.default_rng(spec.seed)
    n_ads = spec.n_ads
    n_creatives = max(1, int(round(n_ads * (1 - spec.duplicate_share))))
    F, S = spec.n_families, spec.subs_per_family
    fam = rng.integers(0, F, n_creatives)
    sub = rng.integers(0, S, n_creatives)
    # variants: a creative copies an earlier creative of its family (its "base")
    base = np.arange(n_creatives)
    is_variant = rng.random(n_creatives) < spec.variant_share
    for i in np.flatnonzero(is_variant):
        same = np.flatnonzero(fam[:i] == fam[i])
        if len(same):
            base[i] = base[rng.choice(same)]
            sub[i] = sub[base[i]]
    group = base
    group_size = np.bincount(group, minlength=n_creatives)
    fam_words = [rng.choice(_WORDS, 6, replace=False) for _ in range(F)]
    sub_words = [[rng.choice(_WORDS, 3, replace=False) for _ in range(S)] for _ in range(F)]
    base_text = {}
    for g in np.unique(group):
        if rng.random() < spec.ocr_share:
            words = list(rng.choice(fam_words[fam[g]], 3)) + list(rng.choice(sub_words[fam[g]][sub[g]], 2)) + list(rng.choice(_WORDS, 2))
            base_text[g] = " ".join(words) + f" {int(rng.integers(10, 70))}% off"
    base_hash = rng.integers(0, 2 ** 62, n_creatives, dtype=np.int64)
    vf = _unit(rng.standard_normal((F, spec.visual_dim), dtype=np.float32))
    vs = _unit(rng.standard_normal((F, S, spec.visual_dim), dtype=np.float32))
    tf = _unit(rng.standard_normal((F, spec.text_dim), dtype=np.float32))
    ts = _unit(rng.standard_normal((F, S, spec.text_dim), dtype=np.float32))

    # ads: every creative once, then duplicates re-use random creatives
    creative_of_ad = np.concatenate([np.arange(n_creatives), rng.integers(0, n_creatives, n_ads - n_creatives)])
    rng.shuffle(creative_of_ad)

    con = library.con
    base_visual: dict[int, np.ndarray] = {}
    for start in range(0, n_creatives, chunk):
        idx = np.arange(start, min(n_creatives, start + chunk))
        vis = _blob(rng, vf, vs, fam[idx], sub[idx], spec.visual_dim)
        for k, i in enumerate(idx):
            g = group[i]
            if g != i:  # a variant: its base (always an earlier creative) plus a little noise
                v = base_visual[g] + 0.23 * rng.standard_normal(spec.visual_dim).astype(np.float32) / np.sqrt(spec.visual_dim)
                vis[k] = v / np.linalg.norm(v)
            elif group_size[i] > 1:
                base_visual[i] = vis[k].copy()
        hashes = []
        for i in idx:
            h = int(base_hash[group[i]])
            if group[i] != i:
                for bit in rng.choice(62, 3, replace=False):
                    h ^= 1 << int(bit)
            hashes.append(h)
        rows = []
        for k, i in enumerate(idx):
            lay = _LAYOUTS[fam[i] % len(_LAYOUTS)]
            col = [_COLOURS[fam[i] % len(_COLOURS)], _COLOURS[(fam[i] * 3 + sub[i]) % len(_COLOURS)]]
            ocr = base_text.get(group[i], "")
            w, h = {"square": (1080, 1080), "portrait": (1080, 1350), "landscape": (1200, 628),
                    "wide banner": (728, 90), "vertical story": (1080, 1920)}[lay[0]]
            colors = {"dominant": [{"hex": "#000000", "share": 0.6, "name": col[0]}, {"hex": "#ffffff", "share": 0.4, "name": col[1]}],
                      "saturation": round(float(0.2 + 0.06 * (fam[i] % 10)), 3), "brightness": round(float(0.3 + 0.05 * sub[i]), 3)}
            rows.append({"id": int(i) + 1, "sha256": f"{spec.seed:04d}{i:060d}", "kind": "image", "media_path": f"media/synth/{i}.png",
                         "width": w, "height": h, "phash": hashes[k], "colors": json.dumps(colors), "color_words": ", ".join(col),
                         "ocr_text": ocr, "text_area_share": 0.3 if ocr else 0.0, "labels": json.dumps([["web site", 0.3]]),
                         "layout_words": ", ".join(lay), "extra": "{}", "visual": vis[k]})
        frame = pd.DataFrame(rows)
        with registered(con, "_synth_creatives", frame):
            con.execute("""INSERT INTO creatives (id, sha256, kind, media_path, width, height, phash, colors, color_words, ocr_text,
                           text_area_share, labels, layout_words, extra, visual, visual_model)
                           SELECT id, sha256, kind, media_path, width, height, phash, colors::JSON, color_words, ocr_text,
                           text_area_share, labels::JSON, layout_words, extra::JSON, visual::FLOAT[], 'synthetic'
                           FROM _synth_creatives""")

    truth = []
    for start in range(0, n_ads, chunk):
        idx = np.arange(start, min(n_ads, start + chunk))
        cre = creative_of_ad[idx]
        text = _blob(rng, tf, ts, fam[cre], sub[cre], spec.text_dim, noise=0.3, fam_w=0.5, sub_w=0.2)
        rows = []
        for k, (a, c) in enumerate(zip(idx, cre)):
            f, s = int(fam[c]), int(sub[c])
            tags = [str(fam_words[f][0]), str(sub_words[f][s][0])]
            copy = f"{' '.join(rng.choice(fam_words[f], 4))} {' '.join(rng.choice(sub_words[f][s], 2))}"
            lay = _LAYOUTS[f % len(_LAYOUTS)]
            doc = ad_document({"copy": copy, "cta": "Shop now", "tags": tags}, base_text.get(group[c], ""),
                              [["web site", 0.3]], [_COLOURS[f % len(_COLOURS)]], lay)
            impressions = float(rng.integers(500, 50_000))
            clicks = float(rng.binomial(int(impressions), 0.005 + 0.002 * (f % 5)))
            rows.append({"id": int(a) + 1, "file": f"synthetic/{a}.png", "creative_id": int(c) + 1, "copy": copy, "cta": "Shop now",
                         "tags": tags, "format": "image", "placement": ["feed", "stories"][s % 2], "spend": float(rng.uniform(5, 500)),
                         "impressions": impressions, "clicks": clicks, "conversions": float(rng.binomial(int(clicks), 0.05)),
                         "document": doc, "text_vec": text[k]})
            truth.append((int(a) + 1, f, f"{f}.{s}", int(group[c]) + 1))
        frame = pd.DataFrame(rows)
        with registered(con, "_synth_ads", frame):
            con.execute("""INSERT INTO ads (id, file, creative_id, copy, cta, tags, format, placement, spend, impressions, clicks,
                           conversions, document, text_vec)
                           SELECT id, file, creative_id, copy, cta, tags::VARCHAR[], format, placement, spend, impressions, clicks,
                           conversions, document, text_vec::FLOAT[] FROM _synth_ads""")
    return pd.DataFrame(truth, columns=["ad_id", "family", "sub", "variant_group"])
