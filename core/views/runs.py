"""Job rows and run records as the pages show them: recent jobs, the running one, one upload's report, build runs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from .. import jobs as jobs_table
from ..jobs import BUILD_SOURCE
from ..store import json_cell
from .runner import _live_job


def _job_dict(library, row: jobs_table.JobRow) -> dict[str, Any]:
    status = row.status
    if status == "running" and (_live_job(library.path) is None if row.pid == os.getpid() else not jobs_table.alive(row.pid)):
        status = "interrupted"  # its process (or this process's thread) is gone
    kind = ("build" if row.is_build else "refresh" if row.is_refresh
            else "sample" if "sample-seed" in (row.source or "") else "ingest")
    return {"id": row.id, "source": row.source, "name": Path(row.source).name if kind != "build" else BUILD_SOURCE,
            "kind": kind, "status": status, "stage": row.stage, "total": row.total, "done": row.done,
            "started_at": row.started_at, "updated_at": row.updated_at, "summary": row.summary, "error": row.summary.get("error")}


def jobs(library, limit: int = 20) -> list[dict[str, Any]]:
    return [_job_dict(library, r) for r in jobs_table.latest(library, limit)]


def job(library, job_id: int) -> dict[str, Any] | None:
    row = jobs_table.get(library, job_id)
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


REPORT_ROWS = 500


def job_report(library, job_id: int) -> dict[str, Any]:
    """What one ingest added, what it skipped and why (errors and notices), and its metadata warnings."""
    j = job(library, job_id)
    if j is None:
        raise KeyError(f"no job {job_id}")
    added = library.query_df(
        """SELECT a.id AS ad_id, a.file, c.kind, a.headline, a.format, a.campaign
           FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE a.job_id = ? ORDER BY a.id""", [job_id])
    # A hostile CSV can leave 100k+ warning rows: the page reads the first REPORT_ROWS of each kind and the totals.
    skipped = library.query_df(
        """SELECT file, reason, message FROM errors WHERE job_id = ? AND severity <> 'warning'
           ORDER BY id LIMIT ?""", [job_id, REPORT_ROWS])
    warnings = library.query_df(
        """SELECT file, row_number AS row, message FROM errors WHERE job_id = ? AND severity = 'warning'
           ORDER BY id LIMIT ?""", [job_id, REPORT_ROWS])
    totals = dict(library.execute(
        """SELECT severity = 'warning', count(*) FROM errors WHERE job_id = ? GROUP BY 1""", [job_id]).fetchall())
    s = j["summary"]
    build = jobs_table.build_after(library, job_id)
    build = None if build is None else _job_dict(library, build)
    return {"job": j, "added": added, "skipped": skipped, "warnings": warnings, "build": build,
            "skipped_total": int(totals.get(False, 0)), "warnings_total": int(totals.get(True, 0)),
            "counts": {k: s.get(k) for k in ("files_seen", "ads_added", "creatives_added", "already_present", "duplicates", "seconds",
                                             "creatives", "refreshed", "changed_words", "documents_changed")}}


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
