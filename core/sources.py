"""Enumerate an upload SOURCE (a folder or a ``.zip``) without trusting it.

``open_source`` only reads: it never extracts, never follows symlinks and never
writes to disk.  Everything it refuses comes back as a ``SkippedEntry`` with a
short reason code and a sentence a person can act on; accepted files come back as
``SourceEntry`` objects whose bytes are read lazily, and capped, by ``read_bytes``.

Reason codes: path_traversal, absolute_path, symlink, nested_zip, too_large,
zip_bomb_ratio, too_many_files, unsupported_type, total_size_exceeded, encrypted,
unreadable_zip, hidden_or_system, duplicate_name, unreadable_file.
"""
from __future__ import annotations

import lzma
import os
import re
import stat
import struct
import threading
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO, Callable

from core.limits import DEFAULT_LIMITS, IngestLimits

MEDIA_KINDS = {
    ".jpg": "image", ".jpeg": "image", ".png": "image", ".gif": "image", ".webp": "image",
    ".bmp": "image", ".tif": "image", ".tiff": "image",
    ".mp4": "video", ".mov": "video", ".webm": "video", ".m4v": "video",
}
_KINDS = {**MEDIA_KINDS, ".csv": "csv"}
_SYSTEM_NAMES = {"__macosx", "thumbs.db", "desktop.ini", "$recycle.bin", "system volume information"}
_DRIVE = re.compile(r"^[A-Za-z]:")
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
# Small files legitimately compress extremely well (a flat-colour BMP, a blank CSV);
# the ratio guard is for entries big enough to hurt.
_RATIO_MIN_BYTES = 1024**2
_ZIP_READ_ERRORS = (zipfile.BadZipFile, OSError, EOFError, zlib.error, lzma.LZMAError,
                    RuntimeError, ValueError, NotImplementedError)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# A zip declaring this many times max_files entries is refused whole, before it is parsed.
_ENTRY_COUNT_FACTOR = 10
_EOCD_SEARCH_BYTES = 22 + 65_535  # the end record plus the longest possible zip comment

_MESSAGES = {
    "path_traversal": "Skipped '{name}': its path climbs out of the upload with '..'; "
                      "re-create the zip from the folder itself.",
    "absolute_path": "Skipped '{name}': it is stored with an absolute path; "
                     "re-create the zip with relative paths.",
    "symlink": "Skipped '{name}': it is a symbolic link, and links are not followed; "
               "include the real file instead.",
    "nested_zip": "Skipped '{name}': zip files inside a {container} are not opened; upload it separately.",
    "too_large": "Skipped '{name}': it is {size}, over the {limit} per-file limit; "
                 "compress or shorten it and upload again.",
    "zip_bomb_ratio": "Skipped '{name}': it expands {ratio:,.0f}x when unzipped (limit {limit:,.0f}x), "
                      "which looks like a zip bomb; upload the file directly.",
    "too_many_files": "Skipped '{name}': the upload has more than {limit:,} files; "
                      "split it into smaller uploads.",
    "unsupported_type": "Skipped '{name}': {what} is not supported; upload images (JPG, PNG, GIF, "
                        "WebP, BMP, TIFF), videos (MP4, MOV, WebM, M4V) or CSV metadata.",
    "total_size_exceeded": "Skipped '{name}': the upload is over the {limit} total limit; "
                           "split it into smaller uploads.",
    "encrypted": "Skipped '{name}': it is password-protected; re-create the zip without a password.",
    "unreadable_zip": "Skipped '{name}': it could not be read as a zip ({detail}); "
                      "re-create the zip and upload again.",
    "hidden_or_system": "Skipped '{name}': hidden or system item (e.g. macOS or Windows metadata); "
                        "nothing to do.",
    "duplicate_name": "Skipped '{name}': an earlier file in the upload has the same name and was kept; "
                      "rename one of them to keep both.",
    "unreadable_file": "Skipped '{name}': it could not be read ({detail}); check that it exists "
                       "and is readable.",
}


class SourceError(Exception):
    """A source entry could not be read; ``code`` uses the SkippedEntry reason vocabulary."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SourceEntry:
    rel_path: str  # posix, relative to the source root, NFC
    kind: str  # "image" | "video" | "csv"
    size: int  # declared size in bytes
    _read: Callable[[], bytes] = field(repr=False, compare=False)

    def read_bytes(self) -> bytes:
        """The entry's bytes; raises SourceError if unreadable or bigger than the per-file limit."""
        return self._read()


@dataclass
class SkippedEntry:
    rel_path: str
    reason: str
    message: str


