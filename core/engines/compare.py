"""Do two libraries hold the same ingest? Used to check that the engines agree (tests, bench/engines.py).

Creatives are matched by content hash and ads by (file, hash, metadata row), never by row id;
text and hashes must be equal, vectors equal within `atol` (the same models on the same pixels,
in another process).
"""
from __future__ import annotations

import numpy as np

CREATIVE_COLS = ("kind", "ext", "bytes", "width", "height", "frames", "duration_s", "fps", "phash", "colors",
                 "color_words", "ocr_text", "labels", "layout_words", "extra", "visual_model")
AD_COLS = ("headline", "copy", "cta", "tags", "spend", "impressions", "clicks", "document")
VECTORS = (("creatives", "visual"), ("creatives", "label_vec"), ("ads", "text_vec"))


def library_differences(a, b, atol: float = 1e-4, limit: int = 20) -> list[str]:
    """Human-readable differences between libraries a and b (empty: the same content)."""
    out: list[str] = []
    out += _row_differences("creative", _creatives(a), _creatives(b), CREATIVE_COLS)
    ids_a, ids_b = (dict(lib.execute("SELECT sha256, id FROM creatives").fetchall()) for lib in (a, b))
    moved = sum(ids_a[s] != ids_b[s] for s in set(ids_a) & set(ids_b))
    if moved:  # the writer inserts in task order on every engine: the same ids keep builds identical
        out.append(f"{moved} creatives got other row ids (written in another order)")
    out += _row_differences("ad", _ads(a), _ads(b), AD_COLS)
    if _boxes(a) != _boxes(b):
        out.append("OCR boxes' text differs")
    for table, col in VECTORS:
        va, vb = _vectors(a, table, col), _vectors(b, table, col)
        if set(va) != set(vb):
            out.append(f"{table}.{col}: present for different rows")
            continue
        worst = max((float(np.abs(va[k] - vb[k]).max()) if va[k].shape == vb[k].shape else np.inf for k in va), default=0.0)
        if worst > atol:
            out.append(f"{table}.{col}: max abs difference {worst:.2e} > {atol:g}")
    return out[:limit] + ([f"… and {len(out) - limit} more"] if len(out) > limit else [])


def _row_differences(what: str, ra: dict, rb: dict, cols) -> list[str]:
    """Rows keyed alike in both: which keys only one side has, and which columns differ."""
    out = []
    if set(ra) != set(rb):
        out.append(f"{what}s differ: {len(set(ra) - set(rb))} only in a, {len(set(rb) - set(ra))} only in b")
    for key in sorted(set(ra) & set(rb)):
        for col, va, vb in zip(cols, ra[key], rb[key]):
            if va != vb:
                out.append(f"{what} {str(key)[:60]} {col}: {str(va)[:80]!r} != {str(vb)[:80]!r}")
    return out


def _creatives(lib) -> dict:
    rows = lib.execute(f"SELECT sha256, {', '.join(CREATIVE_COLS)} FROM creatives").fetchall()
    return {r[0]: r[1:] for r in rows}


def _ads(lib) -> dict:
    rows = lib.execute(f"SELECT a.file, c.sha256, a.meta_key, {', '.join('a.' + c for c in AD_COLS)} "
                       "FROM ads a JOIN creatives c ON c.id = a.creative_id").fetchall()
    return {r[:3]: r[3:] for r in rows}


def _boxes(lib) -> dict:
    rows = lib.execute("SELECT c.sha256, b.idx, b.text FROM ocr_boxes b JOIN creatives c ON c.id = b.creative_id").fetchall()
    return {(sha, idx): text for sha, idx, text in rows}


def _vectors(lib, table: str, col: str) -> dict:
    if table == "creatives":
        rows = lib.execute(f"SELECT sha256, {col} FROM creatives WHERE {col} IS NOT NULL").fetchall()
    else:
        rows = lib.execute(f"SELECT a.file || '|' || c.sha256 || '|' || a.meta_key, a.{col} FROM ads a "
                           f"JOIN creatives c ON c.id = a.creative_id WHERE a.{col} IS NOT NULL").fetchall()
    return {k: np.asarray(v, dtype=np.float32) for k, v in rows}
