"""HDBSCAN (the hdbscan package) on units; levels come from re-clustering inside each family.

Above `fit_max` units it fits a seeded sample with prediction data and places the rest with
`approximate_predict`, which may call them noise like any other point.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from .base import canonical_labels, sample_rows, weights_or_ones


def default_min_cluster_size(n_units: int) -> int:
    # about half the square root: 7 for 200 units, 50 for 10k; never below 3 (pairs are variants' job)
    return int(max(3, round(0.5 * np.sqrt(max(n_units, 1)))))


class HDBSCANClustering(BaseEstimator, ClusterMixin):
    def __init__(self, min_cluster_size: int | None = None, min_samples: int | None = None,
                 cluster_selection_method: str = "eom", fit_max: int = 20_000, random_state: int = 0):
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.fit_max = fit_max
        self.random_state = random_state

    def fit(self, X, sample_weight=None):
        import hdbscan

        if self.cluster_selection_method not in ("eom", "leaf"):
            raise ValueError("cluster_selection_method must be 'eom' or 'leaf'")
        X = np.asarray(X, dtype=np.float64)
        w = weights_or_ones(X, sample_weight)
        m = len(X)
        mcs = self.min_cluster_size or default_min_cluster_size(m)
        if mcs < 2:
            raise ValueError("min_cluster_size must be ≥ 2")
        ms = self.min_samples or max(1, mcs // 2)
        if m < 2 * mcs:
            self.labels_ = np.zeros(m, dtype=np.int64)
            self.n_clusters_ = 1
            return self
        fit_rows = sample_rows(m, self.fit_max, self.random_state)
        model = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=ms, cluster_selection_method=self.cluster_selection_method,
                                prediction_data=len(fit_rows) < m, core_dist_n_jobs=1)
        model.fit(X[fit_rows])
        labels = np.full(m, -1, dtype=np.int64)
        labels[fit_rows] = model.labels_
        rest = np.setdiff1d(np.arange(m), fit_rows)
        if len(rest):
            labels[rest] = hdbscan.approximate_predict(model, X[rest])[0]
        self.model_ = model
        self.labels_ = canonical_labels(labels, w)
        self.n_clusters_ = int(self.labels_.max()) + 1
        return self
