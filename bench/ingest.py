"""Ingest throughput: ads/s end to end, each stage's share, and the model-bound reference.

The reference is what no ingest can beat: visual forward + OCR alone on the same images, with the
same number of processes (models loaded once per process, as in ingest). Both are measured in this
run, so the ratio holds whatever the machine.

    python bench/ingest.py                 # sample library (+ ../shared/ads when present)
    python bench/ingest.py --only shared   # just the real ads
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}


def _reference_one(path: str) -> float:
    from PIL import Image

    from core.compute import _models

    visual, ocr = _models()
    img = Image.open(path)
    img.seek(0)
    img = img.convert("RGB")
    visual.encode(img)
    ocr.read(img)
    return 0.0


def reference(images: list[Path], workers: int) -> float:
    """Seconds for visual forward + OCR alone, same process count as ingest."""
    from core.compute import init_worker

    t = time.perf_counter()
    if workers <= 1:
        init_worker(None, threads=max(1, (os.cpu_count() or 1) // 2))
        for p in images:
            _reference_one(str(p))
    else:
        with mp.get_context("spawn").Pool(workers, initializer=init_worker, initargs=(None, 1)) as pool:
            list(pool.imap(_reference_one, [str(p) for p in images], chunksize=1))
    return time.perf_counter() - t


def end_to_end(source: Path, workers: int) -> tuple[float, dict, dict]:
    from core.ingest import ingest
    from core.store import Library

    tmp = Path(tempfile.mkdtemp(prefix="cte-bench-"))
    try:
        lib = Library(tmp / "lib")
        t = time.perf_counter()
        summary = ingest(lib, source, workers=workers)
        seconds = time.perf_counter() - t
        lib.close()
        return seconds, summary.to_dict(), summary.stage_seconds
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(name: str, source: Path, workers: int) -> dict:
    images = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_EXT)
    e2e_s, summary, stages = end_to_end(source, workers)
    ref_s = reference(images, workers)
    ads = summary["ads_added"]
    worker_stage = {k: v for k, v in stages.items() if k in ("decode", "visual", "ocr", "signals")}
    total_worker = sum(worker_stage.values()) or 1.0
    print(f"\n== {name}: {ads} ads ({summary['creatives_added']} creatives, {len(images)} image files), {workers} worker processes")
    print(f"end to end     {e2e_s:7.1f} s   {ads / e2e_s:6.2f} ads/s")
    print(f"reference      {ref_s:7.1f} s   {len(images) / ref_s:6.2f} img/s   (visual forward + OCR alone)")
    print(f"ratio          {e2e_s / ref_s:7.2f} × the model-bound reference")
    print("stage shares (worker CPU time):  " + "  ".join(f"{k} {v / total_worker:.0%}" for k, v in sorted(worker_stage.items())))
    print("parent process seconds:          " + "  ".join(f"{k} {v:.1f}" for k, v in sorted(stages.items()) if k not in worker_stage))
    return {"name": name, "ads": ads, "e2e_s": e2e_s, "ref_s": ref_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["sample", "shared"], default=None)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    a = ap.parse_args()
    if a.only in (None, "sample"):
        from core.demo import generate_sample

        src = Path(tempfile.mkdtemp(prefix="cte-sample-"))
        generate_sample(src, seed=0)
        # image ads only: a video costs one visual+OCR pass per shot (bench/video.py measures those)
        for p in src.rglob("*"):
            if p.suffix.lower() in (".mp4", ".mov", ".webm", ".m4v"):
                p.unlink()
        run("sample library, image ads", src, a.workers)
        shutil.rmtree(src, ignore_errors=True)
    shared = ROOT.parent / "shared" / "ads"
    if a.only in (None, "shared"):
        if shared.exists():
            run("../shared/ads", shared, a.workers)
        else:
            print("../shared/ads absent: skipped the real-ads run")


if __name__ == "__main__":
    main()
