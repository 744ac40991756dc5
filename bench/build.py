"""Taxonomy build benchmark: time and peak memory at 1k / 10k / 100k ads, plus real-ads checks.

Synthetic sizes write clustered Gaussian blobs in the real dimensions (visual 3840, text 384) with
planted families, sub-clusters and variant groups into a real temporary library, then time one
`build_taxonomy` per size in its own process (peak RSS is per process). What ingest computes once
per creative (the OCR-text embeddings variant linking reads) is done before the timer, as ingest would. `--real` ingests the
IRA Facebook ads from ../shared/ads once into a cache folder and reports the pairwise F1 of the
tree's leaves against the dataset's identical-image groups, plus the outlier share.

    python bench/build.py                      # 1k and 10k (1k is also the same-run reference: ratios printed)
    python bench/build.py --sizes 1000,10000,100000
    python bench/build.py --real               # needs ../shared/ads
    python bench/build.py --sizes 100000 --keep /tmp/taxlibs   # write once, build a fresh copy each run
    python bench/build.py --sizes 1000000 --visual-dim 512 --index   # the 1M point: a hub model's 512-d vectors
                                                                     # (3840-d at 1M is 15 GB of floats), plus the FAISS files
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2   # Linux reports KiB


def cpu_s() -> float:
    """This process's CPU seconds (user + system, all its threads): what a build costs whatever the load."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _status_gb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak so far) of this process, in GB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024 ** 2
    return float("nan")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def bag_of_words_vectors(texts: list[str], dim: int = 384) -> np.ndarray:
    """Stand-in OCR-text embeddings for big synthetic libraries: the unit sum of one seeded random
    vector per word (same text → same vector; texts sharing most words → cosine near 1). MiniLM on
    the ~45k distinct OCR texts of a 100k library takes longer than the build itself, and at ingest
    it is paid once per creative, never by a build."""
    import zlib

    out = np.zeros((len(texts), dim), np.float32)
    cache: dict[str, np.ndarray] = {}
    for i, t in enumerate(texts):
        for w in t.lower().split():
            v = cache.get(w)
            if v is None:
                v = cache[w] = np.random.default_rng(zlib.crc32(w.encode())).standard_normal(dim).astype(np.float32)
            out[i] += v
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1)


def write_size(n: int, ocr_share: float, seed: int, visual_dim: int, ocr_vectors: str, folder: Path) -> dict:
    """Write n synthetic ads (and what ingest computes once per creative: the OCR-text embeddings)
    into a library at `folder`, with the planted truth beside it. Its own process: what the writer
    held (DuckDB's buffers of 100k visual rows) is not the build's."""
    from core.store import Library
    from core.taxonomy import ocrtext
    from core.taxonomy.synthetic import write_synthetic_library

    lib = Library(folder)
    t = time.perf_counter()
    truth = write_synthetic_library(lib, _spec(n, ocr_share, seed, visual_dim))
    truth.to_csv(folder / "truth.csv", index=False)
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    texts = [r[0] for r in lib.execute("SELECT ocr_text FROM creatives").fetchall() if ocrtext.substantial(r[0] or "")]
    if ocr_vectors == "minilm":
        ocrtext.embed_texts(texts, library=lib)
    else:   # stand-ins, stored where ingest stores MiniLM's (the build reads them from there)
        distinct = sorted({ocrtext.text_key(t): t for t in texts}.items())
        ocrtext._write_cache(lib, [k for k, _ in distinct], bag_of_words_vectors([t for _, t in distinct]), ocrtext.DEFAULT_MODEL)
    lib.close()
    return {"write_s": round(write_s, 1), "ingest_ocr_embed_s": round(time.perf_counter() - t, 1), "ocr_vectors": ocr_vectors}


