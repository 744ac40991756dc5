"""Library-wide reads: the data version that keys every cached read, stats, attributes and filter options."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..taxonomy.persist import RUN_KIND
from .base import current_build_key


def data_version(library) -> str:
    """Changes whenever what the pages show could change: the key for every cached read."""
    row = library.execute(
        """SELECT (SELECT count(*) FROM ads), (SELECT count(*) FROM creatives), (SELECT coalesce(max(id), 0) FROM node_edits),
                  (SELECT count(*) FROM runs), (SELECT coalesce(max(key), '') FROM runs WHERE kind = ? AND is_current),
                  (SELECT count(*) FROM nodes), (SELECT coalesce(max(id), 0) FROM jobs WHERE status <> 'running')""", [RUN_KIND]
    ).fetchone()
    return "/".join(str(v) for v in row)


def library_stats(library) -> dict[str, Any]:
    counts = library.counts()
    row = library.execute(
        """SELECT min(a.date), max(a.date), sum(a.spend), sum(a.impressions), sum(a.clicks),
                  count(DISTINCT a.campaign), count(*) FILTER (WHERE a.headline IS NOT NULL OR a.copy IS NOT NULL)
           FROM ads a"""
    ).fetchone()
    key = current_build_key(library)
    tax = {"build_key": key, "families": 0, "sub_clusters": 0, "micro_patterns": 0, "outliers": 0, "built_at": None}
    if key:
        for level, n in library.execute("SELECT level, count(*) FROM nodes WHERE build_key = ? GROUP BY level", [key]).fetchall():
            name = {1: "families", 2: "sub_clusters", 3: "micro_patterns"}.get(level)
            if name:
                tax[name] = n
        tax["outliers"] = library.scalar("SELECT count(*) FROM assignments WHERE build_key = ? AND is_outlier", [key]) or 0
        tax["built_at"] = str(library.scalar("SELECT created_at FROM runs WHERE key = ?", [key]))
    kinds = dict(library.execute("SELECT kind, count(*) FROM creatives GROUP BY kind").fetchall())
    return {
        "name": library.path.name, "path": str(library.path), **counts,
        "images": kinds.get("image", 0), "with_copy": row[6] or 0,
        "date_min": row[0], "date_max": row[1], "spend": row[2], "impressions": row[3], "clicks": row[4],
        "campaigns": row[5] or 0, "taxonomy": tax, "older_reads": library.older_reads(),
        "warnings": library.scalar("SELECT count(*) FROM errors WHERE severity = 'warning'") or 0,
    }


def attribute_keys(library) -> list[str]:
    return [r[0] for r in library.execute("SELECT DISTINCT key FROM attributes ORDER BY key").fetchall()]


def attribute_values(library, key: str) -> pd.Series:
    df = library.query_df("SELECT ad_id, value FROM attributes WHERE key = ?", [key])
    s = df.set_index("ad_id")["value"]
    num = pd.to_numeric(s, errors="coerce")
    return num if len(s) and num.notna().mean() > 0.9 else s


def filter_options(library) -> dict[str, Any]:
    """Values offered by the search filters: formats, placements, campaigns, top tags, families, dates."""
    def distinct(col):
        return [r[0] for r in library.execute(f"SELECT DISTINCT {col} FROM ads WHERE {col} IS NOT NULL AND {col} <> '' ORDER BY 1 LIMIT 500").fetchall()]

    tags = [r[0] for r in library.execute(
        "SELECT t, count(*) AS n FROM (SELECT unnest(tags) AS t FROM ads) WHERE t <> '' GROUP BY t ORDER BY n DESC, t LIMIT 300").fetchall()]
    key = current_build_key(library)
    fams = library.query_df("SELECT id, label, size FROM nodes WHERE build_key = ? AND level = 1 ORDER BY size DESC", [key or ""])
    dmin, dmax = library.execute("SELECT min(date), max(coalesce(end_date, date)) FROM ads").fetchone()
    return {"format": distinct("format"), "placement": distinct("placement"), "campaign": distinct("campaign"), "tag": tags,
            "families": dict(zip(fams["id"], fams["label"])), "date_min": dmin, "date_max": dmax,
            "kinds": [r[0] for r in library.execute("SELECT DISTINCT kind FROM creatives ORDER BY 1").fetchall()]}
