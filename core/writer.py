"""The ingest's one writer: new creatives (their signal columns, OCR boxes, thumbnails) and their ads
(metadata, attributes, documents) go in batches, each in one transaction of Arrow inserts.

Set-based inserts over Arrow batches: row-by-row DuckDB inserts of 3,840-float vectors and executemany of
OCR boxes cost more parent CPU than the workers' visual model. The creatives' signal columns come from the
registered signals (core.signals.base), so a new signal needs no change here.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .compute import CreativeResult, CreativeTask
from .documents import signal_document
from .signals import base as signals
from .store import Library, registered

if TYPE_CHECKING:
    from .ingest import IngestSummary, _PlannedAd


class Writer:
    """Batches new creatives and ads; embeds their documents; commits them in one transaction."""

    def __init__(self, library: Library, job_id: int, summary: IngestSummary, stage_t):
        self.library, self.job_id, self.summary, self.stage_t = library, job_id, summary, stage_t
        self.creatives: list[tuple[CreativeTask, CreativeResult, list[_PlannedAd]]] = []
        self.existing: list[tuple[int, list[_PlannedAd]]] = []

    @property
    def pending(self) -> int:
        return len(self.creatives) + len(self.existing)

    def add_new(self, task, result, ads) -> None:
        self.creatives.append((task, result, ads))

    def add_existing(self, creative_id: int, ads) -> None:
        self.existing.append((creative_id, ads))

    def flush(self) -> None:
        if not self.pending:
            return
        t = time.perf_counter()
        lib = self.library
        rows = []  # (creative sha256, ad, document)
        for task, res, ads in self.creatives:
            for ad in ads:
                rows.append((task.sha256, ad, signal_document(ad.fields, res.values)))
        cols = [c.name for c in signals.columns()]
        for cid, ads in self.existing:
            sig = lib.execute(f"SELECT sha256, {', '.join(cols)} FROM creatives WHERE id = ?", [cid]).fetchone()
            stored = dict(zip(cols, sig[1:]))
            for ad in ads:
                rows.append((sig[0], ad, signal_document(ad.fields, stored)))
        for task, res, _ in self.creatives:
            lib.write_file_atomic(thumb_rel(task.sha256), res.thumb)
        # Set-based inserts over Arrow batches: row-by-row DuckDB inserts of 3,840-float vectors and
        # executemany of OCR boxes cost more parent CPU than the workers' visual model.
        with lib.transaction() as cur:
            if self.creatives:
                insert_arrow(cur, "creatives", creatives_table(lib, self.creatives), conflict="DO NOTHING")
            shas = sorted({sha for sha, _, _ in rows} | {task.sha256 for task, _, _ in self.creatives})
            ids = dict(cur.execute("SELECT sha256, id FROM creatives WHERE sha256 IN (SELECT unnest(?))", [shas]).fetchall())
            boxes = [(ids[task.sha256], i, *box) for task, res, _ in self.creatives for i, box in enumerate(res.ocr_boxes)]
            if boxes:
                insert_arrow(cur, "ocr_boxes", boxes_table(boxes), conflict="DO NOTHING")
            if rows:
                ad_ids = _insert_ads(cur, [(ids[sha], ad, doc) for sha, ad, doc in rows], self.summary.source, self.job_id)
                attrs = [(ad_id, k, str(v)) for ad_id, (_, ad, _) in zip(ad_ids, rows) for k, v in ad.attributes.items()]
                if attrs:
                    import pyarrow as pa

                    insert_arrow(cur, "attributes", pa.table({"ad_id": pa.array([a[0] for a in attrs], pa.int32()),
                                                               "key": [a[1] for a in attrs], "value": [a[2] for a in attrs]}))
        self.summary.creatives_added += len(self.creatives)
        self.summary.ads_added += len(rows)
        self.stage_t["write"] += time.perf_counter() - t
        self.creatives, self.existing = [], []


def thumb_rel(sha256: str) -> str:
    return f"thumbs/{sha256[:2]}/{sha256}.jpg"


def insert_arrow(cur, table: str, batch, conflict: str | None = None, returning: str | None = None):
    """INSERT every row of an Arrow table, columns by name (the table's own names)."""
    cols = ", ".join(batch.column_names)
    sql = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _batch"
    if conflict:
        sql += f" ON CONFLICT {conflict}"
    with registered(cur, "_batch", batch):
        if returning:
            return cur.execute(sql + f" RETURNING {returning}").fetchall()
        cur.execute(sql)


def creatives_table(lib: Library, creatives):
    import pyarrow as pa

    vecs = np.stack([res.visual.astype(np.float32) for _, res, _ in creatives])
    return pa.table({
        "sha256": [t.sha256 for t, _, _ in creatives],
        "kind": [t.kind for t, _, _ in creatives],
        "media_path": [Path(t.path).relative_to(lib.path).as_posix() for t, _, _ in creatives],
        "thumb_path": [thumb_rel(t.sha256) for t, _, _ in creatives],
        "ext": [Path(t.path).suffix.lower() for t, _, _ in creatives],
        "bytes": pa.array([Path(t.path).stat().st_size for t, _, _ in creatives], pa.int64()),
        "width": pa.array([r.width for _, r, _ in creatives], pa.int32()),
        "height": pa.array([r.height for _, r, _ in creatives], pa.int32()),
        "frames": pa.array([r.frames for _, r, _ in creatives], pa.int32()),
        "duration_s": pa.array([r.duration_s for _, r, _ in creatives], pa.float64()),
        "fps": pa.array([r.fps for _, r, _ in creatives], pa.float64()),
        **{c.name: signals.to_arrow(c, [r.values.get(c.name) for _, r, _ in creatives]) for c in signals.columns()},
        "extra": [json.dumps(r.extra) for _, r, _ in creatives],
        "visual": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), vecs.shape[1]).cast(pa.list_(pa.float32())),
        "visual_model": [_models_name(t) for t, _, _ in creatives],
        "reads_version": pa.array([signals.READS_VERSION] * len(creatives), pa.int32()),
    })


