"""UI read models: what the Streamlit pages show that the facade does not already give.

Plain functions over a `Library` that return dicts and DataFrames (no Streamlit here, so the
CLI, tests and benches can call them too): library stats and job status, paged ad grids, an
ad's detail (metadata, OCR text, object labels, nearest neighbours, path in the tree), node
cards, map points, what a selection of ads shares, build runs, exports and a per-node brief.

The taxonomy is read from the `nodes`/`assignments` rows of the current build (the same rows
`core.taxonomy` writes), so these reads stay one query each on a 10k-ad library.

Also here: the background runner for uploads. `start_ingest` runs `core.ingest_source` and then the
taxonomy build in a thread on the same `Library` object (thread-safe through per-thread
cursors); every progress callback is mirrored into the `jobs` table (stage, done, total), so any
page, in any browser session, follows a job by polling `job_progress` — a browser refresh loses
nothing. The build that follows an upload gets its own row (source 'taxonomy build').
"""
from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from .store import json_cell
from .ingest import _alive   # is a job's process still there (the ingest's own check)

_log = logging.getLogger(__name__)
LEVEL_NAMES = {0: "all ads", 1: "family", 2: "sub-cluster", 3: "micro-pattern"}
METRICS = ("spend", "impressions", "clicks", "conversions", "revenue", "ctr")
PERF_KEYS = ("spend", "impressions", "clicks", "conversions", "ctr", "cvr")   # node rollups shown and charted
INGEST_STAGES = ("scanning", "hashing", "analysing", "embedding", "indexing")
STAGE_LABELS = {"generating": "Generating sample ads", "scanning": "Reading the upload", "hashing": "Checking for duplicates",
                "analysing": "Analysing creatives (visual, OCR, colours)", "embedding": "Embedding the ad text",
                "indexing": "Updating the search index",
                "building": "Building the taxonomy"}
BUILD_SOURCE = "taxonomy build"
_STOPWORDS = frozenset("""the and for with you your our are was were this that from have has had not but all any can will just
into out off its it's more most get got now new one two per via than then them they their there these those what when where which
who why how shows tags colours colors layout text image photo jpg png mp4 www com http https""".split())


class NotAvailable(RuntimeError):
    """A part of the engine this view needs has not landed yet (or was not built for this library)."""


class JobBusy(RuntimeError):
    """A background job is already running on this library."""


def not_available(exc: BaseException) -> str | None:
    """A friendly sentence if `exc` means 'that engine module is not there yet', else None."""
    if isinstance(exc, NotAvailable):
        return str(exc)
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("core"):
        what = (exc.name or "").split(".")[1:2]
        return f"The {what[0] if what else 'engine'} part of the engine is not available yet."
    if isinstance(exc, ImportError) and "core." in str(exc):
        return "That part of the engine is not available yet."
    return None


# -- versions and stats ------------------------------------------------------------------------------

def data_version(library) -> str:
    """Changes whenever what the pages show could change: the key for every cached read."""
    row = library.execute(
        """SELECT (SELECT count(*) FROM ads), (SELECT count(*) FROM creatives), (SELECT coalesce(max(id), 0) FROM node_edits),
                  (SELECT count(*) FROM runs), (SELECT coalesce(max(key), '') FROM runs WHERE kind = 'taxonomy' AND is_current),
                  (SELECT count(*) FROM nodes), (SELECT coalesce(max(id), 0) FROM jobs WHERE status <> 'running')"""
    ).fetchone()
    return "/".join(str(v) for v in row)


def current_build_key(library) -> str | None:
    return library.scalar("SELECT key FROM runs WHERE kind = 'taxonomy' AND is_current ORDER BY created_at DESC LIMIT 1")


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
        "campaigns": row[5] or 0, "taxonomy": tax,
        "warnings": library.scalar("SELECT count(*) FROM errors WHERE severity = 'warning'") or 0,
    }


# -- jobs ---------------------------------------------------------------------------------------------

