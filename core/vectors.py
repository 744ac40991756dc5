"""FAISS index files beside the DuckDB file, one per vector kind, with an id map.

The vectors' durable copy lives in DuckDB rows (written in the creative's own transaction); the
index files are derived and rebuilt after each ingest. Index type follows FAISS's own guidance
(exact search for small sets, a graph index beyond, a compressed inverted file when the vectors
themselves outgrow memory), with the switches where this machine needs them: at 100k ads a flat
scan is ~110 ms per query on 2 cores against ~4 ms for HNSW, whose top 10 matched the exact ones
in bench/search.py, so flat stops at 50k; HNSW keeps every float (1M visual vectors of 3840 floats
are 15 GB), so above HNSW_MAX_BYTES of raw vectors the index is IVF-PQ (96 bytes per visual vector),
trained on a seeded sample and filled from DuckDB in chunks, never holding the matrix at once.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .store import Library

FLAT_MAX = 50_000
HNSW_MAX_BYTES = 2 * 1024 ** 3   # raw float32 vectors held by a graph index; above it, IVF-PQ
IVF_TRAIN_PER_LIST = 16          # training vectors per inverted list (FAISS asks 39; 16 keeps the 1M training in minutes)
IVF_NPROBE = 32
CHUNK_ROWS = 20_000              # rows per DuckDB fetch while filling an IVF index
KINDS = {"text": ("ads", "text_vec"), "visual": ("creatives", "visual"), "label": ("creatives", "label_vec")}


def index_kind(n: int, d: int) -> str:
    """flat, hnsw or ivfpq for n vectors of d floats (see the module docstring for the sizes)."""
    if n <= FLAT_MAX:
        return "flat"
    return "hnsw" if n * d * 4 <= HNSW_MAX_BYTES else "ivfpq"


def ivfpq_shape(n: int, d: int) -> tuple[int, int]:
    """(inverted lists, PQ sub-quantizers): ~√n lists; ≤ 96 bytes a vector, sub-vectors of ≥ 8 floats."""
    nlist = int(min(65_536, max(64, 2 ** round(np.log2(max(n, 1) ** 0.5)))))
    m = min(96, max(1, d // 8))
    while d % m:
        m -= 1
    return nlist, m


def new_ivfpq(d: int, n: int):
    import faiss

    nlist, m = ivfpq_shape(n, d)
    # "np": no polysemous training (a simulated annealing FAISS runs by default; 28 s on 1k vectors here)
    index = faiss.index_factory(d, f"IVF{nlist},PQ{m}np", faiss.METRIC_INNER_PRODUCT)
    index.nprobe = min(IVF_NPROBE, nlist)
    return index


def make_index(vectors: np.ndarray, ids: np.ndarray, kind: str = "auto", hnsw_m: int = 32):
    """An inner-product index over unit vectors (= cosine): flat, HNSW or IVF-PQ by size."""
    import faiss

    d = vectors.shape[1]
    if kind == "auto":
        kind = index_kind(len(vectors), d)
    if kind == "ivfpq":
        index = new_ivfpq(d, len(vectors))
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        train = x[_sample(len(x), index.nlist * IVF_TRAIN_PER_LIST)]
        index.train(train)
        index.add_with_ids(x, ids.astype(np.int64))
        return index
    if kind == "flat":
        base = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        base = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = 80
        base.hnsw.efSearch = 96
    else:
        raise ValueError(f"unknown index kind {kind!r}; valid: auto, flat, hnsw, ivfpq")
    index = faiss.IndexIDMap2(base)
    if len(vectors):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


def rebuild_indexes(library: Library) -> dict:
    import faiss

    manifest = {}
    for name, (table, column) in KINDS.items():
        path = library.path / "vectors" / f"{name}.faiss"
        (n, d), = library.execute(f"SELECT count(*), max(len({column})) FROM {table} WHERE {column} IS NOT NULL").fetchall()
        if not n:
            path.unlink(missing_ok=True)
            continue
        if index_kind(n, d) == "ivfpq":
            index, max_id = _streamed_ivfpq(library, table, column, n, d)
        else:
            ids, vecs = library.ad_vectors(column) if table == "ads" else library.creative_vectors(column)
            index, max_id = make_index(vecs, ids), int(ids.max())
        tmp = path.with_suffix(f".faiss.tmp{os.getpid()}")  # per process: a reader may save the same file
        faiss.write_index(index, str(tmp))
        os.replace(tmp, path)
        manifest[name] = {"count": int(n), "dim": int(d), "max_id": max_id, "kind": index_kind(n, d)}
    _write_json(library.path / "vectors" / "manifest.json", manifest)
    return manifest


def _streamed_ivfpq(library: Library, table: str, column: str, n: int, d: int):
    """IVF-PQ trained on a seeded sample and filled chunk by chunk: memory is the sample, not the table."""
    index = new_ivfpq(d, n)
    want = min(n, index.nlist * IVF_TRAIN_PER_LIST)
    max_id = 0
    cur = library.con.cursor()   # its own cursor: the stream stays open while the batches are added
    try:
        sample = cur.sql(f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL AND len({column}) = {d} "
                         f"USING SAMPLE reservoir({want} ROWS) REPEATABLE (0)").to_arrow_table()
        index.train(_matrix(sample.column("v"), d))
        del sample
        reader = cur.sql(f"SELECT id, {column} AS v FROM {table} WHERE {column} IS NOT NULL AND len({column}) = {d} "
                         "ORDER BY id").to_arrow_reader(CHUNK_ROWS)
        for batch in reader:
            ids = np.asarray(batch.column(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            if len(ids):
                index.add_with_ids(_matrix(batch.column(1), d), ids)
                max_id = max(max_id, int(ids.max()))
    finally:
        cur.close()
    return index, max_id


def _matrix(col, d: int) -> np.ndarray:
    """A FLOAT[] Arrow column of equal-length rows as a contiguous float32 (rows, d) matrix."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    flat = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    return np.ascontiguousarray(flat.reshape(-1, d))


