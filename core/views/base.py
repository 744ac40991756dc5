"""The view layer's shared vocabulary: level names, metric names, the current build and small value readers."""
from __future__ import annotations

import numpy as np

LEVEL_NAMES = {0: "all ads", 1: "family", 2: "sub-cluster", 3: "micro-pattern"}
METRICS = ("spend", "impressions", "clicks", "conversions", "revenue", "ctr")
PERF_KEYS = ("spend", "impressions", "clicks", "conversions", "ctr", "cvr")   # node rollups shown and charted


class NotAvailable(RuntimeError):
    """A part of the engine this view needs has not landed yet (or was not built for this library)."""


def not_available(exc: BaseException) -> str | None:
    """A friendly sentence if `exc` means 'that engine module is not there yet', else None."""
    if isinstance(exc, NotAvailable):
        return str(exc)
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("core"):
        what = (exc.name or "").split(".")[1:2]
        return f"The {what[0] if what else 'engine'} part of the engine is not available yet."
    if isinstance(exc, ImportError) and "core." in str(exc):
        return "That part of the engine is not available yet."
    return None


def current_build_key(library) -> str | None:
    return library.scalar("SELECT key FROM runs WHERE kind = 'taxonomy' AND is_current ORDER BY created_at DESC LIMIT 1")


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
