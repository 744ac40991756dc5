"""Per-creative signal computation, run in worker processes (one model copy each, 1 thread each).

`analyze_creative` is a pure function of the media file: decode → the core pass (visual
embedding + labels, OCR, thumbnail; over every keyframe of a video, pooled) → every registered
signal (core.signals.base: pHash and colours, layout words, … and plug-ins) on the creative's frame. It returns plain data (or an error) so that the
parent process alone writes to the library.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .limits import DEFAULT_LIMITS, IngestLimits
from .signals.base import FrameReads, compute_all, registered, resolve, split_words

_MODELS: dict = {}


@dataclass
class CreativeTask:
    sha256: str
    path: str          # absolute path of the stored media file
    kind: str          # image | video
    name: str          # the ad's file name, for messages
    visual_model: str | None = None
    signals: tuple = ()  # signals.base.specs() of the parent: the signals to compute (all registered when empty)
    # an image's stored model reads ({labels, ocr_text, text_area_share}): the signals are computed again from
    # them and the pixels, without the visual model and OCR (core.refresh's default; videos always re-read)
    reads: dict | None = None


@dataclass
class CreativeResult:
    sha256: str
    ok: bool
    error_code: str = ""
    error_message: str = ""
    width: int = 0
    height: int = 0
    frames: int = 1
    duration_s: float | None = None
    fps: float | None = None
    ocr_text: str = ""                              # the core pass's reads (pooled over a video's keyframes)
    ocr_boxes: list = field(default_factory=list)   # [(text, score, x0, y0, x1, y1, t_s)]
    text_area_share: float = 0.0
    labels: list = field(default_factory=list)      # [(label, p)]
    values: dict = field(default_factory=dict)      # every signal's stored columns (core.signals.base)
    visual: np.ndarray | None = None
    thumb: bytes = b""
    extra: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)     # stage → seconds, for the benchmark

    @property
    def layout_words(self) -> list[str]:
        """The layout signal's words (a video's pacing words included): a view of `values`."""
        return split_words(self.values.get("layout_words"))


def init_worker(visual_model: str | None = None, threads: int = 1) -> None:
    """Pool initializer: load the models once per process."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)
    import cv2

    cv2.setNumThreads(threads)  # OpenCV inside RapidOCR would otherwise start a thread per core
    from .signals.ocr import OcrEngine
    from .signals.visual import load_visual_encoder

    _MODELS["visual"] = load_visual_encoder(visual_model, threads=threads)
    _MODELS["ocr"] = OcrEngine(threads=threads)


def _models():
    if not _MODELS:
        init_worker()
    return _MODELS["visual"], _MODELS["ocr"]


def analyze_creative(task: CreativeTask, limits: IngestLimits = DEFAULT_LIMITS) -> CreativeResult:
    from .media import MediaError

    try:
        if task.kind == "video":
            return _analyze_video(task, limits)
        if task.reads is not None:
            return _resignal_image(task, limits)
        return _analyze_image(task, limits)
    except MediaError as e:
        # the decoder only sees our content-hash file name; the person needs their own
        return CreativeResult(task.sha256, ok=False, error_code=e.code, error_message=e.message.replace(Path(task.path).name, task.name))
    except Exception as e:  # a decoder bug on one hostile file must not stop the ingest
        return CreativeResult(task.sha256, ok=False, error_code="analysis_failed",
                              error_message=f"'{task.name}' could not be analysed ({type(e).__name__}: {e}); check the file opens in an image viewer and upload it again.")


def _analyze_image(task: CreativeTask, limits: IngestLimits) -> CreativeResult:
    from .media import decode_image

    t0 = time.perf_counter()
    decoded = decode_image(Path(task.path).read_bytes(), name=task.name, limits=limits)
    res = CreativeResult(task.sha256, ok=True, width=decoded.width, height=decoded.height, frames=decoded.frames)
    res.seconds["decode"] = time.perf_counter() - t0
    hook = _read_frame(res, decoded.image)
    _compute_signals(res, task, FrameReads(decoded.image, res.labels, res.ocr_text, res.text_area_share,
                                           hook.text, hook.text_area_share, kind="image"))
    return res


