"""Feature axes for clustering: visual, text, keywords, layout/colour, performance, pacing.

`text` is the sentence embedding of the ad document (MiniLM); `keywords` is the same document
read lexically (TF-IDF → LSA). Measured on the sample library, the lexical reading separates
creative families far better (5-NN family purity 0.91 vs 0.82): tags, CTA phrases and copy
formulas are exact words that a sentence model blurs.

Each axis is scaled (embeddings L2-normalised, small numeric axes standardised), reduced with
PCA (HDBSCAN's docs advise reducing dimension before density clustering), rescaled so its
rows have unit mean squared norm, multiplied by √weight and concatenated. Squared distances
then split between axes in proportion to their weights: visual=1, text=1, layout=0.5 means
layout carries a fifth of a typical distance.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA

from .corpus import AdCorpus

# Weights measured on five generated sample libraries (family ARI): text read twice over
# (semantic 1 + lexical 2) and layout at 1 keep families whole where the same product photo
# appears in several creative formats.
DEFAULT_AXES = {"visual": 1.0, "text": 1.0, "keywords": 2.0, "layout": 1.0, "performance": 0.0, "pacing": 0.5}
AXIS_COMPONENTS = {"visual": 24, "text": 24, "keywords": 24, "layout": 8, "performance": 3, "pacing": 4}
PCA_FIT_MAX = 5_000    # PCA is fitted on a seeded sample above this and applied to all rows

COLOR_NAMES = ("red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown", "black", "white", "grey")
LAYOUT_VOCAB = ("wide banner", "landscape", "square", "portrait", "vertical story", "text-heavy", "no text",
                "text-only graphic", "graphic design", "illustration", "photo", "split screen", "video")
PACING_KEYS = ("cuts_per_s", "mean_shot_s", "motion", "text_time_share")


def resolve_axes(axes: dict | None) -> dict[str, float]:
    weights = dict(DEFAULT_AXES)
    for name, w in (axes or {}).items():
        if name not in DEFAULT_AXES:
            raise ValueError(f"unknown feature axis {name!r}; valid axes: {', '.join(DEFAULT_AXES)}")
        w = float(w)
        if not np.isfinite(w) or w < 0:
            raise ValueError(f"axis weight for {name!r} must be a finite number ≥ 0, got {w}")
        weights[name] = w
    if sum(weights.values()) <= 0:
        raise ValueError("at least one feature axis needs a positive weight")
    return weights


# -- raw axes (one row per ad) -------------------------------------------------------------------
def layout_matrix(corpus: AdCorpus) -> np.ndarray:
    f = corpus.frame
    w = f["width"].fillna(1).clip(lower=1).to_numpy(float)
    h = f["height"].fillna(1).clip(lower=1).to_numpy(float)
    cols = [np.log(w / h), f["text_area_share"].fillna(0).to_numpy(float)]
    cols.append(np.array([float(c.get("saturation", 0) or 0) for c in f["colors"]]))
    cols.append(np.array([float(c.get("brightness", 0) or 0) for c in f["colors"]]))
    hue = np.zeros((len(f), len(COLOR_NAMES)))
    index = {c: i for i, c in enumerate(COLOR_NAMES)}
    for r, c in enumerate(f["colors"]):
        for d in c.get("dominant", []) or []:
            j = index.get(d.get("name"))
            if j is not None:
                hue[r, j] += float(d.get("share", 0) or 0)
    words = np.zeros((len(f), len(LAYOUT_VOCAB)))
    lindex = {c: i for i, c in enumerate(LAYOUT_VOCAB)}
    for r, (ws, kind) in enumerate(zip(f["layout_list"], f["kind"])):
        for wd in ws:
            if wd in lindex:
                words[r, lindex[wd]] = 1.0
        if kind == "video":
            words[r, lindex["video"]] = 1.0
    return np.column_stack(cols + [hue, words])


def performance_matrix(corpus: AdCorpus) -> np.ndarray:
    f = corpus.frame
    impressions = f["impressions"].to_numpy(float)
    clicks = f["clicks"].to_numpy(float)
    ctr = np.where(np.isfinite(clicks) & (impressions > 0), clicks / np.where(impressions > 0, impressions, 1), f["ctr"].to_numpy(float))
    cvr = np.where(clicks > 0, f["conversions"].to_numpy(float) / np.where(clicks > 0, clicks, 1), np.nan)
    spend = np.log1p(f["spend"].to_numpy(float).clip(min=0))
    return np.column_stack([ctr, cvr, spend])


def pacing_matrix(corpus: AdCorpus) -> np.ndarray:
    out = np.zeros((corpus.n, len(PACING_KEYS)))
    for r, extra in enumerate(corpus.frame["extra"]):
        for j, key in enumerate(PACING_KEYS):
            v = (extra or {}).get(key)
            if isinstance(v, (int, float)) and np.isfinite(v):
                out[r, j] = float(v)
    return out


# -- scaling and reduction -----------------------------------------------------------------------
def l2_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1)


def standardise(X: np.ndarray) -> np.ndarray:
    """Column z-scores; missing values become the column mean (0), constant columns 0."""
    X = np.asarray(X, dtype=np.float64)
    mean = np.nanmean(np.where(np.isfinite(X), X, np.nan), axis=0) if len(X) else np.zeros(X.shape[1])
    mean = np.nan_to_num(mean)
    X = np.where(np.isfinite(X), X, mean)
    std = X.std(axis=0)
    return np.where(std > 1e-9, (X - mean) / np.where(std > 1e-9, std, 1), 0.0)


class PassThrough(BaseEstimator):
    """The no-op reducer: an axis already small enough is used as it is."""

    def fit(self, X, y=None):
        self.n_components_ = X.shape[1]
        return self

    def transform(self, X):
        return np.asarray(X)


class SampledPCA(BaseEstimator):
    """PCA fitted on at most `fit_max` seeded rows, applied to all (rows stay independent)."""

    def __init__(self, n_components: int = 24, fit_max: int = PCA_FIT_MAX, random_state: int = 0):
        self.n_components = n_components
        self.fit_max = fit_max
        self.random_state = random_state

    def fit(self, X, y=None):
        if self.n_components < 1:
            raise ValueError("n_components must be ≥ 1")
        X = np.asarray(X, dtype=np.float32)
        rows = X
        if len(X) > self.fit_max:
            pick = np.random.default_rng(self.random_state).choice(len(X), self.fit_max, replace=False)
            rows = X[np.sort(pick)]
        k = int(min(self.n_components, rows.shape[0] - 1, rows.shape[1]))
        if k < 1:
            self.pca_ = None
            return self
        solver = "randomized" if min(rows.shape) > 4 * k else "full"
        self.pca_ = PCA(n_components=k, svd_solver=solver, random_state=self.random_state).fit(rows)
        return self

    def transform(self, X):
        if self.pca_ is None:
            return np.zeros((len(X), 1), dtype=np.float32)
        out = np.empty((len(X), self.pca_.n_components_), dtype=np.float32)
        for start in range(0, len(X), 20_000):  # chunks keep the float64 temporaries small
            out[start:start + 20_000] = self.pca_.transform(np.asarray(X[start:start + 20_000], dtype=np.float32))
        return out


class UnitRowsPCA(SampledPCA):
    """SampledPCA of the L2-normalised rows, normalised chunk by chunk: the same numbers as
    SampledPCA().fit(l2_rows(X)) without an n × d copy (100k visual rows: 1.5 GB)."""

    def fit(self, X, y=None):
        rows = X
        if len(X) > self.fit_max:
            pick = np.random.default_rng(self.random_state).choice(len(X), self.fit_max, replace=False)
            rows = X[np.sort(pick)]
        return super().fit(l2_rows(np.asarray(rows, dtype=np.float32)))

    def transform(self, X):
        if self.pca_ is None:
            return np.zeros((len(X), 1), dtype=np.float32)
        return np.vstack([super(UnitRowsPCA, self).transform(l2_rows(np.asarray(X[s:s + 20_000], dtype=np.float32)))
                          for s in range(0, len(X), 20_000)]) if len(X) else np.zeros((0, self.pca_.n_components_), np.float32)


class LSA(BaseEstimator):
    """TF-IDF (sublinear) of term counts, then truncated SVD: the classic latent semantic space."""

    def __init__(self, n_components: int = 24, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, counts, y=None):
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfTransformer

        self.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(counts)
        k = int(min(self.n_components, counts.shape[0] - 1, counts.shape[1] - 1))
        self.svd_ = TruncatedSVD(k, random_state=self.random_state).fit(self.tfidf_.transform(counts)) if k >= 1 else None
        return self

    def transform(self, counts):
        if self.svd_ is None:
            return np.zeros((counts.shape[0], 1), dtype=np.float32)
        return self.svd_.transform(self.tfidf_.transform(counts)).astype(np.float32)


def reducer_for(name: str, n_cols: int, n_components: int, seed: int):
    if name == "keywords":
        return LSA(n_components=n_components, random_state=seed)
    if n_cols <= n_components:
        return PassThrough()
    return SampledPCA(n_components=n_components, random_state=seed)


def unit_energy(X: np.ndarray) -> np.ndarray:
    """Scale so that the mean squared row norm (around the mean) is 1: axes become comparable."""
    X = X - X.mean(axis=0, keepdims=True)
    energy = float((X.astype(np.float64) ** 2).sum(axis=1).mean()) if len(X) else 0.0
    return (X / np.sqrt(energy)).astype(np.float32) if energy > 1e-12 else np.zeros_like(X, dtype=np.float32)


class FeatureBuilder(BaseEstimator):
    """Ads → one weighted feature matrix. Learned: features_ (n × d), blocks_ (axis → column slice)."""

    def __init__(self, axes: dict | None = None, components: dict | None = None, random_state: int = 0):
        self.axes = axes
        self.components = components
        self.random_state = random_state

    def fit(self, corpus: AdCorpus, y=None):
        weights = resolve_axes(self.axes)
        comps = {**AXIS_COMPONENTS, **(self.components or {})}
        blocks, slices, used, start = [], {}, {}, 0
        for name, weight in weights.items():
            if weight <= 0:
                continue
            raw = self._raw(name, corpus)
            if raw is None or raw.shape[1] == 0 or (raw.nnz == 0 if sparse.issparse(raw) else not np.any(raw)):
                continue  # an axis without data (no metadata, no videos) says nothing
            if name == "visual" and raw.shape[1] > comps[name]:
                reducer = UnitRowsPCA(n_components=comps[name], random_state=self.random_state).fit(raw)
            else:
                raw = l2_rows(raw) if name == "visual" else raw
                reducer = reducer_for(name, raw.shape[1], comps[name], self.random_state).fit(raw)
            reduced = reducer.transform(raw)
            if name == "visual":  # computed per creative, shared by its ads
                reduced = reduced[corpus.creative_of_ad]
            block = unit_energy(reduced) * np.float32(np.sqrt(weight))
            if not np.any(block):
                continue
            blocks.append(block)
            slices[name] = slice(start, start + block.shape[1])
            used[name] = weight
            start += block.shape[1]
        if not blocks:
            blocks = [np.zeros((corpus.n, 1), dtype=np.float32)]
        self.features_ = np.ascontiguousarray(np.hstack(blocks), dtype=np.float32)
        self.blocks_ = slices
        self.axes_used_ = used
        self.weights_ = weights
        return self

    @staticmethod
    def _raw(name: str, corpus: AdCorpus) -> np.ndarray | None:
        if name == "visual":   # as loaded: fit() normalises the rows (chunk-wise when it reduces them)
            return corpus.visual if corpus.visual.size else None
        if name == "text":
            return l2_rows(corpus.text) if corpus.text.size else None
        if name == "keywords":
            return corpus.doc_terms()[0]
        if name == "layout":
            return standardise(layout_matrix(corpus))
        if name == "performance":
            return standardise(performance_matrix(corpus))
        if name == "pacing":
            return standardise(pacing_matrix(corpus))
        raise ValueError(name)


# -- the line space (families) -------------------------------------------------------------------
LINE_VISUAL_SHARE = 0.2    # of the squared norm; measured in methods/lines.py
LINE_LEXICAL_SHARE = 0.1  # shared words (lexical.py); measured there
LINE_PAGE_SHARE = 0.2      # the page its landing URL names (line_keys.py); measured there
LINE_VISUAL_DIMS = 64      # uncentred SVD keeps cosines; 100k × 3840 visual rows would not fit
LINE_CHUNK = 8192          # rows assembled at a time
STRIP_ASPECT = 3.0         # 468×60 banners (7.8:1) and skyscrapers (1:4) are strips, not posts
KINDS = ("image", "strip", "video")


def kind_gate(corpus: AdCorpus) -> np.ndarray:
    """Per ad: 0 image, 1 strip banner (aspect ≥ 3:1 either way), 2 video. Ads of different kinds
    never share a family: a 468×60 text banner and a photo post are not one line because both are 'other'."""
    f = corpus.frame
    w = f["width"].fillna(1).clip(lower=1).to_numpy(float)
    h = f["height"].fillna(1).clip(lower=1).to_numpy(float)
    aspect = w / h
    strip = (aspect >= STRIP_ASPECT) | (aspect <= 1 / STRIP_ASPECT)
    return np.where(f["kind"].to_numpy() == "video", 2, np.where(strip, 1, 0)).astype(np.int64)


def line_visual(corpus: AdCorpus, seed: int = 0) -> np.ndarray:
    """The visual part of the line space, per creative: the rows reduced to LINE_VISUAL_DIMS by an
    uncentred SVD (or as they are when already small). Its own step so that a build can free the
    full visual rows before the rest of the line space is assembled."""
    from sklearn.decomposition import TruncatedSVD

    vis = corpus.visual
    if vis.size and vis.shape[1] > LINE_VISUAL_DIMS and len(vis) > LINE_VISUAL_DIMS:
        rows = vis
        if len(vis) > PCA_FIT_MAX:
            rows = vis[np.sort(np.random.default_rng(seed).choice(len(vis), PCA_FIT_MAX, replace=False))]
        svd = TruncatedSVD(LINE_VISUAL_DIMS, random_state=seed).fit(rows)
        vis = np.vstack([svd.transform(vis[s:s + 20_000]) for s in range(0, len(vis), 20_000)]).astype(np.float32)
    return vis


def line_features(corpus: AdCorpus, visual_share: float = LINE_VISUAL_SHARE, seed: int = 0,
                  lexical_share: float = LINE_LEXICAL_SHARE, visual: np.ndarray | None = None,
                  page_share: float = LINE_PAGE_SHARE) -> np.ndarray:
    """Per ad: [document vector · √(1−s), visual · √s] · √(1−l−p), the shared-words rows (lexical.py)
    · √l and the landing-page rows (line_keys.py) · √p, all unit rows, so that a cosine in this space
    is the mix of the cosines. Ads without a document vector use the visual alone; an ad without
    shared words or a page skips that block (its share goes back to the rest).
    `visual`: `line_visual(corpus, seed)` computed before (then corpus.visual is not read)."""
    from .lexical import lexical_rows
    from .line_keys import page_rows

    vis = line_visual(corpus, seed) if visual is None else visual
    vis = l2_rows(vis)[corpus.creative_of_ad] if vis.size else np.zeros((corpus.n, 0), np.float32)
    blocks = [(rows, share) for rows, share in (
        (lexical_rows(corpus.frame, seed) if lexical_share > 0 else None, lexical_share),
        (page_rows(corpus.frame, corpus.attributes, seed) if page_share > 0 else None, page_share))
        if rows is not None and rows.shape[1]]
    has_words = corpus.text.size > 0
    width = (corpus.text.shape[1] if has_words else 0) + vis.shape[1]
    out = np.empty((corpus.n, width + sum(rows.shape[1] for rows, _ in blocks)), np.float32)
    # row chunks: each row's numbers are what whole-matrix products give, without n × width float64
    # temporaries (1.2 GB at 100k ads)
    for s in range(0, corpus.n, LINE_CHUNK):
        rows = slice(s, s + LINE_CHUNK)
        part = vis[rows]
        if has_words:
            text = l2_rows(corpus.text[rows].astype(np.float32))
            has_text = np.linalg.norm(text, axis=1) > 0
            t_w = np.where(has_text, np.sqrt(1 - visual_share), 0.0)[:, None].astype(np.float32)
            v_w = np.where(has_text, np.sqrt(visual_share), 1.0)[:, None].astype(np.float32)
            part = np.hstack([text * t_w, part * v_w])
        if not blocks:
            out[rows] = part
            continue
        present = [(np.linalg.norm(b[rows], axis=1) > 0)[:, None] for b, _ in blocks]
        rest = 1.0 - sum(np.where(p, share, 0.0) for p, (_, share) in zip(present, blocks))
        out[rows, :width] = part * np.sqrt(rest)   # float64, then float32
        at = width
        for b, share in blocks:     # a zero row (no words, no page) stays zero
            out[rows, at:at + b.shape[1]] = b[rows] * np.sqrt(share)
            at += b.shape[1]
    return out


def unit_means(of_ad: np.ndarray, weight: np.ndarray, rows: np.ndarray, block: int = 64) -> np.ndarray:
    """Per unit, the float32 mean of its ads' rows: what hierarchy.Units.from_labels computes (one sparse
    product in float64, divided by the unit's ads), a block of columns at a time, so the float64 copy
    is n × block instead of n × width (the 1M-ad line space: 4.8 GB of float64, and as much again for
    the product). Each unit sums its ads in the same order either way: the same floats."""
    from scipy.sparse import csr_matrix

    u = len(weight)
    ind = csr_matrix((np.ones(len(of_ad)), (of_ad, np.arange(len(of_ad)))), shape=(u, len(of_ad)))
    out = np.empty((u, rows.shape[1]), np.float32)
    for s in range(0, rows.shape[1], block):
        out[:, s:s + block] = (ind @ rows[:, s:s + block].astype(np.float64)) / np.maximum(weight, 1)[:, None]
    return out