def _job_dict(library, row) -> dict[str, Any]:
    jid, source, status, stage, total, done, pid, started, updated, summary = row
    summary = json_cell(summary, {})
    if status == "running" and (_live_job(library.path) is None if pid == os.getpid() else not _alive(pid)):
        status = "interrupted"  # its process (or this process's thread) is gone
    kind = "build" if source == BUILD_SOURCE else ("sample" if "sample-seed" in (source or "") else "ingest")
    return {"id": jid, "source": source, "name": Path(source).name if kind != "build" else "taxonomy build", "kind": kind,
            "status": status, "stage": stage, "total": total or 0, "done": done or 0, "started_at": started,
            "updated_at": updated, "summary": summary, "error": summary.get("error")}


_JOB_COLS = "id, source, status, stage, total, done, pid, started_at, updated_at, summary"


def jobs(library, limit: int = 20) -> list[dict[str, Any]]:
    rows = library.execute(f"SELECT {_JOB_COLS} FROM jobs ORDER BY id DESC LIMIT ?", [limit]).fetchall()
    return [_job_dict(library, r) for r in rows]


def job(library, job_id: int) -> dict[str, Any] | None:
    row = library.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", [job_id]).fetchone()
    return None if row is None else _job_dict(library, row)


def job_progress(library) -> dict[str, Any] | None:
    """The task a person is waiting for on this library, or None when nothing runs.

    From the jobs table (so a refreshed page or a second browser sees it); only the sample's
    'generating' stage, which comes before the ingest has a row, comes from this process's memory.
    """
    for j in jobs(library, limit=5):
        if j["status"] == "running":
            live = _live_job(library.path)
            if live is not None:  # the build that follows an upload reports as part of that upload
                j["kind"] = live.kind
                if live.kind != "build":
                    j["name"] = Path(live.source).name
            return j
    live = _live_job(library.path)
    if live is not None:
        return {"id": None, "kind": live.kind, "name": Path(live.source).name, "status": "running", "stage": live.stage,
                "done": live.done, "total": live.total, "error": None, "summary": {}, "source": live.source}
    return None


def job_report(library, job_id: int) -> dict[str, Any]:
    """What one ingest added, what it skipped and why (errors and notices), and its metadata warnings."""
    j = job(library, job_id)
    if j is None:
        raise KeyError(f"no job {job_id}")
    added = library.query_df(
        """SELECT a.id AS ad_id, a.file, c.kind, a.headline, a.format, a.campaign
           FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE a.job_id = ? ORDER BY a.id""", [job_id])
    problems = library.query_df(
        "SELECT file, row_number AS row, reason, message, severity FROM errors WHERE job_id = ? ORDER BY id", [job_id])
    skipped = problems[problems["severity"] != "warning"].drop(columns=["row"]).reset_index(drop=True)
    warnings = problems[problems["severity"] == "warning"].drop(columns=["reason", "severity"]).reset_index(drop=True)
    s = j["summary"]
    build = None
    nxt = library.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id > ? AND source = ? ORDER BY id LIMIT 1", [job_id, BUILD_SOURCE]).fetchone()
    if nxt is not None and json_cell(nxt[9], {}).get("after_job") == job_id:
        build = _job_dict(library, nxt)
    return {"job": j, "added": added, "skipped": skipped, "warnings": warnings, "build": build,
            "counts": {k: s.get(k) for k in ("files_seen", "ads_added", "creatives_added", "already_present", "duplicates", "seconds")}}


# -- background jobs ----------------------------------------------------------------------------------

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


# -- uploads -------------------------------------------------------------------------------------------

