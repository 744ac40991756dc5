"""Periods cut from the ads' dates, and which ads are active in each.

An ad runs from `date` to `end_date` inclusive; without an end date it is active on its date only.
An end date before the start date is read as a one-day run (a typo should not erase the ad).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

PERIODS = ("week", "month", "quarter")


@dataclass(frozen=True)
class Period:
    id: str
    start: date
    end: date            # inclusive

    def to_dict(self, ads: int) -> dict:
        return {"id": self.id, "start": self.start.isoformat(), "end": self.end.isoformat(), "ads": int(ads)}


def _as_date(v) -> date:
    return pd.Timestamp(v).date()


def _month_start(d: date, months: int = 1) -> date:
    first = d.replace(day=1)
    m = (first.month - 1) // months * months + 1
    return first.replace(month=m)


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return d.replace(year=d.year + m // 12, month=m % 12 + 1)


def calendar_periods(first: date, last: date, period: str) -> list[Period]:
    """Every calendar week (ISO, Monday first), month or quarter from the one holding `first` to the one holding `last`."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; valid: {', '.join(PERIODS)} (or pass boundaries=[...])")
    out = []
    if period == "week":
        start = first - timedelta(days=first.weekday())
        while start <= last:
            iso = start.isocalendar()
            out.append(Period(f"{iso.year}-W{iso.week:02d}", start, start + timedelta(days=6)))
            start += timedelta(days=7)
        return out
    step = 1 if period == "month" else 3
    start = _month_start(first, step)
    while start <= last:
        nxt = _add_months(start, step)
        pid = f"{start.year}-{start.month:02d}" if step == 1 else f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        out.append(Period(pid, start, nxt - timedelta(days=1)))
        start = nxt
    return out


def boundary_periods(boundaries) -> list[Period]:
    """Explicit edges: n + 1 increasing dates make n periods [b_i, b_{i+1}) named by their start date."""
    edges = [_as_date(b) for b in boundaries]
    if len(edges) < 2:
        raise ValueError("boundaries needs at least two dates: the start of the first period and the end of the last")
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError("boundaries must be strictly increasing dates")
    return [Period(a.isoformat(), a, b - timedelta(days=1)) for a, b in zip(edges, edges[1:])]


def make_periods(starts: pd.Series, period: str = "month", boundaries=None, keep: int = 4) -> list[Period]:
    """The last `keep` periods up to the latest start date (periods follow launches, not end dates,
    so a long-running ad does not open empty periods after the last launch)."""
    if boundaries is not None:
        periods = boundary_periods(boundaries)
    else:
        dated = pd.to_datetime(starts).dropna()
        if dated.empty:
            raise ValueError("no ad has a date: trends need a `date` column in the metadata (and ideally `end_date`)")
        periods = calendar_periods(dated.min().date(), dated.max().date(), period)
    if keep < 1:
        raise ValueError("keep must be ≥ 1")
    return periods[-keep:]


def run_spans(starts: pd.Series, ends: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(first day, last day) of each ad's run as datetime64[D]; NaT where the ad has no date."""
    s = pd.to_datetime(starts).to_numpy(dtype="datetime64[D]")
    e = pd.to_datetime(ends).to_numpy(dtype="datetime64[D]")
    e = np.where(np.isnat(e) | (e < s), s, e)
    return s, e


def overlap_days(s: np.ndarray, e: np.ndarray, p: Period) -> np.ndarray:
    """Days of each run inside the period (0 when inactive or undated)."""
    lo = np.maximum(s, np.datetime64(p.start, "D"))
    hi = np.minimum(e, np.datetime64(p.end, "D"))
    days = (hi - lo).astype("timedelta64[D]").astype(np.int64) + 1
    return np.where(np.isnat(s) | (days < 0), 0, days)
