"""Taxonomy build benchmark: time and peak memory at 1k / 10k / 100k ads, plus real-ads checks.

Synthetic sizes write clustered Gaussian blobs in the real dimensions (visual 3840, text 384) with
planted families, sub-clusters and variant groups into a real temporary library, then time one
`build_taxonomy` per size in its own process (peak RSS is per process). What ingest computes once
per creative (the OCR-text embeddings variant linking reads) is done before the timer, as ingest would. `--real` ingests the
IRA Facebook ads from ../shared/ads once into a cache folder and reports the pairwise F1 of the
tree's leaves against the dataset's identical-image groups, plus the outlier share.

    python bench/build.py                      # 1k and 10k
    python bench/build.py --sizes 1000,10000,100000
    python bench/build.py --real               # needs ../shared/ads
    python bench/build.py --sizes 1000000 --visual-dim 512 --index   # the 1M point: a hub model's 512-d vectors
                                                                     # (3840-d at 1M is 15 GB of floats), plus the FAISS files
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2   # Linux reports KiB


def one_size(n: int, ocr_share: float, seed: int, visual_dim: int = 3840, index: bool = False, rebuild: bool = True) -> dict:
    """Write n synthetic ads, build once; runs in its own process so peak RSS is this build's."""
    from sklearn.metrics import adjusted_rand_score

    from core.store import Library
    from core.taxonomy import build_taxonomy, warm_umap
    from core.taxonomy.synthetic import SyntheticSpec, write_synthetic_library

    with tempfile.TemporaryDirectory(prefix="taxbench") as tmp:
        lib = Library(tmp)
        t = time.perf_counter()
        spec = SyntheticSpec(n_ads=n, n_families=max(8, min(60, n // 400)), subs_per_family=3, ocr_share=ocr_share, seed=seed,
                             visual_dim=visual_dim)
        truth = write_synthetic_library(lib, spec)
        write_s = time.perf_counter() - t
        rss_before = peak_rss_gb()
        from core.models import text_encoder

        text_encoder()   # model loading is per process, not per build: keep it out of the figure
        warm_umap()      # likewise numba's one-off compile
        # what ingest computes once per creative (core.ingest._embed_pending): the OCR-text embeddings
        from core.taxonomy import ocrtext

        t = time.perf_counter()
        texts = [r[0] for r in lib.execute("SELECT ocr_text FROM creatives").fetchall() if ocrtext.substantial(r[0] or "")]
        ocrtext.embed_texts(texts, library=lib)
        ingest_ocr_s = time.perf_counter() - t
        ocrtext._CACHE.clear()   # a build runs in a fresh process: it reads them from the library
        t = time.perf_counter()
        tree = build_taxonomy(lib, seed=seed)
        build_s = time.perf_counter() - t
        first_stages = dict(tree.metrics["stage_seconds"])
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
        out = {"ads": n, "visual_dim": visual_dim, "write_s": round(write_s, 1), "ingest_ocr_embed_s": round(ingest_ocr_s, 1),
               "build_s": round(build_s, 1), "rebuild_s": rebuild_s, "peak_rss_gb": round(peak_build, 2),
               "peak_rss_with_index_gb": round(peak_rss_gb(), 2), **index_out, "load_avg": os.getloadavg()[0],
               "rss_before_build_gb": round(rss_before, 2), "families": tree.metrics["clusters_by_level"][0],
               "sub": tree.metrics["clusters_by_level"][1], "micro": tree.metrics["clusters_by_level"][2],
               "planted_families": spec.n_families, "ari_family": round(adjusted_rand_score(a["family"], a["family_id"]), 3),
               "outlier_share": tree.metrics["outlier_share"], "method": tree.metrics["method_chosen"],
               "projection": tree.metrics["projection"], "stages": first_stages, "rebuild_stages": rebuild_stages}
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
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)   # internal: one size in this process
    args = ap.parse_args(argv)
    if args.one:
        print("RESULT " + json.dumps(one_size(args.one, args.ocr_share, args.seed, args.visual_dim, args.index, not args.no_rebuild)), flush=True)
        return
    rows = []
    for n in [int(s) for s in args.sizes.split(",") if s]:
        extra = ["--visual-dim", str(args.visual_dim)] + ["--index"] * args.index + ["--no-rebuild"] * args.no_rebuild
        proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--ocr-share", str(args.ocr_share), "--seed", str(args.seed), *extra],
                              capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{n} ads: failed\n{proc.stderr[-3000:]}")
            continue
        rows.append(json.loads(line[7:]))
        r = rows[-1]
        rebuilt = f"{r['rebuild_s']:>6.1f} s" if r["rebuild_s"] is not None else "     -"
        print(f"{r['ads']:>7} ads  build {r['build_s']:>7.1f} s  rebuild {rebuilt}  peak RSS {r['peak_rss_gb']:>5.2f} GB  families {r['families']:>3}"
              f" (planted {r['planted_families']})  sub {r['sub']:>4}  micro {r['micro']:>5}  ARI {r['ari_family']:.3f}"
              f"  outliers {r['outlier_share']:.1%}  {r['method']}/{r['projection']}", flush=True)
        print(f"         at ingest (once per creative, not in the build figure): OCR-text embeddings {r['ingest_ocr_embed_s']:.1f}s", flush=True)
        print("         first build: " + ", ".join(f"{k} {v:.1f}s" for k, v in r["stages"].items()), flush=True)
        if r["rebuild_stages"]:
            print("         rebuild:     " + ", ".join(f"{k} {v:.1f}s" for k, v in r["rebuild_stages"].items()), flush=True)
        if "index_s" in r:
            print(f"         FAISS files {r['index_s']:.1f}s: " + ", ".join(f"{k} {v}" for k, v in r["index_kinds"].items())
                  + f"  (peak RSS with them {r['peak_rss_with_index_gb']:.2f} GB)", flush=True)
        print(f"         visual dim {r['visual_dim']}, load average {r['load_avg']:.1f} at the end", flush=True)
    if args.real:
        Path(args.real_cache).parent.mkdir(parents=True, exist_ok=True)
        print("IRA:", json.dumps(real_ira(Path(args.real_cache)), indent=1))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "build.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