def save_upload(library, name: str, data) -> Path:
    """Write an uploaded file under the library's uploads/ folder (streamed from a file object or bytes)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "upload"
    rel = f"uploads/{datetime.now():%Y%m%d-%H%M%S}-{safe}"
    target = library.path / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    with open(tmp, "wb") as out:
        if isinstance(data, (bytes, bytearray)):
            out.write(data)
        else:
            if hasattr(data, "seek"):
                data.seek(0)
            while chunk := data.read(8 << 20):
                out.write(chunk)
    os.replace(tmp, target)
    return target


def check_upload(name: str, size: int, head: bytes, kind: str = "zip") -> str | None:
    """A friendly sentence when an upload cannot be ingested at all, else None."""
    if size == 0:
        return f"'{name}' is empty (0 bytes). Choose the zip again; if it keeps happening, re-create it."
    if kind == "zip":
        if not name.lower().endswith(".zip"):
            return f"'{name}' is not a .zip file. Put the ads in a folder, compress it to a .zip and upload that."
        if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return f"'{name}' is not a valid zip archive (it may be damaged or renamed). Re-create the zip and upload again."
    elif kind == "csv":
        if b"\x00" in head[:4096]:
            return f"'{name}' does not look like a CSV text file. Export the metadata as CSV (UTF-8) and upload again."
    return None


def check_zip_contents(path) -> str | None:
    """After saving: the zip opens and holds at least one file (the engine reports per-file problems itself)."""
    try:
        with zipfile.ZipFile(path) as zf:
            if not any(not i.is_dir() for i in zf.infolist()):
                return "The zip is empty: it holds no files. Add your images/videos and upload again."
    except zipfile.BadZipFile as e:
        return f"The zip could not be opened ({e}). Re-create it and upload again."
    return None


# -- taxonomy reads ---------------------------------------------------------------------------------------

def nodes_frame(library, build_key: str | None = None) -> pd.DataFrame | None:
    """Every node of the current build with decoded JSON columns and its path of labels; None if no build."""
    key = build_key or current_build_key(library)
    if not key:
        return None
    df = library.query_df(
        """SELECT id, parent_id, level, label, keywords, description, tags, representatives, rep_strategy,
                  fidelity, size, x, y, perf FROM nodes WHERE build_key = ? ORDER BY level, id""", [key])
    if df.empty:
        return None
    for col, default in (("keywords", []), ("tags", []), ("representatives", []), ("perf", {})):
        df[col] = df[col].map(lambda v, d=default: json_cell(v, d))
    df["keywords"] = df["keywords"].map(lambda ks: [str(k[0]) if isinstance(k, (list, tuple)) and k else str(k) for k in ks])
    df["label"] = df["label"].fillna(df["id"])
    labels = dict(zip(df["id"], df["label"]))
    parents = dict(zip(df["id"], df["parent_id"]))
    levels = dict(zip(df["id"], df["level"]))

    def chain(nid):
        out = []
        while nid is not None and nid in labels and len(out) < 10:
            if levels[nid] > 0:
                out.append(nid)
            nid = parents.get(nid)
        return out[::-1]

    df["chain"] = df["id"].map(chain)
    df["path"] = df["chain"].map(lambda c: " › ".join(labels[i] for i in c))
    df.attrs["build_key"] = key
    df.index = pd.Index(df["id"].tolist())
    return df


def root_id(nodes: pd.DataFrame) -> str | None:
    roots = nodes[nodes["level"] == 0]
    return None if roots.empty else roots["id"].iloc[0]


def children(nodes: pd.DataFrame, node_id: str | None) -> pd.DataFrame:
    if node_id is None or nodes.loc[node_id, "level"] == 0:
        kids = nodes[nodes["level"] == 1]
    else:
        kids = nodes[nodes["parent_id"] == node_id]
    return kids.sort_values(["size", "id"], ascending=[False, True])


def descendants(nodes: pd.DataFrame, node_id: str) -> list[str]:
    by_parent: dict[str, list[str]] = {}
    for nid, pid in zip(nodes["id"], nodes["parent_id"]):
        by_parent.setdefault(pid, []).append(nid)
    out, todo = [], [node_id]
    while todo:
        n = todo.pop()
        out.append(n)
        todo.extend(by_parent.get(n, []))
    return out


def _member_filter(library, node_id: str | None, key: str, nodes: pd.DataFrame | None = None) -> tuple[str, list]:
    """SQL condition on `s` (assignments) for the ads of a node and its descendants."""
    if node_id is None:
        return "s.build_key = ?", [key]
    nodes = nodes if nodes is not None else nodes_frame(library, key)
    if nodes is not None and node_id in nodes.index and nodes.loc[node_id, "level"] == 0:
        return "s.build_key = ?", [key]
    ids = descendants(nodes, node_id) if nodes is not None and node_id in nodes.index else [node_id]
    return "s.build_key = ? AND (s.family_id = ? OR s.leaf_id IN (SELECT unnest(?::VARCHAR[])))", [key, node_id, ids]


def node_card(library, node_id: str, nodes: pd.DataFrame | None = None) -> dict[str, Any]:
    """Everything the node card shows, representatives first."""
    nodes = nodes if nodes is not None else nodes_frame(library)
    if nodes is None:
        raise NotAvailable("No taxonomy yet: build one from the Library page.")
    if node_id not in nodes.index:
        raise KeyError(f"no node {node_id!r} in the current taxonomy")
    n = nodes.loc[node_id]
    reps = [_rep_id(r) for r in n["representatives"]]
    reps = [r for r in reps if r is not None]
    return {
        "id": node_id, "label": n["label"], "level": int(n["level"]), "level_name": LEVEL_NAMES.get(int(n["level"]), "node"),
        "path": n["path"], "chain": [{"id": c, "label": nodes.loc[c, "label"]} for c in n["chain"]],
        "description": n["description"] or "", "keywords": [str(k) for k in n["keywords"]],
        "tags": tags_frame(n["tags"]), "fidelity": _num(n["fidelity"]), "size": int(n["size"] or 0),
        "perf": n["perf"] if isinstance(n["perf"], dict) else {},
        "representatives": ads_by_ids(library, reps), "rep_strategy": n["rep_strategy"],
        "children": children(nodes, node_id)[["id", "label", "size", "fidelity", "keywords"]].to_dict("records"),
    }


def _rep_id(r) -> int | None:
    if isinstance(r, dict):
        r = r.get("ad_id", r.get("id"))
    try:
        return int(r)
    except (TypeError, ValueError):
        return None


def _num(v):
    try:
        f = float(v)
        return None if np.isnan(f) else f
    except (TypeError, ValueError):
        return None


def tags_frame(tags) -> pd.DataFrame:
    """Discriminating tags as a table, whatever shape the build stored them in (dicts, pairs, a mapping)."""
    if isinstance(tags, dict):
        tags = [{"tag": k, **(v if isinstance(v, dict) else {"q": v})} for k, v in tags.items()]
    rows = []
    for t in tags or []:
        if isinstance(t, dict):
            rows.append(t)
        elif isinstance(t, (list, tuple)) and t:
            rows.append(dict(zip(["tag", "q", "share", "lift"], t)))
        else:
            rows.append({"tag": str(t)})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    first = [c for c in ("tag", "term", "value", "kind", "axis") if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


_GRID_COLS = """a.id AS ad_id, a.file, c.kind, c.thumb_path, c.media_path, a.headline, a.format, a.campaign, a.spend, a.ctr,
                c.duration_s, a.creative_id"""


def _grid_rows(library, df: pd.DataFrame) -> pd.DataFrame:
    df["thumb"] = df["thumb_path"].map(lambda p: _existing(library, p))
    df["media"] = df["media_path"].map(lambda p: _existing(library, p))
    return df.drop(columns=["thumb_path", "media_path"])


def _existing(library, rel) -> str | None:
    p = library.abspath(rel) if isinstance(rel, str) else None
    return str(p) if p is not None and p.exists() else None


def ads_by_ids(library, ad_ids: Iterable[int]) -> pd.DataFrame:
    """Grid rows for these ads, in the order given."""
    ids = [int(i) for i in ad_ids]
    if not ids:
        return _grid_rows(library, library.query_df(f"SELECT {_GRID_COLS} FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE false"))
    df = library.query_df(f"""SELECT {_GRID_COLS} FROM ads a JOIN creatives c ON c.id = a.creative_id
                              WHERE a.id IN (SELECT unnest(?::INTEGER[]))""", [ids])
    order = {a: i for i, a in enumerate(ids)}
    df = df.sort_values("ad_id", key=lambda s: s.map(order)).reset_index(drop=True)
    return _grid_rows(library, df)


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


def tree_chart_frame(library, nodes: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """ids/parents/labels/values (+ metric columns) for a sunburst or treemap sized by ads."""
    nodes = nodes if nodes is not None else nodes_frame(library)
    if nodes is None:
        return None
    df = nodes[nodes["level"] > 0][["id", "parent_id", "level", "label", "size", "fidelity", "path"]].copy()
    levels = dict(zip(nodes["id"], nodes["level"]))
    df["parent"] = df["parent_id"].map(lambda p: p if p is not None and levels.get(p, 0) > 0 else "")
    perf = nodes.loc[df["id"], "perf"].map(lambda p: p if isinstance(p, dict) else {})
    for k in PERF_KEYS:
        if any(isinstance(p.get(k), (int, float)) for p in perf):
            df[k] = [_num(p.get(k)) for p in perf]
    # 'total' branch values need parents >= the sum of their children
    size = dict(zip(df["id"], df["size"].fillna(0).astype(float)))
    kids_sum: dict[str, float] = {}
    for nid, parent in sorted(zip(df["id"], df["parent"]), key=lambda t: -levels[t[0]]):
        size[nid] = max(size[nid], kids_sum.get(nid, 0.0))
        if parent:
            kids_sum[parent] = kids_sum.get(parent, 0.0) + size[nid]
    df["value"] = df["id"].map(size)
    return df.reset_index(drop=True)


def chart_metrics(frame: pd.DataFrame) -> list[str]:
    skip = {"id", "parent_id", "level", "label", "path", "parent", "value"}
    return [c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any()]


# -- ad detail --------------------------------------------------------------------------------------------------

def ad_detail(library, ad_id: int, index=None, k: int = 8) -> dict[str, Any]:
    """One ad: media, metadata, attributes, OCR text and boxes, object labels, colours, path in the tree,
    identical creatives and nearest neighbours (by the visual index, given or loaded)."""
    df = library.query_df(
        """SELECT a.*, c.kind, c.media_path, c.thumb_path, c.width, c.height, c.frames, c.duration_s, c.fps, c.sha256,
                  c.ocr_text, c.text_area_share, c.labels, c.colors, c.color_words, c.layout_words, c.extra, c.bytes
           FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE a.id = ?""", [int(ad_id)])
    if df.empty:
        raise KeyError(f"no ad {ad_id}")
    r = df.iloc[0].to_dict()
    meta = {k: r.get(k) for k in ("headline", "copy", "cta", "format", "placement", "campaign", "date", "end_date", *METRICS)}
    tags = r.get("tags")
    meta["tags"] = ", ".join(tags) if tags is not None and len(tags) else None
    meta = {k: _display(k, v) for k, v in meta.items() if v is not None and not (isinstance(v, float) and np.isnan(v)) and v != ""}
    attrs = dict(library.execute("SELECT key, value FROM attributes WHERE ad_id = ? ORDER BY key", [int(ad_id)]).fetchall())
    boxes = library.query_df("SELECT text, score, t_s FROM ocr_boxes WHERE creative_id = ? ORDER BY idx", [int(r["creative_id"])])
    labels = [(str(lbl), float(p)) for lbl, p in json_cell(r.get("labels"), [])]
    identical = library.query_df("SELECT id AS ad_id, file FROM ads WHERE creative_id = ? AND id <> ? ORDER BY id",
                                 [int(r["creative_id"]), int(ad_id)])
    return {
        "ad_id": int(ad_id), "file": r["file"], "kind": r["kind"], "media": _existing(library, r["media_path"]),
        "thumb": _existing(library, r["thumb_path"]), "width": r["width"], "height": r["height"],
        "duration_s": _num(r["duration_s"]), "fps": _num(r["fps"]), "bytes": r["bytes"], "sha256": r["sha256"],
        "metadata": meta, "attributes": attrs, "ocr_text": r["ocr_text"] or "", "ocr_boxes": boxes,
        "labels": labels, "color_words": r["color_words"] or "", "layout_words": r["layout_words"] or "",
        "colors": json_cell(r["colors"], {}), "extra": json_cell(r["extra"], {}),
        "text_area_share": _num(r["text_area_share"]), "document": r["document"] or "",
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


def ad_tree_path(library, ad_id: int, nodes: pd.DataFrame | None = None) -> list[dict]:
    key = current_build_key(library)
    if not key:
        return []
    row = library.execute("SELECT family_id, leaf_id, is_outlier FROM assignments WHERE build_key = ? AND ad_id = ?", [key, int(ad_id)]).fetchone()
    if row is None:
        return []
    nodes = nodes if nodes is not None else nodes_frame(library, key)
    leaf = row[1] or row[0]
    if nodes is None or leaf not in nodes.index:
        return [{"id": leaf, "label": leaf, "level": None, "outlier": bool(row[2])}]
    return [{"id": c, "label": nodes.loc[c, "label"], "level": int(nodes.loc[c, "level"]), "outlier": bool(row[2])}
            for c in nodes.loc[leaf, "chain"]]


def neighbour_index(library):
    """The visual FAISS index of this library (None when it has no visual vectors)."""
    from .vectors import load_index

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


# -- map ------------------------------------------------------------------------------------------------------------

def map_points(library, nodes: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """One row per placed ad: x, y, family / sub-cluster / micro-pattern labels and the ad's fields."""
    key = current_build_key(library)
    if not key:
        return None
    df = library.query_df(
        """SELECT s.ad_id, s.x, s.y, s.family_id, s.leaf_id, s.is_outlier, a.file, c.kind, a.headline, a.format, a.placement,
                  a.campaign, a.cta, a.date, a.spend, a.impressions, a.clicks, a.conversions, a.revenue, a.ctr
           FROM assignments s JOIN ads a ON a.id = s.ad_id JOIN creatives c ON c.id = a.creative_id
           WHERE s.build_key = ? AND s.x IS NOT NULL ORDER BY s.ad_id""", [key])
    if df.empty:
        return df
    nodes = nodes if nodes is not None else nodes_frame(library, key)
    lab = dict(zip(nodes["id"], nodes["label"])) if nodes is not None else {}
    level = dict(zip(nodes["id"], nodes["level"])) if nodes is not None else {}
    by_level = {nid: {level[c]: lab[c] for c in chain} for nid, chain in zip(nodes["id"], nodes["chain"])} if nodes is not None else {}

    leaf = df["leaf_id"].where(df["leaf_id"].notna(), df["family_id"])
    df["family"] = [lab.get(f, f) if f is not None else "outliers" for f in df["family_id"]]
    df["sub_cluster"] = [by_level.get(lf, {}).get(2, "(none)") for lf in leaf]
    df["micro_pattern"] = [by_level.get(lf, {}).get(3, "(none)") for lf in leaf]
    df["node"] = [lab.get(lf, lf) for lf in leaf]
    df["outlier"] = df.pop("is_outlier").fillna(False).map({True: "outlier", False: "assigned"})
    return df


