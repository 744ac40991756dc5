"""Export one row per ad: file, metadata, attributes, and the taxonomy once one exists."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .store import Library

BASE_COLUMNS = ["file", "kind", "headline", "copy", "cta", "tags", "format", "placement", "campaign", "date", "end_date",
                "spend", "impressions", "clicks", "conversions", "revenue", "ctr"]
TAXONOMY_COLUMNS = ["node_path", "family_id", "family_label", "leaf_id", "leaf_label", "is_outlier"]
VIDEO_COLUMNS = ["duration_s", "shot_count", "cuts_per_s"]


def ads_table(library: Library) -> pd.DataFrame:
    df = library.ads_frame()
    df["tags"] = df["tags"].map(lambda t: ";".join(t) if t is not None and len(t) else "")
    extra = df["extra"].map(lambda e: json.loads(e) if isinstance(e, str) and e else {})
    df["shot_count"] = extra.map(lambda e: e.get("shot_count"))
    df["cuts_per_s"] = extra.map(lambda e: e.get("cuts_per_s"))
    df.loc[df["kind"] != "video", "duration_s"] = None
    out = df[["ad_id"] + BASE_COLUMNS + VIDEO_COLUMNS].copy()
    attrs = library.attributes_frame()
    if len(attrs):
        wide = attrs.pivot(index="ad_id", columns="key", values="value")
        wide.columns = [c if c not in out.columns else f"attr_{c}" for c in wide.columns]
        out = out.merge(wide, left_on="ad_id", right_index=True, how="left")
    run = library.current_run("taxonomy")
    if run is not None:
        tax = library.query_df(
            """SELECT a.ad_id, a.node_path, a.family_id, f.label AS family_label, a.leaf_id, l.label AS leaf_label, a.is_outlier
               FROM assignments a LEFT JOIN nodes f ON f.build_key = a.build_key AND f.id = a.family_id
               LEFT JOIN nodes l ON l.build_key = a.build_key AND l.id = a.leaf_id WHERE a.build_key = ?""", [run["key"]])
        out = out.merge(tax, on="ad_id", how="left")
    return out


def export_ads(library: Library, fmt: str, out) -> Path:
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown export format {fmt!r}; valid: csv, json")
    df = ads_table(library)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.to_csv(out, index=False)
    else:
        out.write_text(df.to_json(orient="records", date_format="iso", indent=1, force_ascii=False), encoding="utf-8")
    return out
