"""Video ads: shot cuts, keyframes, pacing words, hooks, bad videos, long videos, export.

Clips are generated with the bundled ffmpeg (tests/videoclips.py); the models are the real ones.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.compute import CreativeTask, analyze_creative, init_worker
from core.limits import IngestLimits
from core.media import probe_video
from core.video import MAX_KEYFRAMES, MAX_SAMPLES, best_moment, sample_frames, structure
from videoclips import Shot, audio_clip, lavfi_clip, write_clip

# 9 shots, 0.4 s to 3 s long; the slow zoom and the slow pan are one shot each, not cuts
CLEAN = [Shot(1.0, "photo", "astronaut", text="NEW DROP"), Shot(0.5, "color", color=(20, 60, 200)),
         Shot(2.5, "zoom", "coffee"), Shot(0.4, "photo", "chelsea"), Shot(1.5, "color", color=(240, 200, 30), text="50% OFF"),
         Shot(3.0, "pan", "china"), Shot(0.7, "photo", "rocket", text="LAUNCH DAY"), Shot(1.2, "zoom", "flower", move=0.5),
         Shot(0.8, "color", color=(30, 30, 30), text="SHOP NOW")]
FAST = [Shot(0.6, "photo", p, text=t) for p, t in zip(["astronaut", "coffee", "chelsea", "rocket", "china", "flower"] * 2,
                                                       ["WAIT FOR IT", "DAY IN MY LIFE", "NO WAY", "3 REASONS", "LOOK", "SALE"] * 2)]
SLOW = [Shot(3.0, "zoom", "coffee", text="Slow mornings"), Shot(3.5, "zoom", "flower", move=0.2),
        Shot(3.0, "zoom", "china", move=0.2, text="Made to last")]


def _squash(text: str) -> str:
    return "".join(text.upper().split())  # OCR reads small captions without their spaces


def _analyze(path: Path, limits: IngestLimits = IngestLimits()):
    init_worker(None, threads=1)
    res = analyze_creative(CreativeTask("0" * 64, str(path), "video", path.name), limits)
    assert res.ok, res.error_message
    return res


def _structure(path: Path, limits: IngestLimits = IngestLimits()):
    probe = probe_video(path)
    samples = sample_frames(path, probe, limits)
    return probe, samples, structure(samples)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    d = tmp_path_factory.mktemp("clips")
    made = {}
    for name, shots, size, fps in [("clean.mp4", CLEAN, (320, 240), 24), ("fast.mp4", FAST, (240, 426), 30),
                                   ("slow.mp4", SLOW, (320, 240), 25), ("clean.webm", CLEAN, (320, 240), 24),
                                   ("clean.mov", CLEAN, (256, 256), 25)]:
        made[name] = (d / name, write_clip(d / name, shots, size, fps))
    return made


@pytest.mark.parametrize("name", ["clean.mp4", "fast.mp4", "slow.mp4", "clean.webm", "clean.mov"])
def test_shot_count_exact_on_clean_cuts(clips, name):
    path, truth = clips[name]
    probe, samples, st = _structure(path)
    assert len(st.shot_lengths_s) == truth["shot_count"], (st.cut_times_s, truth["cut_times_s"])
    # cut times land within one sample of the true frame boundary
    assert np.abs(np.array(st.cut_times_s) - truth["cut_times_s"]).max() <= 1 / samples.rate + 1e-6
    assert sum(st.shot_lengths_s) == pytest.approx(truth["duration_s"], abs=0.15)
    assert probe.codec in ("h264", "vp9", "mjpeg")


def test_fast_clip_signals_end_to_end(clips):
    path, truth = clips["fast.mp4"]
    res = _analyze(path)
    x = res.extra
    assert x["shot_count"] == 12 and x["cuts_per_s"] >= 1.2 and x["duration_s"] == pytest.approx(7.2, abs=0.1)
    assert {"video", "short video", "12 shots", "fast cuts", "quick cuts"} <= set(res.layout_words)
    assert "slow reveal" not in res.layout_words
    # one keyframe per shot, each read by OCR; the hook is the first 3 s
    assert len(x["keyframes"]) == 12 and all(0 <= k["t_s"] < 7.2 for k in x["keyframes"])
    assert "WAITFORIT" in _squash(x["keyframes"][0]["ocr_text"])
    assert "3REASONS" in _squash(x["hook_text"]) and "SALE" not in _squash(x["hook_text"])  # SALE opens at 3.0 s
    assert x["text_time_share"] == pytest.approx(1.0)
    # captions repeat across shots: the creative's OCR text lists each once
    assert _squash(res.ocr_text).count("WAITFORIT") == 1
    # boxes carry their keyframe's time and are in video pixels
    times = {b[6] for b in res.ocr_boxes}
    assert times <= {k["t_s"] for k in x["keyframes"]} and len(times) >= 10
    assert max(b[4] for b in res.ocr_boxes) <= 240 + 1
    # pooled visual embedding and hook embedding: unit vectors of the model's size
    assert res.visual.shape == (len(x["hook_visual"]),) and np.linalg.norm(res.visual) == pytest.approx(1, abs=1e-4)
    assert np.linalg.norm(x["hook_visual"]) == pytest.approx(1, abs=1e-3)
    assert len(json.dumps(x)) < 60_000


def test_slow_clip_is_slow(clips):
    path, _ = clips["slow.mp4"]
    res = _analyze(path)
    assert res.extra["shot_count"] == 3 and res.extra["cuts_per_s"] < 0.4 and res.extra["motion"] < 0.03
    assert {"slow reveal", "slow paced", "3 shots"} <= set(res.layout_words)
    assert "fast cuts" not in res.layout_words
    assert 0.3 < res.extra["text_time_share"] < 0.8  # the middle shot has no caption


@pytest.mark.parametrize("name", ["clean.webm", "clean.mov"])
def test_unusual_codecs_analyse(clips, name):
    path, truth = clips[name]
    res = _analyze(path)
    assert res.extra["shot_count"] == truth["shot_count"]
    assert "LAUNCH" in res.ocr_text.upper()


def test_best_moment():
    extra = {"keyframes": [{"t_s": 0.4, "ocr_text": "New drop", "labels": ["sneaker"]},
                           {"t_s": 2.1, "ocr_text": "50% off running shoes", "labels": ["running shoe"]},
                           {"t_s": 5.0, "ocr_text": "Shop now", "labels": []}]}
    assert best_moment(extra, ["shoe", "sale"]) == 2.1
    assert best_moment(extra, ["shop now"]) == 5.0
    assert best_moment(extra, ["unrelated"]) == 0.4   # no match: the hook
    assert best_moment(json.dumps(extra), []) == 0.4
    assert best_moment({"keyframe_times_s": [3.5]}, ["x"]) == 3.5
    assert best_moment({}, ["x"]) is None and best_moment(None, ["x"]) is None


def test_long_video_samples_are_capped(tmp_path):
    path = tmp_path / "long.mp4"
    lavfi_clip(path, 20 * 60, "32x32", 1)
    # the whole 20 min when the limit allows it: spread evenly, never more than MAX_SAMPLES
    probe = probe_video(path)
    samples = sample_frames(path, probe, IngestLimits(max_video_seconds=3600))
    assert len(samples.frames) <= MAX_SAMPLES and samples.span_s == pytest.approx(1200, rel=0.01)
    # the default limit (10 min) analyses the first 10 min; the ad still goes in with its real duration
    res = _analyze(path)
    x = res.extra
    assert x["sampled_frames"] <= MAX_SAMPLES and x["analysed_s"] <= 600 + 1
    assert x["duration_s"] == pytest.approx(1200, abs=1) and "long video" in res.layout_words
    assert 1 <= len(x["keyframes"]) <= MAX_KEYFRAMES


def test_ingest_good_and_bad_videos_with_images(tmp_path, clips):
    from PIL import Image

    from core.export import ads_table
    from core.ingest import ingest
    from core.store import Library

    src = tmp_path / "upload"
    src.mkdir()
    for name in ("fast.mp4", "clean.webm", "clean.mov"):
        (src / name).write_bytes(clips[name][0].read_bytes())
    Image.new("RGB", (200, 200), (200, 30, 30)).save(src / "banner.png")
    good = clips["clean.mp4"][0].read_bytes()
    (src / "truncated.mp4").write_bytes(good[: len(good) // 3])
    (src / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (src / "notes.mov").write_text("not a video at all\n")
    audio_clip(src / "audio_only.mp4")

    lib = Library(tmp_path / "lib")
    summary = ingest(lib, src, workers=1)
    skipped = {s["file"]: s for s in summary.skipped}
    assert set(skipped) == {"truncated.mp4", "corrupt.mp4", "notes.mov", "audio_only.mp4"}, skipped
    assert skipped["audio_only.mp4"]["reason"] == "no_video_stream"
    for name in ("truncated.mp4", "corrupt.mp4", "notes.mov"):
        assert skipped[name]["reason"] == "corrupt_video"
    for name, s in skipped.items():
        assert f"'{name}'" in s["message"], s

    rows = lib.execute("SELECT a.file, c.kind, c.extra, c.layout_words, a.document FROM ads a JOIN creatives c ON c.id = a.creative_id").fetchall()
    by_file = {r[0]: r for r in rows}
    assert set(by_file) == {"fast.mp4", "clean.webm", "clean.mov", "banner.png"}
    for name in ("fast.mp4", "clean.webm", "clean.mov"):
        extra = json.loads(by_file[name][2])
        assert extra["shot_count"] == clips[name][1]["shot_count"] and extra["keyframes"] and extra["hook_visual"]
    assert "fast cuts" in by_file["fast.mp4"][3] and "fast cuts" in by_file["fast.mp4"][4]  # search sees pacing words
    t_s = lib.execute("""SELECT DISTINCT b.t_s FROM ocr_boxes b JOIN creatives c ON c.id = b.creative_id
                         JOIN ads a ON a.creative_id = c.id WHERE a.file = 'fast.mp4'""").fetchall()
    assert len(t_s) >= 10

    table = ads_table(lib).set_index("file")
    assert table.loc["fast.mp4", "shot_count"] == 12 and table.loc["fast.mp4", "cuts_per_s"] >= 1.2
    assert table.loc["clean.mov", "duration_s"] == pytest.approx(clips["clean.mov"][1]["duration_s"], abs=0.1)
    assert table.loc["banner.png", ["duration_s", "shot_count", "cuts_per_s"]].isna().all()
    lib.close()


def test_sample_videos_match_ground_truth(sample_library, sample_truth):
    rows = sample_library.execute("""SELECT a.file, c.extra, c.layout_words FROM ads a JOIN creatives c ON c.id = a.creative_id
                                     WHERE c.kind = 'video'""").fetchall()
    truth = {f: t for f, t in sample_truth["files"].items() if t["kind"] == "video"}
    assert truth and {f for f, _, _ in rows} == set(truth)
    for file, extra, words in rows:
        x = json.loads(extra)
        assert x["shot_count"] == truth[file]["shot_count"], (file, x["cut_times_s"], truth[file]["cut_times_s"])
        assert ("fast cuts" if truth[file]["pacing"] == "fast" else "slow reveal") in words, (file, words)
