"""Performance per node where the metadata has it: totals, spend-weighted CTR and CVR with
Wilson intervals (statsmodels `proportion_confint(method="wilson")`), and a minimum-spend gate
under which rates read as insufficient data rather than as a number nobody should act on.

Spend-weighted rate = Σ spendᵢ·rateᵢ / Σ spendᵢ over ads with a rate and spend; its interval is
the Wilson interval of that rate over the node's pooled trials (impressions for CTR, clicks for
CVR), so that it always contains the estimate.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

MIN_SPEND = 100.0


def ad_rates(frame) -> dict[str, np.ndarray]:
    spend = frame["spend"].to_numpy(float)
    impressions = frame["impressions"].to_numpy(float)
    clicks = frame["clicks"].to_numpy(float)
    conversions = frame["conversions"].to_numpy(float)
    ctr_col = frame["ctr"].to_numpy(float)
    # clicks from a CTR column when only the rate was exported
    clicks = np.where(np.isnan(clicks) & np.isfinite(ctr_col) & (impressions > 0), ctr_col * impressions, clicks)
    with np.errstate(divide="ignore", invalid="ignore"):
        ctr = np.where(impressions > 0, clicks / impressions, np.nan)
        ctr = np.where(np.isnan(ctr), ctr_col, ctr)
        cvr = np.where(clicks > 0, conversions / clicks, np.nan)
    return {"spend": spend, "impressions": impressions, "clicks": clicks, "conversions": conversions,
            "ctr": ctr, "cvr": cvr}


def rollup(membership: sparse.csr_matrix, frame, min_spend: float = MIN_SPEND) -> list[dict]:
    """One dict per row of `membership` (nodes × ads 0/1)."""
    from statsmodels.stats.proportion import proportion_confint

    r = ad_rates(frame)
    M = sparse.csr_matrix(membership, dtype=np.float64)

    def total(v):
        return M @ np.nan_to_num(v), M @ np.isfinite(v).astype(float)

    out_sums = {k: total(r[k]) for k in ("spend", "impressions", "clicks", "conversions")}
    ads = np.asarray(M.sum(axis=1)).ravel()
    rates = {}
    for name, trials_key in (("ctr", "impressions"), ("cvr", "clicks")):
        w = np.where(np.isfinite(r[name]) & (r["spend"] > 0), r["spend"], 0.0)
        num = M @ (w * np.nan_to_num(r[name]))
        den = M @ w
        with np.errstate(divide="ignore", invalid="ignore"):
            est = np.where(den > 0, num / den, np.nan)
        trials = out_sums[trials_key][0]
        ok = np.isfinite(est) & (trials > 0)
        lo = np.full(len(est), np.nan)
        hi = np.full(len(est), np.nan)
        if ok.any():
            lo[ok], hi[ok] = proportion_confint(np.clip(est[ok], 0, 1) * trials[ok], trials[ok], alpha=0.05, method="wilson")
        rates[name] = (est, lo, hi)
    result = []
    for i in range(M.shape[0]):
        d = {"ads": int(ads[i])}
        for k, (s, c) in out_sums.items():
            d[k] = round(float(s[i]), 4) if c[i] > 0 else None
        spend = d["spend"] or 0.0
        enough = spend >= min_spend
        d["min_spend"] = float(min_spend)
        d["status"] = "ok" if enough else "insufficient data"
        for name, (est, lo, hi) in rates.items():
            have = enough and np.isfinite(est[i])
            d[name] = float(est[i]) if have else None
            d[f"{name}_low"] = float(lo[i]) if have and np.isfinite(lo[i]) else None
            d[f"{name}_high"] = float(hi[i]) if have and np.isfinite(hi[i]) else None
        if d["spend"] is None and d["impressions"] is None:
            d["status"] = "no performance data"
        result.append(d)
    return result
