"""Per-period performance of an approach, its deltas against earlier periods, and its direction.

Volumes (spend, impressions, clicks, conversions, revenue) of an ad that runs across several periods
are split between them in proportion to its active days; without daily data that is the fairest
guess, and it keeps a period's totals from counting one ad's whole spend twice.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

VOLUMES = ("spend", "impressions", "clicks", "conversions", "revenue")
DELTA_METRICS = ("ads", "spend", "impressions", "ctr", "cvr", "cost_per_conversion", "conversions_per_1k_spend", "frequency")
MIN_CHANGE = 0.5         # a trend needs spend and ads to move by half or more
MIN_TEST_COUNT = 5       # z-test only when clicks and non-clicks are ≥ 5 on both sides (normal approximation)
ALPHA = 0.05

IMPROVING, PEAKED, DECLINING, STEADY, NEW_DIR = "improving", "peaked", "declining", "steady", "new"


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b and np.isfinite(a) and np.isfinite(b) and b > 0 else None


def period_metrics(frame: pd.DataFrame, share: np.ndarray) -> dict:
    """Metrics of one group of ads in one period. `frame` has the ad rows (volumes, `frequency` where
    known); `share` is the fraction of each ad's run that falls inside the period."""
    v = {k: float(np.nansum(frame[k].to_numpy(float) * share)) for k in VOLUMES}
    out = {"ads": int(len(frame)), **{k: round(x, 4) for k, x in v.items()}}
    out["ctr"] = _ratio(v["clicks"], v["impressions"])
    out["cvr"] = _ratio(v["conversions"], v["clicks"])
    out["cost_per_conversion"] = _ratio(v["spend"], v["conversions"])
    cps = _ratio(v["conversions"], v["spend"])
    out["conversions_per_1k_spend"] = None if cps is None else cps * 1000
    out["frequency"], out["frequency_source"] = _frequency(frame, share)
    return out


def _frequency(frame: pd.DataFrame, share: np.ndarray) -> tuple[float | None, str]:
    """The `frequency` attribute aggregated as impressions / reach (reach = impressions / frequency);
    without it, impressions per ad."""
    imp = frame["impressions"].to_numpy(float) * share
    if "frequency" in frame and frame["frequency"].notna().any():
        f = frame["frequency"].to_numpy(float)
        ok = np.isfinite(f) & (f > 0) & np.isfinite(imp) & (imp > 0)
        if ok.any():
            return float(imp[ok].sum() / (imp[ok] / f[ok]).sum()), "attribute"
    n = len(frame)
    return (float(np.nansum(imp) / n) if n else None), "impressions_per_ad"


def ctr_test(a: dict, b: dict) -> dict | None:
    """Two-proportion z-test of CTR between two periods' metrics (None when counts are too small)."""
    from statsmodels.stats.proportion import proportions_ztest

    clicks = np.array([round(a["clicks"]), round(b["clicks"])], dtype=float)
    imps = np.array([round(a["impressions"]), round(b["impressions"])], dtype=float)
    if (clicks < MIN_TEST_COUNT).any() or ((imps - clicks) < MIN_TEST_COUNT).any():
        return None
    z, p = proportions_ztest(clicks, imps)
    if not (np.isfinite(z) and np.isfinite(p)):
        return None
    return {"z": round(float(z), 4), "p": float(p), "significant": bool(p < ALPHA)}


def deltas(series: list[dict | None], period_ids: list[str]) -> list[dict]:
    """The last period against each earlier one (N-1, N-2, N-3): absolute and relative changes and
    the CTR z-test. Empty when the approach has no ads in the last period."""
    last = series[-1]
    if last is None:
        return []
    out = []
    for lag in range(1, len(series)):
        base = series[-1 - lag]
        row = {"vs": period_ids[-1 - lag], "lag": lag}
        for k in DELTA_METRICS:
            now, then = last.get(k), None if base is None else base.get(k)
            row[k] = None if now is None or then is None else round(now - then, 6)
            row[f"{k}_pct"] = None if row[k] is None or not then else round((now - then) / abs(then), 4)
        row["ctr_test"] = None if base is None else ctr_test(last, base)
        out.append(row)
    return out


def direction(series: list[dict | None], born_in_window: bool) -> str:
    """improving | peaked | declining | steady | new, from spend confirmed by the number of ads.

    new: born inside the window with fewer than three periods behind it (too short to call).
    improving: the last period is the high point, ≥ 1.5× the first on both spend and ads.
    peaked: the high point is in between, ≥ 1.5× the first, and the last fell to ≤ half of it.
    declining: the first period is the high point and the last fell to ≤ half (an ended approach: 0).
    """
    first = next(i for i, m in enumerate(series) if m is not None)
    if born_in_window and len(series) - first < 3:
        return NEW_DIR
    spend = [0.0 if m is None else (m["spend"] or 0.0) for m in series[first:]]
    ads = [0.0 if m is None else float(m["ads"]) for m in series[first:]]
    shape = [_shape(spend), _shape(ads)]
    return shape[0] if shape[0] == shape[1] else STEADY


def _shape(s: list[float]) -> str:
    peak = int(np.argmax(s))
    top, first, last = s[peak], s[0], s[-1]
    grew = top >= (1 + MIN_CHANGE) * first and top > 0
    fell = last <= (1 - MIN_CHANGE) * top
    if peak == len(s) - 1 and grew:
        return IMPROVING
    if 0 < peak < len(s) - 1 and grew and fell:
        return PEAKED
    if fell and peak == 0:
        return DECLINING
    return STEADY
