"""Process-wide model cache: each model is loaded once per process, on first use."""
from __future__ import annotations

import threading
from functools import lru_cache

_lock = threading.Lock()


@lru_cache(maxsize=2)
def _text(name: str | None):
    from .signals.text import load_text_encoder

    return load_text_encoder(name)


@lru_cache(maxsize=2)
def _visual(name: str | None):
    from .signals.visual import load_visual_encoder

    return load_visual_encoder(name)


def text_encoder(name: str | None = None):
    with _lock:
        return _text(name)


def visual_encoder(name: str | None = None):
    with _lock:
        return _visual(name)