def _spec(n: int, ocr_share: float, seed: int, visual_dim: int):
    from core.taxonomy.synthetic import SyntheticSpec

    return SyntheticSpec(n_ads=n, n_families=max(8, min(60, n // 400)), subs_per_family=3, ocr_share=ocr_share, seed=seed,
                         visual_dim=visual_dim)


def one_size(n: int, ocr_share: float, seed: int, visual_dim: int = 3840, index: bool = False, rebuild: bool = True,
             folder: Path | None = None) -> dict:
    """Build the library written at `folder` once, in a fresh process (as a build runs): peak RSS is
    this build's plus the text model's and UMAP's."""
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    from core.models import text_encoder
    from core.store import Library
    from core.taxonomy import build_taxonomy, warm_umap

    spec = _spec(n, ocr_share, seed, visual_dim)
    truth = pd.read_csv(folder / "truth.csv")
    lib = Library(folder)
    text_encoder()   # model loading is per process, not per build: keep it out of the figure
    warm_umap()      # likewise numba's one-off compile
    rss_before = peak_rss_gb()
    memory: dict[str, list[float]] = {}

    started = time.perf_counter()

    cpu_at: dict[str, float] = {}   # process CPU seconds as each stage starts: what a stage cost whatever the load

    def watch(stage: str, done: int, total: int) -> None:   # resident memory as each stage starts (GB)
        if stage not in memory:   # live on stderr too: a build that does not finish still shows how far it got
            print(f"  {time.perf_counter() - started:7.1f} s  CPU {cpu_s() - c:7.1f} s  {stage:<11} RSS {_status_gb('VmRSS'):.2f} GB"
                  f"  peak {_status_gb('VmHWM'):.2f} GB  load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
            cpu_at[stage] = cpu_s()
        memory.setdefault(stage, [round(_status_gb("VmRSS"), 2), round(_status_gb("VmHWM"), 2)])

    t, c = time.perf_counter(), cpu_s()
    tree = build_taxonomy(lib, seed=seed, progress=watch)
    build_s, build_cpu = time.perf_counter() - t, cpu_s() - c
    first_stages = dict(tree.metrics["stage_seconds"])
    marks = list(cpu_at.items())   # CPU between one watched stage's start and the next's (all threads: UMAP's warm-up too)
    stage_cpu = {a: round(t2 - t1, 1) for (a, t1), (_, t2) in zip(marks, marks[1:])}
    peak_build = peak_rss_gb()
    rebuild_s, rebuild_stages = None, {}
    if rebuild:
        t = time.perf_counter()
        tree = build_taxonomy(lib, seed=seed)   # a rebuild (after an ingest, an edit): OCR embeddings cached
        rebuild_s = round(time.perf_counter() - t, 1)
        rebuild_stages = tree.metrics["stage_seconds"]
    index_out = {}
    if index:   # the FAISS files an ingest writes (flat / HNSW / IVF-PQ by size), streamed from DuckDB
        from core.vectors import rebuild_indexes

        t = time.perf_counter()
        manifest = rebuild_indexes(lib)
        index_out = {"index_s": round(time.perf_counter() - t, 1),
                     "index_kinds": {k: f"{v['kind']} {v['count']}x{v['dim']}" for k, v in manifest.items()}}
    a = tree.assignments().merge(truth, on="ad_id")
    out = {"ads": n, "visual_dim": visual_dim,
           "build_s": round(build_s, 1), "build_cpu_s": round(build_cpu, 1), "rebuild_s": rebuild_s, "peak_rss_gb": round(peak_build, 2),
           "peak_rss_with_index_gb": round(peak_rss_gb(), 2), **index_out, "load_avg": os.getloadavg()[0],
           "rss_before_build_gb": round(rss_before, 2), "families": tree.metrics["clusters_by_level"][0],
           "sub": tree.metrics["clusters_by_level"][1], "micro": tree.metrics["clusters_by_level"][2],
           "planted_families": spec.n_families, "ari_family": round(adjusted_rand_score(a["family"], a["family_id"]), 3),
           "outlier_share": tree.metrics["outlier_share"], "method": tree.metrics["method_chosen"],
           "projection": tree.metrics["projection"], "stages": first_stages, "stage_cpu_s": stage_cpu, "memory_at_stage_start": memory, "rebuild_stages": rebuild_stages}
    lib.close()
    return out


def real_ira(cache: Path) -> dict:
    """Leaves vs the IRA dataset's identical-image groups (md5), on a cached ingest of the set."""
    import itertools

    import pandas as pd

    from core.ingest import ingest
    from core.store import Library
    from core.taxonomy import build_taxonomy

    src = ROOT.parent / "shared" / "ads" / "ira_facebook_ads"
    if not src.exists():
        return {"skipped": "../shared/ads is absent"}
    lib = Library(cache)
    t = time.perf_counter()
    if lib.counts()["ads"] == 0:
        ingest(lib, src)
    ingest_s = time.perf_counter() - t
    t = time.perf_counter()
    tree = build_taxonomy(lib)
    build_s = time.perf_counter() - t
    meta = pd.read_csv(src / "metadata.csv")
    md5 = dict(zip(meta["file"], meta["md5"]))
    files = dict(lib.execute("SELECT id, file FROM ads").fetchall())
    a = tree.assignments()
    a["group"] = a["ad_id"].map(lambda i: md5.get(files[i], files[i]))
    tp = fp = fn = 0
    for (l1, g1), (l2, g2) in itertools.combinations(zip(a["leaf_id"], a["group"]), 2):
        same_leaf, same_group = l1 == l2, g1 == g2
        tp += same_leaf and same_group
        fp += same_leaf and not same_group
        fn += same_group and not same_leaf
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    # micro-patterns alone: pairs that share a level-3 node or a creative
    micro = a["leaf_id"].where(a["leaf_id"].str.contains(r"\.m\d+$"), "single-" + a["ad_id"].astype(str))
    tp2 = fp2 = fn2 = 0
    for (l1, g1), (l2, g2) in itertools.combinations(zip(micro, a["group"]), 2):
        tp2 += l1 == l2 and g1 == g2
        fp2 += l1 == l2 and g1 != g2
        fn2 += g1 == g2 and l1 != l2
    p2, r2 = tp2 / max(tp2 + fp2, 1), tp2 / max(tp2 + fn2, 1)
    lib.close()
    return {"ads": len(a), "ingest_s": round(ingest_s, 1), "build_s": round(build_s, 1),
            "leaf_pairwise": {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / max(p + r, 1e-9), 3)},
            "micro_pairwise": {"precision": round(p2, 3), "recall": round(r2, 3), "f1": round(2 * p2 * r2 / max(p2 + r2, 1e-9), 3)},
            "outlier_share": tree.metrics["outlier_share"], "families": tree.metrics["clusters_by_level"], "method": tree.metrics["method_chosen"]}


def _child(args: list[str], tag: str) -> dict | None:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(tag)), None)
    if line is None:
        print(f"{' '.join(args[:2])}: failed\n{proc.stderr[-3000:]}", flush=True)
        return None
    return json.loads(line[len(tag):])


