"""Object labels: the visual model's ImageNet guesses with their probabilities ("shows: …" in the document).

The visual model itself runs in the core pass (core/compute.py: one encode gives the embedding and
the labels); this signal stores the labels and says which are confident enough to be words.
"""
from __future__ import annotations

from ..documents import label_words
from .base import Column, FrameReads, Signal


class ObjectLabels(Signal):
    name = "labels"
    columns = (Column("labels", "JSON"),)    # [[label, probability], ...]
    document_label = "shows"

    def compute(self, frame: FrameReads) -> dict:
        return {"labels": [[str(lbl), float(p)] for lbl, p in frame.labels]}

    def words(self, row: dict) -> list[str]:
        return label_words(row.get("labels") or [])

    def detail(self, row: dict) -> list[tuple[str, float]]:
        return [(str(lbl), float(p)) for lbl, p in (row.get("labels") or [])]
