"""Timing helper shared by the bench scripts (each is run as `python bench/<name>.py`, so this folder is on the path)."""
from __future__ import annotations

import time

import numpy as np


def median_ms(fn, items) -> float:
    """Median wall milliseconds of fn(item) over the items, one call each."""
    runs = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        runs.append((time.perf_counter() - t) * 1000)
    return float(np.median(runs))
