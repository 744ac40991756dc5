"""The view layer's shared vocabulary: level names, metric names, the current build and small value readers."""
from __future__ import annotations

import numpy as np

from ..taxonomy.persist import NoTaxonomy, current_build_key

__all__ = ["LEVEL_NAMES", "METRICS", "PERF_KEYS", "NoTaxonomy", "not_available", "current_build_key"]

LEVEL_NAMES = {0: "all ads", 1: "family", 2: "sub-cluster", 3: "micro-pattern"}
METRICS = ("spend", "impressions", "clicks", "conversions", "revenue", "ctr")
PERF_KEYS = ("spend", "impressions", "clicks", "conversions", "ctr", "cvr")   # node rollups shown and charted


def not_available(exc: BaseException) -> str | None:
    """A friendly sentence when `exc` means 'there is no taxonomy to show yet', else None."""
    return str(exc) if isinstance(exc, NoTaxonomy) else None


def _rep_id(r) -> int | None:
    if isinstance(r, dict):
        r = r.get("ad_id", r.get("id"))
    try:
        return int(r)
    except (TypeError, ValueError):
        return None


def _num(v):
    try:
        f = float(v)
        return None if np.isnan(f) else f
    except (TypeError, ValueError):
        return None
