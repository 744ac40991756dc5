"""Search latency at 1k / 10k / 100k ads on synthetic data, through the engine's own layers.

For each size: clustered unit vectors (384-d, like MiniLM's) in the FAISS index that
`core.vectors.make_index` picks for that size (flat up to 50k, HNSW above, per FAISS's
guidance), word and char-gram BM25 over synthetic ad documents (core.search.lexical), then the
z-sum fusion and top-k — the per-query work of `core.search.search` minus the query embedding
(~10 ms for MiniLM, measured separately below). The approximate index's recall@10 against exact
search is reported wherever an approximate index is used (and, with --hnsw-at, forced sizes).

    python bench/search.py [--sizes 1000,10000,100000] [--queries 200] [--hnsw-at N,..] [--flat-at 100000] [--json]

Target: p95 ≤ 50 ms per query at 100k ads on a 2-core machine (reported, not asserted).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.search.fusion import fuse  # noqa: E402
from core.search.lexical import Lexical  # noqa: E402
from core.vectors import FLAT_MAX, make_index  # noqa: E402

DIM = 384
WORDS = ("sale discount offer summer coffee skincare travel outdoor pets shoes jacket serum festival app install "
         "download free shipping bundle deal limited today only new collection review testimonial before after "
         "results glow morning roast brew beans tickets night market cinema habit money organized sky ugc creator "
         "authentic meme humor viral lifestyle aspirational grid catalog video reveal cinematic red blue green "
         "yellow purple pink black white orange photo illustration text-heavy portrait square landscape").split()


def clustered(n: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    lab = rng.integers(0, len(centers), n)
    x = centers[lab] + 0.55 * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synthetic_docs(n: int, rng: np.random.Generator) -> list[str]:
    vocab = WORDS + [f"brand{i}" for i in range(2000)] + [f"sku{i}x" for i in range(5000)]
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 0.9  # Zipf-like: a few common words, a long tail
    p /= p.sum()
    lens = rng.integers(8, 30, n)
    idx = rng.choice(len(vocab), size=int(lens.sum()), p=p)
    out, pos = [], 0
    for ln in lens:
        out.append(" ".join(vocab[i] for i in idx[pos:pos + ln]).upper() if rng.random() < 0.3 else
                   " ".join(vocab[i] for i in idx[pos:pos + ln]))
        pos += ln
    return out


def pct(xs, q):
    return round(float(np.percentile(xs, q)), 2)


def bench_size(n: int, n_queries: int, rng: np.random.Generator, force: str | None = None) -> dict:
    centers = rng.standard_normal((max(8, n // 200), DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    vecs = clustered(n, rng, centers)
    ids = np.arange(1, n + 1, dtype=np.int64)
    kind = force or ("flat" if n <= FLAT_MAX else "hnsw")
    t = time.perf_counter()
    index = make_index(vecs, ids, kind=kind)
    build_s = time.perf_counter() - t
    exact = make_index(vecs, ids, kind="flat") if kind != "flat" else index
    flat_mat = vecs if kind == "flat" else None  # the engine scores flat indexes with one mat-vec (channels._flat_view)
    docs = synthetic_docs(n, rng)
    t = time.perf_counter()
    words, chars = Lexical.build("words", docs), Lexical.build("chars", docs)
    bm25_build_s = time.perf_counter() - t
    qv = vecs[rng.integers(0, n, n_queries)] + 0.3 * rng.standard_normal((n_queries, DIM)).astype(np.float32) / np.sqrt(DIM)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    qtext = [" ".join(docs[i].split()[:3]).lower() for i in rng.integers(0, n, n_queries)]
    pool = min(n, 1000)
    dense_ms, lex_ms, fuse_ms, total_ms, recalls = [], [], [], [], []
    for q, text in zip(qv, qtext):
        t0 = time.perf_counter()
        if flat_mat is not None:
            dense = flat_mat @ q
        else:
            _, I = index.search(q[None, :], pool)
            dense = np.full(n, 0.0, dtype=np.float32)
            ok = I[0] >= 0
            dense[I[0][ok] - 1] = 1.0
        t1 = time.perf_counter()
        sw, sc = words.scores(text), chars.scores(text)
        t2 = time.perf_counter()
        fused = fuse({"dense": dense, "words": sw, "chars": sc}, {"dense": 1.0, "words": 0.7, "chars": 0.7}, 5.0)
        top = np.argpartition(-fused, 50)[:50]
        top = top[np.argsort(-fused[top])][:10]
        t3 = time.perf_counter()
        dense_ms.append((t1 - t0) * 1000)
        lex_ms.append((t2 - t1) * 1000)
        fuse_ms.append((t3 - t2) * 1000)
        total_ms.append((t3 - t0) * 1000)
        if exact is not index:
            _, E = exact.search(q[None, :], 10)
            _, A = index.search(q[None, :], 10)
            recalls.append(len(set(E[0]) & set(A[0])) / 10)
    return {"ads": n, "index": kind, "index_build_s": round(build_s, 2), "bm25_build_s": round(bm25_build_s, 2),
            "dense_p50": pct(dense_ms, 50), "dense_p95": pct(dense_ms, 95), "bm25_p50": pct(lex_ms, 50),
            "bm25_p95": pct(lex_ms, 95), "fuse_p50": pct(fuse_ms, 50), "total_p50": pct(total_ms, 50),
            "total_p95": pct(total_ms, 95), "recall@10_vs_exact": round(float(np.mean(recalls)), 4) if recalls else 1.0}


def query_embedding_ms(n: int = 30) -> dict:
    from core.models import text_encoder

    enc = text_encoder()
    for i in range(5):
        enc.encode([f"warm up {i}"])
    ms = []
    for i in range(n):
        t = time.perf_counter()
        enc.encode([f"man in red plaid shirt {i}"])
        ms.append((time.perf_counter() - t) * 1000)
    return {"minilm_query_p50": pct(ms, 50), "minilm_query_p95": pct(ms, 95)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--hnsw-at", default="", help="also time a forced HNSW index at these sizes ('' for none)")
    ap.add_argument("--flat-at", default="100000", help="also time an exact flat index at these sizes (the reference)")
    ap.add_argument("--no-model", action="store_true", help="skip timing the query embedding")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for n in [int(s) for s in a.sizes.split(",") if s]:
        rows.append(bench_size(n, a.queries, rng))
        if str(n) in a.hnsw_at.split(",") and rows[-1]["index"] != "hnsw":
            rows.append(bench_size(n, a.queries, rng, force="hnsw"))
        if str(n) in a.flat_at.split(",") and rows[-1]["index"] != "flat":
            rows.append(bench_size(n, a.queries, rng, force="flat"))   # the exact reference, same run
    extra = {} if a.no_model else query_embedding_ms()
    if a.json:
        print(json.dumps({"rows": rows, **extra}, indent=1))
        return 0
    cols = ["ads", "index", "index_build_s", "bm25_build_s", "dense_p50", "dense_p95", "bm25_p50", "bm25_p95",
            "fuse_p50", "total_p50", "total_p95", "recall@10_vs_exact"]
    print(" | ".join(f"{c:>10}" for c in cols))
    for r in rows:
        print(" | ".join(f"{r[c]!s:>10}" for c in cols))
    for k, v in extra.items():
        print(f"{k}: {v} ms")
    print("(ms per query; total = dense + BM25 words+chars + fusion/top-k; add the query embedding for end-to-end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
