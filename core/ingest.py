"""Ingest a folder or zip of ads into a library: incremental, idempotent, resumable.

Plan: enumerate the source safely → parse metadata CSVs → hash every media file → store each new
creative's bytes under its content hash → compute signals for new creatives in worker processes →
write creatives, ads and their text embeddings in small transactions → rebuild the FAISS files.

An ad is identified by (file, content hash, metadata row key), so re-ingesting a source adds
nothing, a second source adds only its new ads, and an ingest killed at any moment resumes on the
next run: whatever was committed is skipped, the rest is computed.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path


from . import jobs
from .jobs import Progress
from .compute import CreativeTask
from .documents import signal_document
from .embedding import SMALL_EMBEDDING, embed_pending, parent_threads, preload_text_encoder
from .signals import base as signals
from .limits import DEFAULT_LIMITS, IngestLimits
from .store import Library
from .writer import Writer, insert_arrow

COMMIT_EVERY = 24          # creatives per transaction: small enough to lose little on a kill
NOT_ERRORS = {"unsupported_type", "hidden_or_system"}  # not ads at all: reported, not counted as errors


@dataclass
class IngestSummary:
    job_id: int
    source: str
    files_seen: int = 0
    ads_added: int = 0
    creatives_added: int = 0
    already_present: int = 0
    duplicates: int = 0                # ads whose bytes equal another ad's: one creative, computed once
    skipped: list[dict] = field(default_factory=list)   # {file, reason, message}
    warnings: list[dict] = field(default_factory=list)  # the first limits.max_warnings_listed; all are in `errors`
    warning_count: int = 0             # every metadata warning, listed or not
    metadata_updated: int = 0          # ads already in the library whose metadata changed (old version kept)
    seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)
    worker_peak_mb: float = 0.0        # highest resident memory of any analysis worker
    worker_restarts: int = 0           # workers replaced after a crash or a timeout
    worker_recycles: int = 0           # workers replaced because their address space crept up

    @property
    def errors(self) -> list[dict]:
        return [s for s in self.skipped if s["reason"] not in NOT_ERRORS]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["errors"] = len(self.errors)
        d["errors_by_reason"] = dict(Counter(s["reason"] for s in self.errors))
        return d


@dataclass
class _PlannedAd:
    file: str
    meta_key: str
    fields: dict
    attributes: dict


def no_progress(stage: str, done: int, total: int) -> None:
    pass


def ingest(library: Library, source: str | os.PathLike, metadata: list[str | os.PathLike] | None = None,
           progress: Progress | None = None, workers: int | None = None, visual_model: str | None = None,
           limits: IngestLimits = DEFAULT_LIMITS, text_encoder=None, engine: str = "local",
           ray_address: str | None = None) -> IngestSummary:
    from .engines import check_engine
    from .metadata import parse_metadata_csv
    from .sources import open_source

    check_engine(engine)  # an unknown or uninstalled engine fails before any job row or file
    progress = progress or no_progress
    t_start = time.perf_counter()
    source = Path(source).resolve()
    if not source.exists():  # before any job row or file: nothing to ingest
        raise FileNotFoundError(f"{source} does not exist; give the path of a .zip or a folder of ads.")
    library.backup()  # the last good copy of the database, restored by `python -m core check --repair`
    library.ensure_signal_columns()  # a signal registered after the library was opened
    job_id = jobs.start(library, str(source), "scanning")
    progress = jobs.RowProgress(library, job_id, forward=progress)  # the row follows every stage
    summary = IngestSummary(job_id=job_id, source=str(source))
    stage_t: dict[str, float] = defaultdict(float)

    warn = _WarningSink(library, summary, job_id, limits.max_warnings_listed)
    meta_updates: list[tuple[str, _PlannedAd]] = []  # ads already in the library, with metadata in this upload

    def skip(file: str, reason: str, message: str, row: int | None = None) -> None:
        summary.skipped.append({"file": file, "reason": reason, "message": message})
        sev = "notice" if reason in NOT_ERRORS else "error"
        jobs.record_error(library, job_id, file, reason, message, row=row, severity=sev)

    try:
        progress("scanning", 0, 1)
        t = time.perf_counter()
        entries, skipped = open_source(source, limits)
        for s in skipped:
            skip(s.rel_path, s.reason, s.message)
        media = [e for e in entries if e.kind in ("image", "video")]
        csvs = [e for e in entries if e.kind == "csv"]
        summary.files_seen = len(media)

        # -- metadata: CSVs inside the source (paths relative to each CSV) and --metadata files
        meta_by_file: dict[str, list] = defaultdict(list)
        csv_inputs = [(e.read_bytes(), e.rel_path) for e in csvs]
        for m in metadata or []:
            csv_inputs.append((Path(m).read_bytes(), Path(m).name))  # an outside CSV: paths relative to the source root
        for data, rel in csv_inputs:
            rows, warnings = parse_metadata_csv(data, rel if rel in {e.rel_path for e in csvs} else Path(rel).name, limits)
            for w in warnings:
                warn(w.csv, w.row, w.message)
            for r in rows:
                meta_by_file[r.file].append((rel, r))
        media_names = {e.rel_path for e in media}
        for f, rows in meta_by_file.items():
            if f not in media_names:
                for _, r in rows:
                    warn(f, r.row_number,
                         f"metadata row {r.row_number} names '{f}', which is not in the upload; the row was not used.")
        warn.flush()
        stage_t["scan"] += time.perf_counter() - t

        # -- hash and plan
        existing = library.ad_keys()
        known_creatives = dict(library.execute("SELECT sha256, id FROM creatives").fetchall())
        to_compute: dict[str, CreativeTask] = {}
        ads_by_sha: dict[str, list[_PlannedAd]] = defaultdict(list)
        seen_sha: set[str] = set()
        signal_specs = signals.specs()  # the workers compute the signals registered here
        for i, entry in enumerate(media):
            progress("hashing", i, len(media))
            t = time.perf_counter()
            try:
                data = entry.read_bytes()
            except Exception as e:  # SourceError from a lying zip header, or an unreadable file
                skip(entry.rel_path, getattr(e, "reason", "unreadable"), str(getattr(e, "message", e)))
                continue
            if not data:
                skip(entry.rel_path, "empty_file", f"'{entry.rel_path}' is empty (0 bytes); re-export it and upload again.")
                continue
            sha = hashlib.sha256(data).hexdigest()
            planned = _planned_ads(entry.rel_path, meta_by_file.get(entry.rel_path, []))
            _adopt_bare_ad(library, existing, sha, planned)
            new = [p for p in planned if (p.file, sha, p.meta_key) not in existing]
            summary.already_present += len(planned) - len(new)
            if entry.rel_path in meta_by_file:
                meta_updates += [(sha, p) for p in planned if (p.file, sha, p.meta_key) in existing]
            if not new:
                stage_t["hash"] += time.perf_counter() - t
                continue
            shared = sha in seen_sha or sha in known_creatives
            summary.duplicates += len(new) if shared else len(new) - 1
            seen_sha.add(sha)
            ads_by_sha[sha].extend(new)
            if sha not in known_creatives and sha not in to_compute:
                ext = Path(entry.rel_path).suffix.lower()
                rel = library.media_rel_path(sha, ext)
                library.write_file_atomic(rel, data)
                to_compute[sha] = CreativeTask(sha, str(library.path / rel), entry.kind, entry.rel_path, visual_model, signal_specs)
            stage_t["hash"] += time.perf_counter() - t
        progress("hashing", len(media), len(media))

        # -- metadata of ads already in the library: a new version (the old one kept), re-embedded below
        from .metadata_versions import update_metadata

        summary.metadata_updated = update_metadata(library, job_id, meta_updates,
                                                   lambda cid, fields: _document_of(library, cid, fields))

        # -- ads of creatives already in the library: only rows to write
        writer = Writer(library, job_id, summary, stage_t)
        for sha, cid in known_creatives.items():
            if sha in ads_by_sha:
                writer.add_existing(cid, ads_by_sha.pop(sha))
        writer.flush()

        # -- new creatives: signals in worker processes, written as they come back
        total = len(to_compute)
        progress("analysing", 0, total)
        done = 0
        n_workers = worker_count(workers, len(to_compute))
        if n_workers > 1:
            parent_threads(1)  # the workers own the cores; the parent only embeds short documents
        if text_encoder is None and n_workers > 1 and len(to_compute) > SMALL_EMBEDDING:
            # the workers spend their first seconds loading models: load the text model meanwhile
            threading.Thread(target=preload_text_encoder, daemon=True).start()
        if engine == "ray":  # the same results, in task order, from Ray actors (core/engines)
            from .engines import ray_engine

            results = ray_engine.run_tasks(list(to_compute.values()), n_workers, limits, ray_address)
        else:
            results = run_tasks(list(to_compute.values()), n_workers, limits, summary)
        for result in results:
            done += 1
            task = to_compute[result.sha256]
            for k, v in result.seconds.items():
                stage_t[k] += v
            if result.ok:
                writer.add_new(task, result, ads_by_sha.pop(result.sha256, []))
            else:
                for ad in ads_by_sha.pop(result.sha256, []):
                    skip(ad.file, result.error_code, result.error_message.replace(f"'{task.name}'", f"'{ad.file}'"))
                _remove_media(library, task)
            if writer.pending >= COMMIT_EVERY:
                writer.flush()
            progress("analysing", done, total)
        writer.flush()

        # -- text embeddings last, with every core: during analysis they would only fight the workers
        t = time.perf_counter()
        embed_pending(library, text_encoder, progress)
        stage_t["text"] += time.perf_counter() - t

        t = time.perf_counter()
        progress("indexing", 0, 1)
        from .vectors import rebuild_indexes

        rebuild_indexes(library)
        stage_t["index"] += time.perf_counter() - t
        progress("indexing", 1, 1)
        summary.seconds = time.perf_counter() - t_start
        summary.stage_seconds = {k: round(v, 3) for k, v in stage_t.items()}
        _finish_job(library, job_id, "done", summary)
        return summary
    except BaseException as e:
        summary.seconds = time.perf_counter() - t_start
        _finish_job(library, job_id, "interrupted" if isinstance(e, KeyboardInterrupt) else "failed", summary, error=repr(e))
        raise


def _adopt_bare_ad(library: Library, existing: set, sha: str, planned: list[_PlannedAd]) -> None:
    """A file first ingested without metadata, now named by several rows of one CSV: its ad takes the
    first row's key, so that row updates it (a new metadata version) instead of adding a second ad
    beside the bare one; the other rows are new ads of the same creative."""
    if not planned or not planned[0].meta_key or (planned[0].file, sha, "") not in existing:
        return
    if any((p.file, sha, p.meta_key) in existing for p in planned):
        return
    first = planned[0]
    library.execute("UPDATE ads SET meta_key = ? WHERE file = ? AND meta_key = '' AND creative_id = "
                    "(SELECT id FROM creatives WHERE sha256 = ?)", [first.meta_key, first.file, sha])
    existing.discard((first.file, sha, ""))
    existing.add((first.file, sha, first.meta_key))


def _planned_ads(file: str, rows: list) -> list[_PlannedAd]:
    """The ads one media file stands for.

    Rows about the file from different CSVs describe one ad and are merged (earlier CSV wins on a
    clash); several rows in one CSV are several ads (the same creative re-run with new copy).
    """
    by_csv: dict[str, list] = defaultdict(list)
    for csv, r in rows:
        by_csv[csv].append(r)
    fields: dict = {}
    attrs: dict = {}
    for csv in sorted(by_csv):
        if len(by_csv[csv]) == 1:
            r = by_csv[csv][0]
            fields.update({k: v for k, v in r.fields.items() if v not in (None, "", []) and k not in fields})
            attrs.update({k: v for k, v in r.attributes.items() if k not in attrs})
    multi = next((csv for csv in sorted(by_csv) if len(by_csv[csv]) > 1), None)
    if multi is None:
        return [_PlannedAd(file, "", fields, attrs)]
    return [_PlannedAd(file, f"{multi}#{r.row_number}", {**fields, **{k: v for k, v in r.fields.items() if v not in (None, "", [])}},
                       {**attrs, **r.attributes}) for r in by_csv[multi]]


class _WarningSink:
    """Metadata warnings: counted, the first `listed` kept in the summary, all stored in one insert per flush.

    A 50 MB CSV naming absent files once meant 331k single-row inserts and a 56 MB job summary.
    """

    def __init__(self, library: Library, summary: IngestSummary, job_id: int, listed: int):
        self.library, self.summary, self.job_id, self.listed = library, summary, job_id, listed
        self.pending: list[tuple[str, int | None, str]] = []

    def __call__(self, file: str, row: int | None, message: str) -> None:
        self.summary.warning_count += 1
        if len(self.summary.warnings) < self.listed:
            self.summary.warnings.append({"file": file, "row": row, "message": message})
        self.pending.append((file, row, message))

    def flush(self) -> None:
        if not self.pending:
            return
        import pyarrow as pa

        files, rows, messages = zip(*self.pending)
        batch = pa.table({"job_id": pa.array([self.job_id] * len(files), pa.int32()), "file": list(files),
                          "row_number": pa.array(rows, pa.int32()), "reason": ["metadata"] * len(files),
                          "message": list(messages), "severity": ["warning"] * len(files)})
        with self.library.transaction() as cur:
            insert_arrow(cur, "errors", batch)
        self.pending = []


def _document_of(library: Library, creative_id: int, fields: dict) -> str:
    """The document of an ad of a stored creative, as the writer builds it."""
    cols = [c.name for c in signals.columns()]
    sig = library.execute(f"SELECT {', '.join(cols)} FROM creatives WHERE id = ?", [creative_id]).fetchone()
    return signal_document(fields, dict(zip(cols, sig)))


def worker_count(requested: int | None, n_tasks: int) -> int:
    workers = requested if requested is not None else min(2, os.cpu_count() or 1)
    return max(1, min(workers, n_tasks))  # always at least one worker process: never analysed in this process


def run_tasks(tasks: list[CreativeTask], workers: int, limits: IngestLimits, summary: "IngestSummary | None" = None):
    """Yield results in a deterministic order (task order) while workers run ahead (see core.pool)."""
    if not tasks:
        return
    from .pool import AnalysisPool

    threads = 1 if workers > 1 else max(1, (os.cpu_count() or 1) // 2)
    pool = AnalysisPool(workers, tasks[0].visual_model, limits, threads=threads)
    try:
        yield from pool.run(tasks)
    finally:
        if summary is not None:
            summary.worker_peak_mb = round(max(summary.worker_peak_mb, pool.peak_rss_mb), 1)
            summary.worker_restarts += pool.restarts
            summary.worker_recycles += pool.recycled


def _remove_media(library: Library, task: CreativeTask) -> None:
    try:
        Path(task.path).unlink()
    except OSError:
        pass


def _finish_job(library: Library, job_id: int, status: str, summary: IngestSummary, error: str | None = None) -> None:
    d = summary.to_dict()
    if error:
        d["error"] = error
    jobs.finish(library, job_id, status, d)