def _sample(n: int, k: int, seed: int = 0) -> np.ndarray:
    return np.arange(n) if n <= k else np.sort(np.random.default_rng(seed).choice(n, k, replace=False))


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


@dataclass
class VectorIndex:
    """A loaded index: search returns (ids, scores) with the library's own row ids.

    With `exact` (ids → their float vectors, read from DuckDB), a compressed index proposes
    `rerank` × k candidates and exact inner products order them: PQ codes alone put the right
    neighbours in the top 10 only about half the time when many are nearly as close.
    """

    index: object
    dim: int
    exact: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None
    rerank: int = 4

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, self.index.ntotal))
        if self.exact is None:
            scores, ids = self.index.search(q, k)
            return ids, scores
        scores, cand = self.index.search(q, min(self.index.ntotal, k * self.rerank))
        known, vecs = self.exact(np.unique(cand[cand >= 0]))
        row = {int(i): r for r, i in enumerate(known)}
        out_ids = np.full((len(q), k), -1, dtype=np.int64)
        out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
        for j, c in enumerate(cand):
            c = np.array([i for i in c if int(i) in row], dtype=np.int64)
            if len(c):
                s = vecs[[row[int(i)] for i in c]] @ q[j]
                top = np.argsort(-s, kind="stable")[:k]
                out_ids[j, :len(top)], out_s[j, :len(top)] = c[top], s[top]
        return out_ids, out_s

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
            index = _read(path)
        except RuntimeError:  # a truncated or damaged file is derived data: rebuilt below like a stale one
            index = None
        if index is not None and index.ntotal == count:
            return _loaded(library, table, column, index)
    if library.read_only:
        ids, vecs = library.ad_vectors(column) if table == "ads" else library.creative_vectors(column)
        index = make_index(vecs, ids)
        try:  # the read-only process that built it saves it too (temp + rename), so the next one just loads it
            tmp = path.with_suffix(f".faiss.tmp{os.getpid()}")
            faiss.write_index(index, str(tmp))
            os.replace(tmp, path)
        except (OSError, RuntimeError):
            pass  # a read-only folder: this process keeps its copy
        return VectorIndex(index, index.d)
    rebuild_indexes(library)
    return _loaded(library, table, column, _read(path))


def _read(path: Path):
    """Memory-mapped: the codes stay in the page cache instead of being copied (100k: 0.46 s -> 0.014 s
    an index, same hits). Safe because an index file is only ever replaced whole (temp + rename)."""
    import faiss

    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)


def _loaded(library: Library, table: str, column: str, index) -> VectorIndex:
    """A read index; a compressed (IVF) one re-ranks its candidates with the exact vectors in DuckDB."""
    if "IVF" not in type(index).__name__:
        return VectorIndex(index, index.d)
    index.nprobe = min(IVF_NPROBE, index.nlist)

    def exact(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = library.execute(f"SELECT id, {column} FROM {table} WHERE id IN (SELECT unnest(?)) ORDER BY id",
                               [[int(i) for i in ids]]).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, index.d), np.float32)
        return np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.float32)

    return VectorIndex(index, index.d, exact=exact)
