"""`auto`: Ward for small collections; otherwise Ward and HDBSCAN both run and HDBSCAN wins only
if its silhouette (non-noise units) beats Ward's by more than `margin` (ties go to Ward, whose
clusters cover every ad)."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from .base import silhouette, weights_or_ones
from .density import HDBSCANClustering
from .ward import WardClustering


class AutoClustering(BaseEstimator, ClusterMixin):
    def __init__(self, small_n: int = 50, margin: float = 0.05, random_state: int = 0):
        self.small_n = small_n
        self.margin = margin
        self.random_state = random_state

    def fit(self, X, sample_weight=None):
        X = np.asarray(X, dtype=np.float64)
        w = weights_or_ones(X, sample_weight)
        ward = WardClustering(random_state=self.random_state).fit(X, w)
        self.scores_ = {"ward": silhouette(X, ward.labels_, self.random_state, sample_weight=w)}
        chosen = ward
        self.chosen_ = "ward"
        if w.sum() >= self.small_n:
            dens = HDBSCANClustering(random_state=self.random_state).fit(X, w)
            self.scores_["hdbscan"] = silhouette(X, dens.labels_, self.random_state, sample_weight=w)
            s_w, s_h = self.scores_["ward"], self.scores_["hdbscan"]
            if np.isfinite(s_h) and (not np.isfinite(s_w) or s_h > s_w + self.margin):
                chosen, self.chosen_ = dens, "hdbscan"
        self.estimator_ = chosen
        self.labels_ = chosen.labels_
        self.n_clusters_ = chosen.n_clusters_
        return self