def attribute_keys(library) -> list[str]:
    return [r[0] for r in library.execute("SELECT DISTINCT key FROM attributes ORDER BY key").fetchall()]


def attribute_values(library, key: str) -> pd.Series:
    df = library.query_df("SELECT ad_id, value FROM attributes WHERE key = ?", [key])
    s = df.set_index("ad_id")["value"]
    num = pd.to_numeric(s, errors="coerce")
    return num if len(s) and num.notna().mean() > 0.9 else s


def shared_traits(library, ad_ids: list[int], min_share: float = 0.5, top: int = 15) -> pd.DataFrame:
    """What a selection of ads has in common: tags, words, colours, layout, family, format, kind…,
    each with its share in the selection, its share in the library and the lift between them."""
    ids = sorted({int(i) for i in ad_ids})
    cols = ["trait", "what", "in_selection", "in_library", "lift"]
    if not ids:
        return pd.DataFrame(columns=cols)
    key = current_build_key(library) or ""
    df = library.query_df(
        """WITH base AS (
             SELECT a.id, a.id IN (SELECT unnest(?::INTEGER[])) AS s, a.tags, a.format, a.placement, a.campaign, a.cta,
                    c.kind, c.color_words, c.layout_words, lower(coalesce(a.document, '')) AS doc, f.label AS family
             FROM ads a JOIN creatives c ON c.id = a.creative_id
             LEFT JOIN assignments x ON x.ad_id = a.id AND x.build_key = ?
             LEFT JOIN nodes f ON f.build_key = x.build_key AND f.id = x.family_id),
           items AS (
             SELECT id, s, 'tag' AS what, unnest(list_distinct(coalesce(tags, []))) AS v FROM base
             UNION ALL SELECT id, s, 'colour', unnest(list_distinct(string_split(coalesce(color_words, ''), ', '))) FROM base
             UNION ALL SELECT id, s, 'layout', unnest(list_distinct(string_split(coalesce(layout_words, ''), ', '))) FROM base
             UNION ALL SELECT id, s, 'word', unnest(list_distinct(regexp_extract_all(doc, '[a-z][a-z''-]{2,}'))) FROM base
             UNION ALL SELECT id, s, 'family', family FROM base
             UNION ALL SELECT id, s, 'format', format FROM base
             UNION ALL SELECT id, s, 'placement', placement FROM base
             UNION ALL SELECT id, s, 'campaign', campaign FROM base
             UNION ALL SELECT id, s, 'call to action', cta FROM base
             UNION ALL SELECT id, s, 'kind', kind FROM base)
           SELECT what, v AS trait, count(*) FILTER (WHERE s) AS n_sel, count(*) AS n_all
           FROM items WHERE v IS NOT NULL AND v <> '' GROUP BY what, v HAVING count(*) FILTER (WHERE s) > 0""", [ids, key])
    n_all = library.scalar("SELECT count(*) FROM ads") or 1
    n_sel = len(ids)
    df = df[~((df["what"] == "word") & df["trait"].isin(_STOPWORDS))]
    df["in_selection"] = df["n_sel"] / n_sel
    df["in_library"] = df["n_all"] / n_all
    df["lift"] = df["in_selection"] / df["in_library"]
    df = df[df["in_selection"] >= min_share]
    if n_sel < n_all:
        df = df[df["lift"] > 1.05]                     # shared by the selection more than by the library
    named = set(df.loc[df["what"] != "word", "trait"].str.lower())
    df = df[~((df["what"] == "word") & df["trait"].isin(named))]   # a word that repeats a tag/colour/layout row
    df = df.sort_values(["in_selection", "lift"], ascending=False).head(top)
    return df[cols].reset_index(drop=True)


