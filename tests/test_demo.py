"""The sample library generator: files, metadata sanity, determinism, trend roles and video ground truth."""
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.demo import generate_sample


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): _sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    calls = []
    generate_sample(out, seed=0, progress=lambda done, total: calls.append((done, total)))
    gt = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    meta = pd.read_csv(out / "metadata.csv", encoding="utf-8")
    return out, gt, meta, calls


@pytest.fixture(scope="module")
def monthly(sample):
    """Per image family: ads per month, spend per month, substyles per month (month index 0-3)."""
    _, gt, meta, _ = sample
    meta = meta[meta.format != "video"].copy()
    meta["family"] = [gt["files"][f]["family"] for f in meta.file]
    meta["substyle"] = [gt["files"][f]["substyle"] for f in meta.file]
    months = sorted(pd.to_datetime(meta.date).dt.to_period("M").unique())
    meta["m"] = [months.index(p) for p in pd.to_datetime(meta.date).dt.to_period("M")]
    counts = {fam: [int(((g.m == m)).sum()) for m in range(4)] for fam, g in meta.groupby("family")}
    spend = {fam: [float(g.spend[g.m == m].sum()) for m in range(4)] for fam, g in meta.groupby("family")}
    styles = {fam: [set(g.substyle[g.m == m]) for m in range(4)] for fam, g in meta.groupby("family")}
    return counts, spend, styles


def test_counts_and_families(sample):
    out, gt, meta, calls = sample
    kinds = [v["kind"] for v in gt["files"].values()]
    assert kinds.count("image") == 200
    assert 6 <= kinds.count("video") <= 8
    image_families = {v["family"] for v in gt["files"].values() if v["kind"] == "image"}
    assert len(image_families) >= 9 and set(gt["families"]) >= image_families
    assert len(meta) == len(gt["files"])
    assert calls[-1] == (len(gt["files"]), len(gt["files"])) and len(calls) == len(gt["files"])


def test_metadata_and_files_match(sample):
    out, gt, meta, _ = sample
    on_disk = {p.relative_to(out).as_posix() for sub in ("images", "videos") for p in (out / sub).rglob("*") if p.is_file()}
    assert set(meta.file) == on_disk == set(gt["files"])
    assert meta.file.is_unique
    for f in meta.file[meta.format != "video"]:
        assert f.split("/")[1] == gt["files"][f]["family"]  # images/<family>/<name>


def test_metadata_values_sane(sample):
    _, gt, meta, _ = sample
    expected = ["file", "headline", "copy", "cta", "tags", "format", "placement", "campaign", "date", "start_date",
                "end_date", "spend", "impressions", "clicks", "conversions", "revenue"]
    assert list(meta.columns) == expected
    assert meta[["headline", "copy", "cta", "tags", "campaign"]].notna().all().all()
    assert (meta.spend > 0).all() and (meta.revenue >= 0).all()
    assert (meta.impressions > 0).all()
    assert (meta.clicks <= meta.impressions).all() and (meta.conversions <= meta.clicks).all()
    assert set(meta.format) <= {"square", "portrait", "story", "landscape", "video"}
    assert set(meta.placement) <= {"feed", "stories", "reels", "display"}
    start, end = pd.to_datetime(meta.start_date), pd.to_datetime(meta.end_date)
    assert (start <= end).all() and ((end - start).dt.days <= 42).all()
    assert (meta.date == meta.start_date).all()
    assert all(";" in t for t in meta.tags)


def test_performance_depends_on_family(sample):
    _, gt, meta, _ = sample
    meta = meta.assign(family=[gt["files"][f]["family"] for f in meta.file])
    sums = meta.groupby("family")[["impressions", "clicks"]].sum()
    ctr = sums.clicks / sums.impressions
    assert ctr.max() / ctr.min() > 2.5


def test_byte_identical_pairs_recorded(sample):
    out, gt, _, _ = sample
    recorded = {f: v["identical_to"] for f, v in gt["files"].items() if v["identical_to"]}
    assert 5 <= len(recorded) <= 10
    for copy, original in recorded.items():
        assert _sha(out / copy) == _sha(out / original)
        assert gt["files"][copy]["variant_group"] == gt["files"][original]["variant_group"]
    by_hash = defaultdict(list)
    for f, h in _hashes(out).items():
        if f.startswith(("images/", "videos/")):
            by_hash[h].append(f)
    unrecorded = [fs for fs in by_hash.values() if len(fs) > 1 and not any(f in recorded for f in fs)]
    assert not unrecorded  # every duplicate is a declared re-run


