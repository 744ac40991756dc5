"""Upload retention: uploaded zips and CSVs are copies of what people sent, not the library.

Ingest copies every creative into media/ and every metadata row into the database, so old uploads
only take disk. ``prune_uploads`` deletes the files the app saved under uploads/ (named
YYYYMMDD-HHMMSS-name) that are older than ``keep_days``, always keeping the newest ``keep_last``.
Settings: CTE_UPLOAD_KEEP_DAYS (default 30; 0 keeps everything) and CTE_UPLOAD_KEEP_LAST (default 10).
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

_SAVED = re.compile(r"^\d{8}-\d{6}-.+")   # what views.save_upload writes; folders (the sample's source) are never touched


def retention_settings() -> tuple[int, int]:
    def env_int(name: str, default: int) -> int:
        try:
            return max(0, int(os.environ.get(name, default)))
        except ValueError:
            return default

    return env_int("CTE_UPLOAD_KEEP_DAYS", 30), env_int("CTE_UPLOAD_KEEP_LAST", 10)


def prune_uploads(library_path: str | os.PathLike, keep_days: int | None = None, keep_last: int | None = None,
                  now: float | None = None) -> list[Path]:
    """Delete saved uploads older than keep_days (newest keep_last always kept); returns what went."""
    days, last = retention_settings()
    keep_days = days if keep_days is None else keep_days
    keep_last = last if keep_last is None else keep_last
    folder = Path(library_path) / "uploads"
    if keep_days <= 0 or not folder.is_dir():
        return []
    saved = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink() and _SAVED.match(p.name)
             and not p.name.endswith(".part")]
    saved.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    cutoff = (now or time.time()) - keep_days * 86400
    gone = []
    for p in saved[keep_last:]:
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
                gone.append(p)
        except OSError:
            continue  # in use or already gone: next time
    return gone
