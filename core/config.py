"""Run settings as typed values, each default written once.

`BuildConfig` is what a taxonomy build takes (the CLI's `build`/`ingest` flags and the facade read their
defaults from here); search settings are `core.search.config.SearchConfig`; filters are
`core.filters.AdFilters`. A config is checked when made, so a wrong value fails before minutes of work.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class BuildConfig:
    method: str = "auto"                 # auto | ward | hdbscan | graph | … (core.taxonomy.methods.METHODS)
    axes: dict = field(default_factory=dict)   # feature axis → weight; missing axes keep their default weight
    seed: int = 0                        # same ads + same seed → same tree
    outliers: str = "attach"             # what happens to ads no cluster claims (core.taxonomy.hierarchy.OUTLIER_MODES)
    rep_strategy: str = "convergent"     # how representatives are picked (core.taxonomy.REP_STRATEGIES)
    min_spend: float = 100.0             # rates (CTR, CVR) are judged from this much spend on

    def __post_init__(self):
        from .taxonomy import REP_STRATEGIES, get_method
        from .taxonomy.features import resolve_axes
        from .taxonomy.hierarchy import OUTLIER_MODES

        get_method(self.method)
        resolve_axes(self.axes)
        if self.outliers not in OUTLIER_MODES:
            raise ValueError(f"unknown outliers mode {self.outliers!r}; valid: {', '.join(OUTLIER_MODES)}")
        if self.rep_strategy not in REP_STRATEGIES:
            raise ValueError(f"unknown representative strategy {self.rep_strategy!r}; valid: {', '.join(REP_STRATEGIES)}")
        if not (float(self.min_spend) >= 0):
            raise ValueError("min_spend must be a number ≥ 0")

    def with_(self, **changes) -> "BuildConfig":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def kwargs(self) -> dict:
        """Keyword arguments of core.taxonomy.build_taxonomy."""
        return asdict(self)
