"""Video structure: one downscaled decode → shot cuts, keyframe times, pacing features and words.

The decode samples at most ``SAMPLE_FPS`` frames a second at ≤ ``SAMPLE_SIDE`` px, never more than
``MAX_SAMPLES`` frames in all (spread evenly over long videos), through the bundled ffmpeg with a
timeout. Cuts are peaks of the colour-histogram distance between consecutive samples that stand
well above the clip's own typical frame-to-frame change, so pans and zooms (a steady stream of
small changes) never read as cuts. The models only ever see the few keyframes (one per shot).
"""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image
from numpy.lib.stride_tricks import sliding_window_view

from .limits import DEFAULT_LIMITS, IngestLimits
from .media import MediaError, VideoProbe, _corrupt, _ffmpeg_input, video_frame_at

SAMPLE_FPS = 10.0
SAMPLE_SIDE = 160
MAX_SAMPLES = 600
MAX_KEYFRAMES = 24
LONG_SHOT_S = 6.0      # a long take gets a keyframe per this many seconds: captions change within it
HOOK_S = 3.0           # the hook: what a scroller sees before deciding to stay
# Cut rule: a histogram distance is a cut when over CUT_MIN and over CUT_RATIO times the median
# distance of the CUT_WINDOW samples either side. Tuned on 132 generated clips (954 cuts); on fresh
# ones (bench/video.py) 56 of 60 random edits get the exact shot count (precision 0.99, recall 1.0;
# the extra cuts are whip pans of a frame width in under a second) and all the sample's videos.
CUT_MIN = 0.15
CUT_RATIO = 2.5
CUT_WINDOW = 4
MIN_SHOT_S = 0.3


@dataclass
class Samples:
    frames: np.ndarray   # n × h × w × 3 uint8
    times: np.ndarray    # n seconds, from the start
    rate: float          # samples per second
    span_s: float        # seconds of video the samples cover


# -- decoding --------------------------------------------------------------------------------------

def sample_rate(duration_s: float, fps: float, max_seconds: float) -> tuple[float, float]:
    """(samples per second, seconds to analyse): the first ``max_seconds`` at most, ≤ MAX_SAMPLES frames."""
    span = min(duration_s, max_seconds) if duration_s > 0 else max_seconds
    rate = min(SAMPLE_FPS, fps or SAMPLE_FPS, MAX_SAMPLES / max(span, 1e-6))
    return rate, span


def sample_size(width: int, height: int, side: int = SAMPLE_SIDE) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height, 1))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def sample_frames(path: str | Path, probe: VideoProbe, limits: IngestLimits = DEFAULT_LIMITS, *, name: str = "") -> Samples:
    """Decode the video once, downscaled and sub-sampled; raises MediaError when no frame decodes."""
    path = Path(path)
    label = name or path.name
    rate, span = sample_rate(probe.duration_s, probe.fps, limits.max_video_seconds)
    w, h = sample_size(probe.width, probe.height)
    args = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *_ffmpeg_input(path),
            "-map", "0:v:0", "-t", f"{span:.3f}", "-vf", f"fps={rate:.6f},scale={w}:{h}:flags=area",
            "-frames:v", str(MAX_SAMPLES), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    out = _run(args, 60 + 0.5 * span, label)  # decoding time grows with the video's length; a hang's does not
    n = len(out) // (w * h * 3)
    if n == 0:
        raise _corrupt(label)
    frames = np.frombuffer(out, np.uint8, n * w * h * 3).reshape(n, h, w, 3)
    return Samples(frames, np.arange(n) / rate, rate, min(span, n / rate))


def keyframe_images(path: str | Path, probe: VideoProbe, times: list[float], max_side: int = 640, *,
                    name: str = "") -> list[Image.Image]:
    """RGB frames at ``times`` (ascending) in one decode pass; N seeks cost far more on long GOPs."""
    path = Path(path)
    w, h = sample_size(probe.width, probe.height, max_side)
    # the first frame at or after each time: one select term per keyframe
    pick = "+".join(f"gte(t,{t:.3f})*lt(prev_pts*TB,{t:.3f})" for t in times)
    args = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *_ffmpeg_input(path),
            "-map", "0:v:0", "-vf", f"setpts=PTS-STARTPTS,select='{pick}',scale={w}:{h}", "-fps_mode", "passthrough",
            "-frames:v", str(len(times)), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    out = _run(args, 60 + 0.5 * max(times, default=0.0), name or path.name)
    if len(out) != len(times) * w * h * 3:  # two times between the same two frames, or past the end
        return [video_frame_at(path, t, max_side, name=name) for t in times]
    frames = np.frombuffer(out, np.uint8).reshape(len(times), h, w, 3)
    return [Image.fromarray(f) for f in frames]


