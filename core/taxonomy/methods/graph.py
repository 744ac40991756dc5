"""Recursive k-NN similarity graph: link neighbours above a threshold, components are clusters.

Start at cosine 0.75; a cluster whose mean pairwise similarity reaches 0.96 is accepted as it is;
otherwise the threshold rises (by a step set from the cluster's own spread of neighbour
similarities: tight clusters take small steps) until the cluster falls apart, and that split is
kept only if it raises the mean similarity by ≥ 2 %. Clusters lighter than `min_size` ads are
noise. Memory stays O(n·k): the graph is FAISS k-NN, mean similarity comes from the sum vector.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.base import BaseEstimator, ClusterMixin

from .base import canonical_labels, weights_or_ones


@dataclass
class GraphNode:
    rows: np.ndarray
    threshold: float
    mean_similarity: float
    children: list["GraphNode"] = field(default_factory=list)


def mean_pairwise_cosine(Xn: np.ndarray) -> float:
    """Mean cosine over distinct pairs of unit rows, in O(n·d): (|Σx|² − n) / (n(n−1))."""
    n = len(Xn)
    if n < 2:
        return 1.0
    s = Xn.sum(axis=0, dtype=np.float64)
    return float((s @ s - (Xn.astype(np.float64) ** 2).sum()) / (n * (n - 1)))


class GraphClustering(BaseEstimator, ClusterMixin):
    def __init__(self, start_threshold: float = 0.75, step: float = 0.05, accept_similarity: float = 0.96,
                 min_improvement: float = 0.02, min_size: int = 2, max_depth: int = 10, n_neighbors: int = 15,
                 adaptive_step: bool = True, min_step: float = 0.01):
        self.start_threshold = start_threshold
        self.step = step
        self.accept_similarity = accept_similarity
        self.min_improvement = min_improvement
        self.min_size = min_size
        self.max_depth = max_depth
        self.n_neighbors = n_neighbors
        self.adaptive_step = adaptive_step
        self.min_step = min_step

    def fit(self, X, sample_weight=None):
        if not -1 <= self.start_threshold < 1 or self.step <= 0:
            raise ValueError("need -1 ≤ start_threshold < 1 and step > 0")
        from ..features import l2_rows
        from ..variants import knn_pairs

        X = np.asarray(X, dtype=np.float32)
        self._w = weights_or_ones(X, sample_weight)
        m = len(X)
        self._Xn = l2_rows(X)  # the features are centred per axis already: cosine relative to the collection
        pairs = knn_pairs(self._Xn, np.arange(m), min(self.n_neighbors, max(m - 1, 1)))
        self._edges = pairs
        self._sims = np.einsum("ij,ij->i", self._Xn[pairs[:, 0]], self._Xn[pairs[:, 1]]) if len(pairs) else np.zeros(0)
        self.tree_ = self._grow(np.arange(m), self.start_threshold, 0, first=True)
        labels = np.full(m, -1, dtype=np.int64)
        if self.tree_.children:
            for lab, child in enumerate(self.tree_.children):
                labels[child.rows] = lab
        else:
            labels[:] = 0
        self.labels_ = canonical_labels(labels, self._w)
        self.n_clusters_ = int(self.labels_.max()) + 1
        del self._Xn, self._edges, self._sims
        return self

    def _grow(self, rows: np.ndarray, threshold: float, depth: int, first: bool = False) -> GraphNode:
        ms = mean_pairwise_cosine(self._Xn[rows])
        node = GraphNode(rows, threshold, ms)
        if depth >= self.max_depth or ms >= self.accept_similarity or self._w[rows].sum() < 2 * self.min_size:
            return node
        inside = np.zeros(len(self._w), dtype=bool)
        inside[rows] = True
        keep = inside[self._edges[:, 0]] & inside[self._edges[:, 1]] if len(self._edges) else np.zeros(0, bool)
        edges, sims = self._edges[keep], self._sims[keep]
        step = self._step_for(sims)
        t = threshold if first else threshold + step
        while t < 1.0:
            parts = self._components(rows, edges, sims, t)
            if len(parts) >= 2:
                break
            t += step
        else:
            return node
        sizes = np.array([len(p) for p in parts], dtype=float)
        child_ms = np.array([mean_pairwise_cosine(self._Xn[p]) for p in parts])
        gain = (float((child_ms * sizes).sum() / sizes.sum()) - ms) / max(abs(ms), 1e-6)
        if gain < self.min_improvement:
            return node
        node.children = [self._grow(p, t, depth + 1) for p in parts]
        return node

    def _step_for(self, sims: np.ndarray) -> float:
        if not self.adaptive_step or len(sims) < 3:
            return self.step
        return float(np.clip(np.std(sims), self.min_step, self.step))

    def _components(self, rows, edges, sims, t) -> list[np.ndarray]:
        """Components of rows over edges with similarity ≥ t that weigh ≥ min_size ads."""
        local = np.full(len(self._w), -1)
        local[rows] = np.arange(len(rows))
        e = edges[sims >= t]
        g = coo_matrix((np.ones(len(e)), (local[e[:, 0]], local[e[:, 1]])), shape=(len(rows), len(rows)))
        _, comp = connected_components(g, directed=False)
        weight = np.bincount(comp, weights=self._w[rows])
        return [rows[comp == c] for c in np.flatnonzero(weight >= self.min_size)]
