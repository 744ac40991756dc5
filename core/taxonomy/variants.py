"""Micro-patterns: groups of variants of one creative (re-crops, recolours, new copy on one image).

Two creatives are linked when
  * their pHashes differ in ≤ 10 bits, or
  * their visual embeddings have cosine ≥ 0.85,
    either unless both carry substantial OCR text (≥ 12 chars) that disagrees (char-3-gram
    Jaccard < 0.3 or OCR-embedding cosine < 0.6): one template with different words on it is two
    messages, not two variants. The veto holds for pHash too: the IRA ads are screenshots in one
    Instagram/Facebook frame, so pHash ≤ 10 linked different pages' ads (145 links chained 150
    images into 102 micro-patterns, and leaves lumped unrelated ads); the generated templates did
    the same (sample seed 0: 40 micro-patterns for 88 planted variant groups, pair precision 0.15,
    now 81 and 0.34), or
  * both carry substantial OCR text with embedding cosine ≥ 0.9 (one message, new visual);
(`veto_phash=False` is the previous rule, which trends still reads: its exact sample events were
tuned on those micro-patterns and gain a spurious NEW/INACTIVE pair on the new ones)
and never across kinds (features.kind_gate: a 234×60 banner and a square post are not variants).
Ads sharing a creative (byte-identical files) are always together. Micro-patterns are the
connected components of these links. Candidate pairs come from FAISS k-NN on the visual and
OCR-text vectors and from pHash buckets (exact agreement on one of four 16-bit bands): never all
pairs; the pHash rule is then checked on every candidate pair, whichever source proposed it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.base import BaseEstimator

from .ocrtext import MIN_OCR_CHARS, substantial, trigram_jaccard

REASONS = {0: "none", 1: "phash", 2: "visual", 3: "ocr_text"}


@dataclass
class VariantInputs:
    """Per distinct creative: the signals the linking rules look at."""

    phash: np.ndarray          # (c,) int64; meaningless where has_phash is False
    has_phash: np.ndarray      # (c,) bool
    visual: np.ndarray         # (c, d) unit rows, zeros where missing
    ocr_text: list[str]        # (c,)
    ocr_vec: np.ndarray        # (c, 384) unit rows, zeros where the text is not substantial
    kind: np.ndarray | None = None   # (c,) features.kind_gate: a strip banner and a post are never variants

    @property
    def n(self) -> int:
        return len(self.phash)


def variant_inputs(corpus, min_chars: int = MIN_OCR_CHARS, encoder=None, library=None) -> VariantInputs:
    from .ocrtext import embed_texts

    f = corpus.frame
    first_row = np.zeros(len(corpus.creative_ids), dtype=np.int64)
    first_row[corpus.creative_of_ad[::-1]] = np.arange(corpus.n)[::-1]   # first ad of each creative
    ph = f["phash"].to_numpy()[first_row]
    has = np.array([v is not None and not (isinstance(v, float) and np.isnan(v)) and not pd.isna(v) for v in ph], dtype=bool)
    phash = np.array([int(v) if h else 0 for v, h in zip(ph, has)], dtype=np.int64)
    texts = [str(t or "") for t in f["ocr_text"].to_numpy()[first_row]]
    rich = [i for i, t in enumerate(texts) if substantial(t, min_chars)]
    ocr_vec = np.zeros((len(texts), 384), dtype=np.float32)
    if rich:
        vecs = embed_texts([texts[i] for i in rich], encoder, library)
        ocr_vec = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        ocr_vec[rich] = vecs
    from .features import kind_gate

    return VariantInputs(phash, has, corpus.visual, texts, ocr_vec, kind_gate(corpus)[first_row])


# -- candidates ----------------------------------------------------------------------------------
KNN_EXACT_MAX = 20_000   # rows up to which candidates come from exact search (all small libraries)
IVF_PROBE = 12           # cells searched per query, of about 2·√n


def knn_pairs(vectors: np.ndarray, rows: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """(i, j) with i < j for each row's k nearest neighbours by inner product (FAISS).

    Exact up to KNN_EXACT_MAX rows. Above, exact search grows with n² (100k OCR vectors: ~4·10¹²
    flops), so an inverted file (k-means cells fitted on a seeded sample, IVF_PROBE nearest cells
    searched) finds the neighbours: the pairs the link rules accept (cosine ≥ 0.85) lie in one or
    adjacent cells, so they stay candidates.
    """
    import faiss

    if len(rows) < 2 or vectors.shape[1] == 0:
        return np.zeros((0, 2), dtype=np.int64)
    X = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    if len(rows) <= KNN_EXACT_MAX:
        index = faiss.IndexFlatIP(X.shape[1])
    else:
        nlist = int(2 * np.sqrt(len(X)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(X.shape[1]), X.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        train = np.random.default_rng(seed).choice(len(X), min(len(X), 40 * nlist), replace=False)
        index.train(X[np.sort(train)])
        index.nprobe = IVF_PROBE
    index.add(X)
    _, nn = index.search(X, min(k + 1, len(rows)))
    return _pairs_from_neighbours(rows, nn)


def phash_pairs(phash: np.ndarray, rows: np.ndarray, bands: int = 4, window: int = 16) -> np.ndarray:
    """Candidate pairs from pHash buckets: creatives whose hash agrees exactly on one of `bands`
    16-bit bands (every pair within 3 bits, most pairs within 10), each paired with the next
    `window` members of its bucket in full-hash order so that a huge bucket stays linear."""
    if len(rows) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    h = phash[rows].astype(np.int64).view(np.uint64)
    width = 64 // bands
    pairs = []
    for b in range(bands):
        band = (h >> np.uint64(b * width)) & np.uint64((1 << width) - 1)
        order = np.lexsort((h, band))
        sb = band[order]
        for step in range(1, window + 1):
            same = np.flatnonzero(sb[step:] == sb[:-step])
            if len(same) == 0:
                break
            pairs.append(np.column_stack([rows[order[same]], rows[order[same + step]]]))
    return _unique_pairs(np.vstack(pairs)) if pairs else np.zeros((0, 2), dtype=np.int64)


def _pairs_from_neighbours(rows: np.ndarray, nn: np.ndarray) -> np.ndarray:
    src = np.repeat(np.arange(len(rows)), nn.shape[1])
    dst = nn.ravel()
    ok = (dst >= 0) & (dst != src)
    a, b = rows[src[ok]], rows[dst[ok]]
    return _unique_pairs(np.column_stack([np.minimum(a, b), np.maximum(a, b)]))


def _unique_pairs(pairs: np.ndarray) -> np.ndarray:
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    lo, hi = pairs.min(axis=1).astype(np.int64), pairs.max(axis=1).astype(np.int64)
    keep = lo != hi
    # one int64 key per pair, lo·(max+1)+hi, sorts as the rows (lo, hi) do: the same rows, in the same
    # order, as np.unique(axis=0), which sorts a structured view (4.4 s of 2.2M candidates at 100k)
    width = int(hi.max()) + 1
    keys = np.sort(lo[keep] * width + hi[keep])
    # sorted distinct keys, as np.unique gives them: numpy 2.4's unique hashes first (3.1 s for 2.8M
    # int64 keys here, ~6 s of a 100k build's four calls), a sort and a neighbour test take 0.05 s
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys
    return np.column_stack([keys // width, keys % width])


def _nonzero_rows(X: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Rows with a non-zero norm, chunk by chunk: a norm over all rows at once squares the whole matrix
    into a temporary (1.5 GB for 100k visual rows, the peak of a 100k build)."""
    return np.concatenate([np.linalg.norm(X[s:s + chunk], axis=1) > 0 for s in range(0, len(X), chunk)]) if len(X) else np.zeros(0, bool)


