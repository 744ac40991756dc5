"""Video analysis: throughput of analyze_creative and accuracy of cut detection, on generated clips.

Throughput is seconds of video processed per second of compute, end to end (probe, the sampled
decode, keyframe decode, visual model + OCR per keyframe, pooling), one process with one thread as
in ingest. Both wall time and CPU time (this process plus its ffmpeg children) are shown: on a busy
machine the CPU figure is the one that holds. Accuracy counts detected cuts against the generator's frame-exact cut times (a hit is
within 1.5 samples), on random edits of photos, colours, zooms, pans and noisy shots, plus the
sample library's videos.

    python bench/video.py             # both tables
    python bench/video.py --only speed
    python bench/video.py --only cuts --clips 60
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from videoclips import PHOTOS, Shot, write_clip  # noqa: E402

SPEED_CASES = [  # (seconds, width, height, fps)
    (6, 360, 640, 30), (15, 720, 1280, 30), (30, 1280, 720, 25), (60, 1920, 1080, 24), (300, 640, 360, 25),
]


def random_edit(rng: np.random.Generator, seconds: float, fast: bool) -> list[Shot]:
    """Shots of random kind and length until `seconds`; neighbours never reuse a photo or both be colours."""
    shots, total, prev = [], 0.0, None
    while total < seconds:
        kinds = ["photo", "zoom", "pan"] + (["color"] if not shots or shots[-1].kind != "color" else [])
        kind = kinds[int(rng.integers(0, len(kinds)))]
        photo = str(rng.choice([p for p in PHOTOS if p != prev]))
        length = min(float(rng.uniform(0.4, 1.2) if fast else rng.uniform(1.5, 5.0)), seconds - total)
        shots.append(Shot(max(length, 0.4), kind, photo, tuple(int(c) for c in rng.integers(0, 256, 3)),
                          text=f"Offer {len(shots) + 1}" if rng.random() < 0.6 else "",
                          center=(float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))),
                          move=float(rng.uniform(0.1, 1.2)), noise=float(rng.choice([0, 0, 6]))))
        total += shots[-1].seconds
        prev = None if kind == "color" else photo
    return shots


def speed(tmp: Path) -> None:
    from core.compute import CreativeTask, analyze_creative, init_worker

    init_worker(None, threads=1)
    rng = np.random.default_rng(7)
    print(f"{'clip':>20} {'shots':>5} {'keyfr':>5} {'decode':>7} {'visual':>7} {'ocr':>6} {'wall s':>7} {'cpu s':>6} "
          f"{'video s/wall s':>14} {'video s/cpu s':>13}")
    for seconds, w, h, fps in SPEED_CASES:
        path = tmp / f"speed_{seconds}s_{w}x{h}.mp4"
        write_clip(path, random_edit(rng, seconds, fast=seconds <= 15), (w, h), fps)
        analyze_creative(CreativeTask("w", str(path), "video", path.name))  # warm the models for this shape
        t, cpu = time.perf_counter(), _cpu()
        res = analyze_creative(CreativeTask("x", str(path), "video", path.name))
        wall, cpu = time.perf_counter() - t, _cpu() - cpu
        s = res.seconds
        print(f"{f'{seconds}s {w}x{h}@{fps}':>20} {res.extra['shot_count']:>5} {len(res.extra['keyframes']):>5} "
              f"{s['decode']:>7.2f} {s['visual']:>7.2f} {s['ocr']:>6.2f} {wall:>7.2f} {cpu:>6.2f} "
              f"{seconds / wall:>14.2f} {seconds / cpu:>13.2f}")


def _cpu() -> float:
    """CPU seconds of this process and its finished children (ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def score(detected: list[float], truth: list[float], tolerance: float) -> tuple[int, int, int]:
    """(hits, false cuts, missed cuts), each true cut matched at most once."""
    left, hits = list(detected), 0
    for c in truth:
        near = [d for d in left if abs(d - c) <= tolerance]
        if near:
            left.remove(min(near, key=lambda d: abs(d - c)))
            hits += 1
    return hits, len(left), len(truth) - hits


def cuts(tmp: Path, n_clips: int, seed: int) -> None:
    from core.media import probe_video
    from core.video import CUT_MIN, CUT_RATIO, sample_frames, structure

    sets: dict[str, list[tuple[Path, dict]]] = {"random edits": [], "sample videos": []}
    rng = np.random.default_rng(seed)  # the rule was tuned on seeds 1, 2 and 2024: report others
    for i in range(n_clips):
        ext = [".mp4", ".mp4", ".webm", ".mov"][i % 4]
        size = [(320, 240), (240, 426), (480, 270)][i % 3]
        path = tmp / f"cuts_{i:03d}{ext}"
        sets["random edits"].append((path, write_clip(path, random_edit(rng, float(rng.uniform(3, 20)), i % 2 == 0),
                                                       size, [24, 25, 30, 12][i % 4])))
    try:
        from core.demo import _video_specs, _write_video

        for seed in (11, 12):
            for j, spec in enumerate(_video_specs(7, np.random.default_rng(seed))):
                path = tmp / f"demo_{seed}_{j}.mp4"
                sets["sample videos"].append((path, _write_video(path, spec)))
    except ImportError:
        del sets["sample videos"]
    print(f"cut rule: histogram distance > {CUT_MIN} and > {CUT_RATIO} x local median")
    print(f"{'set':>14} {'clips':>5} {'exact':>6} {'cuts':>5} {'precision':>9} {'recall':>6} {'max err s':>9}")
    for name, clips in sets.items():
        exact = hits = false = missed = 0
        err = 0.0
        for path, truth in clips:
            samples = sample_frames(path, probe_video(path))
            st = structure(samples)
            h, f, m = score(st.cut_times_s, truth["cut_times_s"], 1.5 / samples.rate)
            hits, false, missed = hits + h, false + f, missed + m
            exact += len(st.shot_lengths_s) == truth["shot_count"]
            if not f and not m and st.cut_times_s:
                err = max(err, float(np.abs(np.array(st.cut_times_s) - truth["cut_times_s"]).max()))
        n = sum(len(t["cut_times_s"]) for _, t in clips)
        print(f"{name:>14} {len(clips):>5} {exact:>6} {n:>5} {hits / max(hits + false, 1):>9.3f} "
              f"{hits / max(n, 1):>6.3f} {err:>9.3f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["speed", "cuts"])
    ap.add_argument("--clips", type=int, default=40, help="random edits for the cut table")
    ap.add_argument("--seed", type=int, default=99)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "cuts"):
            cuts(Path(tmp), args.clips, args.seed)
        if args.only in (None, "speed"):
            speed(Path(tmp))


if __name__ == "__main__":
    main()