def _run(args: list[str], timeout: float, label: str) -> bytes:
    try:
        return subprocess.run(args, capture_output=True, timeout=timeout, check=False).stdout
    except subprocess.TimeoutExpired as exc:
        raise MediaError("corrupt_video", f"'{label}' took over {timeout:.0f} s to decode, so it was given up on; "
                                          f"re-export it as MP4 (H.264) and upload again.") from exc


# -- cuts ------------------------------------------------------------------------------------------

def histograms(frames: np.ndarray) -> np.ndarray:
    """n × 4 × 512: joint RGB histogram (8 levels a channel) of each frame's quadrants, each summing to 1.

    Quadrants catch a cut between two shots of similar palette; coarse bins ignore noise and motion.
    """
    n, h, w, _ = frames.shape
    q = (frames >> 5).astype(np.int32)
    code = (q[..., 0] << 6) | (q[..., 1] << 3) | q[..., 2]
    quad = (np.arange(h)[:, None] >= h // 2) * 2 + (np.arange(w)[None, :] >= w // 2)
    idx = (code + quad[None] * 512).reshape(n, -1)
    hist = np.stack([np.bincount(row, minlength=4 * 512) for row in idx]).reshape(n, 4, 512).astype(np.float32)
    return hist / hist.sum(axis=2, keepdims=True)


def frame_distances(frames: np.ndarray) -> np.ndarray:
    """n-1 distances in 0..1: total-variation distance of consecutive histograms, mean over quadrants."""
    if len(frames) < 2:
        return np.zeros(0, np.float32)
    return np.abs(np.diff(histograms(frames), axis=0)).sum(axis=2).mean(axis=1) / 2


def frame_motion(frames: np.ndarray) -> np.ndarray:
    """n-1 mean absolute pixel differences of consecutive samples, 0..1."""
    if len(frames) < 2:
        return np.zeros(0, np.float32)
    return np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3)) / 255


def local_reference(dist: np.ndarray, k: int = CUT_WINDOW) -> np.ndarray:
    """Median of the k distances either side of each one (itself excluded): the clip's typical change there."""
    if len(dist) < 2:
        return np.zeros(len(dist), np.float32)
    win = sliding_window_view(np.pad(dist.astype(np.float64), k, constant_values=np.nan), 2 * k + 1).copy()
    win[:, k] = np.nan
    return np.nanmedian(win, axis=1)


def detect_cuts(dist: np.ndarray, rate: float, cut_min: float = CUT_MIN, ratio: float = CUT_RATIO) -> np.ndarray:
    """Sorted indices i with a hard cut between samples i and i+1.

    A cut is a spike: over ``cut_min`` and over ``ratio`` times the local reference. A pan or zoom
    raises its neighbours as much as itself, so it never spikes. Of two spikes closer than
    MIN_SHOT_S, only the larger counts (encoders blur the frame after a cut, a second small spike).
    """
    if len(dist) == 0:
        return np.zeros(0, int)
    ref = local_reference(dist)
    candidates = np.flatnonzero((dist > cut_min) & (dist > ratio * ref))
    gap = MIN_SHOT_S * rate
    kept: list[int] = []
    for i in sorted(candidates, key=lambda i: -dist[i]):
        if all(abs(i - j) >= gap for j in kept):
            kept.append(int(i))
    return np.array(sorted(kept), int)


# -- structure -------------------------------------------------------------------------------------

@dataclass
class Keyframe:
    t_s: float
    weight_s: float      # seconds of video this frame stands for


