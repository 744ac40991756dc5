"""The ad document: the text that text search and keyword labelling see for one ad.

copy + headline + CTA + OCR text + tags + object labels + colour and layout words. Labels below
a probability floor are left out: ImageNet guesses on graphics are mostly noise.
"""
from __future__ import annotations

LABEL_FLOOR = 0.12


def label_words(labels, floor: float = LABEL_FLOOR) -> list[str]:
    return [str(lbl) for lbl, p in (labels or []) if float(p) >= floor]


def ad_document(fields: dict, ocr_text: str = "", labels=None, color_words=None, layout_words=None, extra_words=None) -> str:
    parts = []
    for key in ("headline", "copy", "cta"):
        v = fields.get(key)
        if v:
            parts.append(str(v).strip())
    if ocr_text:
        parts.append(ocr_text.strip())
    tags = fields.get("tags") or []
    if tags:
        parts.append("tags: " + ", ".join(tags))
    objs = label_words(labels)
    if objs:
        parts.append("shows: " + ", ".join(objs))
    if color_words:
        parts.append("colours: " + ", ".join(color_words))
    if layout_words:
        parts.append("layout: " + ", ".join(layout_words))
    if extra_words:
        parts.append(", ".join(extra_words))
    return ". ".join(p for p in parts if p)
