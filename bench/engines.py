"""Ingest engines side by side: the same real ads through `--engine local` and `--engine ray`, in one run.

Each engine ingests a copy of the same files into its own fresh library, in its own process (the CLI,
`--no-build`, 2 workers), timed end to end: Ray's start-up and its actors' model loading count, as the
local pool's do. The libraries are then compared (core.engines.compare: texts, hashes, row ids, vectors)
and the ratio ray / local printed with the load (`uptime`) around each run. `--rounds 2` runs
local, ray, ray, local so that a load that drifts during the run weighs on both.

    python bench/engines.py                          # 120 of ../shared/ads, one round
    python bench/engines.py --limit 0 --rounds 2     # all 461 real ads (slow: OCR is ~70% of ingest)

Ray lives in its own environment (`pip install -r requirements-ray.txt`); run this with that Python.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def subset(source: Path, limit: int, dest: Path) -> int:
    """Copy `limit` media files (0: all), taken in turn from each sub-folder, into dest (not the repo)."""
    folders = sorted(p for p in source.iterdir() if p.is_dir())
    per = [sorted(f for f in d.rglob("*") if f.is_file() and f.suffix.lower() not in {".csv", ".md", ".txt", ".json"})
           for d in folders]
    picked, i = [], 0
    while any(i < len(p) for p in per) and (not limit or len(picked) < limit):
        for p in per:
            if i < len(p) and (not limit or len(picked) < limit):
                picked.append(p[i])
        i += 1
    for f in picked:
        target = dest / f.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    return len(picked)


def run_engine(engine: str, src: Path, lib: Path, workers: int) -> dict:
    shutil.rmtree(lib, ignore_errors=True)
    before = uptime()
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "core", "ingest", str(src), "--library", str(lib), "--no-build",
                           "--engine", engine, "--workers", str(workers)], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{engine} ingest failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return {"engine": engine, "seconds": round(wall, 1), "before": before, "after": uptime()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=str(ROOT.parent / "shared" / "ads"))
    ap.add_argument("--limit", type=int, default=120, help="media files taken (0: all)")
    ap.add_argument("--engines", default="local,ray")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="2: local, ray, ray, local")
    args = ap.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    source = Path(args.source)
    if not source.exists():
        print(f"skipped: {source} is absent")
        return
    from core.engines.compare import library_differences
    from core.store import Library

    with tempfile.TemporaryDirectory(prefix="enginebench") as tmp:
        tmp = Path(tmp)
        n = subset(source, args.limit, tmp / "src")
        print(f"{n} files from {source}, {args.workers} workers", flush=True)
        order = engines if args.rounds < 2 else engines + engines[::-1]
        runs = []
        for k, engine in enumerate(order):
            r = run_engine(engine, tmp / "src", tmp / f"lib-{engine}-{k}", args.workers)
            runs.append(r)
            print(f"  {engine:>5}: {r['seconds']:7.1f} s  ({n / r['seconds']:.2f} files/s)   before: {r['before']}\n"
                  f"         after:  {r['after']}", flush=True)
        mean = {e: sum(r["seconds"] for r in runs if r["engine"] == e) / sum(r["engine"] == e for r in runs) for e in engines}
        out = {"files": n, "workers": args.workers, "runs": runs, "mean_seconds": mean}
        if "local" in mean and "ray" in mean:
            out["ratio_ray_to_local"] = round(mean["ray"] / mean["local"], 3)
            a, b = Library(tmp / "lib-local-0"), Library(tmp / f"lib-ray-{engines.index('ray')}")
            counts = {"local": a.counts(), "ray": b.counts()}
            diffs = library_differences(a, b)
            a.close()
            b.close()
            out.update(counts=counts, differences=diffs)
            print(f"ray / local = {out['ratio_ray_to_local']:.3f}  (mean of {args.rounds} round(s))", flush=True)
            print(f"counts: local {counts['local']}  ray {counts['ray']}", flush=True)
            print("libraries: " + ("identical (texts, hashes, row ids, vectors within 1e-4)" if not diffs else "; ".join(diffs)), flush=True)
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "out" / "engines.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