def _resignal_image(task: CreativeTask, limits: IngestLimits) -> CreativeResult:
    """The signals of a stored image from its pixels and its stored model reads: what `_analyze_image` gives
    when the visual model and OCR would read the same (an image's only frame is its hook frame)."""
    from .media import decode_image

    t0 = time.perf_counter()
    decoded = decode_image(Path(task.path).read_bytes(), name=task.name, limits=limits)
    res = CreativeResult(task.sha256, ok=True, width=decoded.width, height=decoded.height, frames=decoded.frames)
    res.seconds["decode"] = time.perf_counter() - t0
    reads = task.reads
    res.labels = [(str(lbl), float(p)) for lbl, p in reads.get("labels") or []]
    res.ocr_text, res.text_area_share = reads.get("ocr_text") or "", float(reads.get("text_area_share") or 0.0)
    _compute_signals(res, task, FrameReads(decoded.image, res.labels, res.ocr_text, res.text_area_share,
                                           res.ocr_text, res.text_area_share, kind="image"))
    return res


def _analyze_video(task: CreativeTask, limits: IngestLimits) -> CreativeResult:
    """One downscaled decode finds the shots; the models see one keyframe per shot, pooled into the ad."""
    from .media import probe_video
    from .video import FrameRead, keyframe_images, sample_frames, structure, summarise

    t0 = time.perf_counter()
    probe = probe_video(task.path, limits=limits, name=task.name)
    st = structure(sample_frames(task.path, probe, limits, name=task.name))
    images = keyframe_images(task.path, probe, [k.t_s for k in st.keyframes], name=task.name)
    res = CreativeResult(task.sha256, ok=True, width=probe.width, height=probe.height, frames=probe.frames,
                         duration_s=probe.duration_s, fps=probe.fps)
    res.seconds["decode"] = time.perf_counter() - t0
    # the hook frame gives the thumbnail and the signals' frame, as an image ad's only frame would
    hook = _read_frame(res, images[0], t_s=st.keyframes[0].t_s)
    reads = [FrameRead(st.keyframes[0].t_s, st.keyframes[0].weight_s, res.visual, res.labels,
                       [b[0] for b in res.ocr_boxes], res.text_area_share)]
    visual, ocr = _models()
    for k, image in zip(st.keyframes[1:], images[1:]):
        t = time.perf_counter()
        vec, labels = visual.encode(image)
        res.seconds["visual"] += time.perf_counter() - t
        t = time.perf_counter()
        o = ocr.read(image)
        res.seconds["ocr"] += time.perf_counter() - t
        reads.append(FrameRead(k.t_s, k.weight_s, vec, labels, [b.text for b in o.boxes], o.text_area_share))
        res.ocr_boxes += [(b.text, b.score, *b.box, k.t_s) for b in o.boxes]
    scale = probe.width / images[0].width  # keyframes are decoded small; boxes are stored in video pixels
    res.ocr_boxes = [(text, score, *(v * scale for v in box), t_s) for text, score, *box, t_s in res.ocr_boxes]
    v = summarise(st, reads, probe.duration_s)
    res.visual, res.labels, res.ocr_text, res.text_area_share = v.visual, v.labels, v.ocr_text, v.text_area_share
    res.extra = {"codec": probe.codec, **v.extra}
    _compute_signals(res, task, FrameReads(images[0], res.labels, res.ocr_text, res.text_area_share, hook.text,
                                           hook.text_area_share, video_words=list(v.words), kind="video"))
    return res


def _read_frame(res: CreativeResult, image, t_s: float | None = None):
    """The core pass on one frame: visual embedding and labels, OCR, thumbnail. Returns the OCR read."""
    from .media import make_thumbnail

    visual, ocr = _models()
    t = time.perf_counter()
    res.visual, res.labels = visual.encode(image)
    res.seconds["visual"] = time.perf_counter() - t
    t = time.perf_counter()
    o = ocr.read(image)
    res.seconds["ocr"] = time.perf_counter() - t
    res.ocr_text, res.text_area_share = o.text, o.text_area_share
    res.ocr_boxes = [(b.text, b.score, *b.box, t_s) for b in o.boxes]
    res.thumb = make_thumbnail(image)
    return o


def _compute_signals(res: CreativeResult, task: CreativeTask, frame: FrameReads) -> None:
    signals = resolve(task.signals) if task.signals else registered()
    t = time.perf_counter()
    res.values, errors = compute_all(signals, frame)
    if errors:
        res.extra = {**res.extra, "signal_errors": errors}
    res.seconds["signals"] = time.perf_counter() - t
