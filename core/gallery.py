"""The library gallery: every ad as a tile, sorted and filtered the way a strategist browses.

Plain functions over a `Library` (no Streamlit): `gallery_options` lists what the filters offer,
`gallery_page` returns one page of tiles (`core.views.ads_by_ids` rows plus date, impressions and
size), and `library_currency` / `id_like_attributes` say how to show money and which attribute
columns are identifiers or hashes (left out of colour-by and filters by default).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# sort key -> ORDER BY (NULLS LAST keeps undated / unmeasured ads at the end whichever way)
SORTS = {
    "date": "a.date {d} NULLS LAST",
    "spend": "a.spend {d} NULLS LAST",
    "ctr": "a.ctr {d} NULLS LAST",
    "impressions": "a.impressions {d} NULLS LAST",
    "size": "(c.width * c.height) {d} NULLS LAST, c.bytes {d} NULLS LAST",
    "file": "a.file {d}",
}
SORT_LABELS = {"date": "Date", "spend": "Spend", "ctr": "CTR", "impressions": "Impressions", "size": "Size (pixels)",
               "file": "File name"}
CURRENCY_KEYS = ("currency", "spend_currency", "currency_code")
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "RUB": "₽", "KRW": "₩", "BRL": "R$",
           "CAD": "CA$", "AUD": "A$", "CHF": "CHF ", "CNY": "¥", "SEK": "kr ", "NOK": "kr ", "DKK": "kr "}
# attribute names that are identifiers, hashes, coordinates or addresses, not properties of a creative
_ID_NAME = re.compile(r"(^|_)(md5|sha\d*|hash|ids?|uuid|path|paths|url|uri|pdf|timestamp|index|no|x\d|y\d)($|_)"
                      r"|(^|_)(repo|host|landing|source)_", re.I)
_HEX = re.compile(r"^[0-9a-f]{16,}$", re.I)


@dataclass(frozen=True)
class GalleryFilter:
    """What the gallery shows: all ads, or those of a family / kind / date range / attribute value."""

    family: str | None = None
    kind: str | None = None
    date_from: Any = None
    date_to: Any = None
    attribute: tuple[str, str] | None = None
    ad_ids: tuple[int, ...] | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def where(self, build_key: str | None) -> tuple[str, list, str]:
        """(SQL condition, parameters, join) over ads `a`, creatives `c` (and assignments `s`)."""
        cond, params, join = ["true"], [], ""
        if self.family and build_key:
            join = "JOIN assignments s ON s.ad_id = a.id AND s.build_key = ?"
            params.append(build_key)
            cond.append("s.family_id = ?")
            params.append(self.family)
        if self.kind:
            cond.append("c.kind = ?")
            params.append(self.kind)
        if self.date_from is not None:
            cond.append("a.date >= ?")
            params.append(pd.Timestamp(self.date_from).date())
        if self.date_to is not None:
            cond.append("a.date <= ?")
            params.append(pd.Timestamp(self.date_to).date())
        if self.attribute:
            cond.append("a.id IN (SELECT ad_id FROM attributes WHERE key = ? AND value = ?)")
            params += [self.attribute[0], self.attribute[1]]
        if self.ad_ids is not None:
            cond.append("a.id IN (SELECT unnest(?::INTEGER[]))")
            params.append([int(i) for i in self.ad_ids])
        return " AND ".join(cond), params, join


def _build_key(library) -> str | None:
    from .views import current_build_key

    return current_build_key(library)


def gallery_page(library, flt: GalleryFilter | None = None, sort: str = "date", descending: bool = True,
                 page: int = 1, per_page: int = 24) -> tuple[int, pd.DataFrame]:
    """(total matching, one page of tiles) in the chosen order; tiles also carry date, impressions, width, height."""
    from .views import ads_by_ids

    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; valid: {', '.join(SORTS)}")
    flt = flt or GalleryFilter()
    where, params, join = flt.where(_build_key(library))
    base = f"FROM ads a JOIN creatives c ON c.id = a.creative_id {join} WHERE {where}"
    total = int(library.scalar(f"SELECT count(*) {base}", params) or 0)
    pages = max(1, -(-total // per_page))
    page = max(1, min(int(page), pages))
    order = SORTS[sort].format(d="DESC" if descending else "ASC")
    extra = library.query_df(
        f"""SELECT a.id AS ad_id, a.date, a.impressions, c.width, c.height {base}
            ORDER BY {order}, a.id LIMIT ? OFFSET ?""", params + [per_page, (page - 1) * per_page])
    tiles = ads_by_ids(library, extra["ad_id"].tolist())
    return total, tiles.merge(extra, on="ad_id", how="left")


def gallery_ids(library, flt: GalleryFilter | None = None, limit: int = 10_000) -> list[int]:
    """Every ad id the filter matches (for 'select all shown')."""
    where, params, join = (flt or GalleryFilter()).where(_build_key(library))
    rows = library.execute(f"SELECT a.id FROM ads a JOIN creatives c ON c.id = a.creative_id {join} WHERE {where} "
                           "ORDER BY a.id LIMIT ?", params + [limit]).fetchall()
    return [int(r[0]) for r in rows]


def id_like_attributes(library) -> set[str]:
    """Attribute keys that are identifiers or hashes (md5, repo paths, ad ids, URLs, coordinates): by name, or
    because nearly every value is unique / a long hex string. Colour-by and filters leave them out by default."""
    df = library.query_df(
        """SELECT key, count(*) AS n, count(DISTINCT value) AS distinct_values,
                  avg(CASE WHEN regexp_matches(value, '^[0-9a-fA-F]{16,}$') THEN 1 ELSE 0 END) AS hex_share
           FROM attributes GROUP BY key""")
    out = set()
    for r in df.itertuples(index=False):
        if _ID_NAME.search(r.key) or r.hex_share > 0.5 or (r.n >= 20 and r.distinct_values / r.n > 0.9
                                                              and not _numeric_key(library, r.key)):
            out.add(r.key)
    return out


def _numeric_key(library, key: str) -> bool:
    share = library.scalar("SELECT avg(CASE WHEN try_cast(value AS DOUBLE) IS NULL THEN 0 ELSE 1 END) FROM attributes "
                           "WHERE key = ?", [key])
    return bool(share is not None and share > 0.9)


def useful_attributes(library, max_values: int = 60) -> dict[str, list[str]]:
    """Attribute keys worth filtering on (not ids/hashes, 2..max_values distinct values) with their values, commonest first."""
    skip = id_like_attributes(library)
    df = library.query_df("SELECT key, value, count(*) AS n FROM attributes WHERE value IS NOT NULL AND value <> '' "
                          "GROUP BY key, value ORDER BY key, n DESC, value")
    out: dict[str, list[str]] = {}
    for key, g in df.groupby("key", sort=True):
        if key in skip or not (2 <= len(g) <= max_values):
            continue
        out[str(key)] = [str(v) for v in g["value"]]
    return out


def gallery_options(library) -> dict[str, Any]:
    """What the gallery's filters offer: families (id -> label), kinds, the date range, useful attributes."""
    key = _build_key(library)
    fams = library.query_df("SELECT id, label, size FROM nodes WHERE build_key = ? AND level = 1 ORDER BY size DESC, id",
                            [key or ""])
    dmin, dmax = library.execute("SELECT min(date), max(date) FROM ads").fetchone()
    kinds = [r[0] for r in library.execute("SELECT DISTINCT kind FROM creatives ORDER BY 1").fetchall()]
    return {"families": dict(zip(fams["id"], fams["label"].fillna(fams["id"]))), "kinds": kinds,
            "date_min": dmin, "date_max": dmax, "attributes": useful_attributes(library),
            "has": {m: bool(library.scalar(f"SELECT count(*) FROM ads WHERE {m} IS NOT NULL")) for m in
                    ("date", "spend", "ctr", "impressions")}}


def library_currencies(library) -> list[str]:
    """Every currency the metadata names for spend (ISO codes), the commonest first; [] when it names none."""
    for key in CURRENCY_KEYS:
        rows = library.execute("SELECT upper(trim(value)) AS v, count(*) AS n FROM attributes WHERE key = ? AND value <> '' "
                               "GROUP BY v ORDER BY n DESC, v", [key]).fetchall()
        if rows:
            return [r[0] for r in rows]
    return []


def library_currency(library) -> str | None:
    """The currency of the library's spend: the commonest value of a currency column in the metadata (ISO code),
    or None when the data does not say."""
    found = library_currencies(library)
    return found[0] if found else None


def money(value, currency: str | None, compact: bool = False) -> str:
    """Spend as a person reads it: the data's currency symbol (or code), thousands separators, no cents."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    sym = SYMBOLS.get(currency or "", f"{currency} " if currency else "")
    v = float(value)
    if compact and abs(v) >= 1e6:
        return f"{sym}{v / 1e6:,.1f}M"
    if compact and abs(v) >= 1e4:
        return f"{sym}{v / 1e3:,.0f}k"
    return f"{sym}{v:,.0f}" if abs(v) >= 100 or not v or float(v).is_integer() else f"{sym}{v:,.2f}"
