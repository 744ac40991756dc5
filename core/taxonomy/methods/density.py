"""HDBSCAN (the hdbscan package) over ads, with every group of variants collapsed to one point.

HDBSCAN takes no weights, so each unit enters once per ad (its rows snapped to the unit centroid):
density and `min_cluster_size` then count ads, as they should; fitted on units alone, one
creative with twenty variants would weigh as little as a single ad, and on the sample libraries
the condensed tree then kept a degenerate two-cluster root split. Levels come from re-clustering
inside each family. Above `fit_max` ads a seeded sample is fitted with prediction data and the
other units are placed with `approximate_predict` (which may call them noise).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from .base import canonical_labels, snapped_rows, weights_or_ones


def default_min_cluster_size(n_ads: int) -> int:
    # about half the square root: 7 for 200 ads, 50 for 10k; never below 3 (pairs are variants' job)
    return int(max(3, round(0.5 * np.sqrt(max(n_ads, 1)))))


class HDBSCANClustering(BaseEstimator, ClusterMixin):
    def __init__(self, min_cluster_size: int | None = None, min_samples: int | None = None,
                 cluster_selection_method: str = "eom", fit_max: int = 10_000, random_state: int = 0):
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
        fit_units, rows, first = snapped_rows(w, self.fit_max, self.random_state)
        mcs = self.min_cluster_size or default_min_cluster_size(len(rows))
        if mcs < 2:
            raise ValueError("min_cluster_size must be ≥ 2")
        ms = self.min_samples or max(1, mcs // 2)
        if len(rows) < 2 * mcs or len(fit_units) < 2:
            self.labels_ = np.zeros(m, dtype=np.int64)
            self.n_clusters_ = 1
            return self
        model = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=ms, cluster_selection_method=self.cluster_selection_method,
                                prediction_data=len(fit_units) < m, core_dist_n_jobs=1)
        model.fit(X[fit_units][rows])
        labels = np.full(m, -1, dtype=np.int64)
        labels[fit_units] = model.labels_[first]
        rest = np.setdiff1d(np.arange(m), fit_units)
        if len(rest):
            labels[rest] = hdbscan.approximate_predict(model, X[rest])[0]
        self.model_ = model
        self.labels_ = canonical_labels(labels, w)
        self.n_clusters_ = int(self.labels_.max()) + 1
        return self