GATHER_BYTES = 1 << 20   # per gathered block: two of them stay in a core's L2 (4 MB here)


def _rowwise_dot(A: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int | None = None, threads: int = 1) -> np.ndarray:
    """A[i[p]] · A[j[p]] for every p. The rows are gathered in blocks of about GATHER_BYTES: 4096 rows
    of 3840 floats (63 MB a block) went through main memory twice more than blocks that stay in cache
    (300k random pairs of 100k × 3840: 17.6 s in 4096-row blocks, 3.3–3.5 s in 128–256-row ones).
    Each row's dot is summed alone, so neither the block size nor the split of the pairs between
    `threads` (numpy's gathers and einsum leave the GIL) changes a bit of the result."""
    out = np.empty(len(i), dtype=np.float32)
    if chunk is None:
        chunk = int(np.clip(GATHER_BYTES // max(A.shape[1] * A.itemsize, 1), 64, 4096))

    def part(lo: int, hi: int) -> None:
        for s in range(lo, hi, chunk):
            e = min(s + chunk, hi)
            out[s:e] = np.einsum("ij,ij->i", A[i[s:e]], A[j[s:e]])

    bounds = np.linspace(0, len(i), max(1, min(threads, len(i) // chunk + 1)) + 1).astype(int)
    if len(bounds) <= 2:
        part(0, len(i))
        return out
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(bounds) - 2, thread_name_prefix="rowwise-dot") as pool:
        done = [pool.submit(part, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
        part(bounds[0], bounds[1])
        for d in done:
            d.result()
    return out


def hamming64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = (a.astype(np.int64) ^ b.astype(np.int64)).view(np.uint64)
    return np.bitwise_count(x).astype(np.int64)


# -- the rules -------------------------------------------------------------------------------------
def decide_links(hamming: np.ndarray, visual_cos: np.ndarray, ocr_cos: np.ndarray, jaccard: np.ndarray,
                 both_text: np.ndarray, phash_max_hamming: int = 10, visual_min_cos: float = 0.85,
                 ocr_veto_jaccard: float = 0.3, ocr_veto_cos: float = 0.6, ocr_link_cos: float = 0.9,
                 veto_phash: bool = True) -> np.ndarray:
    """Reason code per candidate pair (0 = not linked; see REASONS). Pure and vectorised.

    `hamming` is -1 where a hash is missing; `jaccard` may be NaN where it was not needed.
    """
    disagree = both_text & ((ocr_cos < ocr_veto_cos) | (np.nan_to_num(jaccard, nan=1.0) < ocr_veto_jaccard))
    phash_link = (hamming >= 0) & (hamming <= phash_max_hamming) & (~disagree if veto_phash else True)
    visual_link = (visual_cos >= visual_min_cos) & ~disagree
    ocr_link = both_text & (ocr_cos >= ocr_link_cos)
    return np.select([phash_link, visual_link, ocr_link], [1, 2, 3], default=0)


class VariantLinker(BaseEstimator):
    """Links variant creatives; learned: labels_ (component per creative), pairs_ (evidence)."""

    def __init__(self, phash_max_hamming: int = 10, visual_min_cos: float = 0.85, ocr_min_chars: int = MIN_OCR_CHARS,
                 ocr_veto_jaccard: float = 0.3, ocr_veto_cos: float = 0.6, ocr_link_cos: float = 0.9,
                 n_neighbors: int = 15, search_dims: int = 64, veto_phash: bool = True, random_state: int = 0):
        self.phash_max_hamming = phash_max_hamming
        self.veto_phash = veto_phash
        self.visual_min_cos = visual_min_cos
        self.ocr_min_chars = ocr_min_chars
        self.ocr_veto_jaccard = ocr_veto_jaccard
        self.ocr_veto_cos = ocr_veto_cos
        self.ocr_link_cos = ocr_link_cos
        self.n_neighbors = n_neighbors
        self.search_dims = search_dims
        self.random_state = random_state

    def fit(self, data: VariantInputs, y=None):
        if not 0 <= self.phash_max_hamming <= 64:
            raise ValueError("phash_max_hamming must be within 0..64")
        if self.n_neighbors < 1:
            raise ValueError("n_neighbors must be ≥ 1")
        n = data.n
        everyone = np.arange(n)
        has_text = np.array([substantial(t, self.ocr_min_chars) for t in data.ocr_text], dtype=bool)
        has_visual = _nonzero_rows(data.visual) if data.visual.size else np.zeros(n, bool)
        reduced = self._reduced(data.visual)
        # OCR-text neighbours: in a PCA space too once exact search is off (the rules read full cosines)
        ocr_space = self._reduced(data.ocr_vec, everyone[has_text]) if has_text.sum() > KNN_EXACT_MAX else None
        candidates = [
            knn_pairs(data.visual if reduced is None else reduced, everyone[has_visual], self.n_neighbors, self.random_state),
            knn_pairs(data.ocr_vec if ocr_space is None else ocr_space, everyone[has_text], self.n_neighbors, self.random_state),
            phash_pairs(data.phash, everyone[data.has_phash]),
        ]
        pairs = _unique_pairs(np.vstack(candidates))
        i, j = pairs[:, 0], pairs[:, 1]
        hamming = np.where(data.has_phash[i] & data.has_phash[j], hamming64(data.phash[i], data.phash[j]), -1)
        vis = self._visual_cosines(data.visual, reduced, i, j)
        # OCR cosines only where both creatives have an OCR vector: a zero row's dot is 0 (half of the
        # 2.2M candidate pairs at 100k; the gathers, not the products, are the cost)
        with_vec = _nonzero_rows(data.ocr_vec)
        both_vec = with_vec[i] & with_vec[j]
        ocr = np.zeros(len(i), dtype=np.float32)
        ocr[both_vec] = _rowwise_dot(data.ocr_vec, i[both_vec], j[both_vec])
        both = has_text[i] & has_text[j]
        jac = np.full(len(i), np.nan)
        near = (vis >= self.visual_min_cos) | ((hamming >= 0) & (hamming <= self.phash_max_hamming))
        need = both & near & (ocr >= self.ocr_veto_cos)  # only where it can veto
        for p in np.flatnonzero(need):
            jac[p] = trigram_jaccard(data.ocr_text[i[p]], data.ocr_text[j[p]])
        reason = decide_links(hamming, vis, ocr, jac, both, self.phash_max_hamming, self.visual_min_cos,
                              self.ocr_veto_jaccard, self.ocr_veto_cos, self.ocr_link_cos, self.veto_phash)
        if data.kind is not None:
            reason = np.where(data.kind[i] == data.kind[j], reason, 0)
        linked = reason > 0
        graph = coo_matrix((np.ones(int(linked.sum())), (i[linked], j[linked])), shape=(n, n))
        self.n_components_, self.labels_ = connected_components(graph, directed=False)
        self.pairs_ = pd.DataFrame({"i": i, "j": j, "hamming": hamming, "visual_cos": vis, "ocr_cos": ocr,
                                    "jaccard": jac, "reason": pd.Categorical.from_codes(reason, list(REASONS.values()))})
        return self

    def _reduced(self, visual: np.ndarray, fit_rows: np.ndarray | None = None) -> np.ndarray | None:
        """Exact k-NN on 3840-d rows costs ~n²·3840 flops: above a few thousand creatives search
        (and screen pairs) in a PCA space fitted on a sample (of `fit_rows` when given); None when
        the full rows are cheap."""
        if len(visual) <= 5000 or visual.shape[1] <= 2 * self.search_dims:
            return None
        from .features import SampledPCA, l2_rows

        pca = SampledPCA(self.search_dims, fit_max=5000, random_state=self.random_state)
        pca.fit(visual if fit_rows is None else visual[fit_rows])
        return l2_rows(pca.transform(visual))

    def _visual_cosines(self, visual: np.ndarray, reduced: np.ndarray | None, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Exact cosines where they can matter: gathering full rows for every candidate pair is the
        slow part, so pairs are screened in the PCA space and only those within 0.1 of the link
        threshold are computed on the full vectors."""
        if not visual.size:
            return np.zeros(len(i), np.float32)
        if reduced is None:
            return _rowwise_dot(visual, i, j)
        approx = _rowwise_dot(reduced, i, j)
        near = approx >= self.visual_min_cos - 0.1
        # the full rows' gathers are most of variant linking (1.5M pairs at 100k): every core takes a share
        approx[near] = _rowwise_dot(visual, i[near], j[near], threads=os.cpu_count() or 1)
        return approx


class NoLinking(BaseEstimator):
    """Pass-through: every creative is its own micro-pattern."""

    def fit(self, data: VariantInputs, y=None):
        self.labels_ = np.arange(data.n)
        self.n_components_ = data.n
        self.pairs_ = pd.DataFrame(columns=["i", "j", "hamming", "visual_cos", "ocr_cos", "jaccard", "reason"])
        return self
