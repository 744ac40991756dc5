"""Fusion rule: a weighted sum of z-scored channel scores.

Each channel scores every candidate; scores are z-scored within the channel (so cosine and BM25
units don't matter), clipped (one enormous BM25 hit can't drown the rest), weighted and added.
A channel with no signal for the query (no matching words: constant scores) contributes zero.
Measured on the real dev queries and the self-test this beat equal-weight RRF once the weak
visual channel is in: RRF gives a weak channel's rank list as much say as a strong one's.
"""
from __future__ import annotations

import numpy as np


def zscore(v: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    ref = v if mask is None else v[mask]
    if ref.size == 0:
        return np.zeros_like(v)
    sd = float(ref.std())
    if sd < 1e-9:
        return np.zeros_like(v)
    return (v - float(ref.mean())) / sd


def fuse(channel_scores: dict[str, np.ndarray], weights: dict[str, float], z_clip: float,
         mask: np.ndarray | None = None) -> np.ndarray:
    """sum_c w_c · clip(z_c, -z_clip, z_clip); z statistics over the allowed rows only."""
    total = None
    for name, s in channel_scores.items():
        w = float(weights.get(name, 0.0))
        if s is None or w == 0.0:
            continue
        z = np.clip(zscore(s, mask), -z_clip, z_clip) * w
        total = z if total is None else total + z
    return total


def rrf(channel_scores: dict[str, np.ndarray], k: int = 60) -> np.ndarray:
    """Equal-weight reciprocal-rank fusion, kept for the benchmark's comparison."""
    total = None
    for s in channel_scores.values():
        if s is None:
            continue
        ranks = np.empty(len(s), dtype=np.float64)
        ranks[np.argsort(-s, kind="stable")] = np.arange(1, len(s) + 1)
        r = 1.0 / (k + ranks)
        if float(np.std(s)) < 1e-9:
            r[:] = 0.0
        total = r if total is None else total + r
    return total


def match_score(cosine: float, word_cover: float, gram_cover: float) -> float:
    """An absolute 0–1 'is this really the ad' score for the reuse verdict.

    z-scores are relative (some ad always ranks first); the verdict needs to know whether the
    first one is actually close: the dense cosine rescaled from its typical range, or how much of
    the query's words / character grams the ad's text contains, whichever says more.
    """
    cos = min(1.0, max(0.0, (cosine - 0.15) / 0.5))
    lex = max(word_cover, 0.9 * gram_cover)
    return round(float(max(cos, lex, 0.5 * cos + 0.5 * lex)), 4)