def open_source(path: str | os.PathLike, limits: IngestLimits = DEFAULT_LIMITS,
                ) -> tuple[list[SourceEntry], list[SkippedEntry]]:
    """List the usable files of a folder or a zip, sorted by rel_path, plus what was skipped and why.

    Never raises on hostile or broken content: a corrupt zip is a single "unreadable_zip" skip.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    scan = _scan_folder if path.is_dir() else _scan_zip
    entries, skipped = scan(path, limits)
    return _apply_upload_limits(entries, skipped, limits)


def _skip(rel_path: str, reason: str, **details: object) -> SkippedEntry:
    """Build a SkippedEntry whose message names the file and says what to do."""
    return SkippedEntry(rel_path, reason, _MESSAGES[reason].format(name=rel_path, **details))


# --- zip ---------------------------------------------------------------------------------------

class _ZipArchive:
    """One lazily opened handle shared by all entries: re-opening would re-parse the directory per read."""

    def __init__(self, path: Path):
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._lock = threading.Lock()

    def read(self, info: zipfile.ZipInfo, rel_path: str, cap: int) -> bytes:
        # Open by ZipInfo, not name: with duplicate names, zipfile's name lookup returns the last one.
        with self._lock:
            try:
                if self._zip is None:
                    self._zip = zipfile.ZipFile(self.path)
                with self._zip.open(info) as member:
                    return _read_capped(member, rel_path, cap)
            except _ZIP_READ_ERRORS as exc:
                raise SourceError("unreadable_zip", f"Could not read '{rel_path}' from the zip ({exc}); "
                                                    "re-create the zip and upload again.") from exc


def precheck_zip(path: str | os.PathLike, limits: IngestLimits = DEFAULT_LIMITS) -> str | None:
    """One sentence when a zip cannot be ingested at all, from its end record alone (cheap, whatever
    the zip declares): the app asks this before parsing the central directory itself."""
    try:
        count = _declared_entry_count(Path(path))
    except OSError as exc:
        return f"The zip could not be read ({exc}); upload it again."
    if count > _ENTRY_COUNT_FACTOR * limits.max_files:
        return (f"The zip declares {count:,} entries, far over the {limits.max_files:,}-file limit; "
                "split it into smaller uploads.")
    return None


def _scan_zip(path: Path, limits: IngestLimits) -> tuple[list[SourceEntry], list[SkippedEntry]]:
    try:
        if _declared_entry_count(path) > _ENTRY_COUNT_FACTOR * limits.max_files:
            return [], [_skip(path.name, "too_many_files", limit=limits.max_files)]
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except _ZIP_READ_ERRORS as exc:
        return [], [_skip(path.name, "unreadable_zip", detail=exc)]
    archive = _ZipArchive(path)
    entries: list[SourceEntry] = []
    skipped: list[SkippedEntry] = []
    for info in infos:
        if info.is_dir():
            continue
        name = _zip_member_name(info)
        unsafe = _unsafe_path_reason(name)
        if unsafe:
            skipped.append(_skip(name, unsafe))
            continue
        rel_path = _clean_rel_path(name)
        problem = _hidden_reason(rel_path) or _zip_member_problem(info, rel_path, limits)
        if problem:
            skipped.append(problem)
        else:
            read = partial(archive.read, info, rel_path, limits.max_file_bytes)
            entries.append(SourceEntry(rel_path, _KINDS[_ext(rel_path)], info.file_size, read))
    return entries, skipped


def _declared_entry_count(path: Path) -> int:
    """The entry count in the end-of-central-directory record (0 if absent), read before zipfile
    builds one object per entry: a small zip can declare millions of entries."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - _EOCD_SEARCH_BYTES))
        tail = f.read()
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or end + 12 > len(tail):
        return 0
    (count,) = struct.unpack_from("<H", tail, end + 10)
    zip64_end = tail.rfind(b"PK\x06\x06", 0, end)
    if count == 0xFFFF and 0 <= zip64_end <= len(tail) - 40:  # Zip64 keeps the real count there
        (count,) = struct.unpack_from("<Q", tail, zip64_end + 32)
    return count


def _zip_member_name(info: zipfile.ZipInfo) -> str:
    """Names without the UTF-8 flag are decoded by zipfile as cp437, but most such zips hold UTF-8 bytes."""
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeDecodeError:
        return info.filename


def _zip_member_problem(info: zipfile.ZipInfo, rel_path: str, limits: IngestLimits) -> SkippedEntry | None:
    if stat.S_ISLNK(info.external_attr >> 16):
        return _skip(rel_path, "symlink")
    if info.flag_bits & _ENCRYPTED_FLAG:
        return _skip(rel_path, "encrypted")
    if info.compress_type not in _READABLE_METHODS:
        return _skip(rel_path, "unreadable_zip", detail=f"compression method {info.compress_type}")
    problem = _type_problem(rel_path, container="zip") or _size_problem(rel_path, info.file_size, limits)
    if problem:
        return problem
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= _RATIO_MIN_BYTES and ratio > limits.max_ratio:
        return _skip(rel_path, "zip_bomb_ratio", ratio=ratio, limit=limits.max_ratio)
    return None


def _unsafe_path_reason(name: str) -> str | None:
    # Backslashes are separators to Windows tools, so "..\\x" and "C:\\x" are as dangerous as "../x".
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        return "absolute_path"
    if ".." in posix.split("/"):
        return "path_traversal"
    return None


def _clean_rel_path(name: str) -> str:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return unicodedata.normalize("NFC", "/".join(parts))


# --- folder ------------------------------------------------------------------------------------

