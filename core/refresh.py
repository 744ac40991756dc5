"""Refresh a library's reads with today's code: every stored creative analysed again from its stored
media (the same worker pass as an ingest), then every ad's document, text vector and the vector
indexes rebuilt from the new reads.

By default an image keeps its model reads (visual vector, ImageNet labels, OCR text and boxes) and only
the signals computed from them and the pixels run again (layout, colours, people, composition …): those
are what changes between versions, and OCR is ~70% of an ingest (`bench/refresh.py`: 0.47–0.56 of a
full refresh's time on the real ads). `full=True` (`refresh --full`) runs the
models too, for a change to the models or OCR. A video is always analysed in full (its signals read its
hook frame, which only the full pass finds).

Why: signals are computed at ingest. When the signal code changes (a new word, a fixed rule), a
library ingested before keeps its old words, and ads ingested after the change carry the new ones:
search filters and family names would mix two vocabularies. A refresh leaves the library as a fresh
ingest of the same files would (ads, ids, metadata versions and errors of earlier jobs stay).

A creative whose media can no longer be read keeps its earlier reads and gets a per-file error row
under the refresh's job. Safe to interrupt: rows are rewritten in place, so running it again
finishes the work without duplicates.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import jobs
from .compute import CreativeTask
from .documents import signal_document
from .limits import DEFAULT_LIMITS, IngestLimits
from .signals import base as signals
from .store import BUMP_TREE_REVISION, Library, json_cell, registered
from .writer import AD_COLS, boxes_table, creatives_table, thumb_rel, insert_arrow

COMMIT_EVERY = 24            # creatives per transaction, as the ingest writes them
_KEEP = {"sha256", "kind", "media_path", "thumb_path", "ext", "bytes"}   # what the media file itself fixes


@dataclass
class RefreshSummary:
    job_id: int
    creatives: int = 0                 # stored creatives considered
    refreshed: int = 0                 # analysed again and rewritten
    failed: list[dict] = field(default_factory=list)   # {file, reason, message}: kept their earlier reads
    changed_words: int = 0             # creatives whose document words changed
    documents_changed: int = 0         # ads whose document changed (every text vector is recomputed)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def refresh(library: Library, progress=None, workers: int | None = None,
            limits: IngestLimits = DEFAULT_LIMITS, full: bool = False) -> RefreshSummary:
    from .embedding import embed_pending, parent_threads
    from .ingest import no_progress, run_tasks, worker_count
    from .vectors import rebuild_indexes

    progress = progress or no_progress
    t0 = time.perf_counter()
    library.backup()   # the last good copy, restored by `python -m core check --repair`
    library.ensure_signal_columns()
    job_id = jobs.start(library, jobs.REFRESH_SOURCE, "analysing")
    progress = jobs.RowProgress(library, job_id, forward=progress)
    summary = RefreshSummary(job_id=job_id)
    try:
        tasks, files = _tasks(library, full)
        summary.creatives = len(tasks)
        before = _signal_rows(library)
        progress("analysing", 0, len(tasks))
        batch = []
        n_workers = worker_count(workers, len(tasks))
        if n_workers > 1:
            parent_threads(1)  # the workers own the cores
        for done, result in enumerate(run_tasks(list(tasks.values()), n_workers, limits), 1):
            task = tasks[result.sha256]
            if result.ok:
                batch.append((task, result, []))
            else:
                _fail(library, summary, files[result.sha256], result.error_code,
                      result.error_message.replace(f"'{task.name}'", f"'{files[result.sha256]}'"))
            if len(batch) >= COMMIT_EVERY:
                _rewrite_creatives(library, batch)
                summary.refreshed += len(batch)
                batch = []
            progress("analysing", done, len(tasks))
        if batch:
            _rewrite_creatives(library, batch)
            summary.refreshed += len(batch)
        after = _signal_rows(library)
        summary.changed_words = sum(1 for cid, row in after.items() if before.get(cid) != row)
        summary.documents_changed = _rewrite_documents(library)
        embed_pending(library, None, progress)
        progress("indexing", 0, 1)
        rebuild_indexes(library)
        _bump_revision(library)
        progress("indexing", 1, 1)
        summary.seconds = round(time.perf_counter() - t0, 2)
        jobs.finish(library, job_id, "done", summary.to_dict())
        return summary
    except BaseException as e:
        summary.seconds = round(time.perf_counter() - t0, 2)
        jobs.finish(library, job_id, "interrupted" if isinstance(e, KeyboardInterrupt) else "failed",
                    {**summary.to_dict(), "error": repr(e)})
        raise


def _tasks(library: Library, full: bool) -> tuple[dict[str, CreativeTask], dict[str, str]]:
    """One task per stored creative (its first ad's file names it in messages), and sha → that file.
    Unless `full`, an image's task carries its stored model reads (compute._resignal_image)."""
    specs = signals.specs()
    rows = library.execute("""SELECT c.sha256, c.media_path, c.kind, c.visual_model, c.labels, c.ocr_text, c.text_area_share,
                                     c.visual IS NOT NULL, (SELECT min(a.file) FROM ads a WHERE a.creative_id = c.id)
                              FROM creatives c ORDER BY c.id""").fetchall()
    tasks, files = {}, {}
    for sha, media_path, kind, model, labels, ocr_text, area, has_visual, file in rows:
        name = file or Path(media_path).name
        model = None if model in (None, "efficientnet-lite0") else model
        reads = None
        if not full and kind == "image" and has_visual and labels is not None:
            reads = {"labels": json_cell(labels, []), "ocr_text": ocr_text or "", "text_area_share": area or 0.0}
        tasks[sha] = CreativeTask(sha, str(library.path / media_path), kind, name, model, specs, reads)
        files[sha] = name
    return tasks, files


def _fail(library: Library, summary: RefreshSummary, file: str, reason: str, message: str) -> None:
    message = f"{message} Its earlier reads were kept."
    summary.failed.append({"file": file, "reason": reason, "message": message})
    jobs.record_error(library, summary.job_id, file, reason, message)


def _rewrite_creatives(library: Library, batch) -> None:
    """New reads of stored creatives, each batch in one transaction; the label vector is cleared so that
    the embedding step recomputes it."""
    again = [b for b in batch if b[0].reads is None]
    if again:
        _rewrite_analysed(library, again)
    kept = [b for b in batch if b[0].reads is not None]
    if kept:
        _rewrite_signals(library, kept)


def _rewrite_signals(library: Library, batch) -> None:
    """Images whose model reads were kept: their signal columns only."""
    import pyarrow as pa

    table = pa.table({"sha256": [t.sha256 for t, _, _ in batch],
                      **{c.name: signals.to_arrow(c, [r.values.get(c.name) for _, r, _ in batch]) for c in signals.columns()},
                      "reads_version": pa.array([signals.READS_VERSION] * len(batch), pa.int32())})
    with library.transaction() as cur:
        _update_creatives(cur, table, [c for c in table.column_names if c != "sha256"])


def _update_creatives(cur, table, cols: list[str]) -> None:
    """`cols` of the creatives in the Arrow `table` (matched by sha256), and their label vectors cleared."""
    sets = ", ".join(f"{c} = _refresh.{c}" for c in cols)
    with registered(cur, "_refresh", table):
        cur.execute(f"UPDATE creatives SET {sets}, label_vec = NULL FROM _refresh WHERE creatives.sha256 = _refresh.sha256")


def _rewrite_analysed(library: Library, batch) -> None:
    """Creatives analysed again in full: signal columns, visual vector, OCR boxes, thumbnail."""
    table = creatives_table(library, batch)
    cols = [c for c in table.column_names if c not in _KEEP]
    shas = [t.sha256 for t, _, _ in batch]
    for task, res, _ in batch:
        library.write_file_atomic(thumb_rel(task.sha256), res.thumb)
    with library.transaction() as cur:
        ids = dict(cur.execute("SELECT sha256, id FROM creatives WHERE sha256 IN (SELECT unnest(?))", [shas]).fetchall())
        _update_creatives(cur, table, cols)
        cur.execute("DELETE FROM ocr_boxes WHERE creative_id IN (SELECT unnest(?))", [list(ids.values())])
        boxes = [(ids[t.sha256], i, *box) for t, res, _ in batch for i, box in enumerate(res.ocr_boxes)]
        if boxes:
            insert_arrow(cur, "ocr_boxes", boxes_table(boxes))


def _signal_rows(library: Library) -> dict[int, tuple]:
    """creative id → its document words, signal by signal (what a refresh can change in search)."""
    cols = library.signal_columns()
    out = {}
    for row in library.execute(f"SELECT id, {', '.join(cols)} FROM creatives").fetchall():
        stored = dict(zip(cols, row[1:]))
        out[row[0]] = tuple(tuple(signals.row_words(s, stored)) for s in signals.registered())
    return out


def _rewrite_documents(library: Library) -> int:
    """Every ad's document from its metadata and its creative's new reads. Returns how many changed.

    Every text vector is cleared, not only the changed ones: the embedding step then encodes the
    documents in the batches a fresh ingest uses. Re-encoding only the changed ones moved other
    batches' padding and vectors by ~1e-7, enough to rename a few one-ad micro-patterns."""
    import pyarrow as pa

    cols = library.signal_columns()
    rows = library.execute(f"""SELECT a.id, a.document, {', '.join('a.' + c for c in AD_COLS)}, {', '.join('c.' + c for c in cols)}
                               FROM ads a JOIN creatives c ON c.id = a.creative_id ORDER BY a.id""").fetchall()
    changed_ids, changed_docs = [], []
    n_ad = len(AD_COLS)
    for r in rows:
        fields = {k: v for k, v in zip(AD_COLS, r[2:2 + n_ad]) if v is not None}
        doc = signal_document(fields, dict(zip(cols, r[2 + n_ad:])))
        if doc != r[1]:
            changed_ids.append(r[0])
            changed_docs.append(doc)
    table = pa.table({"id": pa.array(changed_ids, pa.int32()), "document": pa.array(changed_docs, pa.string())})
    with library.transaction() as cur, registered(cur, "_docs", table):
        cur.execute("UPDATE ads SET document = _docs.document FROM _docs WHERE ads.id = _docs.id")
        cur.execute("UPDATE ads SET text_vec = NULL")
    return len(changed_ids)


def _bump_revision(library: Library) -> None:
    # search caches key on the tree revision (corpus.library_state): the same ads with new documents must not
    # be answered from a corpus built on the old ones, whether or not a rebuild follows
    library.execute(BUMP_TREE_REVISION)


__all__ = ["RefreshSummary", "refresh"]
