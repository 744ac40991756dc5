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


def weighted_silhouette(D: np.ndarray, labels: np.ndarray, weight: np.ndarray) -> float:
    """Silhouette of units that stand for `weight` ads each, from their distance matrix D.

    Every unit counts as its ads: distances to a cluster are ad-weighted means, the unit's own ads
    are left out of its own cluster (they sit at distance 0 and would reward cutting every unit
    apart), and the mean is ad-weighted. A unit alone in its cluster scores 0, as usual.
    """
    _, lab = np.unique(labels, return_inverse=True)
    k = int(lab.max()) + 1
    if k < 2:
        return float("nan")
    W = np.zeros((len(lab), k))
    W[np.arange(len(lab)), lab] = weight
    S = D @ W                                  # ad-weighted distance sums to each cluster
    size = W.sum(axis=0)
    rows = np.arange(len(lab))
    own_rest = size[lab] - weight
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(own_rest > 0, S[rows, lab] / own_rest, 0.0)
        mean_to = S / size
    mean_to[rows, lab] = np.inf
    b = mean_to.min(axis=1)
    denom = np.maximum(a, b)
    s = np.where((own_rest > 0) & (denom > 0), (b - a) / np.where(denom > 0, denom, 1), 0.0)
    return float((s * weight).sum() / weight.sum())


def snapped_rows(weight: np.ndarray, fit_max: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ads as rows of their unit, for methods that count ads but cannot take weights.

    Returns (units in the fit, row → position in that list, one row per unit). Above `fit_max`
    ads a seeded sample of ads is taken; units with no sampled ad are left for the caller to place.
    """
    counts = np.maximum(np.rint(weight), 1).astype(np.int64)
    total = int(counts.sum())
    if total <= fit_max:
        units, n = np.arange(len(counts)), counts
    else:
        ads = np.repeat(np.arange(len(counts)), counts)
        pick = np.random.default_rng(seed).choice(total, fit_max, replace=False)
        units, n = np.unique(ads[pick], return_counts=True)
    rows = np.repeat(np.arange(len(units)), n)
    return units, rows, np.searchsorted(rows, np.arange(len(units)))


def silhouette(X: np.ndarray, labels: np.ndarray, seed: int = 0, max_n: int = SILHOUETTE_MAX,
               sample_weight: np.ndarray | None = None) -> float:
    """Ad-weighted silhouette of the non-noise units (NaN when fewer than 2 clusters)."""
    from sklearn.metrics import pairwise_distances

    w = weights_or_ones(X, sample_weight)
    keep = np.flatnonzero(labels >= 0)
    keep = keep[sample_rows(len(keep), max_n, seed)]
    k = len(np.unique(labels[keep]))
    if k < 2 or k >= len(keep):
        return float("nan")
    return weighted_silhouette(pairwise_distances(X[keep]), labels[keep], w[keep])


def centroids(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    out = np.zeros((k, X.shape[1]), dtype=np.float64)
    np.add.at(out, labels[labels >= 0], X[labels >= 0])
    counts = np.bincount(labels[labels >= 0], minlength=k)
    return out / np.maximum(counts, 1)[:, None]


def place_unfitted(X: np.ndarray, fit_units: np.ndarray, fit_labels: np.ndarray) -> np.ndarray:
    """Labels of every row of X: the fitted rows keep `fit_labels`, the rest (left out of a sampled fit)
    join the nearest centroid of the fitted clusters."""
    labels = np.empty(len(X), dtype=np.int64)
    labels[fit_units] = fit_labels
    rest = np.setdiff1d(np.arange(len(X)), fit_units)
    if len(rest):
        fit = np.asarray(X[fit_units], dtype=np.float64)
        labels[rest] = nearest(np.asarray(X[rest], dtype=np.float64), centroids(fit, np.asarray(fit_labels)))[0]
    return labels


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
