"""Weighted Ward clustering of units, the cluster count chosen by a silhouette sweep.

Ward over units that weigh their ads is Ward over the ads with every group of variants already
merged: each ad's row is snapped to its unit's centroid, so identical rows join at zero cost and
the tree above them is the weighted tree (scipy's `ward`, the one sklearn's
AgglomerativeClustering builds). One tree is cut at every k of the sweep; the silhouette is
taken over unit centroids, one point per unit, because duplicated rows would reward cutting
every unit apart. Ward needs all pairwise distances, so above `fit_max` ads it runs on a seeded
sample of ads and the units left out join their nearest cluster centroid.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from .base import canonical_labels, centroids, nearest, weights_or_ones


class WardClustering(BaseEstimator, ClusterMixin):
    def __init__(self, k_min: int = 2, k_max: int = 30, min_silhouette: float = -1.0, fit_max: int = 3000,
                 random_state: int = 0):
        self.k_min = k_min
        self.k_max = k_max
        self.min_silhouette = min_silhouette
        self.fit_max = fit_max
        self.random_state = random_state

    def fit(self, X, sample_weight=None):
        from scipy.cluster.hierarchy import fcluster, ward
        from sklearn.metrics import pairwise_distances, silhouette_score

        if self.k_min < 2 or self.k_max < self.k_min:
            raise ValueError("need 2 ≤ k_min ≤ k_max")
        X = np.asarray(X, dtype=np.float64)
        w = weights_or_ones(X, sample_weight)
        m = len(X)
        self.sweep_ = {}
        self.silhouette_ = float("nan")
        fit_units, counts = self._fit_rows(np.maximum(np.rint(w), 1).astype(np.int64))
        Xu = X[fit_units]
        k_hi = min(self.k_max, len(fit_units) - 1)
        if k_hi < self.k_min or np.allclose(Xu, Xu[0]):
            return self._single(m, w)
        rows = np.repeat(np.arange(len(fit_units)), counts)       # unit position of every snapped ad row
        first = np.searchsorted(rows, np.arange(len(fit_units)))  # one row per unit
        Z = ward(Xu[rows])
        D = pairwise_distances(Xu)
        best = None
        for k in range(self.k_min, k_hi + 1):
            lab = fcluster(Z, k, criterion="maxclust")[first]
            n_lab = len(np.unique(lab))
            if n_lab < 2 or n_lab >= len(Xu):
                continue
            s = float(silhouette_score(D, lab, metric="precomputed"))
            self.sweep_[k] = round(s, 4)
            if best is None or s > best[0] + 1e-9:
                best = (s, lab)
        if best is None or best[0] < self.min_silhouette:
            return self._single(m, w)
        self.silhouette_ = best[0]
        fit_labels = best[1] - 1
        labels = np.empty(m, dtype=np.int64)
        labels[fit_units] = fit_labels
        rest = np.setdiff1d(np.arange(m), fit_units)
        if len(rest):
            labels[rest] = nearest(X[rest], centroids(Xu, fit_labels))[0]
        self.labels_ = canonical_labels(labels, w)
        self.n_clusters_ = int(self.labels_.max()) + 1
        return self

    def _fit_rows(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(units in the fit, ads per unit in the fit): all of them, or a seeded sample of ads."""
        total = int(counts.sum())
        if total <= self.fit_max:
            return np.arange(len(counts)), counts
        ads = np.repeat(np.arange(len(counts)), counts)
        pick = np.random.default_rng(self.random_state).choice(total, self.fit_max, replace=False)
        units, n = np.unique(ads[pick], return_counts=True)
        return units, n

    def _single(self, m: int, w):
        self.labels_ = np.zeros(m, dtype=np.int64)
        self.n_clusters_ = 1
        return self
