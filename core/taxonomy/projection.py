"""2-D map coordinates for ads (UMAP, deterministic with the seed) and nodes (mean of members).

UMAP gets its k-NN graph from FAISS (exact, fast on the reduced features) instead of running
NN-descent. Up to `UMAP_FULL_MAX` ads UMAP sees everything; above it UMAP is fitted on a seeded
sample and every other ad is placed at the similarity-weighted mean of its nearest sampled
neighbours' positions (UMAP's own initialisation of `transform`, without the extra epochs that
would cost minutes at 100k). Above `UMAP_MAX` the documented fallback is PCA-2.
"""
from __future__ import annotations

import threading
import warnings

import numpy as np

UMAP_FULL_MAX = 20_000
UMAP_SAMPLE = 10_000
UMAP_MAX = 2_000_000       # beyond this even the sampled path is not worth it: PCA-2
N_NEIGHBORS = 15
_warm = threading.Event()


def warm_umap() -> None:
    """Compile UMAP's numba kernels once per process (10–40 s the first time) with a tiny fit."""
    if _warm.is_set():
        return
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 8)).astype(np.float32)
    _umap(X, seed=0)
    _warm.set()


def _knn(X: np.ndarray, k: int, queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    index = faiss.IndexFlatL2(X.shape[1])
    index.add(np.ascontiguousarray(X, dtype=np.float32))
    d2, idx = index.search(np.ascontiguousarray(X if queries is None else queries, dtype=np.float32), k)
    return idx, np.sqrt(np.maximum(d2, 0))


def _umap(X: np.ndarray, seed: int) -> np.ndarray:
    import umap

    n = len(X)
    k = min(N_NEIGHBORS, n - 1)
    idx, dist = _knn(X, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_jobs/random_state and tiny-graph notices
        model = umap.UMAP(n_neighbors=k, n_components=2, random_state=seed, n_jobs=1, init="spectral" if n > 50 else "random",
                          precomputed_knn=(idx, dist, None), n_epochs=500 if n <= 2000 else 200, min_dist=0.1)
        return model.fit_transform(X).astype(np.float64)


def pca2(X: np.ndarray, seed: int = 0) -> np.ndarray:
    from .features import SampledPCA

    Y = SampledPCA(2, random_state=seed).fit(X).transform(X).astype(np.float64)
    return Y if Y.shape[1] == 2 else np.column_stack([Y, np.zeros(len(Y))])


def project_2d(X: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """(n × 2 coordinates, how they were made)."""
    X = np.asarray(X, dtype=np.float32)
    n = len(X)
    if n == 0:
        return np.zeros((0, 2)), "none"
    if n < 8 or np.allclose(X, X[0]):
        return pca2(X, seed) if n > 2 else np.zeros((n, 2)), "pca"
    if n > UMAP_MAX:
        return pca2(X, seed), "pca"
    warm_umap()
    if n <= UMAP_FULL_MAX:
        return _umap(X, seed), "umap"
    sample = np.sort(np.random.default_rng(seed).choice(n, UMAP_SAMPLE, replace=False))
    out = np.empty((n, 2))
    out[sample] = _umap(X[sample], seed)
    rest = np.setdiff1d(np.arange(n), sample)
    idx, dist = _knn(X[sample], N_NEIGHBORS, X[rest])
    w = 1.0 / (dist + 1e-6)
    out[rest] = (out[sample][idx] * w[..., None]).sum(axis=1) / w.sum(axis=1, keepdims=True)
    return out, "umap-sample"
