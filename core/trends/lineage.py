"""Lineage: which node of period N continues which node of period N-1.

The two periods hold mostly different ads, so members are compared after projection: every ad of
either period gets a node in *both* taxonomies. In its own period that is its own node; in the other,
it is the node holding its micro-pattern there (variants of one creative stay together across periods
as within one), else the node with the nearest centroid if the ad lies within that node's reach and
clearly nearer to it than to any other node (second-nearest ≥ CLAIM_MARGIN × nearest: in a high-dimensional
feature space an ad of a brand-new look sits about equally far from every old centroid, often within reach
of several), else none (an ad of a brand-new look is claimed by no old node, an ad of a look that stopped by no new one).
Old node j then stands for A_j = {ads whose old node is j} and new node i for B_i = {ads whose new node
is i}, both over the union of the two periods' ads, and

    overlap(j, i) = |A_j ∩ B_i| / |A_j ∪ B_i|        (Jaccard; a match when ≥ min_jaccard)

An approach that gains ads keeps its lineage: the newcomers sit near its centroid (or are variants of its
ads), so they are in both A_j and B_i; ads active in both periods are in both by membership.

Reach of a node = REACH_SLACK × its RMS member distance to the centroid, with the node's own spread
shrunk towards the period's pooled spread (a node of one concept has almost no spread of its own).

Splits and merges are matched as groups (Overlap.matches). The strongest match carries the old approach
id; every other new node gets the next free id (A1, A2, … numbered in node order: by size, then first ad).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

REACH_SLACK = 2.5      # sample library: a family's next-month ads lie at median 1.1–1.6×, q90 1.5–2.2× the pooled RMS
SHRINK_ADS = 5         # a node's spread counts as much as the pooled one at this many ads
CLAIM_MARGIN = 1.25    # sample library: continuing families at 1.4-3.6, new looks at 1.02-1.03 (ratio of distances)
MAIN_SHARE = 0.5       # a node of a split (merge) draws at least this share of its members from the parent

ACTIVE, NEW, INACTIVE, SPLIT, MERGE, ABSENT = "ACTIVE", "NEW", "INACTIVE", "SPLIT", "MERGE", "absent"


@dataclass
class PeriodNodes:
    """One period's taxonomy: its ads (rows of the shared feature matrix), their node 0..k-1 and micro-pattern."""

    rows: np.ndarray
    labels: np.ndarray
    units: np.ndarray
    centroids: np.ndarray = field(init=False)
    reach: np.ndarray = field(init=False)

    def __post_init__(self):
        self.rows = np.asarray(self.rows, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.units = np.asarray(self.units, dtype=np.int64)

    @property
    def k(self) -> int:
        return len(self.centroids)

    def fit(self, X: np.ndarray) -> "PeriodNodes":
        k = int(self.labels.max()) + 1 if len(self.labels) else 0
        Xp = X[self.rows].astype(np.float64)
        sizes = np.bincount(self.labels, minlength=k).astype(float)
        self.centroids = np.zeros((k, X.shape[1]))
        np.add.at(self.centroids, self.labels, Xp)
        self.centroids /= np.maximum(sizes, 1)[:, None]
        sq = ((Xp - self.centroids[self.labels]) ** 2).sum(axis=1)
        own = np.bincount(self.labels, weights=sq, minlength=k)
        pooled = sq.mean() if len(sq) else 0.0
        self.reach = REACH_SLACK * np.sqrt((own + SHRINK_ADS * pooled) / (sizes + SHRINK_ADS))
        return self

    def members(self, node: int) -> np.ndarray:
        return self.rows[self.labels == node]

    def claim(self, X: np.ndarray, rows: np.ndarray, units: np.ndarray) -> np.ndarray:
        """Node of each row (with its micro-pattern `units`) in this taxonomy, -1 for none (module docstring)."""
        if self.k == 0 or len(rows) == 0:
            return np.full(len(rows), -1, dtype=np.int64)
        node_of_row = dict(zip(self.rows.tolist(), self.labels.tolist()))
        node_of_unit = dict(zip(self.units.tolist(), self.labels.tolist()))   # a unit is never split
        Y = X[rows].astype(np.float64)
        d2 = (Y ** 2).sum(1)[:, None] - 2 * Y @ self.centroids.T + (self.centroids ** 2).sum(1)[None, :]
        near = d2.argmin(axis=1)
        d = np.sqrt(np.maximum(d2, 0))
        first = d[np.arange(len(rows)), near]
        second = np.partition(d, 1, axis=1)[:, 1] if self.k > 1 else np.full(len(rows), np.inf)
        within = (first <= self.reach[near]) & (second >= CLAIM_MARGIN * first)
        return np.array([node_of_row.get(r, node_of_unit.get(u, n if w else -1))
                         for r, u, n, w in zip(rows.tolist(), units.tolist(), near.tolist(), within.tolist())], dtype=np.int64)


@dataclass
class Overlap:
    """Projected memberships of two consecutive taxonomies: |A_j ∩ B_i|, |A_j| and |B_i|."""

    shared: np.ndarray       # (k_prev, k_cur)
    size_prev: np.ndarray    # (k_prev,)
    size_cur: np.ndarray     # (k_cur,)

    @property
    def jaccard(self) -> np.ndarray:
        union = self.size_prev[:, None] + self.size_cur[None, :] - self.shared
        return np.where(union > 0, self.shared / np.maximum(union, 1), 0.0)

    def matches(self, min_jaccard: float) -> np.ndarray:
        """(k_prev, k_cur) bool: pairs with Jaccard ≥ min_jaccard, plus splits and merges matched as a whole.

        Pairwise Jaccard alone cannot see a split: two halves of an approach each overlap it by at most
        ½ (three thirds by ⅓). So an old node also matches a *group* of new nodes when each of them draws
        at least MAIN_SHARE of its projected members from it and the group's union has Jaccard ≥ min_jaccard
        with it; a merge is the mirror image. The B_i are disjoint (every ad has one node per period), so
        the union's Jaccard is Σ shared / (|A_j| + Σ |B_i| − Σ shared).
        """
        edges = self.jaccard >= min_jaccard
        drawn = (self.shared > 0) & (self.shared >= MAIN_SHARE * self.size_cur[None, :])    # i comes mostly from j
        given = (self.shared > 0) & (self.shared >= MAIN_SHARE * self.size_prev[:, None])   # j goes mostly to i
        for j in range(len(self.size_prev)):
            kids = np.flatnonzero(drawn[j])
            if len(kids) > 1 and _group_jaccard(self.shared[j, kids].sum(), self.size_prev[j], self.size_cur[kids].sum()) >= min_jaccard:
                edges[j, kids] = True
        for i in range(len(self.size_cur)):
            olds = np.flatnonzero(given[:, i])
            if len(olds) > 1 and _group_jaccard(self.shared[olds, i].sum(), self.size_cur[i], self.size_prev[olds].sum()) >= min_jaccard:
                edges[olds, i] = True
        return edges


def _group_jaccard(inter: float, one: float, group: float) -> float:
    union = one + group - inter
    return float(inter / union) if union > 0 else 0.0


def overlap(prev: PeriodNodes, cur: PeriodNodes, X: np.ndarray, unit: np.ndarray) -> Overlap:
    """The projected memberships of two consecutive periods (module docstring); `unit` is the
    micro-pattern of every row of X."""
    union = np.union1d(prev.rows, cur.rows)
    a, b = prev.claim(X, union, unit[union]), cur.claim(X, union, unit[union])
    both = (a >= 0) & (b >= 0)
    shared = np.zeros((prev.k, cur.k), dtype=np.int64)
    np.add.at(shared, (a[both], b[both]), 1)
    return Overlap(shared, np.bincount(a[a >= 0], minlength=prev.k), np.bincount(b[b >= 0], minlength=cur.k))


@dataclass
class Transition:
    """How period N's nodes relate to period N-1's: ids, statuses and events of period N."""

    ids: list[str]                              # approach id of each node of period N
    status: dict[str, str]                      # approach id → status in period N (nodes and ended approaches)
    events: list[dict]


def link(prev_ids: list[str], ov: Overlap, min_jaccard: float, next_id, period_id: str) -> Transition:
    """Match nodes (Overlap.matches); the strongest match carries the old id (greedy by descending
    Jaccard, ties by node order), every other node gets a fresh id from next_id()."""
    jaccard = ov.jaccard
    kp, kc = jaccard.shape
    edges = ov.matches(min_jaccard)
    parents = [np.flatnonzero(edges[:, i]) for i in range(kc)]
    children = [np.flatnonzero(edges[j]) for j in range(kp)]
    ids: list[str | None] = [None] * kc
    taken = set()
    order = sorted(zip(*np.nonzero(edges)), key=lambda e: (-jaccard[e], e[0], e[1]))
    for j, i in order:
        if ids[i] is None and j not in taken:
            ids[i] = prev_ids[j]
            taken.add(j)
    for i in range(kc):
        if ids[i] is None:
            ids[i] = next_id()

    status, events = {}, []
    for i in range(kc):
        if len(parents[i]) == 0:
            status[ids[i]] = NEW
            events.append(_event(period_id, NEW, ids[i], []))
        elif len(parents[i]) > 1:
            status[ids[i]] = MERGE
            events.append(_event(period_id, MERGE, ids[i], sorted((prev_ids[j] for j in parents[i]), key=_id_key)))
        elif len(children[parents[i][0]]) > 1:
            status[ids[i]] = SPLIT
        else:
            status[ids[i]] = ACTIVE
    for j in range(kp):
        if len(children[j]) == 0:
            status[prev_ids[j]] = INACTIVE
            events.append(_event(period_id, INACTIVE, prev_ids[j], []))
            continue
        if len(children[j]) > 1:
            events.append(_event(period_id, SPLIT, prev_ids[j], sorted((ids[i] for i in children[j]), key=_id_key)))
        if j not in taken:   # its lineage continues only inside another approach
            status[prev_ids[j]] = SPLIT if len(children[j]) > 1 else MERGE
    events.sort(key=lambda e: (_KIND_ORDER[e["kind"]], _id_key(e["approach_id"])))
    return Transition(ids, status, events)


_KIND_ORDER = {NEW: 0, SPLIT: 1, MERGE: 2, INACTIVE: 3}


def _event(period_id: str, kind: str, approach_id: str, related: list[str]) -> dict:
    return {"period": period_id, "kind": kind, "approach_id": approach_id, "related_ids": related}


def _id_key(approach_id: str) -> tuple:
    return (len(approach_id), approach_id)   # A2 before A10
