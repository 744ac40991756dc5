"""Creative approaches over time: periods cut from the ads' dates, one taxonomy (families) per period,
nodes linked across consecutive periods into approaches with stable ids (lineage: NEW, INACTIVE,
SPLIT, MERGE), and per approach the metrics of the last periods, their deltas and a direction.

Modules: periods (calendar or explicit periods, active ads), lineage (matching rule and events),
metrics (rollups, deltas, CTR z-test, direction), engine (compute_trends over a Library).
"""
from __future__ import annotations

from .engine import TrendsResult, compute_trends, trends
from .lineage import ABSENT, ACTIVE, INACTIVE, MERGE, NEW, SPLIT
from .periods import PERIODS, Period

__all__ = ["compute_trends", "trends", "TrendsResult", "Period", "PERIODS", "ACTIVE", "NEW", "INACTIVE", "SPLIT",
           "MERGE", "ABSENT"]
