"""The one owner of the `jobs` table: start a row, write its progress (throttled), finish it, read rows, reap dead ones.

A row is a piece of work a person may wait for: an ingest (its source path) or a taxonomy build
(source `BUILD_SOURCE`). Whoever starts a row gets its id and passes it on; nobody looks a row up
by guessing. `RowProgress` is the progress callback that keeps a row current: the ingest wraps the
callback it was given in one, so any page, in any process, follows the job from the table.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from .store import json_cell

BUILD_SOURCE = "taxonomy build"
REFRESH_SOURCE = "refresh"     # core.refresh: stored ads analysed again
Progress = Callable[[str, int, int], None]
_COLUMNS = "id, source, status, stage, total, done, pid, started_at, updated_at, summary"


@dataclass
class JobRow:
    id: int
    source: str
    status: str            # running | done | failed | interrupted
    stage: str
    total: int
    done: int
    pid: int | None
    started_at: Any
    updated_at: Any
    summary: dict

    @property
    def is_build(self) -> bool:
        return self.source == BUILD_SOURCE

    @property
    def is_refresh(self) -> bool:
        return self.source == REFRESH_SOURCE


def alive(pid: int | None) -> bool:
    """Is that process still there."""
    if pid is None:
        return False
    try:
        os.kill(int(pid), 0)
        return True
    except OSError:
        return False


def reap_dead(library) -> int:
    """Rows left 'running' by a process that is gone (or by this process, which is starting anew) were
    killed: say so. Returns how many rows changed."""
    stale = [jid for jid, pid in library.execute("SELECT id, pid FROM jobs WHERE status = 'running'").fetchall()
             if pid is None or pid == os.getpid() or not alive(pid)]
    for jid in stale:
        library.execute("UPDATE jobs SET status = 'interrupted', updated_at = current_timestamp WHERE id = ?", [jid])
    return len(stale)


def start(library, source: str, stage: str, summary: dict | None = None) -> int:
    """A new running row of this process (after reaping dead ones); returns its id."""
    reap_dead(library)
    return library.execute("INSERT INTO jobs (source, status, stage, pid, summary) VALUES (?, 'running', ?, ?, ?) RETURNING id",
                           [source, stage, os.getpid(), json.dumps(summary) if summary is not None else None]).fetchone()[0]


def update(library, job_id: int, stage: str, done: int, total: int) -> None:
    library.execute("UPDATE jobs SET stage = ?, done = ?, total = ?, updated_at = current_timestamp WHERE id = ? AND status = 'running'",
                    [stage, int(done), int(total), job_id])


def finish(library, job_id: int, status: str, summary: dict) -> None:
    """Final status (done | failed | interrupted) and summary; the stage says the status too."""
    library.execute("UPDATE jobs SET status = ?, stage = ?, summary = ?, updated_at = current_timestamp WHERE id = ?",
                    [status, status, json.dumps(summary, default=str), job_id])


def record_error(library, job_id: int, file: str, reason: str, message: str, *,
                 row: int | None = None, severity: str = "error") -> None:
    """One per-file row of a job's report (the upload reports list them with the job)."""
    library.execute("INSERT INTO errors (job_id, file, row_number, reason, message, severity) VALUES (?, ?, ?, ?, ?, ?)",
                    [job_id, file, row, reason, message, severity])


class RowProgress:
    """A progress callback that writes to one row — at every stage change, at the end of a stage and at
    most every `every_s` in between — and forwards every call to `forward`."""

    def __init__(self, library, job_id: int, forward: Progress | None = None, every_s: float = 0.3):
        self.library, self.job_id, self.forward, self.every_s = library, job_id, forward, every_s
        self._stage: str | None = None
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self._stage or now - self._last >= self.every_s or (total and done >= total):
            self._stage, self._last = stage, now
            update(self.library, self.job_id, stage, done, total)
        if self.forward is not None:
            self.forward(stage, done, total)


def _row(r) -> JobRow:
    jid, source, status, stage, total, done, pid, started, updated, summary = r
    return JobRow(jid, source, status, stage, total or 0, done or 0, pid, started, updated, json_cell(summary, {}))


def get(library, job_id: int) -> JobRow | None:
    r = library.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", [job_id]).fetchone()
    return None if r is None else _row(r)


def latest(library, limit: int = 20) -> list[JobRow]:
    """The newest rows first."""
    return [_row(r) for r in library.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?", [limit]).fetchall()]


def build_after(library, job_id: int) -> JobRow | None:
    """The taxonomy build started for an ingest's job, if any."""
    r = library.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id > ? AND source = ? ORDER BY id LIMIT 1", [job_id, BUILD_SOURCE]).fetchone()
    row = None if r is None else _row(r)
    return row if row is not None and row.summary.get("after_job") == job_id else None
