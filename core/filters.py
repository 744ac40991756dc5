"""Search filters as one typed value, from the page's widgets to the SQL (no "key=value" strings on the way).

    from core.filters import AdFilters
    f = AdFilters(tags=("ugc",), formats=("story",), spend_min=100, date_from=date(2026, 5, 1),
                  attributes={"language": ("ja",)})
    core.search_ads(library, "red sale", filters=f)

Inside a field the values are alternatives (tag ugc OR promo); fields combine with AND. `to_dict()` gives
the mapping `core.search.filters.filter_sql` binds as parameters; `from_items` reads the CLI's
KEY=VALUE strings (the one place text is parsed).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class AdFilters:
    tags: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    placements: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()                  # image | video
    node: str | None = None                      # a taxonomy node id: its ads and its descendants'
    spend_min: float | None = None
    spend_max: float | None = None
    ctr_min: float | None = None
    ctr_max: float | None = None
    cvr_min: float | None = None
    cvr_max: float | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)   # metadata columns of the CSV

    # field → the filter key of core.search.filters
    _KEYS = {"tags": "tag", "formats": "format", "placements": "placement", "campaigns": "campaign", "kinds": "kind"}

    def to_dict(self) -> dict:
        out: dict = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "attributes":
                out.update({str(k): list(vals) for k, vals in v.items() if vals})
            elif f.name in self._KEYS:
                if v:
                    out[self._KEYS[f.name]] = list(v)
            elif isinstance(v, dt.date):
                out[f.name] = v.isoformat()[:10]
            elif v is not None:
                out[f.name] = float(v) if f.name.endswith(("_min", "_max")) else v
        return out

    def __bool__(self) -> bool:
        return bool(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict | None) -> "AdFilters":
        """The inverse of `to_dict` (values checked and typed by core.search.filters' rules)."""
        from .search.filters import KNOWN, _coerce

        keys = {v: k for k, v in cls._KEYS.items()}
        kw: dict = {"attributes": {}}
        for key, raw in (d or {}).items():
            key = str(key).lower()
            values = list(raw) if isinstance(raw, (list, tuple, set)) else [raw]
            values = [_coerce(key, v) for v in values]
            if key in keys:
                kw[keys[key]] = tuple(str(v) for v in values)
            elif key in KNOWN:
                v = values[-1]
                kw[key] = dt.date.fromisoformat(v) if key.startswith("date_") else v
            else:
                kw["attributes"][key] = tuple(str(v) for v in values)
        return cls(**kw)

    @classmethod
    def from_items(cls, items: list[str] | None) -> "AdFilters":
        """["tag=ugc", "spend_min=100"] (the CLI's --filter values) → AdFilters."""
        from .search.filters import parse_filters

        return cls.from_dict(parse_filters(items))


def as_filter_dict(filters) -> dict:
    """What the search engine takes, from AdFilters, a dict (the older API) or None."""
    if filters is None:
        return {}
    if isinstance(filters, AdFilters):
        return filters.to_dict()
    return dict(filters)
