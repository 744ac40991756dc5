"""Text vectors of a library's ads and creatives, filled in the ingest's last, resumable phase (and by refresh).

Ad documents, creatives' OCR texts and their object labels are embedded by MiniLM: the numpy copy for a
small upload, the sentence-transformers model above SMALL_EMBEDDING.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict

import numpy as np

from .jobs import Progress
from .store import Library, registered

# Up to this many ads and creatives to embed, the numpy MiniLM (core/search/query_encoder.py: the same weights,
# vectors within 3e-7 of the torch model's on the real ads' documents) embeds them: it loads in 0.2 s where
# importing torch and sentence-transformers took 7-10 s, which was most of a small CLI upload or CSV update.
# Above it torch's batches are ~4x faster. Chosen by count alone, so one upload gets the same vectors anywhere.
SMALL_EMBEDDING = 32


def parent_threads(n: int) -> None:
    """torch's thread count in this process, where torch is loaded (a small upload never loads it)."""
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def preload_text_encoder() -> None:
    from .models import text_encoder

    try:
        text_encoder()
    except Exception:  # embed_pending loads it again and reports the error where it matters
        pass


def embed_pending(library: Library, encoder, progress: Progress, batch: int = 64) -> None:
    """Fill every missing text vector: ad documents and creatives' label vectors.

    Resumable by construction: it only looks at rows whose vector is still NULL.
    """
    # shortest first: each batch pads to its longest document, so mixed lengths cost twice the work
    ads = library.execute("SELECT id, document FROM ads WHERE text_vec IS NULL ORDER BY length(document), id").fetchall()
    creatives = library.execute("SELECT id, labels, ocr_text FROM creatives WHERE label_vec IS NULL ORDER BY id").fetchall()
    if not ads and not creatives:
        return
    total = len(ads) + len(creatives)
    if encoder is None and total <= SMALL_EMBEDDING:
        from .search.query_encoder import query_encoder

        encoder = query_encoder()
    elif encoder is None:
        from .models import text_encoder

        parent_threads(os.cpu_count() or 1)
        encoder = text_encoder()
    progress("embedding", 0, total)
    by_doc: dict[str, list[int]] = defaultdict(list)  # ads of one creative with the same metadata share a document
    for ad_id, doc in ads:
        by_doc[doc or ""].append(ad_id)
    docs = list(by_doc)  # insertion order keeps the length order
    done = 0
    for i in range(0, len(docs), batch):
        chunk = docs[i: i + batch]
        vecs = encoder.encode(chunk)
        ids = [ad_id for d in chunk for ad_id in by_doc[d]]
        _update_vectors(library, "ads", "text_vec", ids, np.repeat(vecs, [len(by_doc[d]) for d in chunk], axis=0))
        done += len(ids)
        progress("embedding", done, total)
    if creatives:
        from .taxonomy.ocrtext import embed_texts, substantial

        # once per creative, like its other signals: the taxonomy's variant links read these from the
        # library's ocr_vectors cache, so a build never waits on MiniLM for them
        embed_texts([t for _, _, t in creatives if substantial(t or "")], encoder, library)
        label_lists = [json.loads(lbl or "[]") for _, lbl, _ in creatives]
        vecs = label_vectors(encoder, label_lists)
        _update_vectors(library, "creatives", "label_vec", [c for c, _, _ in creatives], vecs)
    progress("embedding", total, total)


def _update_vectors(library: Library, table: str, column: str, ids: list[int], vecs: np.ndarray) -> None:
    import pyarrow as pa

    vecs = np.asarray(vecs, dtype=np.float32)
    batch = pa.table({"id": pa.array(ids, pa.int32()),
                      "v": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), vecs.shape[1]).cast(pa.list_(pa.float32()))})
    with library.transaction() as cur:
        with registered(cur, "_vec_batch", batch):
            cur.execute(f"UPDATE {table} SET {column} = _vec_batch.v FROM _vec_batch WHERE {table}.id = _vec_batch.id")


_LABEL_CACHE: dict[str, np.ndarray] = {}


def label_vectors(encoder, label_lists) -> np.ndarray:
    """Probability-weighted text embeddings of the object labels: a weak visual channel for text search."""
    from .signals.label_groups import label_prompt

    need = sorted({str(lbl) for labels in label_lists for lbl, _ in labels} - set(_LABEL_CACHE))
    if need:
        for lbl, v in zip(need, encoder.encode([label_prompt(n) for n in need])):
            _LABEL_CACHE[lbl] = v
    dim = getattr(encoder, "dim", 384)
    out = np.zeros((len(label_lists), dim), dtype=np.float32)
    for i, labels in enumerate(label_lists):
        for lbl, p in labels:
            out[i] += float(p) * _LABEL_CACHE[str(lbl)]
        n = np.linalg.norm(out[i])
        if n > 0:
            out[i] /= n
    return out
