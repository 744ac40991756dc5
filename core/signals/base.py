"""The signal plug-in point: one file declares one signal, the rest of the engine takes it from there.

A signal is something computed once per creative at ingest and stored in the `creatives` table:
its columns, how they are computed from the creative's frame, the words they add to the ad's
document (what text search and taxonomy keywords read) and what the ad's detail view shows.

    from PIL import Image
    from core.signals.base import Column, Signal, register

    class Sharpness(Signal):
        name = "sharpness"
        columns = (Column("sharpness", "DOUBLE"),)
        document_label = "sharpness"            # the document gets "sharpness: sharp"

        def compute(self, frame):               # runs in the analysis worker, once per creative
            return {"sharpness": laplacian_variance(frame.image)}

        def words(self, row):                   # row: this signal's columns, as stored
            v = row.get("sharpness")
            return [] if v is None else ["sharp" if v > 100 else "soft"]

    register(Sharpness())

Where it goes from there (nothing else to edit):
- schema: `Library` adds every registered column to `creatives` when it opens a library for writing
  (`ALTER TABLE … ADD COLUMN IF NOT EXISTS`); old libraries get NULLs until their ads are re-ingested;
- ingest: each analysis worker imports the signal's class by name (`spec()`, so it must be
  importable: a module-level class with a no-argument constructor) and calls `compute`; the
  writer stores the values (`to_arrow`) and builds the document from `words`;
- `Library.ads_frame()` returns the columns; `core.views.ad_detail(...)["signals"][name]` holds
  `detail(row)`.

`compute` gets a `FrameReads`: the creative's image (a video's hook frame) and what the core pass
already read from it — the visual model's labels, the OCR read of that frame and, for videos, the
text and labels pooled over all keyframes — so a signal never runs a model twice. It returns
plain values, JSON-able for JSON columns. An exception in one signal leaves its columns NULL for
that creative (noted in the creative's `extra`); it never drops the ad.

Register at import time of the signal's module, or in a test with `register(...)` and
`unregister(name)`. Today's signals (OCR text in ocr.py, object labels in labels.py, colours in
colors.py, layout in layout.py) are registered first, by `_load_builtins`. Document parts come in registration order:
signals without a `document_label` add their words as plain text right after the ad's own copy
(OCR text), the others as "<label>: w1, w2" after the tags.
"""
from __future__ import annotations

import importlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

SQL_TYPES = ("VARCHAR", "DOUBLE", "BIGINT", "INTEGER", "BOOLEAN", "JSON")

# Stored with every creative's reads (creatives.reads_version). Bump it when a change to the signals changes
# the words they give: the Library page then offers older ads a refresh (core.refresh). 19: session 19's
# code (the illustration and collage rules of session 18). 20: face sizes read against the long side.
# 21: men and women (people.gender_words). 22: smiling faces (people.smiling_words).
READS_VERSION = 22


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str          # one of SQL_TYPES

    def __post_init__(self):
        if self.sql_type not in SQL_TYPES:
            raise ValueError(f"column {self.name!r}: type {self.sql_type!r} is not one of {', '.join(SQL_TYPES)}")


@dataclass
class FrameReads:
    """What a signal computes from: the frame and the core pass's reads of it."""

    image: Image.Image
    labels: list = field(default_factory=list)     # [(label, p)] of the creative (pooled over a video's keyframes)
    ocr_text: str = ""                             # the creative's visible text (pooled for videos)
    text_area_share: float = 0.0                   # the creative's (pooled for videos)
    frame_text: str = ""                           # this frame's own OCR text and text area
    frame_text_area: float = 0.0
    video_words: list = field(default_factory=list)  # pacing words of a video ("fast cuts", …); [] for images
    kind: str = "image"
    # what one signal measured and another reads (the face detector's result: people.frame_faces), once per frame
    shared: dict = field(default_factory=dict, repr=False, compare=False)


class Signal:
    """Base of every signal: override `name`, `columns`, `compute`, `words` (and `detail` if words do not say it)."""

    name: ClassVar[str] = ""
    columns: ClassVar[tuple[Column, ...]] = ()
    document_label: ClassVar[str | None] = None   # None: the words go into the document as plain text

    def compute(self, frame: FrameReads) -> dict[str, Any]:
        raise NotImplementedError

    def words(self, row: dict[str, Any]) -> list[str]:
        """The words this signal adds to the ad's document, from its stored columns (JSON columns may come as text)."""
        return []

    def detail(self, row: dict[str, Any]) -> Any:
        """What the ad's detail view shows for this signal."""
        return self.words(row)

    @classmethod
    def spec(cls) -> str:
        return f"{cls.__module__}:{cls.__qualname__}"