@dataclass
class Structure:
    span_s: float                 # seconds analysed
    rate: float                   # samples per second
    n_samples: int
    cut_times_s: list[float]
    shot_lengths_s: list[float]
    motion: float                 # mean absolute change between samples within shots, 0..1
    keyframes: list[Keyframe]


def structure(samples: Samples) -> Structure:
    """Cuts, shots, in-shot motion and the keyframe plan of one decoded video."""
    dist = frame_distances(samples.frames)
    cuts = detect_cuts(dist, samples.rate)
    cut_times = [float((samples.times[i] + samples.times[i + 1]) / 2) for i in cuts]
    bounds = [0.0, *cut_times, samples.span_s]
    lengths = [b - a for a, b in zip(bounds, bounds[1:])]
    within = np.delete(frame_motion(samples.frames), cuts)
    return Structure(samples.span_s, samples.rate, len(samples.frames), [round(t, 3) for t in cut_times],
                     [round(x, 3) for x in lengths], float(within.mean()) if len(within) else 0.0,
                     keyframe_plan(bounds))


def keyframe_plan(bounds: list[float]) -> list[Keyframe]:
    """The middle of each shot (of each LONG_SHOT_S slice of a long take), at most MAX_KEYFRAMES spread evenly.

    The first shot's frame is pulled into the hook window, so every video has a hook frame.
    """
    plan = []
    for a, b in zip(bounds, bounds[1:]):
        parts = max(1, int(np.ceil((b - a) / LONG_SHOT_S - 1e-9)))
        plan += [Keyframe(a + (j + 0.5) * (b - a) / parts, (b - a) / parts) for j in range(parts)]
    plan[0].t_s = min(plan[0].t_s, HOOK_S / 2)
    if len(plan) > MAX_KEYFRAMES:
        plan = [plan[i] for i in np.unique(np.linspace(0, len(plan) - 1, MAX_KEYFRAMES).round().astype(int))]
    for k in plan:
        k.t_s = round(k.t_s, 3)
    return plan


def pacing(st: Structure, duration_s: float) -> dict:
    shots = np.array(st.shot_lengths_s)
    return dict(duration_s=round(duration_s, 3), shot_count=len(shots),
                cuts_per_s=round((len(shots) - 1) / max(st.span_s, 1e-6), 3),
                mean_shot_s=round(float(shots.mean()), 3), median_shot_s=round(float(np.median(shots)), 3),
                motion=round(st.motion, 4))


# -- words -----------------------------------------------------------------------------------------

FAST_CUTS_PER_S = 0.8
SLOW_CUTS_PER_S = 0.4
SLOW_SHOT_S = 2.0
SLOW_MOTION = 0.03       # demo slow zooms measure 0.004–0.021; pans and handheld shots go well over
SHORT_VIDEO_S = 15.0
LONG_VIDEO_S = 60.0
HOOK_TEXT_CHARS = 25     # about a headline
HOOK_TEXT_AREA = 0.15


def pacing_words(p: dict, hook_text: str = "", hook_text_area: float = 0.0) -> list[str]:
    """Words a strategist would search by: length, shot count, cut rhythm, a text-led opening."""
    words = ["video"]
    if p["duration_s"] <= SHORT_VIDEO_S:
        words.append("short video")
    elif p["duration_s"] >= LONG_VIDEO_S:
        words.append("long video")
    words.append(f"{p['shot_count']} shot" + ("s" if p["shot_count"] != 1 else ""))
    if p["cuts_per_s"] >= FAST_CUTS_PER_S:
        words += ["fast cuts", "quick cuts"]
    elif p["cuts_per_s"] <= SLOW_CUTS_PER_S and p["mean_shot_s"] >= SLOW_SHOT_S and p["motion"] <= SLOW_MOTION:
        words += ["slow reveal", "slow paced"]
    if len(hook_text) >= HOOK_TEXT_CHARS or hook_text_area >= HOOK_TEXT_AREA:
        words.append("text-heavy hook")
    return words


# -- pooling the keyframes -------------------------------------------------------------------------

@dataclass
class FrameRead:
    """What the models saw in one keyframe."""
    t_s: float
    weight_s: float
    visual: np.ndarray
    labels: list            # [(label, p)]
    ocr_lines: list[str]    # one per OCR box
    text_area_share: float


