"""OCR text, boxes and the share of the image covered by text (RapidOCR, ONNX, offline).

RapidOCR's defaults upscale the short side to 736 px (≈2 s on a 468×60 banner). Capping the long
side at 960 with no upscaling and no angle classifier reads ads ~10× faster, with no loss in
search quality measured on real ads; recognising one line at a time saves another ~30%.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .base import Column, FrameReads, Signal

MAX_SIDE = 960


@dataclass
class OcrBox:
    text: str
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in source-image pixels


@dataclass
class OcrResult:
    text: str = ""
    boxes: list[OcrBox] = field(default_factory=list)
    text_area_share: float = 0.0


class OcrEngine:
    def __init__(self, threads: int = 1, min_score: float = 0.5):
        from rapidocr_onnxruntime import RapidOCR

        self.min_score = min_score
        self.engine = RapidOCR(
            use_cls=False,
            det_limit_side_len=MAX_SIDE,
            det_limit_type="max",
            min_side_len=1,  # never upscale
            max_side_len=MAX_SIDE,
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
        )
        # Recognition batches pad every text line to the widest one; on ads (a long headline beside a
        # short CTA) one line at a time does ~30% less work than the default batch of 6.
        self.engine.text_rec.rec_batch_num = 1

    def read(self, image: Image.Image) -> OcrResult:
        w, h = image.size
        scale = min(1.0, MAX_SIDE / max(w, h))
        small = image if scale == 1.0 else image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
        arr = np.asarray(small.convert("RGB"))[:, :, ::-1]  # RapidOCR expects BGR like cv2
        result, _ = self.engine(np.ascontiguousarray(arr), use_cls=False)
        if not result:
            return OcrResult()
        boxes = []
        for points, text, score in result:
            if float(score) < self.min_score or not str(text).strip():
                continue
            pts = np.asarray(points, dtype=np.float32) / scale
            boxes.append(OcrBox(str(text).strip(), float(score), (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))))
        return OcrResult(
            text=" ".join(b.text for b in boxes),
            boxes=boxes,
            text_area_share=_covered_share(boxes, w, h),
        )


def _covered_share(boxes: list[OcrBox], w: int, h: int) -> float:
    """Union area of the boxes over the image area, on a coarse mask (boxes overlap)."""
    if not boxes or w <= 0 or h <= 0:
        return 0.0
    gw, gh = min(w, 200), min(h, 200)
    mask = np.zeros((gh, gw), dtype=bool)
    for b in boxes:
        x0, y0, x1, y1 = b.box
        mask[int(y0 / h * gh): max(int(y0 / h * gh) + 1, int(np.ceil(y1 / h * gh))),
             int(x0 / w * gw): max(int(x0 / w * gw) + 1, int(np.ceil(x1 / w * gw)))] = True
    return float(mask.mean())


class OcrText(Signal):
    """Signal: the creative's visible text (pooled over a video's keyframes) and the share of it covered by text.
    Its words are the text itself, right after the ad's own copy in the document. (The boxes go to `ocr_boxes`.)"""

    name = "ocr"
    columns = (Column("ocr_text", "VARCHAR"), Column("text_area_share", "DOUBLE"))
    document_label = None

    def compute(self, frame: FrameReads) -> dict:
        return {"ocr_text": frame.ocr_text, "text_area_share": frame.text_area_share}

    def words(self, row: dict) -> list[str]:
        text = (row.get("ocr_text") or "").strip()
        return [text] if text else []

    def detail(self, row: dict) -> dict:
        return {"text": row.get("ocr_text") or "", "text_area_share": row.get("text_area_share")}
