"""The one export module: ad tables, the taxonomy as a table and as JSON, per-node Markdown briefs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .safe_text import code_span, escape_markdown as md, neutralise_csv_frame
from .store import Library
from .taxonomy.persist import NoTaxonomy, current_build_key, read_tree
from .taxonomy.tree import json_default

# The view layer re-exports this module, so its pieces are imported where used (no import cycle).

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
    key = current_build_key(library)
    if key is not None:
        tax = library.query_df(
            """SELECT a.ad_id, a.node_path, a.family_id, f.label AS family_label, a.leaf_id, l.label AS leaf_label, a.is_outlier
               FROM assignments a LEFT JOIN nodes f ON f.build_key = a.build_key AND f.id = a.family_id
               LEFT JOIN nodes l ON l.build_key = a.build_key AND l.id = a.leaf_id WHERE a.build_key = ?""", [key])
        out = out.merge(tax, on="ad_id", how="left")
    return out


def export_ads(library: Library, fmt: str, out) -> Path:
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown export format {fmt!r}; valid: csv, json")
    df = ads_table(library)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        neutralise_csv_frame(df).to_csv(out, index=False)  # no formula-leading cell (OWASP)
    else:
        out.write_text(df.to_json(orient="records", date_format="iso", indent=1, force_ascii=False), encoding="utf-8")
    return out


def taxonomy_table(library) -> pd.DataFrame | None:
    from .views.base import LEVEL_NAMES, _rep_id
    from .views.taxonomy import nodes_frame, tags_frame

    nodes = nodes_frame(library)
    if nodes is None:
        return None
    df = nodes[nodes["level"] > 0].copy()
    df["level_name"] = df["level"].map(LEVEL_NAMES)
    df["keywords"] = df["keywords"].map(lambda k: "; ".join(map(str, k)))
    df["top_tags"] = df["tags"].map(lambda t: "; ".join(str(x) for x in tags_frame(t).iloc[:, 0].head(8)) if len(tags_frame(t)) else "")
    df["representatives"] = df["representatives"].map(lambda r: "; ".join(str(_rep_id(x)) for x in r))
    perf = df["perf"].map(lambda p: p if isinstance(p, dict) else {})
    for k in sorted({k for p in perf for k, v in p.items() if isinstance(v, (int, float, str)) and k != "min_spend"}):
        df[f"perf_{k}"] = perf.map(lambda p, k=k: p.get(k))
    cols = ["id", "parent_id", "level", "level_name", "label", "path", "size", "fidelity", "description", "keywords", "top_tags",
            "representatives", "x", "y"]
    return df[cols + [c for c in df.columns if c.startswith("perf_")]].reset_index(drop=True)


def taxonomy_json(library) -> dict | None:
    """The current tree in its one JSON shape (`ClusterTree.to_dict`, the same as `python -m core tree --json`)."""
    tree = read_tree(library)
    return None if tree is None else tree.to_dict()


def export_bytes(library, what: str, fmt: str) -> bytes:
    """Download payloads: what = taxonomy | assignments, fmt = csv | json."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown format {fmt!r}; valid: csv, json")
    if what == "taxonomy":
        if fmt == "json":
            tree = taxonomy_json(library)
            if tree is None:
                raise NoTaxonomy()
            return json.dumps(tree, indent=1, default=json_default, ensure_ascii=False).encode("utf-8")
        df = taxonomy_table(library)
        if df is None:
            raise NoTaxonomy()
    elif what == "assignments":
        df = ads_table(library)
    else:
        raise ValueError(f"unknown export {what!r}; valid: taxonomy, assignments")
    if fmt == "csv":
        return neutralise_csv_frame(df).to_csv(index=False).encode("utf-8")
    return df.to_json(orient="records", date_format="iso", indent=1, force_ascii=False).encode("utf-8")


def _md_cell(v, column: str = "") -> str:
    if isinstance(v, float) and column.startswith("share"):
        return f"{v:.0%}" if v in (0.0, 1.0) else f"{v:.1%}"
    if isinstance(v, float):
        return f"{v:.3g}"
    return md(v)  # user tags: no links, images or pipes that end the cell


def node_brief(library, node_id: str, n_reps: int = 6) -> str:
    """A Markdown brief for one node: what it is, its evidence (tags with q-values), performance and
    representative ads — something a strategist can paste into a doc."""
    from .views.base import PERF_KEYS
    from .views.taxonomy import node_card

    card = node_card(library, node_id)
    lines = [f"# {md(card['label'])}", "", f"*{card['level_name'].capitalize()}* · {code_span(card['id'])} · {card['size']} ads"
             + (f" · fidelity {card['fidelity']:.2f}" if card["fidelity"] is not None else ""), ""]
    if len(card["chain"]) > 1:
        lines += [f"**Path:** {md(card['path'])}", ""]
    if card["description"]:
        lines += [md(card["description"]), ""]
    if card["keywords"]:
        lines += ["**Keywords:** " + ", ".join(md(k) for k in card["keywords"]), ""]
    tags = card["tags"]
    lines += ["## Evidence: discriminating tags", ""]
    if len(tags):
        cols = list(tags.columns)
        lines += ["| " + " | ".join(c.replace("_", " ") for c in cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(_md_cell(v, c) for c, v in zip(cols, row)) + " |" for row in tags.head(15).itertuples(index=False)]
        lines += ["", "*share in / share rest: how many of this node's ads, and of the other ads, have the tag; "
                  "q: false-discovery-adjusted p-value (lower = stronger evidence).*", ""]
    else:
        lines += ["No tag, colour or layout word is significantly more common in this node than in the rest of the library.", ""]
    perf = card["perf"]
    rows = [(k, perf[k]) for k in PERF_KEYS if isinstance(perf.get(k), (int, float))]
    if rows or perf.get("status"):
        lines += ["## Performance", ""]
        if rows:
            lines += ["| metric | value | 95% interval |", "|---|---|---|"]
            for k, v in rows:
                lo, hi = perf.get(f"{k}_low"), perf.get(f"{k}_high")
                fmt = (lambda x: f"{x:.2%}") if k in ("ctr", "cvr") else (lambda x: f"{x:,.0f}")
                lines.append(f"| {k.upper() if k in ('ctr', 'cvr') else k} | {fmt(v)} | "
                             + (f"{fmt(lo)} – {fmt(hi)}" if lo is not None and hi is not None else "") + " |")
        if perf.get("status") and perf["status"] != "ok":
            lines.append(f"\n*{perf['status'].capitalize()}* (rates need at least {perf.get('min_spend', 0):,.0f} of spend).")
        lines.append("")
    if card["children"]:
        lines += ["## Inside", ""] + [f"- **{md(c['label'])}** ({c['size']} ads)" for c in card["children"]] + [""]
    reps = card["representatives"].head(n_reps)
    if len(reps):
        lines += ["## Representative ads", ""]
        for r in reps.itertuples(index=False):
            detail = library.execute("SELECT c.ocr_text FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE a.id = ?", [int(r.ad_id)]).fetchone()
            text = (detail[0] or "").strip().replace("\n", " ")
            extra = []
            if isinstance(r.headline, str) and r.headline:
                extra.append(f"headline “{md(r.headline)}”")
            if text:
                extra.append(f"text “{md(text[:120])}{'…' if len(text) > 120 else ''}”")
            if r.ctr is not None and not (isinstance(r.ctr, float) and np.isnan(r.ctr)):
                extra.append(f"CTR {r.ctr:.2%}")
            lines.append(f"- {code_span(r.file)} ({r.kind})" + (" — " + "; ".join(extra) if extra else ""))
        lines.append("")
    return "\n".join(lines)
