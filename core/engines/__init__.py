"""Where per-creative analysis runs: `local` (worker processes, core.ingest) or `ray` (a Ray cluster).

Every engine yields `core.compute.CreativeResult`s (in any order) to the one library writer in
core.ingest, which alone touches DuckDB; an engine only computes.
"""
from __future__ import annotations

ENGINES = ("local", "ray")


class EngineUnavailable(RuntimeError):
    """An optional engine whose package is not installed; the message says how to install it."""


def check_engine(name: str) -> None:
    """Refuse an unknown engine, and an optional one that is not installed, before any work starts."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; valid: {', '.join(ENGINES)}")
    if name == "ray":
        from .ray_engine import require_ray

        require_ray()