def _scan_folder(root: Path, limits: IngestLimits) -> tuple[list[SourceEntry], list[SkippedEntry]]:
    entries: list[SourceEntry] = []
    skipped: list[SkippedEntry] = []
    pending = [(root, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as listing:
                items = sorted(listing, key=lambda item: item.name)
        except OSError as exc:
            skipped.append(_skip(prefix.rstrip("/") or root.name, "unreadable_file", detail=exc.strerror))
            continue
        for item in items:
            rel_path = unicodedata.normalize("NFC", prefix + item.name)
            if item.is_dir(follow_symlinks=False):
                if hidden := _hidden_reason(rel_path):
                    skipped.append(hidden)  # one skip for the whole folder, not one per file in it
                else:
                    pending.append((Path(item.path), rel_path + "/"))
                continue
            entry_or_skip = _folder_file(item, rel_path, limits)
            (entries if isinstance(entry_or_skip, SourceEntry) else skipped).append(entry_or_skip)
    return entries, skipped


def _folder_file(item: os.DirEntry, rel_path: str, limits: IngestLimits) -> SourceEntry | SkippedEntry:
    if hidden := _hidden_reason(rel_path):
        return hidden
    if item.is_symlink():
        return _skip(rel_path, "symlink")
    if not item.is_file(follow_symlinks=False):  # FIFOs, sockets, devices: reading could block forever
        return _skip(rel_path, "unsupported_type", what="a special file (not a regular file)")
    try:
        size = item.stat(follow_symlinks=False).st_size
    except OSError as exc:
        return _skip(rel_path, "unreadable_file", detail=exc.strerror)
    problem = _type_problem(rel_path, container="folder") or _size_problem(rel_path, size, limits)
    if problem:
        return problem
    read = partial(_read_file, item.path, rel_path, limits.max_file_bytes)
    return SourceEntry(rel_path, _KINDS[_ext(rel_path)], size, read)


def _read_file(path: str, rel_path: str, cap: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW)  # it may have become a symlink since the scan
        with os.fdopen(fd, "rb") as f:
            return _read_capped(f, rel_path, cap)
    except OSError as exc:
        raise SourceError("unreadable_file", f"Could not read '{rel_path}' ({exc.strerror}); "
                                             "check that it exists and is readable.") from exc


# --- shared ------------------------------------------------------------------------------------

def _read_capped(f: BinaryIO, rel_path: str, cap: int) -> bytes:
    """Read at most ``cap`` bytes; count what actually arrives, since declared sizes can lie."""
    data = f.read(cap + 1)
    if len(data) > cap:
        raise SourceError("too_large", f"'{rel_path}' is larger than the {_fmt_bytes(cap)} per-file limit; "
                                       "compress or shorten it and upload again.")
    return data


def _ext(rel_path: str) -> str:
    return os.path.splitext(rel_path)[1].lower()


def _hidden_reason(rel_path: str) -> SkippedEntry | None:
    parts = rel_path.split("/")
    if any(p.startswith(".") or p.lower() in _SYSTEM_NAMES for p in parts):
        return _skip(rel_path, "hidden_or_system")
    return None


def _type_problem(rel_path: str, container: str) -> SkippedEntry | None:
    ext = _ext(rel_path)
    if ext == ".zip":
        return _skip(rel_path, "nested_zip", container=container)
    if ext not in _KINDS:
        what = f"the '{ext}' file type" if ext else "a file without an extension"
        return _skip(rel_path, "unsupported_type", what=what)
    return None


def _size_problem(rel_path: str, size: int, limits: IngestLimits) -> SkippedEntry | None:
    if size > limits.max_file_bytes:
        return _skip(rel_path, "too_large", size=_fmt_bytes(size), limit=_fmt_bytes(limits.max_file_bytes))
    return None


def _apply_upload_limits(entries: list[SourceEntry], skipped: list[SkippedEntry], limits: IngestLimits,
                         ) -> tuple[list[SourceEntry], list[SkippedEntry]]:
    """Drop duplicate names (the first in archive/walk order wins), then cap count and total size."""
    seen: set[str] = set()
    unique: list[SourceEntry] = []
    for entry in entries:
        if entry.rel_path in seen:
            skipped.append(_skip(entry.rel_path, "duplicate_name"))
        else:
            seen.add(entry.rel_path)
            unique.append(entry)
    kept: list[SourceEntry] = []
    total = 0
    for entry in sorted(unique, key=lambda e: e.rel_path):  # sorted first, so the caps are deterministic
        if len(kept) >= limits.max_files:
            skipped.append(_skip(entry.rel_path, "too_many_files", limit=limits.max_files))
        elif total + entry.size > limits.max_total_bytes:
            skipped.append(_skip(entry.rel_path, "total_size_exceeded", limit=_fmt_bytes(limits.max_total_bytes)))
        else:
            kept.append(entry)
            total += entry.size
    return kept, sorted(skipped, key=lambda s: (s.rel_path, s.reason))


def _fmt_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB"):
        if n < 1024:
            return f"{n:,.1f}".removesuffix(".0") + f" {unit}"
        n /= 1024
    return f"{n:,.1f}".removesuffix(".0") + " GB"
