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
    ca, cb = _creatives(a), _creatives(b)
    if set(ca) != set(cb):
        out.append(f"creatives differ: {len(set(ca) - set(cb))} only in a, {len(set(cb) - set(ca))} only in b")
    for sha in sorted(set(ca) & set(cb)):
        for col, va, vb in zip(CREATIVE_COLS, ca[sha], cb[sha]):
            if va != vb:
                out.append(f"creative {sha[:12]} {col}: {str(va)[:80]!r} != {str(vb)[:80]!r}")
    ids_a, ids_b = (dict(lib.execute("SELECT sha256, id FROM creatives").fetchall()) for lib in (a, b))
    moved = sum(ids_a[s] != ids_b[s] for s in set(ids_a) & set(ids_b))
    if moved:  # the writer inserts in task order on every engine: the same ids keep builds identical
        out.append(f"{moved} creatives got other row ids (written in another order)")
    aa, ab = _ads(a), _ads(b)
    if set(aa) != set(ab):
        out.append(f"ads differ: {len(set(aa) - set(ab))} only in a, {len(set(ab) - set(aa))} only in b")
    for key in sorted(set(aa) & set(ab)):
        for col, va, vb in zip(AD_COLS, aa[key], ab[key]):
            if va != vb:
                out.append(f"ad {key[0]} {col}: {str(va)[:80]!r} != {str(vb)[:80]!r}")
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
