"""What works: the taxonomy's families (or sub-clusters) ranked by a chosen metric, with the
interval around each rate and the minimum-spend gate, so a strategist sees the winning patterns.

Reads the performance rollups the build stored on each node (`perf`: spend, impressions, clicks,
conversions, ctr/cvr with their 95% intervals, the build's min_spend). Rates are ranked by the low
end of their interval (what the node surely reaches), so a small lucky node does not outrank a
large steady one; nodes under the spend gate are listed apart, unranked.
"""
from __future__ import annotations

import pandas as pd

# metric -> (label, is a rate with an interval in perf, higher is better)
METRICS = {
    "ctr": ("CTR", True, True),
    "cvr": ("Conversion rate", True, True),
    "cost_per_conversion": ("Cost per conversion", False, False),
    "spend": ("Spend", False, True),
    "conversions": ("Conversions", False, True),
    "impressions": ("Impressions", False, True),
}


def available_metrics(library) -> list[str]:
    """The metrics the library's data supports (a rate needs its counts on some node)."""
    from .views import nodes_frame

    nodes = nodes_frame(library)
    if nodes is None:
        return []
    perfs = [p for p in nodes["perf"] if isinstance(p, dict)]
    have = {k for p in perfs for k, v in p.items() if isinstance(v, (int, float))}
    out = [m for m in METRICS if m in have]
    if {"spend", "conversions"} <= have:
        out.insert(min(2, len(out)), "cost_per_conversion")
    return list(dict.fromkeys(out))


def default_gate(library) -> float:
    """The build's minimum spend for judging a node's rates (0 when the build recorded none)."""
    from .views import nodes_frame

    nodes = nodes_frame(library)
    gates = [p.get("min_spend") for p in (nodes["perf"] if nodes is not None else []) if isinstance(p, dict)]
    gates = [float(g) for g in gates if isinstance(g, (int, float))]
    return max(gates) if gates else 0.0


def rank_nodes(library, metric: str = "ctr", level: int = 1, min_spend: float | None = None) -> dict:
    """{'ranked': DataFrame, 'gated': DataFrame, 'overall': value for all ads, 'metric', 'gate'}.

    Columns: id, label, size, value, low, high, spend, reps (representative ad ids), verdict
    ('above' / 'below' the library when the interval clears it, else 'like the rest')."""
    from .views import nodes_frame

    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
    nodes = nodes_frame(library)
    cols = ["id", "label", "path", "size", "value", "low", "high", "spend", "reps", "verdict"]
    if nodes is None:
        empty = pd.DataFrame(columns=cols)
        return {"ranked": empty, "gated": empty, "overall": None, "metric": metric, "gate": 0.0}
    gate = default_gate(library) if min_spend is None else float(min_spend)
    _, is_rate, higher = METRICS[metric]
    root = nodes[nodes["level"] == 0]
    overall = _value(root["perf"].iloc[0], metric)[0] if len(root) else None
    rows = []
    for n in nodes[nodes["level"] == level].itertuples(index=False):
        perf = n.perf if isinstance(n.perf, dict) else {}
        value, low, high = _value(perf, metric)
        spend = perf.get("spend") if isinstance(perf.get("spend"), (int, float)) else None
        verdict = "like the rest"
        if overall is not None and low is not None and high is not None:
            better = low > overall if higher else high < overall
            worse = high < overall if higher else low > overall
            verdict = "above" if better else "below" if worse else verdict
        rows.append({"id": n.id, "label": n.label, "path": n.path, "size": int(n.size or 0), "value": value, "low": low,
                     "high": high, "spend": spend, "reps": rep_ids(n.representatives), "verdict": verdict})
    df = pd.DataFrame(rows, columns=cols)
    judged = df["value"].notna() & ((df["spend"].fillna(0) >= gate) | (not is_rate and metric != "cost_per_conversion"))
    ranked, gated = df[judged].copy(), df[~judged].copy()
    key = ranked["low"].where(ranked["low"].notna(), ranked["value"]) if higher else \
        ranked["high"].where(ranked["high"].notna(), ranked["value"])
    ranked = ranked.assign(_k=key).sort_values(["_k", "size"], ascending=[not higher, False]).drop(columns="_k")
    return {"ranked": ranked.reset_index(drop=True), "gated": gated.sort_values("size", ascending=False).reset_index(drop=True),
            "overall": overall, "metric": metric, "gate": gate}


def _value(perf: dict, metric: str) -> tuple[float | None, float | None, float | None]:
    def num(k):
        v = perf.get(k)
        return float(v) if isinstance(v, (int, float)) and v == v else None

    if metric == "cost_per_conversion":
        spend, conv = num("spend"), num("conversions")
        return (spend / conv if spend is not None and conv else None), None, None
    return num(metric), num(f"{metric}_low"), num(f"{metric}_high")


def rep_ids(reps) -> list[int]:
    """Representative ad ids from a node's stored representatives (ints or {'ad_id': ...} dicts)."""
    out = []
    for r in reps or []:
        r = r.get("ad_id", r.get("id")) if isinstance(r, dict) else r
        try:
            out.append(int(r))
        except (TypeError, ValueError):
            continue
    return out
