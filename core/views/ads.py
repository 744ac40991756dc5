"""Ads as the pages show them: paged grids (a node's, a selection's, the library's), one ad's detail, its visual neighbours."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..signals.base import registered, row_detail
from ..store import json_cell
from .base import METRICS, _num, current_build_key
from .grid import _GRID_COLS, _existing, _grid_rows, ads_by_ids
from .taxonomy import _member_filter, ad_tree_path


def ads_page(library, node_id: str | None = None, page: int = 1, per_page: int = 24,
             ad_ids: list[int] | None = None, exclude: Iterable[int] = (), sort: str = "id") -> tuple[int, pd.DataFrame]:
    """(total, one page of grid rows): a node's ads (with descendants), a given set of ads, or the whole library."""
    order = {"id": "a.id", "spend": "a.spend DESC NULLS LAST, a.id", "ctr": "a.ctr DESC NULLS LAST, a.id",
             "date": "a.date DESC NULLS LAST, a.id"}.get(sort, "a.id")
    where, params = "true", []
    join = ""
    if ad_ids is not None:
        where, params = "a.id IN (SELECT unnest(?::INTEGER[]))", [[int(i) for i in ad_ids]]
    elif node_id is not None:
        key = current_build_key(library)
        if not key:
            return 0, ads_by_ids(library, [])
        cond, params = _member_filter(library, node_id, key)
        join, where = "JOIN assignments s ON s.ad_id = a.id", cond
    ex = [int(i) for i in exclude]
    if ex:
        where += " AND a.id NOT IN (SELECT unnest(?::INTEGER[]))"
        params = params + [ex]
    total = library.scalar(f"SELECT count(*) FROM ads a {join} WHERE {where}", params)
    page = max(1, min(int(page), max(1, -(-total // per_page))))
    df = library.query_df(
        f"""SELECT {_GRID_COLS} FROM ads a JOIN creatives c ON c.id = a.creative_id {join}
            WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?""", params + [per_page, (page - 1) * per_page])
    return int(total), _grid_rows(library, df)


def ad_detail(library, ad_id: int, index=None, k: int = 8) -> dict[str, Any]:
    """One ad: media, metadata, attributes, OCR text and boxes, object labels, colours, every signal's detail
    (`signals`), path in the tree, identical creatives and nearest neighbours (by the visual index, given or loaded)."""
    signal_cols = "".join(f", c.{name}" for name in library.signal_columns())
    df = library.query_df(
        f"""SELECT a.*, c.kind, c.media_path, c.thumb_path, c.width, c.height, c.frames, c.duration_s, c.fps, c.sha256,
                   c.extra, c.bytes{signal_cols}
            FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE a.id = ?""", [int(ad_id)])
    if df.empty:
        raise KeyError(f"no ad {ad_id}")
    r = df.iloc[0].to_dict()
    meta = {k: r.get(k) for k in ("headline", "copy", "cta", "format", "placement", "campaign", "date", "end_date", *METRICS)}
    tags = r.get("tags")
    meta["tags"] = ", ".join(tags) if tags is not None and len(tags) else None
    meta = {k: _display(k, v) for k, v in meta.items() if not (v is None or v == "" or (np.isscalar(v) or hasattr(v, "strftime")) and pd.isna(v))}
    attrs = dict(library.execute("SELECT key, value FROM attributes WHERE ad_id = ? ORDER BY key", [int(ad_id)]).fetchall())
    boxes = library.query_df("SELECT text, score, t_s FROM ocr_boxes WHERE creative_id = ? ORDER BY idx", [int(r["creative_id"])])
    labels = [(str(lbl), float(p)) for lbl, p in json_cell(r.get("labels"), [])]
    shown = {sig.name: row_detail(sig, r) for sig in registered() if all(c.name in r for c in sig.columns)}
    identical = library.query_df("SELECT id AS ad_id, file FROM ads WHERE creative_id = ? AND id <> ? ORDER BY id",
                                 [int(r["creative_id"]), int(ad_id)])
    return {
        "ad_id": int(ad_id), "file": r["file"], "kind": r["kind"], "media": _existing(library, r["media_path"]),
        "thumb": _existing(library, r["thumb_path"]), "width": r["width"], "height": r["height"],
        "duration_s": _num(r["duration_s"]), "fps": _num(r["fps"]), "bytes": r["bytes"], "sha256": r["sha256"],
        "metadata": meta, "attributes": attrs, "ocr_text": r.get("ocr_text") or "", "ocr_boxes": boxes,
        "labels": labels, "color_words": r.get("color_words") or "", "layout_words": r.get("layout_words") or "",
        "colors": json_cell(r.get("colors"), {}), "extra": json_cell(r["extra"], {}),
        "text_area_share": _num(r.get("text_area_share")), "document": r["document"] or "",
        "signals": shown,                                   # every signal's detail (core.signals.base), by name
        "path": ad_tree_path(library, ad_id), "identical": identical.to_dict("records"),
        "neighbours": neighbours(library, ad_id, index=index, k=k),
    }


def _display(key: str, v) -> str:
    """A metadata value as a person reads it: dates without a time, counts without '.0', rates as %."""
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, (float, np.floating)):
        if key == "ctr":
            return f"{v:.2%}"
        return f"{int(v):,}" if float(v).is_integer() else f"{v:,.2f}"
    return str(v)


def neighbour_index(library):
    """The visual FAISS index of this library (None when it has no visual vectors)."""
    from ..vectors import load_index

    return load_index(library, "visual")


def neighbours(library, ad_id: int, index=None, k: int = 8) -> list[dict]:
    """The k most similar other creatives (by visual embedding), one ad each."""
    row = library.execute("SELECT c.id, c.visual FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE a.id = ?", [int(ad_id)]).fetchone()
    if row is None or row[1] is None:
        return []
    index = index if index is not None else neighbour_index(library)
    if index is None:
        return []
    ids, scores = index.search(np.asarray(row[1], dtype=np.float32), k + 1)
    pairs = [(int(c), float(s)) for c, s in zip(ids[0], scores[0]) if int(c) >= 0 and int(c) != int(row[0])][:k]
    if not pairs:
        return []
    first = dict(library.execute("SELECT creative_id, min(id) FROM ads WHERE creative_id IN (SELECT unnest(?::INTEGER[])) GROUP BY creative_id",
                                 [[c for c, _ in pairs]]).fetchall())
    grid = ads_by_ids(library, [first[c] for c, _ in pairs if c in first]).set_index("ad_id", drop=False)
    out = []
    for c, s in pairs:
        if c in first and first[c] in grid.index:
            out.append({**grid.loc[first[c]].to_dict(), "score": s})
    return out