@dataclass
class VideoSummary:
    visual: np.ndarray
    labels: list
    ocr_text: str
    text_area_share: float
    words: list[str]
    extra: dict


def unique_lines(lines) -> list[str]:
    """First occurrence of each line, compared ignoring case and spaces (OCR drops some): captions repeat across shots."""
    seen, out = set(), []
    for line in lines:
        key = "".join(line.casefold().split())
        if key and key not in seen:
            seen.add(key)
            out.append(line.strip())
    return out


def pool_visual(vectors: list[np.ndarray]) -> np.ndarray:
    v = np.mean(np.stack(vectors), axis=0).astype(np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def pool_labels(label_lists: list[list], k: int = 5) -> list[tuple[str, float]]:
    """Mean probability over keyframes (0 where absent), top k."""
    total: dict[str, float] = {}
    for labels in label_lists:
        for lbl, p in labels:
            total[lbl] = total.get(lbl, 0.0) + float(p)
    top = sorted(total.items(), key=lambda kv: -kv[1])[:k]
    return [(lbl, s / len(label_lists)) for lbl, s in top]


def summarise(st: Structure, reads: list[FrameRead], duration_s: float, label_floor: float = 0.12) -> VideoSummary:
    """The ad-level signals of a video from its keyframes; ``extra`` is what creatives.extra stores."""
    hook = [r for r in reads if r.t_s < HOOK_S] or reads[:1]
    hook_text = " ".join(unique_lines(line for r in hook for line in r.ocr_lines))
    hook_area = float(np.mean([r.text_area_share for r in hook]))
    weight = sum(r.weight_s for r in reads)
    text_share = sum(r.weight_s for r in reads if r.ocr_lines) / weight if weight > 0 else 0.0
    p = pacing(st, duration_s)
    extra = dict(
        **p, text_time_share=round(text_share, 3),
        analysed_s=round(st.span_s, 3), sample_fps=round(st.rate, 3), sampled_frames=st.n_samples,
        cut_times_s=st.cut_times_s,
        keyframes=[dict(t_s=r.t_s, ocr_text=" ".join(r.ocr_lines),
                        labels=[str(lbl) for lbl, q in r.labels[:3] if float(q) >= label_floor]) for r in reads],
        keyframe_times_s=[r.t_s for r in reads],
        hook_text=hook_text,
        hook_visual=[round(float(x), 4) for x in pool_visual([r.visual for r in hook])],
    )
    text_area = float(np.average([r.text_area_share for r in reads], weights=[max(r.weight_s, 1e-6) for r in reads]))
    return VideoSummary(pool_visual([r.visual for r in reads]), pool_labels([r.labels for r in reads]),
                        " ".join(unique_lines(line for r in reads for line in r.ocr_lines)), text_area,
                        pacing_words(p, hook_text, hook_area), extra)


# -- search ----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+")


def _tokens(text: str) -> set[str]:
    return {t for t in _TOKEN.findall(text.casefold()) if len(t) > 1}


def _matches(term: str, tokens: set[str]) -> bool:
    # a light stem: "shoes" finds "shoe", "running" finds "run…" (both at least 4 letters)
    return term in tokens or (len(term) >= 4 and any(len(t) >= 4 and (t.startswith(term) or term.startswith(t)) for t in tokens))


def best_moment(extra: dict | str | None, query_terms: list[str]) -> float | None:
    """Seconds into the video of the keyframe whose OCR text and labels match most query words.

    Ties go to the earlier keyframe; with no match (or no terms), the hook: the first keyframe.
    None when ``extra`` holds no keyframes (an image, or a video ingested before keyframes existed).
    """
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            return None
    extra = extra if isinstance(extra, dict) else {}
    frames = extra.get("keyframes") or [{"t_s": t} for t in extra.get("keyframe_times_s") or []]
    if not frames:
        return None
    terms = _tokens(" ".join(query_terms or []))
    best, best_score = frames[0], 0
    for f in frames:
        tokens = _tokens(" ".join([f.get("ocr_text") or "", *(f.get("labels") or [])]))
        score = sum(_matches(t, tokens) for t in terms)
        if score > best_score:
            best, best_score = f, score
    return float(best["t_s"])
