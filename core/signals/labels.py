"""Object labels: the visual model's ImageNet guesses with their probabilities ("shows: …" in the document).

The visual model itself runs in the core pass (core/compute.py: one encode gives the embedding and
the labels, with group words such as "dog": label_groups.py); this signal stores the labels, less the unsure
animal guesses on a picture with a face (ImageNet's animal classes take people's hair and faces), and says
which are confident enough to be words.
"""
from __future__ import annotations

from ..documents import label_words
from .base import Column, FrameReads, Signal
from .label_groups import drop_unsure_animals
from .people import frame_faces


class ObjectLabels(Signal):
    name = "labels"
    columns = (Column("labels", "JSON"),)    # [[label, probability], ...]
    document_label = "shows"

    def compute(self, frame: FrameReads) -> dict:
        labels = list(frame.labels)
        try:
            faces = frame_faces(frame)[1] if labels else []
        except Exception:  # noqa: BLE001 - the people signal reports its own failure; the labels stand
            faces = []
        if faces:   # a face: animal guesses are often the person (label_groups.drop_unsure_animals)
            labels = drop_unsure_animals(labels)
        return {"labels": [[str(lbl), float(p)] for lbl, p in labels]}

    def words(self, row: dict) -> list[str]:
        return label_words(row.get("labels") or [])

    def detail(self, row: dict) -> list[tuple[str, float]]:
        return [(str(lbl), float(p)) for lbl, p in (row.get("labels") or [])]
