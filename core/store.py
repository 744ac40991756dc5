"""The library on disk: one DuckDB file (metadata, signals, jobs, taxonomy builds) and beside it
FAISS index files, thumbnails and the media themselves (stored by content hash).

`Library` owns the database connection (like Datasette's `Database`): every other module asks
it for rows and never opens the file itself. Vectors are written in the same transaction as
the creative they belong to, so an ingest killed at any moment leaves either the whole creative
or nothing; the FAISS files are derived from those rows (see `core.vectors`).
"""
from __future__ import annotations

import json
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

SCHEMA_VERSION = 1
DB_NAME = "library.duckdb"
TREE_REVISION_KEY = "tree_revision"   # meta row bumped by every taxonomy write (persist.write_tree); search keys on it
BUMP_TREE_REVISION = f"""INSERT INTO meta VALUES ('{TREE_REVISION_KEY}', '1') ON CONFLICT (key)
                         DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS VARCHAR)"""
BACKUP_NAME = DB_NAME + ".bak"   # the last good copy, taken before each ingest and build (core.check restores it)

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS seq_creative START 1;
CREATE SEQUENCE IF NOT EXISTS seq_ad START 1;
CREATE SEQUENCE IF NOT EXISTS seq_job START 1;
CREATE SEQUENCE IF NOT EXISTS seq_error START 1;
CREATE SEQUENCE IF NOT EXISTS seq_edit START 1;
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS creatives (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_creative'),
    sha256 VARCHAR UNIQUE NOT NULL,
    kind VARCHAR NOT NULL,              -- image | video
    media_path VARCHAR NOT NULL,        -- relative to the library folder
    thumb_path VARCHAR,
    ext VARCHAR,
    bytes BIGINT,
    width INTEGER, height INTEGER,
    frames INTEGER,                     -- GIF/WebP frame count, video frame estimate
    duration_s DOUBLE, fps DOUBLE,      -- videos
    -- each signal's columns (phash, colors, ocr_text, labels, layout_words, …) are added by
    -- Library.ensure_signal_columns from core.signals.base
    extra JSON,                         -- video pacing, keyframes ...
    visual FLOAT[],                     -- pooled visual embedding (L2-normalised)
    label_vec FLOAT[],                  -- probability-weighted text embedding of the labels
    visual_model VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS ads (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_ad'),
    file VARCHAR NOT NULL,              -- path relative to the source root
    creative_id INTEGER NOT NULL,
    source VARCHAR,
    meta_key VARCHAR NOT NULL DEFAULT '',  -- distinguishes metadata rows of one file
    headline VARCHAR, copy VARCHAR, cta VARCHAR,
    tags VARCHAR[],
    format VARCHAR, placement VARCHAR, campaign VARCHAR,
    date DATE, end_date DATE,
    spend DOUBLE, impressions DOUBLE, clicks DOUBLE, conversions DOUBLE, revenue DOUBLE, ctr DOUBLE,
    document VARCHAR,                   -- copy + OCR + tags + labels + colour words: what text search sees
    text_vec FLOAT[],
    job_id INTEGER,
    added_at TIMESTAMP DEFAULT current_timestamp,
    UNIQUE (file, creative_id, meta_key)
);
CREATE TABLE IF NOT EXISTS attributes (ad_id INTEGER NOT NULL, key VARCHAR NOT NULL, value VARCHAR, PRIMARY KEY (ad_id, key));
CREATE TABLE IF NOT EXISTS ocr_boxes (creative_id INTEGER NOT NULL, idx INTEGER NOT NULL, text VARCHAR, score DOUBLE,
    x0 DOUBLE, y0 DOUBLE, x1 DOUBLE, y1 DOUBLE, t_s DOUBLE, PRIMARY KEY (creative_id, idx));
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_job'),
    source VARCHAR, status VARCHAR,     -- running | done | failed | interrupted
    stage VARCHAR, total INTEGER DEFAULT 0, done INTEGER DEFAULT 0,
    pid INTEGER, started_at TIMESTAMP DEFAULT current_timestamp, updated_at TIMESTAMP DEFAULT current_timestamp,
    summary JSON
);
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_error'),
    job_id INTEGER, file VARCHAR, row_number INTEGER, reason VARCHAR, message VARCHAR, severity VARCHAR DEFAULT 'error',
    created_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS nodes (
    build_key VARCHAR NOT NULL, id VARCHAR NOT NULL,      -- ids like 'f3', 'f3.s1', 'f3.s1.m2'
    parent_id VARCHAR, level INTEGER NOT NULL,            -- 0 root, 1 family, 2 sub-cluster, 3 micro-pattern
    label VARCHAR, keywords JSON, description VARCHAR, tags JSON,
    representatives JSON, rep_strategy VARCHAR, rep_trace JSON,
    fidelity DOUBLE, size INTEGER, x DOUBLE, y DOUBLE, perf JSON,
    text_centroid FLOAT[], label_vec FLOAT[],
    PRIMARY KEY (build_key, id)
);
CREATE TABLE IF NOT EXISTS assignments (
    build_key VARCHAR NOT NULL, ad_id INTEGER NOT NULL,
    family_id VARCHAR, leaf_id VARCHAR, node_path VARCHAR, is_outlier BOOLEAN DEFAULT false,
    x DOUBLE, y DOUBLE,
    PRIMARY KEY (build_key, ad_id)
);
CREATE TABLE IF NOT EXISTS node_edits (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_edit'), kind VARCHAR, payload JSON,
    created_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS ocr_vectors (      -- derived cache: sentence embeddings of OCR text (taxonomy variant linking)
    text_hash VARCHAR NOT NULL, model VARCHAR NOT NULL, vec FLOAT[], PRIMARY KEY (text_hash, model)
);
CREATE TABLE IF NOT EXISTS runs (
    key VARCHAR PRIMARY KEY, kind VARCHAR, version INTEGER, config JSON, metrics JSON,
    created_at TIMESTAMP DEFAULT current_timestamp, is_current BOOLEAN DEFAULT false
);
"""


@contextmanager
def registered(cur, name: str, table) -> Iterator[None]:
    """An Arrow table or DataFrame visible to SQL on `cur` as `name` for the block."""
    cur.register(name, table)
    try:
        yield
    finally:
        cur.unregister(name)


def json_cell(v, default):
    """A JSON column's value as Python: DuckDB hands back text (or NaN/None through pandas)."""
    if v is None or (isinstance(v, float) and v != v):
        return default
    if isinstance(v, (dict, list)):
        return v
    try:
        return json.loads(v)
    except (TypeError, ValueError):
        return default


def json_default(o):
    """numpy values as JSON (NaN → null): the one encoder for run records, the tree's JSON and its stored columns."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


class LibraryError(RuntimeError):
    """A library that cannot be opened or written; the message says what happened and what to do."""


def _process_name(pid: str) -> str:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        text = " ".join(a.decode("utf-8", "replace") for a in args if a)
        return text if len(text) <= 120 else text[:119] + "…"
    except OSError:
        return ""


def open_error(path: Path, exc: BaseException) -> LibraryError:
    """One sentence for why a library could not be opened or written, and what to do."""
    text = str(exc)
    first = text.splitlines()[0] if text else type(exc).__name__
    lock = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", text)
    if lock:
        who = _process_name(lock.group(2)) or lock.group(1)
        return LibraryError(
            f"The library {path} is in use by another process (PID {lock.group(2)}: {who}). DuckDB lets one process "
            "write a library or several read it, not both at once: wait for that ingest or build to finish, or stop "
            "it (for the app: stop `streamlit run app.py`), then try again.")
    if isinstance(exc, PermissionError) or re.search(r"Permission denied|Read-only file system", text):
        return LibraryError(f"Cannot write to the library folder {path} ({first}); make it writable, or use commands "
                            "that only read it (info, search, tree, export).")
    if re.search(r"not a valid DuckDB database|Could not read enough bytes|[Cc]orrupt|checksum|"
                 r"Serialization Error|Invalid Input Error: .*database", text):
        return LibraryError(f"The library database {path / DB_NAME} is damaged ({first}); run "
                            f"`python -m core check --library {path} --repair` to restore the last good copy "
                            "(taken before each ingest and build).")
    return LibraryError(f"The library {path} could not be opened ({first}); run "
                        f"`python -m core check --library {path}` to see what is wrong.")


def require_library(path: str | os.PathLike) -> None:
    """FileNotFoundError unless `path` holds a library (what only reading it needs: ingest creates one)."""
    path = Path(path).resolve()
    if not (path / DB_NAME).exists():
        raise FileNotFoundError(f"no library at {path} (no {DB_NAME}); run `python -m core ingest` or `python -m core demo` first")


class Library:
    """A library folder. Thread-safe: each thread gets its own cursor on one connection."""

    def __init__(self, path: str | os.PathLike, read_only: bool = False):
        import duckdb

        self.path = Path(path).resolve()
        self.read_only = read_only
        if read_only:
            require_library(self.path)
        try:
            if not read_only:
                for sub in ("media", "thumbs", "vectors", "uploads"):
                    (self.path / sub).mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(self.path / DB_NAME), read_only=read_only)
        except (OSError, duckdb.Error) as exc:
            raise open_error(self.path, exc) from exc
        self._local = threading.local()
        self._write_lock = threading.RLock()
        if not read_only:
            try:
                self._con.execute(SCHEMA)
                self.ensure_signal_columns()
                self.set_meta("schema_version", str(SCHEMA_VERSION))
            except duckdb.Error as exc:
                self._con.close()
                raise open_error(self.path, exc) from exc

    def ensure_signal_columns(self) -> None:
        """Every registered signal's columns on `creatives` (NULL for creatives analysed before it existed)."""
        from .signals.base import columns

        for col in columns():
            self.execute(f"ALTER TABLE creatives ADD COLUMN IF NOT EXISTS {col.name} {col.sql_type}")
        # which version of the signals read the creative (signals.base.READS_VERSION; NULL: before versions)
        self.execute("ALTER TABLE creatives ADD COLUMN IF NOT EXISTS reads_version INTEGER")

    def signal_columns(self) -> list[str]:
        """The registered signals' columns this library has (a read-only library may lack a new signal's)."""
        from .signals.base import columns

        have = {r[0] for r in self.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'creatives'").fetchall()}
        return [c.name for c in columns() if c.name in have]

    # -- connections -------------------------------------------------------------------------
    @property
    def con(self):
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self._con.cursor()
        return cur

    def execute(self, sql: str, params: Any = None):
        return self.con.execute(sql, params or [])

    def query_df(self, sql: str, params: Any = None):
        return self.con.execute(sql, params or []).df()

    def scalar(self, sql: str, params: Any = None):
        cur = self.con
        row = cur.execute(sql, params or []).fetchone()
        cur.fetchall()   # an unread rest keeps this cursor's transaction open, and another thread's CHECKPOINT (backup) fails
        return None if row is None else row[0]

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._write_lock:
            cur = self.con
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        self._con.close()

    def backup(self) -> Path | None:
        """Keep a last good copy of the database (BACKUP_NAME): a CHECKPOINT writes everything into the
        file, then a copy + rename, so a kill mid-copy leaves the previous copy whole."""
        if self.read_only:
            return None
        import shutil

        target = self.path / BACKUP_NAME
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        import duckdb

        with self._write_lock:
            try:
                self.execute("CHECKPOINT")
                shutil.copyfile(self.path / DB_NAME, tmp)
                os.replace(tmp, target)
            except (OSError, duckdb.Error) as exc:  # a full disk or a busy writer must not stop the work itself
                import warnings

                tmp.unlink(missing_ok=True)
                warnings.warn(f"could not keep a backup of {self.path / DB_NAME} ({exc})", RuntimeWarning)
                return None
        return target

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- meta ----------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        v = self.scalar("SELECT value FROM meta WHERE key = ?", [key])
        return default if v is None else v

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    # -- files ---------------------------------------------------------------------------------
    def media_rel_path(self, sha256: str, ext: str) -> str:
        return f"media/{sha256[:2]}/{sha256}{ext}"

    def abspath(self, rel: str | None) -> Path | None:
        return None if not rel else self.path / rel

    def write_file_atomic(self, rel: str, data: bytes) -> Path:
        """Write under the library folder only: tmp + rename so a kill never leaves half a file."""
        target = (self.path / rel).resolve()
        if self.path not in target.parents:
            raise ValueError(f"refusing to write outside the library: {rel}")
        if target.exists() and target.stat().st_size == len(data):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return target

    # -- reads used across the engine ------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        row = self.execute(
            "SELECT (SELECT count(*) FROM ads), (SELECT count(*) FROM creatives), "
            "(SELECT count(*) FROM creatives WHERE kind = 'video'), (SELECT count(*) FROM errors WHERE severity = 'error')"
        ).fetchone()
        return {"ads": row[0], "creatives": row[1], "videos": row[2], "errors": row[3]}

    def older_reads(self) -> int:
        """Creatives read by an earlier version of the signals (signals.base.READS_VERSION): `refresh` gives
        them this version's words. A read-only library from before versions has no such column: all of them."""
        from .signals.base import READS_VERSION

        if "reads_version" not in {r[0] for r in self.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'creatives'").fetchall()}:
            return self.scalar("SELECT count(*) FROM creatives") or 0
        return self.scalar("SELECT count(*) FROM creatives WHERE reads_version IS NULL OR reads_version < ?", [READS_VERSION]) or 0

    def creative_by_sha(self, sha: str) -> int | None:
        return self.scalar("SELECT id FROM creatives WHERE sha256 = ?", [sha])

    def ad_keys(self) -> set[tuple[str, str, str]]:
        """(file, sha256, meta_key) of every ad: what makes re-ingesting a source add nothing."""
        rows = self.execute("SELECT a.file, c.sha256, a.meta_key FROM ads a JOIN creatives c ON c.id = a.creative_id").fetchall()
        return {tuple(r) for r in rows}

    def ad_vectors(self, column: str = "text_vec") -> tuple[np.ndarray, np.ndarray]:
        """(ad ids, float32 matrix) for an ad-level vector column, ordered by ad id."""
        if column not in ("text_vec",):
            raise ValueError(column)
        rows = self.execute(f"SELECT id, {column} FROM ads WHERE {column} IS NOT NULL ORDER BY id").fetchall()
        return _stack(rows)

    def creative_vectors(self, column: str = "visual") -> tuple[np.ndarray, np.ndarray]:
        if column not in ("visual", "label_vec"):
            raise ValueError(column)
        rows = self.execute(f"SELECT id, {column} FROM creatives WHERE {column} IS NOT NULL ORDER BY id").fetchall()
        return _stack(rows)

    def ads_frame(self):
        """One row per ad with its creative's signals (no vectors): the engine's working table."""
        signal_cols = "".join(f", c.{name}" for name in self.signal_columns())
        return self.query_df(
            f"""SELECT a.id AS ad_id, a.file, a.creative_id, a.headline, a.copy, a.cta, a.tags, a.format, a.placement,
                      a.campaign, a.date, a.end_date, a.spend, a.impressions, a.clicks, a.conversions, a.revenue, a.ctr,
                      a.document, c.sha256, c.kind, c.media_path, c.thumb_path, c.width, c.height, c.frames,
                      c.duration_s, c.extra{signal_cols}
               FROM ads a JOIN creatives c ON c.id = a.creative_id ORDER BY a.id"""
        )

    def attributes_frame(self):
        return self.query_df("SELECT ad_id, key, value FROM attributes ORDER BY ad_id, key")

    # -- run records (every build is one) ------------------------------------------------------------
    def record_run(self, key: str, kind: str, version: int, config: dict, metrics: dict, make_current: bool = True) -> None:
        with self.transaction() as cur:
            if make_current:
                cur.execute("UPDATE runs SET is_current = false WHERE kind = ?", [kind])
            cur.execute(
                "INSERT OR REPLACE INTO runs (key, kind, version, config, metrics, is_current) VALUES (?, ?, ?, ?, ?, ?)",
                [key, kind, version, json.dumps(config, sort_keys=True, default=str), json.dumps(metrics, default=json_default), make_current],
            )

    def current_run(self, kind: str) -> dict | None:
        """The current run record of a kind (taxonomy builds: core.taxonomy.persist.RUN_KIND)."""
        row = self.execute("SELECT key, version, config, metrics, created_at FROM runs WHERE kind = ? AND is_current", [kind]).fetchone()
        if row is None:
            return None
        return {"key": row[0], "version": row[1], "config": json.loads(row[2]), "metrics": json.loads(row[3]), "created_at": str(row[4])}

    def runs(self, kind: str | None = None):
        if kind is None:
            return self.query_df("SELECT * FROM runs ORDER BY created_at DESC")
        return self.query_df("SELECT * FROM runs WHERE kind = ? ORDER BY created_at DESC", [kind])


def _stack(rows) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return ids, np.asarray([r[1] for r in rows], dtype=np.float32)
