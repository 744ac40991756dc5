"""The background runner for uploads, sample builds and rebuilds.

`start_ingest` runs `core.ingest_source` and then the taxonomy build in a thread on the same `Library`
object (thread-safe through per-thread cursors); every progress callback is mirrored into the `jobs`
table (stage, done, total), so any page, in any browser session, follows a job by polling
`job_progress` — a browser refresh loses nothing. The build that follows an upload gets its own row
(source 'taxonomy build').
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .base import current_build_key, not_available

_log = logging.getLogger(__name__)
INGEST_STAGES = ("scanning", "hashing", "analysing", "embedding", "indexing")
STAGE_LABELS = {"generating": "Generating sample ads", "scanning": "Reading the upload", "hashing": "Checking for duplicates",
                "analysing": "Analysing creatives (visual, OCR, colours)", "embedding": "Embedding the ad text",
                "indexing": "Updating the search index",
                "building": "Building the taxonomy"}
BUILD_SOURCE = "taxonomy build"


class JobBusy(RuntimeError):
    """A background job is already running on this library."""


@dataclass
class BackgroundJob:
    """One upload (or sample build, or rebuild) running in a thread of this process."""

    library_path: Path
    kind: str                      # ingest | build | sample
    source: str = ""
    stage: str = "starting"        # the latest progress, also before the job has a row (the sample's generating stage)
    done: int = 0
    total: int = 0
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def alive(self) -> bool:
        return not self.finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)


_JOBS: dict[str, BackgroundJob] = {}
_JOBS_LOCK = threading.Lock()


def _live_job(path) -> BackgroundJob | None:
    j = _JOBS.get(str(Path(path).resolve()))
    return j if j is not None and j.alive else None


def background_job(path) -> BackgroundJob | None:
    """The latest background job of this process for that library (running or finished)."""
    return _JOBS.get(str(Path(path).resolve()))


class _Tracker:
    """The progress callback: keeps the BackgroundJob current and mirrors it into the job's row
    (at most every `every_s`, and at every stage change)."""

    def __init__(self, library, job: BackgroundJob, every_s: float = 0.3):
        self.library, self.job, self.every_s = library, job, every_s
        self.row: int | None = None
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        job, now = self.job, time.time()
        changed = stage != job.stage
        job.stage, job.done, job.total = stage, int(done), int(total)
        if self.row is None and stage in INGEST_STAGES:  # the ingest has written its row by now
            self.row = self.library.scalar("SELECT max(id) FROM jobs WHERE status = 'running' AND pid = ?", [os.getpid()])
        if self.row is not None and (changed or now - self._last >= self.every_s or (total and done >= total)):
            self._last = now
            self.library.execute("UPDATE jobs SET stage = ?, done = ?, total = ?, updated_at = current_timestamp "
                                 "WHERE id = ? AND status = 'running'", [stage, int(done), int(total), self.row])


def _register(library_path, kind: str, source: str) -> BackgroundJob:
    key = str(Path(library_path).resolve())
    with _JOBS_LOCK:
        live = _live_job(key)
        if live is not None:
            raise JobBusy(f"A {live.kind} job is already running on this library; wait for it to finish.")
        job = _JOBS[key] = BackgroundJob(Path(key), kind, source)
    return job


def _warm_build() -> None:
    """Compile UMAP's numba kernels while the ingest runs, so the build that follows does not wait for it."""
    try:
        from .taxonomy import warm_umap

        warm_umap()
    except Exception:  # noqa: BLE001 - only a head start; the build compiles them itself otherwise
        pass


def _spawn(job: BackgroundJob, target: Callable[[], None]) -> BackgroundJob:
    if job.kind in ("ingest", "sample"):
        threading.Thread(target=_warm_build, name="cte-warm-umap", daemon=True).start()

    def run():
        try:
            target()
        except BaseException as e:  # noqa: BLE001 - recorded for the page, never lost in a thread
            job.error = not_available(e) or f"{type(e).__name__}: {e}"
            _log.exception("background %s job on %s failed", job.kind, job.library_path)
        finally:
            job.finished.set()

    threading.Thread(target=run, name=f"cte-{job.kind}-{job.library_path.name}", daemon=True).start()
    return job


def _build_step(library, job: BackgroundJob, tracker: _Tracker, after_job: int | None) -> None:
    """Build the taxonomy as its own row in the jobs table (the ingest row is final once ingest returns)."""
    import core

    if library.counts()["ads"] < 2:
        return
    tracker.row = library.scalar("INSERT INTO jobs (source, status, stage, pid, summary) VALUES (?, 'running', 'building', ?, ?) "
                                 "RETURNING id", [BUILD_SOURCE, os.getpid(), json.dumps({"kind": "build", "after_job": after_job})])
    tracker("building", 0, 1)
    t0, status, summary = time.perf_counter(), "done", {"kind": "build", "after_job": after_job}
    try:
        core.build_taxonomy(library, progress=tracker)
        summary["build_key"] = current_build_key(library)
    except BaseException as e:
        status = "failed"
        summary["error"] = not_available(e) or f"{type(e).__name__}: {e}"
        job.error = f"Ads were added, but the taxonomy could not be built: {summary['error']}"
        _log.exception("taxonomy build on %s failed", library.path)
    finally:
        summary["seconds"] = round(time.perf_counter() - t0, 2)
        library.execute("UPDATE jobs SET status = ?, stage = ?, summary = ?, updated_at = current_timestamp WHERE id = ?",
                        [status, status, json.dumps(summary, default=str), tracker.row])


def start_ingest(library, source, metadata: list | None = None, build: bool = True) -> BackgroundJob:
    """Ingest a saved upload in a background thread, then rebuild the taxonomy; returns at once."""
    import core

    job = _register(library.path, "ingest", str(source))
    tracker = _Tracker(library, job)

    def target():
        summary = core.ingest_source(library, source, metadata=metadata, progress=tracker, build=False)
        if build:
            _build_step(library, job, tracker, summary.job_id)

    return _spawn(job, target)


def start_build(library) -> BackgroundJob:
    job = _register(library.path, "build", BUILD_SOURCE)
    return _spawn(job, lambda: _build_step(library, job, _Tracker(library, job), None))


def start_sample(library_path, n_images: int = 200, seed: int = 0, library=None) -> BackgroundJob:
    """Generate and ingest the sample library (`core.make_demo`), then build its taxonomy."""
    import core

    job = _register(library_path, "sample", str(library_path))

    def target():
        lib = library or core.open_library(library_path)
        tracker = _Tracker(lib, job)
        demo_lib, summary = core.make_demo(library_path, progress=tracker, seed=seed, n_images=n_images, build=False)
        if demo_lib is not lib:
            demo_lib.close()  # same DuckDB instance: the shared connection stays open
        _build_step(lib, job, tracker, summary.job_id)

    return _spawn(job, target)
