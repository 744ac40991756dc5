"""Writing the sample: image and video files, metadata.csv and ground_truth.json (`generate_sample`)."""
from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .data import (APP_GRAD, BADGE, BUTTON, COPY, CSV_COLUMNS, EXTRA_TAGS, FAMILIES, MONTHS, N_VIDEOS, PHOTOS,
    TREND_ROLES, VIDEO_FAMILIES, VIDEO_FPS, VIDEO_SIZE)
from .render import _photo, _pill, _text
from .plan import _copy_text, _crop, _dates, _pick, _placement, _plan, _render, _row, _variant


def _save(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        img.save(path, quality=88)
    else:
        img.save(path)


def _write_images(out: Path, concepts: list[dict], rng, tick) -> tuple[list, dict]:
    rows, truth = [], {}
    for c in concepts:
        fam = c["family"]
        fmt, prefix, ext = FAMILIES[fam]
        group = f"{fam}/c{c['index']:02d}"
        first = None
        dates = _dates(c["months"], c["last_month"], rng)
        for v, (kind, month, when) in enumerate(zip(c["kinds"], c["months"], dates), start=1):
            file = f"images/{fam}/{prefix}_{c['index']:02d}_v{v}.{ext}"
            p = dict(_variant(c, "original" if kind == "rerun" else kind, rng), month=month)
            if kind == "rerun":  # same creative bytes, re-launched with new copy
                shutil.copyfile(out / first, out / file)
            else:
                _save(_render(p), out / file)
            first = first or file
            rows.append(_row(file, p, fmt, _placement(fmt, rng), when, _copy_text(fam, rng, c["substyle"]), rng))
            truth[file] = dict(family=fam, variant_group=group, kind="image", substyle=c["substyle"],
                               variant=kind, identical_to=first if kind == "rerun" else None)
            tick()
    return rows, truth


# ---------------------------------------------------------------------------------------------- videos

def _video_specs(n: int, rng: np.random.Generator) -> list[dict]:
    """Alternate fast (8-14 shots of 0.5-0.83 s) and slow (2-4 shots of 2-3 s) edits, all 4-12 s; two launches a month."""
    specs = []
    for i in range(n):
        fast = i % 2 == 0
        shots = int(rng.integers(8, 15)) if fast else int(rng.integers(2, 5))
        lengths = rng.integers(6, 11, shots) if fast else rng.integers(24, 37, shots)
        keys, prev = [], None
        for _ in range(shots):  # adjacent shots never reuse a photo, so every cut is a real change
            prev = _pick(rng, list(PHOTOS), exclude=prev)
            keys.append(prev)
        family = VIDEO_FAMILIES[0 if fast else 1]
        product = _pick(rng, PHOTOS[keys[0]][1])
        specs.append(dict(family=family, fast=fast, lengths=[int(x) for x in lengths], keys=keys, product=product,
                          category=PHOTOS[keys[0]][0], month=min(i // 2, len(MONTHS) - 1), captions=list(rng.choice(COPY[family]["headlines"], shots)),
                          colours=[_pick(rng, BADGE + BUTTON[2:] + [c for c, _ in APP_GRAD]) for _ in range(shots)],
                          crops=[_crop(rng, k) for k in keys], drift=[rng.uniform(-1, 1, 2) for _ in range(shots)]))
    return specs


def _video_shot_frames(spec: dict, s: int) -> list[np.ndarray]:
    """Frames of shot s: fast shots are stills (a solid end card last); slow shots zoom in 1.0 -> 1.08x."""
    W, H = VIDEO_SIZE
    n, caption = spec["lengths"][s], spec["captions"][s].format(product=spec["product"])
    last = s == len(spec["lengths"]) - 1
    if last:  # end card: flat colour with the CTA
        card = Image.new("RGB", (W, H), spec["colours"][s])
        d = ImageDraw.Draw(card)
        _text(d, spec["product"], (20, 160, W - 20, 360), 48, (255, 255, 255), max_lines=2)
        _pill(d, COPY[spec["family"]]["cta"][0], (W / 2, 460), 30, (255, 255, 255), spec["colours"][s])
        return [np.asarray(card)] * n
    if spec["fast"]:  # UGC-style still with a white caption bar
        img = _photo(spec["crops"][s], W, H)
        d = ImageDraw.Draw(img)
        d.rounded_rectangle((20, 90, W - 20, 190), radius=16, fill=(255, 255, 255))
        _text(d, caption, (34, 96, W - 34, 184), 34, (0, 0, 0), max_lines=2)
        return [np.asarray(img)] * n
    key, cx, cy, zoom = spec["crops"][s]
    dx, dy = spec["drift"][s]
    frames = []
    for f in range(n):  # gradual zoom + drift: no frame-to-frame jump a cut detector could mistake for a cut
        t = f / (n - 1)
        img = _photo((key, cx + 0.02 * dx * t, cy + 0.02 * dy * t, zoom * (1 + 0.08 * t)), W, H,
                     resample=Image.BILINEAR)  # per-frame resize: bilinear keeps video rendering fast
        _text(ImageDraw.Draw(img), caption, (24, H - 200, W - 24, H - 60), 40, (255, 255, 255), max_lines=2,
              stroke=3, stroke_fill=(0, 0, 0))
        frames.append(np.asarray(img))
    return frames


def _write_video(path: Path, spec: dict) -> dict:
    import imageio_ffmpeg
    path.parent.mkdir(parents=True, exist_ok=True)
    # one encoder thread + bitexact muxing: identical bytes on every run
    writer = imageio_ffmpeg.write_frames(str(path), VIDEO_SIZE, fps=VIDEO_FPS, codec="libx264", quality=6,
                                         macro_block_size=8, ffmpeg_log_level="error",
                                         output_params=["-threads", "1", "-preset", "veryfast", "-fflags", "+bitexact",
                                                        "-flags:v", "+bitexact", "-map_metadata", "-1"])
    writer.send(None)
    for s in range(len(spec["lengths"])):
        for frame in _video_shot_frames(spec, s):
            writer.send(np.ascontiguousarray(frame))
    writer.close()
    bounds = np.cumsum(spec["lengths"])
    return dict(shot_count=len(spec["lengths"]), cut_times_s=[round(int(b) / VIDEO_FPS, 4) for b in bounds[:-1]],
                pacing="fast" if spec["fast"] else "slow", duration_s=round(int(bounds[-1]) / VIDEO_FPS, 4), fps=VIDEO_FPS)


def _write_videos(out: Path, specs: list[dict], rng, tick) -> tuple[list, dict]:
    rows, truth = [], {}
    counters = {fam: 0 for fam in VIDEO_FAMILIES}
    for spec in specs:
        fam = spec["family"]
        counters[fam] += 1
        file = f"videos/{'fast' if spec['fast'] else 'slow'}_{counters[fam]:02d}.mp4"
        info = _write_video(out / file, spec)
        c = COPY[fam]
        p = dict(family=fam, month=spec["month"], substyle="default", category=spec["category"],
                 extra_tag=_pick(rng, EXTRA_TAGS), headline=spec["captions"][0].format(product=spec["product"]),
                 cta=c["cta"][0], campaign=c["campaigns"][0])
        placement = "reels" if spec["fast"] else "stories"   # video flights are booked month by month
        rows.append(_row(file, p, "video", placement, _dates([spec["month"]], spec["month"], rng)[0], _copy_text(fam, rng), rng))
        truth[file] = dict(family=fam, variant_group=f"{fam}/c{counters[fam]:02d}", kind="video", substyle="default",
                           variant="original", identical_to=None, **info)
        tick()
    return rows, truth


# ------------------------------------------------------------------------------------------------- API

def generate_sample(out_dir: str | Path, seed: int = 0, n_images: int = 200, with_videos: bool = True,
                    progress=None) -> Path:
    """Write a sample ad library (images/, videos/, metadata.csv, ground_truth.json) into out_dir.

    The same seed gives byte-identical files. progress(done, total) is called after every file.
    ground_truth.json files[f] holds family, variant_group, kind, identical_to, plus substyle (the split
    family's sub-style, else "default") and variant (original/crop/recolour/resize/text_swap/rerun);
    videos add shot_count, cut_times_s, pacing, duration_s and fps.
    """
    out = Path(out_dir)
    if (out / "ground_truth.json").exists():  # regenerating over an old sample: drop its media, not foreign files
        for sub in ("images", "videos"):
            shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    concepts = _plan(n_images, rng)
    specs = _video_specs(N_VIDEOS, rng) if with_videos else []
    total, done = n_images + len(specs), [0]

    def tick():
        done[0] += 1
        if progress:
            progress(done[0], total)

    rows, truth = _write_images(out, concepts, rng, tick)
    video_rows, video_truth = _write_videos(out, specs, rng, tick)
    with open(out / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows + video_rows)
    families = list(FAMILIES) + (VIDEO_FAMILIES if specs else [])
    gt = dict(files={**truth, **video_truth}, families=families, trend_roles=TREND_ROLES, seed=seed)
    (out / "ground_truth.json").write_text(json.dumps(gt, indent=1), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Generate the deterministic sample ad library.")
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-images", type=int, default=200)
    ap.add_argument("--no-videos", action="store_true")
    args = ap.parse_args(argv)
    path = generate_sample(args.out_dir, args.seed, args.n_images, not args.no_videos,
                           progress=lambda d, t: print(f"\r{d}/{t}", end="", flush=True))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
