"""The OCR text of creatives as evidence for variants: how much there is, how alike two are."""
from __future__ import annotations

import hashlib
import re
import threading

import numpy as np

from ..store import registered

MIN_OCR_CHARS = 12          # below this, OCR on a product shot is mostly stray letters
MAX_EMBED_CHARS = 200       # a text-heavy ad's first lines decide whether two texts are one message
DEFAULT_MODEL = "all-MiniLM-L6-v2"
_SPACE = re.compile(r"\s+")
_CACHE: dict[str, np.ndarray] = {}   # text key → unit vector, per process
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


def text_key(text: str) -> str:
    return hashlib.sha1(normalise(text)[:MAX_EMBED_CHARS].encode()).hexdigest()[:20]


def embed_texts(texts: list[str], encoder=None, library=None) -> np.ndarray:
    """Unit text embeddings of OCR strings (their first MAX_EMBED_CHARS characters).

    Cached by normalised text: per process, and in the library's `ocr_vectors` table when a
    library is given, so a rebuild after an ingest embeds only the new creatives' text.
    """
    keys = [text_key(t) if normalise(t) else "" for t in texts]
    with _lock:
        missing = sorted({k for k in keys if k and k not in _CACHE})
        from_process = sorted({k for k in keys if k and k in _CACHE})
    if from_process and library is not None and not library.read_only:
        # known to this process from another library: this library's cache must hold them too
        _store_absent(library, from_process, _model_name(encoder))
    if missing and library is not None:
        _CACHE.update(_read_cache(library, missing, _model_name(encoder)))
        missing = [k for k in missing if k not in _CACHE]
    if missing:
        if encoder is None:
            from ..models import text_encoder

            encoder = text_encoder()
        text_of = {k: normalise(t)[:MAX_EMBED_CHARS] for k, t in zip(keys, texts) if k}
        vecs = np.asarray(encoder.encode([text_of[k] for k in missing]), dtype=np.float32)
        with _lock:
            if len(_CACHE) + len(missing) > _CACHE_MAX:
                _CACHE.clear()
            _CACHE.update(zip(missing, vecs))
        if library is not None and not library.read_only:
            _write_cache(library, missing, vecs, _model_name(encoder))
    dim = next((len(v) for v in _CACHE.values()), 384)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    with _lock:
        for i, k in enumerate(keys):
            v = _CACHE.get(k)
            if v is not None:
                out[i] = v
    return out


def _model_name(encoder) -> str:
    return encoder.name if encoder is not None else DEFAULT_MODEL


def _read_cache(library, keys: list[str], model: str) -> dict[str, np.ndarray]:
    from .corpus import arrow_query, vector_column

    table = arrow_query(library, "SELECT text_hash, vec FROM ocr_vectors WHERE model = ? AND text_hash IN (SELECT unnest(?::VARCHAR[]))",
                        [model, keys])
    if table.num_rows == 0:
        return {}
    hashes = table.column("text_hash").to_pylist()
    return dict(zip(hashes, vector_column(table, "vec", table.num_rows)))


def _store_absent(library, keys: list[str], model: str) -> None:
    stored = {k for (k,) in library.execute("SELECT text_hash FROM ocr_vectors WHERE model = ? AND text_hash IN "
                                            "(SELECT unnest(?::VARCHAR[]))", [model, keys]).fetchall()}
    absent = [k for k in keys if k not in stored]
    with _lock:
        absent = [k for k in absent if k in _CACHE]
        vecs = [_CACHE[k] for k in absent]
    if absent:
        _write_cache(library, absent, np.stack(vecs), model)


def _write_cache(library, keys: list[str], vecs: np.ndarray, model: str) -> None:
    import pandas as pd

    frame = pd.DataFrame({"text_hash": keys, "model": model, "vec": list(vecs)})
    with library.transaction() as cur:
        with registered(cur, "_ocr_cache", frame):
            cur.execute("INSERT OR IGNORE INTO ocr_vectors SELECT text_hash, model, vec::FLOAT[] FROM _ocr_cache")