_REGISTRY: dict[str, Signal] = {}
_LOCK = threading.Lock()


def register(signal: Signal) -> Signal:
    """Add a signal (replacing one of the same name). Returns it, so a module can keep a handle."""
    _load_builtins()
    if not signal.name or not signal.columns:
        raise ValueError("a signal needs a name and at least one column")
    with _LOCK:
        taken = {c.name: s.name for s in _REGISTRY.values() if s.name != signal.name for c in s.columns}
        clash = [c.name for c in signal.columns if c.name in taken]
        if clash:
            raise ValueError(f"signal {signal.name!r}: column(s) {clash} already belong to {taken[clash[0]]!r}")
        _REGISTRY[signal.name] = signal
    return signal


def unregister(name: str) -> None:
    with _LOCK:
        _REGISTRY.pop(name, None)


def registered() -> list[Signal]:
    """Every registered signal, in registration order (built-ins first)."""
    _load_builtins()
    return list(_REGISTRY.values())


def columns() -> list[Column]:
    return [c for s in registered() for c in s.columns]


def specs() -> tuple[str, ...]:
    """What an analysis worker needs to run the same signals (see `resolve`)."""
    return tuple(s.spec() for s in registered())


_RESOLVED: dict[str, Signal] = {}


def resolve(spec_list) -> list[Signal]:
    """The signals named by `specs()` in another process: imported by module and class name, once each."""
    out = []
    for spec in spec_list:
        sig = _RESOLVED.get(spec)
        if sig is None:
            module, _, qualname = spec.partition(":")
            obj: Any = importlib.import_module(module)
            for part in qualname.split("."):
                obj = getattr(obj, part)
            sig = _RESOLVED[spec] = obj()
        out.append(sig)
    return out


def compute_all(signals: list[Signal], frame: FrameReads) -> tuple[dict[str, Any], dict[str, str]]:
    """(column → value for every signal's columns, signal name → error for the ones that failed)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for sig in signals:
        try:
            got = sig.compute(frame) or {}
        except Exception as e:  # noqa: BLE001 - one signal's bug leaves its columns NULL, never drops the ad
            errors[sig.name] = f"{type(e).__name__}: {e}"
            got = {}
        for col in sig.columns:
            values[col.name] = got.get(col.name)
    return values, errors


def row_words(signal: Signal, row: dict[str, Any]) -> list[str]:
    """`signal.words(row)` with the signal's JSON columns decoded (the store hands back text)."""
    return [w for w in signal.words(_decoded(signal, row)) if w]


def row_detail(signal: Signal, row: dict[str, Any]) -> Any:
    return signal.detail(_decoded(signal, row))


def _decoded(signal: Signal, row: dict[str, Any]) -> dict[str, Any]:
    from ..store import json_cell

    out = {}
    for col in signal.columns:
        v = row.get(col.name)
        if col.sql_type == "JSON":
            v = json_cell(v, None)
        elif isinstance(v, float) and v != v:
            v = None
        out[col.name] = v
    return out


def to_arrow(column: Column, values: list):
    """A column of values for the ingest writer's Arrow batch."""
    import pyarrow as pa

    t = column.sql_type
    if t == "JSON":
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in values], pa.string())
    typ = {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "BIGINT": pa.int64(), "INTEGER": pa.int32(), "BOOLEAN": pa.bool_()}[t]
    return pa.array(values, typ)


def split_words(v) -> list[str]:
    """A stored ", "-joined word list back as words."""
    return [w for w in (v or "").split(", ") if w]


_BUILTINS_LOADED = False


def _load_builtins() -> None:
    """Today's signals, first and in this order (their document parts keep the order they always had)."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    from .colors import Colours
    from .labels import ObjectLabels
    from .layout import Layout
    from .ocr import OcrText

    for sig in (OcrText(), ObjectLabels(), Colours(), Layout()):
        register(sig)
    # what an ad shows beyond ImageNet labels (search issue 13; kept cues measured in README's search section)
    from .composition import Composition
    from .people import People

    for sig in (People(), Composition()):
        register(sig)