def test_variant_groups_stay_in_family(sample):
    _, gt, meta, _ = sample
    groups = defaultdict(set)
    fmt = dict(zip(meta.file, meta.format))
    for f, v in gt["files"].items():
        groups[v["variant_group"]].add((v["family"], fmt[f]))
    assert all(len(members) == 1 for members in groups.values())
    assert sum(1 for g in groups if not g.startswith("video")) >= 50


def test_runs_cross_months_but_not_past_the_last_launch(sample):
    """Ads run on into the next month (a concept that works keeps running), but a look that stops
    launching stops running: no ad of a family (or substyle) runs past the month of its last launch."""
    _, gt, meta, _ = sample
    start, end = pd.to_datetime(meta.start_date), pd.to_datetime(meta.end_date)
    assert 0.2 < (start.dt.to_period("M") != end.dt.to_period("M")).mean() < 0.8
    look = [gt["files"][f]["family"] + "/" + gt["files"][f]["substyle"] for f in meta.file]
    last_launch = start.dt.to_period("M").groupby(look).transform("max")
    assert (end.dt.to_period("M") <= last_launch).all()
    groups = defaultdict(set)   # some concepts are re-cut and re-launched in the next month
    for f, s in zip(meta.file, start.dt.to_period("M")):
        groups[gt["files"][f]["variant_group"]].add(s)
    assert sum(len(months) > 1 for months in groups.values()) >= 10


def test_four_months(sample):
    _, _, meta, _ = sample
    assert len(pd.to_datetime(meta.date).dt.to_period("M").unique()) >= 4


def test_trend_roles(sample, monthly):
    _, gt, _, _ = sample
    counts, spend, styles = monthly
    roles = gt["trend_roles"]
    assert set(roles) == {"grows", "peaks", "appears", "disappears", "splits"}
    grows = counts[roles["grows"]]
    assert all(a < b for a, b in zip(grows, grows[1:]))
    assert all(a < b for a, b in zip(spend[roles["grows"]], spend[roles["grows"]][1:]))
    peaks = counts[roles["peaks"]]
    assert int(np.argmax(peaks)) in (1, 2) and peaks[0] < max(peaks) and peaks[-1] < max(peaks)
    assert counts[roles["appears"]][:2] == [0, 0] and min(counts[roles["appears"]][2:]) > 0
    assert counts[roles["disappears"]][2:] == [0, 0] and min(counts[roles["disappears"]][:2]) > 0
    split = styles[roles["splits"]]
    assert len(split[0]) == len(split[1]) == 1 and split[0] == split[1]
    assert len(split[2]) == len(split[3]) == 2 and split[2] == split[3] and not split[2] & split[0]
    for fam in set(counts) - set(roles.values()):  # the rest are steady
        assert min(counts[fam]) > 0


def test_videos_match_ground_truth(sample):
    import imageio_ffmpeg
    out, gt, _, _ = sample
    videos = {f: v for f, v in gt["files"].items() if v["kind"] == "video"}
    assert {v["pacing"] for v in videos.values()} == {"fast", "slow"}
    for f, v in videos.items():
        reader = imageio_ffmpeg.read_frames(str(out / f))
        meta = next(reader)
        w, h = meta["size"]
        frames = [np.frombuffer(b, np.uint8).reshape(h, w, 3).astype(np.int16) for b in reader]
        assert len(frames) == round(v["duration_s"] * v["fps"]) and meta["fps"] == v["fps"]
        assert 4 <= v["duration_s"] <= 12 and v["shot_count"] == len(v["cut_times_s"]) + 1
        lo, hi = (8, 15) if v["pacing"] == "fast" else (2, 4)
        assert lo <= v["shot_count"] <= hi
        # hard cuts are where consecutive frames differ a lot, and only there
        diffs = np.array([np.abs(a - b).mean() for a, b in zip(frames, frames[1:])])
        cuts = [round((i + 1) / v["fps"], 4) for i in np.flatnonzero(diffs > 25)]
        assert cuts == v["cut_times_s"], f


def test_deterministic_by_seed(tmp_path):
    a = generate_sample(tmp_path / "a", seed=3, n_images=30)
    b = generate_sample(tmp_path / "b", seed=3, n_images=30)
    c = generate_sample(tmp_path / "c", seed=4, n_images=30, with_videos=False)
    ha, hb, hc = _hashes(a), _hashes(b), _hashes(c)
    assert ha == hb
    assert sum(f.startswith("images/") for f in ha) == 30
    assert {f: h for f, h in ha.items() if f in hc} != {f: h for f, h in hc.items() if f in ha}