# -- runs, exports, briefs ---------------------------------------------------------------------------------------

def build_runs(library) -> pd.DataFrame:
    """Every recorded run (taxonomy builds and benchmarks) with its scalar metrics as columns."""
    df = library.runs()
    if df.empty:
        return df
    rows = []
    for r in df.to_dict("records"):
        metrics = json_cell(r.get("metrics"), {})
        config = json_cell(r.get("config"), {})
        flat = {"key": r["key"], "kind": r["kind"], "created_at": r["created_at"], "current": bool(r["is_current"]), "version": r["version"]}
        flat["config"] = ", ".join(f"{k}={v}" for k, v in config.items() if not isinstance(v, (dict, list))) if isinstance(config, dict) else str(config)
        for k, v in (_flatten(metrics).items() if isinstance(metrics, dict) else []):
            if isinstance(v, (int, float, str, bool)) or v is None:
                flat[k] = v
        rows.append(flat)
    return pd.DataFrame(rows)


def _flatten(d: dict, prefix: str = "", depth: int = 0) -> dict:
    out = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and depth < 1:
            out.update(_flatten(v, f"{name}.", depth + 1))
        elif not isinstance(v, (dict, list)):
            out[name] = v
    return out


def taxonomy_table(library) -> pd.DataFrame | None:
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
    """The tree as nested JSON: each node with its fields and its children."""
    nodes = nodes_frame(library)
    if nodes is None:
        return None
    by_parent: dict[Any, list] = {}
    for nid, pid in zip(nodes["id"], nodes["parent_id"]):
        by_parent.setdefault(pid, []).append(nid)
    levels = dict(zip(nodes["id"], nodes["level"]))

    def node(nid):
        n = nodes.loc[nid]
        return {"id": nid, "level": int(n["level"]), "label": n["label"], "description": n["description"],
                "keywords": list(n["keywords"]), "tags": n["tags"], "size": int(n["size"] or 0), "fidelity": _num(n["fidelity"]),
                "perf": n["perf"], "representatives": [_rep_id(r) for r in n["representatives"]],
                "children": [node(c) for c in by_parent.get(nid, [])]}

    tops = [nid for nid in nodes["id"] if levels[nid] == 1]
    return {"build_key": nodes.attrs.get("build_key"), "families": [node(t) for t in tops]}


