"""FAISS index files beside the DuckDB file, one per vector kind, with an id map.

The vectors' durable copy lives in DuckDB rows (written in the creative's own transaction); the
index files are derived and rebuilt after each ingest. Index type follows FAISS's own guidance
(exact search for small sets, a graph index beyond), with the switch where this machine needs it:
at 100k ads a flat scan is ~110 ms per query on 2 cores against ~4 ms for HNSW, whose top 10
matched the exact ones in bench/search.py, so flat stops at 50k.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .store import Library

FLAT_MAX = 50_000
KINDS = {"text": ("ads", "text_vec"), "visual": ("creatives", "visual"), "label": ("creatives", "label_vec")}


def make_index(vectors: np.ndarray, ids: np.ndarray, kind: str = "auto", hnsw_m: int = 32):
    """An inner-product index over unit vectors (= cosine), flat or HNSW by size."""
    import faiss

    d = vectors.shape[1]
    if kind == "auto":
        kind = "flat" if len(vectors) <= FLAT_MAX else "hnsw"
    if kind == "flat":
        base = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        base = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = 80
        base.hnsw.efSearch = 96
    else:
        raise ValueError(f"unknown index kind {kind!r}; valid: auto, flat, hnsw")
    index = faiss.IndexIDMap2(base)
    if len(vectors):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


def rebuild_indexes(library: Library) -> dict:
    import faiss

    manifest = {}
    for name, (table, column) in KINDS.items():
        if table == "ads":
            ids, vecs = library.ad_vectors(column)
        else:
            ids, vecs = library.creative_vectors(column)
        path = library.path / "vectors" / f"{name}.faiss"
        if len(ids) == 0:
            path.unlink(missing_ok=True)
            continue
        index = make_index(vecs, ids)
        tmp = path.with_suffix(".faiss.tmp")
        faiss.write_index(index, str(tmp))
        os.replace(tmp, path)
        manifest[name] = {"count": int(len(ids)), "dim": int(vecs.shape[1]), "max_id": int(ids.max())}
    _write_json(library.path / "vectors" / "manifest.json", manifest)
    return manifest


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


@dataclass
class VectorIndex:
    """A loaded index: search returns (ids, scores) with the library's own row ids."""

    index: object
    dim: int

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, self.index.ntotal))
        scores, ids = self.index.search(q, k)
        return ids, scores

    @property
    def size(self) -> int:
        return int(self.index.ntotal)


def load_index(library: Library, name: str) -> VectorIndex | None:
    """The index file if it matches the rows in DuckDB, else rebuilt (stale after a crash)."""
    import faiss

    if name not in KINDS:
        raise ValueError(f"unknown vector kind {name!r}; valid: {', '.join(KINDS)}")
    path = library.path / "vectors" / f"{name}.faiss"
    table, column = KINDS[name]
    count = library.scalar(f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL")
    if not count:
        return None
    if path.exists():
        try:
            index = faiss.read_index(str(path))
        except RuntimeError:  # a truncated or damaged file is derived data: rebuilt below like a stale one
            index = None
        if index is not None and index.ntotal == count:
            return VectorIndex(index, index.d)
    if library.read_only:
        ids, vecs = library.ad_vectors(column) if table == "ads" else library.creative_vectors(column)
        index = make_index(vecs, ids)
        return VectorIndex(index, index.d)
    rebuild_indexes(library)
    index = faiss.read_index(str(path))
    return VectorIndex(index, index.d)