def boxes_table(boxes):
    import pyarrow as pa

    cols = list(zip(*boxes))
    names = ("creative_id", "idx", "text", "score", "x0", "y0", "x1", "y1", "t_s")
    types = (pa.int32(), pa.int32(), pa.string()) + (pa.float64(),) * 6
    # image boxes carry no time: (text, score, x0, y0, x1, y1) → t_s NULL
    if len(cols) == 8:
        cols.append([None] * len(boxes))
    return pa.table({n: pa.array(list(c), t) for n, c, t in zip(names, cols, types)})


def _insert_ads(cur, rows, source: str, job_id: int) -> list[int]:
    """Insert ads in one statement; returns their ids in the order of rows."""
    import pyarrow as pa

    data = {
        "_ord": pa.array(range(len(rows)), pa.int32()),
        "file": [ad.file for _, ad, _ in rows],
        "creative_id": pa.array([cid for cid, _, _ in rows], pa.int32()),
        "source": [source] * len(rows),
        "meta_key": [ad.meta_key for _, ad, _ in rows],
    }
    for col in AD_COLS:
        values = [_ad_value(ad.fields, col) for _, ad, _ in rows]
        if col == "tags":
            data[col] = pa.array(values, pa.list_(pa.string()))
        elif col in ("date", "end_date"):
            data[col] = pa.array([None if v is None else str(v) for v in values], pa.string())
        elif col in _NUMERIC_AD_COLS:
            data[col] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        else:
            data[col] = pa.array([None if v is None else str(v) for v in values], pa.string())
    data["document"] = [doc for _, _, doc in rows]
    data["job_id"] = pa.array([job_id] * len(rows), pa.int32())
    batch = pa.table(data)
    cols = [c for c in batch.column_names if c != "_ord"]
    select = ", ".join(f"CAST({c} AS DATE)" if c in ("date", "end_date") else c for c in cols)
    with registered(cur, "_ads_batch", batch):
        got = cur.execute(f"INSERT INTO ads ({', '.join(cols)}) SELECT {select} FROM _ads_batch ORDER BY _ord "
                          "RETURNING id, file, creative_id, meta_key").fetchall()
    by_key = {(f, c, m): i for i, f, c, m in got}
    return [by_key[(ad.file, cid, ad.meta_key)] for cid, ad, _ in rows]


_NUMERIC_AD_COLS = {"spend", "impressions", "clicks", "conversions", "revenue", "ctr"}


AD_COLS = ("headline", "copy", "cta", "tags", "format", "placement", "campaign", "date", "end_date",
            "spend", "impressions", "clicks", "conversions", "revenue", "ctr")


def _ad_value(fields: dict, col: str):
    v = fields.get(col)
    if col == "tags":
        return list(v) if v else []
    return v


def _models_name(task: CreativeTask) -> str:
    return task.visual_model or "efficientnet-lite0"
