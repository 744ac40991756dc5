"""Checks and storage for what a person uploads: ad zips, metadata CSVs, benchmark query files."""
from __future__ import annotations

import os
import re
import zipfile
from datetime import datetime
from pathlib import Path


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
    from ..retention import prune_uploads

    prune_uploads(library.path)  # uploads older than the retention setting go (the newest are kept)
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
    from ..sources import precheck_zip

    problem = precheck_zip(path)  # the engine's own guard first: a million-entry directory is never parsed here
    if problem:
        return problem
    try:
        with zipfile.ZipFile(path) as zf:
            if not any(not i.is_dir() for i in zf.infolist()):
                return "The zip is empty: it holds no files. Add your images/videos and upload again."
    except zipfile.BadZipFile as e:
        return f"The zip could not be opened ({e}). Re-create it and upload again."
    return None


def read_jsonl_queries(data: bytes) -> tuple[int, str | None]:
    """(number of queries, a friendly problem or None) for an uploaded benchmark file: the benchmark's own reader."""
    from ..search.bench import read_query_lines

    try:
        return len(read_query_lines(data.decode("utf-8", errors="replace"))), None
    except ValueError as e:
        return 0, str(e)