def export_bytes(library, what: str, fmt: str) -> bytes:
    """Download payloads: what = taxonomy | assignments, fmt = csv | json."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown format {fmt!r}; valid: csv, json")
    if what == "taxonomy":
        if fmt == "json":
            tree = taxonomy_json(library)
            if tree is None:
                raise NotAvailable("No taxonomy yet: build one first.")
            return json.dumps(tree, indent=1, default=_json_default, ensure_ascii=False).encode("utf-8")
        df = taxonomy_table(library)
        if df is None:
            raise NotAvailable("No taxonomy yet: build one first.")
    elif what == "assignments":
        from .export import ads_table

        df = ads_table(library)
    else:
        raise ValueError(f"unknown export {what!r}; valid: taxonomy, assignments")
    if fmt == "csv":
        return df.to_csv(index=False).encode("utf-8")
    return df.to_json(orient="records", date_format="iso", indent=1, force_ascii=False).encode("utf-8")


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _md_cell(v, column: str = "") -> str:
    if isinstance(v, float) and column.startswith("share"):
        return f"{v:.0%}" if v in (0.0, 1.0) else f"{v:.1%}"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def node_brief(library, node_id: str, n_reps: int = 6) -> str:
    """A Markdown brief for one node: what it is, its evidence (tags with q-values), performance and
    representative ads — something a strategist can paste into a doc."""
    card = node_card(library, node_id)
    lines = [f"# {card['label']}", "", f"*{card['level_name'].capitalize()}* · `{card['id']}` · {card['size']} ads"
             + (f" · fidelity {card['fidelity']:.2f}" if card["fidelity"] is not None else ""), ""]
    if len(card["chain"]) > 1:
        lines += [f"**Path:** {card['path']}", ""]
    if card["description"]:
        lines += [card["description"], ""]
    if card["keywords"]:
        lines += ["**Keywords:** " + ", ".join(card["keywords"]), ""]
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
        lines += ["## Inside", ""] + [f"- **{c['label']}** ({c['size']} ads)" for c in card["children"]] + [""]
    reps = card["representatives"].head(n_reps)
    if len(reps):
        lines += ["## Representative ads", ""]
        for r in reps.itertuples(index=False):
            detail = library.execute("SELECT c.ocr_text FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE a.id = ?", [int(r.ad_id)]).fetchone()
            text = (detail[0] or "").strip().replace("\n", " ")
            extra = []
            if isinstance(r.headline, str) and r.headline:
                extra.append(f"headline “{r.headline}”")
            if text:
                extra.append(f"text “{text[:120]}{'…' if len(text) > 120 else ''}”")
            if r.ctr is not None and not (isinstance(r.ctr, float) and np.isnan(r.ctr)):
                extra.append(f"CTR {r.ctr:.2%}")
            lines.append(f"- `{r.file}` ({r.kind})" + (" — " + "; ".join(extra) if extra else ""))
        lines.append("")
    return "\n".join(lines)


def read_jsonl_queries(data: bytes) -> tuple[int, str | None]:
    """(number of queries, a friendly problem or None) for an uploaded benchmark file."""
    n = 0
    for i, line in enumerate(io.StringIO(data.decode("utf-8", errors="replace")), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except ValueError:
            return n, f"Line {i} is not valid JSON. Each line must be one object with 'query' and 'targets'."
        if not isinstance(q, dict) or "query" not in q or "targets" not in q:
            return n, f"Line {i} has no 'query' and 'targets'. Each line must be one object with both."
        n += 1
    if n == 0:
        return 0, "The file holds no queries."
    return n, None


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


def edit_node(library, action: str, node_id: str, **kw):
    """The user's edits of the current taxonomy: rename / merge / split, through core.taxonomy."""
    try:
        from . import taxonomy as tx
    except ModuleNotFoundError as e:
        raise NotAvailable("Editing the taxonomy is not available yet.") from e
    fn = getattr(tx, {"rename": "rename_node", "merge": "merge_nodes", "split": "split_node"}[action], None)
    if fn is None:
        raise NotAvailable(f"{action.capitalize()} is not available yet.")
    if action == "rename":
        return fn(library, node_id, kw["label"])
    if action == "merge":
        return fn(library, [node_id, *kw["others"]])
    return fn(library, node_id, kw.get("k", 2))