def _ocr_mode(mode: str, n: int) -> str:
    return mode if mode != "auto" else ("synthetic" if n > 20_000 else "minilm")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated ad counts")
    ap.add_argument("--ocr-share", type=float, default=0.6, help="share of synthetic creatives with OCR text")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", action="store_true", help="also measure on ../shared/ads/ira_facebook_ads")
    ap.add_argument("--real-cache", default=str(ROOT / "bench" / "out" / "ira_library"))
    ap.add_argument("--visual-dim", type=int, default=3840, help="synthetic visual vector size (3840 = EfficientNet-Lite0)")
    ap.add_argument("--index", action="store_true", help="also time the FAISS index files (rebuild_indexes)")
    ap.add_argument("--no-rebuild", action="store_true", help="time the first build only")
    ap.add_argument("--ocr-vectors", choices=("auto", "minilm", "synthetic"), default="auto",
                    help="OCR-text embeddings written before the timer: MiniLM, or bag-of-words stand-ins (auto: above 20k ads)")
    ap.add_argument("--reference", type=int, default=1000, help="ads in the reference build measured first in the same run (0: none)")
    ap.add_argument("--keep", help="folder where written libraries are kept and reused (each build runs on a fresh copy)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)     # internal: build one size in this process
    ap.add_argument("--write", type=int, help=argparse.SUPPRESS)   # internal: write one size in this process
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.write:
        print("WROTE " + json.dumps(write_size(args.write, args.ocr_share, args.seed, args.visual_dim,
                                               _ocr_mode(args.ocr_vectors, args.write), Path(args.folder))), flush=True)
        return
    if args.one:
        print("RESULT " + json.dumps(one_size(args.one, args.ocr_share, args.seed, args.visual_dim, args.index, not args.no_rebuild,
                                              Path(args.folder))), flush=True)
        return
    rows = []
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.reference and args.reference not in sizes:
        sizes = [args.reference] + sizes   # the same-run reference: what the load did to every figure
    for n in sizes:
        print(f"[{n} ads] before: {uptime()}", flush=True)
        extra = ["--visual-dim", str(args.visual_dim), "--ocr-vectors", args.ocr_vectors, "--ocr-share", str(args.ocr_share),
                 "--seed", str(args.seed)] + ["--index"] * args.index + ["--no-rebuild"] * args.no_rebuild
        with tempfile.TemporaryDirectory(prefix="taxbench") as tmp:
            kept = Path(args.keep) / f"lib{n}-s{args.seed}-v{args.visual_dim}" if args.keep else None
            if kept is not None and (kept / "wrote.json").exists():   # written before: build a fresh copy of it
                wrote = json.loads((kept / "wrote.json").read_text())
                shutil.copytree(kept, tmp, dirs_exist_ok=True)
            else:
                wrote = _child(["--write", str(n), "--folder", tmp, *extra], "WROTE ")
                if kept is not None and wrote is not None:
                    shutil.copytree(tmp, kept)
                    (kept / "wrote.json").write_text(json.dumps(wrote))
            built = _child(["--one", str(n), "--folder", tmp, *extra], "RESULT ") if wrote is not None else None
        if built is None:
            continue
        rows.append({**built, **wrote})
        r = rows[-1]
        r["uptime_after"] = uptime()
        ref = next((x for x in rows if x["ads"] == args.reference), None)
        rebuilt = f"{r['rebuild_s']:>6.1f} s" if r["rebuild_s"] is not None else "     -"
        print(f"{r['ads']:>7} ads  build {r['build_s']:>7.1f} s  rebuild {rebuilt}  peak RSS {r['peak_rss_gb']:>5.2f} GB  families {r['families']:>3}"
              f" (planted {r['planted_families']})  sub {r['sub']:>4}  micro {r['micro']:>5}  ARI {r['ari_family']:.3f}"
              f"  outliers {r['outlier_share']:.1%}  {r['method']}/{r['projection']}", flush=True)
        print(f"         at ingest (once per creative, not in the build figure): OCR-text embeddings {r['ingest_ocr_embed_s']:.1f}s", flush=True)
        print("         first build: " + ", ".join(f"{k} {v:.1f}s" for k, v in r["stages"].items()), flush=True)
        if r.get("stage_cpu_s"):
            print("         CPU by stage (from one stage's start to the next's): "
                  + ", ".join(f"{k} {v:.1f}s" for k, v in r["stage_cpu_s"].items()), flush=True)
        print("         memory as each stage starts (RSS / peak so far, GB): "
              + ", ".join(f"{k} {v[0]:.2f}/{v[1]:.2f}" for k, v in r.get("memory_at_stage_start", {}).items()), flush=True)
        if r["rebuild_stages"]:
            print("         rebuild:     " + ", ".join(f"{k} {v:.1f}s" for k, v in r["rebuild_stages"].items()), flush=True)
        if "index_s" in r:
            print(f"         FAISS files {r['index_s']:.1f}s: " + ", ".join(f"{k} {v}" for k, v in r["index_kinds"].items())
                  + f"  (peak RSS with them {r['peak_rss_with_index_gb']:.2f} GB)", flush=True)
        print(f"         visual dim {r['visual_dim']}; build CPU {r['build_cpu_s']:.1f} s (user+sys, all threads);"
              f" after: {r['uptime_after']}", flush=True)
        if ref is not None and ref is not r:
            r["ratio_to_reference"] = {"wall": round(r["build_s"] / max(ref["build_s"], 1e-9), 1),
                                       "cpu": round(r["build_cpu_s"] / max(ref["build_cpu_s"], 1e-9), 1)}
            print(f"         vs the {ref['ads']}-ad reference build of this run: {r['ratio_to_reference']['wall']}x its wall time,"
                  f" {r['ratio_to_reference']['cpu']}x its CPU time ({r['ads'] / ref['ads']:.0f}x the ads)", flush=True)
    if args.real:
        Path(args.real_cache).parent.mkdir(parents=True, exist_ok=True)
        print("IRA:", json.dumps(real_ira(Path(args.real_cache)), indent=1))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "build.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
