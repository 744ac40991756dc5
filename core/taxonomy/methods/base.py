"""What every clustering method shares: the estimator protocol and small pure helpers.

Methods cluster *units* (micro-patterns: a creative and its variants, as the mean feature row of
their ads) so that variants can never be split; `sample_weight` is the number of ads per unit.
Labels are 0..k-1 by decreasing weight, -1 for noise.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

SILHOUETTE_MAX = 3000   # silhouettes on a seeded sample above this: the score needs all pairs


class UnitClusterer(Protocol):
    labels_: np.ndarray

    def fit(self, X: np.ndarray, sample_weight: np.ndarray | None = None) -> "UnitClusterer": ...


def weights_or_ones(X: np.ndarray, sample_weight) -> np.ndarray:
    if sample_weight is None:
        return np.ones(len(X))
    w = np.asarray(sample_weight, dtype=float)
    if w.shape != (len(X),) or (w < 0).any():
        raise ValueError("sample_weight must be one non-negative number per row")
    return w


def canonical_labels(labels: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """Renumber clusters by decreasing total weight, ties by first row: same input → same ids."""
    labels = np.asarray(labels)
    weight = np.ones(len(labels)) if weight is None else weight
    keys = []
    for lab in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == lab)
        keys.append((-float(weight[rows].sum()), int(rows[0]), lab))
    mapping = {lab: new for new, (_, _, lab) in enumerate(sorted(keys))}
    return np.array([mapping.get(lab, -1) for lab in labels], dtype=np.int64)


def sample_rows(n: int, max_n: int, seed: int) -> np.ndarray:
    if n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_n, replace=False))


def silhouette(X: np.ndarray, labels: np.ndarray, seed: int = 0, max_n: int = SILHOUETTE_MAX) -> float:
    """Silhouette of the non-noise rows (NaN when fewer than 2 clusters)."""
    from sklearn.metrics import silhouette_score

    keep = np.flatnonzero(labels >= 0)
    keep = keep[sample_rows(len(keep), max_n, seed)]
    k = len(np.unique(labels[keep]))
    if k < 2 or k >= len(keep):
        return float("nan")
    return float(silhouette_score(X[keep], labels[keep]))


def centroids(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    out = np.zeros((k, X.shape[1]), dtype=np.float64)
    np.add.at(out, labels[labels >= 0], X[labels >= 0])
    counts = np.bincount(labels[labels >= 0], minlength=k)
    return out / np.maximum(counts, 1)[:, None]


def nearest(X: np.ndarray, C: np.ndarray, chunk: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """(index of the nearest row of C, its Euclidean distance) for each row of X."""
    idx = np.empty(len(X), dtype=np.int64)
    dist = np.empty(len(X), dtype=np.float64)
    cc = (C ** 2).sum(1)
    for s in range(0, len(X), chunk):
        x = X[s:s + chunk].astype(np.float64)
        d2 = (x ** 2).sum(1)[:, None] - 2 * x @ C.T + cc[None, :]
        idx[s:s + chunk] = d2.argmin(1)
        dist[s:s + chunk] = np.sqrt(np.maximum(d2[np.arange(len(x)), idx[s:s + chunk]], 0))
    return idx, dist
