"""Filters → the set of allowed ads, through DuckDB with bound parameters only.

User values never become SQL text: every value is a `?` parameter and column names come from
the fixed table below. Any key not listed is a metadata attribute (`attributes.key = ?`).
"""
from __future__ import annotations

import datetime as _dt

import numpy as np

TEXT_COLUMNS = {"format": "a.format", "placement": "a.placement", "campaign": "a.campaign", "kind": "c.kind"}
RANGE_COLUMNS = {  # key → (SQL expression, comparison)
    "spend_min": ("a.spend", ">="), "spend_max": ("a.spend", "<="),
    "ctr_min": ("a.ctr", ">="), "ctr_max": ("a.ctr", "<="),
    "cvr_min": ("a.conversions / nullif(a.clicks, 0)", ">="), "cvr_max": ("a.conversions / nullif(a.clicks, 0)", "<="),
}
DATE_COLUMNS = {"date_from": ("a.date", ">="), "date_to": ("coalesce(a.date, a.end_date)", "<=")}
KNOWN = {"tag", "node", *TEXT_COLUMNS, *RANGE_COLUMNS, *DATE_COLUMNS}


def parse_filters(items: list[str] | None) -> dict:
    """["tag=ugc", "spend_min=100", "tag=promo"] → {"tag": ["ugc", "promo"], "spend_min": 100.0}."""
    out: dict = {}
    for item in items or []:
        key, sep, value = str(item).partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not key:
            raise ValueError(f"filter {item!r} is not KEY=VALUE (e.g. tag=ugc, spend_min=100, date_from=2024-01-01)")
        value = _coerce(key, value)
        if key in out:
            prev = out[key] if isinstance(out[key], list) else [out[key]]
            out[key] = prev + [value]
        else:
            out[key] = value
    return out


def _coerce(key: str, value):
    if key in RANGE_COLUMNS:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"filter {key} needs a number, got {value!r}") from None
    if key in DATE_COLUMNS:
        if isinstance(value, (_dt.date, _dt.datetime)):
            return value.isoformat()[:10]
        try:
            return _dt.date.fromisoformat(str(value)[:10]).isoformat()
        except ValueError:
            raise ValueError(f"filter {key} needs a date like 2024-01-31, got {value!r}") from None
    return value


def filter_sql(filters: dict, build_key: str | None) -> tuple[str, list]:
    """A WHERE clause over `ads a JOIN creatives c` and its parameters (values bound, never inlined)."""
    clauses, params = [], []
    for key, raw in (filters or {}).items():
        key = str(key).lower()
        values = raw if isinstance(raw, (list, tuple, set)) else [raw]
        ors = []
        for v in values:
            v = _coerce(key, v)
            if key == "tag":
                ors.append("list_contains(list_transform(coalesce(a.tags, []), lambda x: lower(x)), lower(?))")
                params.append(str(v))
            elif key in TEXT_COLUMNS:
                ors.append(f"lower({TEXT_COLUMNS[key]}) = lower(?)")
                params.append(str(v))
            elif key in RANGE_COLUMNS:
                col, op = RANGE_COLUMNS[key]
                ors.append(f"{col} {op} ?")
                params.append(float(v))
            elif key in DATE_COLUMNS:
                col, op = DATE_COLUMNS[key]
                ors.append(f"{col} {op} CAST(? AS DATE)")
                params.append(str(v))
            elif key == "node":
                if not build_key:
                    ors.append("false")
                    continue
                ors.append("a.id IN (SELECT ad_id FROM assignments WHERE build_key = ? AND "
                           "(leaf_id = ? OR family_id = ? OR starts_with(leaf_id, ? || '.')))")
                params.extend([build_key, str(v), str(v), str(v)])
            else:
                ors.append("a.id IN (SELECT ad_id FROM attributes WHERE key = ? AND lower(value) = lower(?))")
                params.extend([str(key), str(v)])
        if ors:
            clauses.append("(" + " OR ".join(ors) + ")")
    return " AND ".join(clauses) or "true", params


def allowed_mask(library, ad_ids: np.ndarray, filters: dict | None, build_key: str | None) -> np.ndarray | None:
    """Boolean mask over the corpus rows, or None when nothing is filtered."""
    if not filters:
        return None
    where, params = filter_sql(filters, build_key)
    ids = [r[0] for r in library.execute(
        f"SELECT a.id FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE {where}", params).fetchall()]
    return np.isin(ad_ids, np.asarray(ids, dtype=np.int64))
