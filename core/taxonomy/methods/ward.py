"""Weighted Ward clustering of units, the cluster count chosen by a silhouette sweep.

The default build no longer picks families this way (`lines.py`: on real ads the silhouette is flat,
so the sweep's smallest k collapsed 190 IRA ads into 2 families); it serves `method="ward"`,
sub-clusters inside a family (k ≤ 8) and trends' window families.

Ward over units that weigh their ads is Ward over the ads with every group of variants already
merged: each ad's row is snapped to its unit's centroid, so identical rows join at zero cost and
the tree above them is the weighted tree (scipy's `ward`, the one sklearn's
AgglomerativeClustering builds). One tree is cut at every k of the sweep and scored by the ad-weighted
silhouette of the units (`weighted_silhouette`); the smallest k within `tolerance` of the best
score wins, so that a family level does not split what its sub-clusters will show anyway
(measured on five generated sample libraries: ARI 0.96 mean, 0.92 worst, vs 0.92 / 0.89 for
the plain arg-max). Cuts whose largest cluster holds more than `max_share` of the ads are
skipped while any other cut exists: on real ads (IRA, banners) the best silhouette was often
"a few unusual ads vs everything else", a level that names nothing.

With `max_units`, a set of more units than that (and at most max_units², which two levels can show)
is always cut, even where no split is separated (a node must stay browsable): the sweep's cut, then
its most crowded cluster halved until every cluster holds at most max_units units or there are
max(k_max, max_units) clusters.

Ward needs all pairwise distances, so above `fit_max` ads it runs on a seeded sample of ads and the
units left out join their nearest cluster centroid.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from .base import canonical_labels, place_unfitted, snapped_rows, weighted_silhouette, weights_or_ones


class WardClustering(BaseEstimator, ClusterMixin):
    def __init__(self, k_min: int = 2, k_max: int = 30, min_silhouette: float = -1.0, tolerance: float = 0.02,
                 max_share: float | None = None, max_units: int | None = None, fit_max: int = 3000, random_state: int = 0):
        self.k_min = k_min
        self.k_max = k_max
        self.tolerance = tolerance
        self.max_share = max_share
        self.max_units = max_units
        self.min_silhouette = min_silhouette
        self.fit_max = fit_max
        self.random_state = random_state

    def fit(self, X, sample_weight=None):
        from scipy.cluster.hierarchy import fcluster, ward
        from sklearn.metrics import pairwise_distances

        if self.k_min < 2 or self.k_max < self.k_min:
            raise ValueError("need 2 ≤ k_min ≤ k_max")
        if self.max_units is not None and self.max_units < 2:
            raise ValueError("need max_units ≥ 2")
        X = np.asarray(X, dtype=np.float64)
        w = weights_or_ones(X, sample_weight)
        m = len(X)
        self.sweep_ = {}
        self.silhouette_ = float("nan")
        fit_units, rows, first = snapped_rows(w, self.fit_max, self.random_state)
        counts = np.bincount(rows).astype(float)
        Xu = X[fit_units]
        # more units than a node can show: a split is needed to browse them, separated or not
        # (beyond max_units × max(k_max, max_units) units no two levels can show ≤ max_units each: at 100k
        # ads the cut only multiplied sub-clusters, 174 → 800, and ~40 s of their labels)
        crowded = self.max_units is not None and self.max_units < len(fit_units) <= self.max_units * max(self.k_max, self.max_units)
        k_hi = min(self.k_max, len(fit_units) - 1)
        if k_hi < self.k_min or np.allclose(Xu, Xu[0]):
            return self._single(m, w)
        Z = ward(Xu[rows])
        D = pairwise_distances(Xu)
        cuts = {}
        for k in range(self.k_min, k_hi + 1):
            lab = fcluster(Z, k, criterion="maxclust")[first]
            n_lab = len(np.unique(lab))
            if n_lab < 2 or n_lab >= len(Xu) or n_lab in cuts:
                continue
            cuts[n_lab] = lab
            self.sweep_[n_lab] = round(weighted_silhouette(D, lab, counts), 4)
        if not cuts or (max(self.sweep_.values()) < self.min_silhouette and not crowded):
            return self._single(m, w)
        eligible = {k: s for k, s in self.sweep_.items()
                    if self.max_share is None or np.bincount(cuts[k], weights=counts).max() <= self.max_share * counts.sum()}
        eligible = eligible or self.sweep_
        top = max(eligible.values())
        k_best = min(k for k, s in eligible.items() if s >= top - self.tolerance)
        self.silhouette_ = self.sweep_[k_best]
        fit_labels = cuts[k_best] - 1
        if crowded:
            fit_labels = _split_crowded(Xu, counts, fit_labels, self.max_units, min(max(self.k_max, self.max_units), len(fit_units)))
        self.labels_ = canonical_labels(place_unfitted(X, fit_units, fit_labels), w)
        self.n_clusters_ = int(self.labels_.max()) + 1
        return self

    def _single(self, m: int, w):
        self.labels_ = np.zeros(m, dtype=np.int64)
        self.n_clusters_ = 1
        return self


def _split_crowded(Xu: np.ndarray, counts: np.ndarray, labels: np.ndarray, max_units: int, k_cap: int) -> np.ndarray:
    """Halve the cluster of most units (Ward on its own units) until none holds more than max_units
    or there are k_cap clusters: one cut of the whole tree can leave a 22-unit cluster at any k."""
    from scipy.cluster.hierarchy import fcluster, ward

    labels = labels.copy()
    while labels.max() + 1 < k_cap:
        sizes = np.bincount(labels)
        big = int(np.argmax(sizes))
        if sizes[big] <= max_units:
            break
        idx = np.flatnonzero(labels == big)
        rows = np.repeat(np.arange(len(idx)), np.maximum(counts[idx], 1).astype(np.int64))
        if np.allclose(Xu[idx], Xu[idx[0]]):
            break
        two = fcluster(ward(Xu[idx][rows]), 2, criterion="maxclust")[np.searchsorted(rows, np.arange(len(idx)))]
        if len(np.unique(two)) < 2:
            break
        labels[idx[two == two.max()]] = labels.max() + 1
    return labels
