"""The OCR text of creatives as evidence for variants: how much there is, how alike two are."""
from __future__ import annotations

import re
import threading

import numpy as np

MIN_OCR_CHARS = 12          # below this, OCR on a product shot is mostly stray letters
_SPACE = re.compile(r"\s+")
_CACHE: dict[str, np.ndarray] = {}   # text → unit vector, per process: rebuilds re-embed nothing
_CACHE_MAX = 200_000
_lock = threading.Lock()


def normalise(text: str) -> str:
    return _SPACE.sub(" ", (text or "").lower()).strip()


def substantial(text: str, min_chars: int = MIN_OCR_CHARS) -> bool:
    return len(normalise(text).replace(" ", "")) >= min_chars


def trigrams(text: str) -> set[str]:
    t = normalise(text)
    return {t[i:i + 3] for i in range(max(0, len(t) - 2))}


def trigram_jaccard(a: str, b: str) -> float:
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def embed_texts(texts: list[str], encoder=None) -> np.ndarray:
    """Unit text embeddings of OCR strings, cached by normalised text for the process."""
    keys = [normalise(t) for t in texts]
    with _lock:
        missing = sorted({k for k in keys if k and k not in _CACHE})
    if missing:
        if encoder is None:
            from ..models import text_encoder

            encoder = text_encoder()
        vecs = encoder.encode(missing)
        with _lock:
            if len(_CACHE) + len(missing) > _CACHE_MAX:
                _CACHE.clear()
            _CACHE.update(zip(missing, vecs))
    dim = next((len(v) for v in _CACHE.values()), 384)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    with _lock:
        for i, k in enumerate(keys):
            v = _CACHE.get(k)
            if v is not None:
                out[i] = v
    return out
