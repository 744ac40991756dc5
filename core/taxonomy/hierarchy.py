"""Families → sub-clusters → micro-patterns, over units that never split a group of variants.

A unit is one micro-pattern (variant component); its feature row is the mean of its ads' rows and
its weight the number of ads. Families: with the default method the units' line-space rows
(document + visual vectors, one kind each) go to `methods.lines` (families as creative lines; a
pool of leftovers is flagged `Node.mixed`); other methods cluster the feature rows. Units a method
leaves as noise join the nearest family and are flagged as outliers only when they lie beyond that
family's own spread (95th percentile of its units' distances to the centroid). Big, mixed families
get a second clustering (Ward, 2-8 sub-clusters). Every unit of a cluster that holds more than one
becomes a level-3 node, so that an ad's leaf is its own micro-pattern (its variants, or itself).

Shape: a family has 2-8 sub-clusters (Ward's k_max) or none, and up to 15 when it holds more than
15 micro-patterns: those are cut into parts of at most 15 whether or not the cut is "separated"
(methods.MAX_CHILDREN; on the 461 real ads six banner sub-clusters held 16-59 micro-patterns each,
a list nobody browses; now none shows more than 15: `max_children` of bench/taxonomy_quality.py). The root holds one
family per line, which on real libraries is more than 15 (461 real ads: 36; 190 IRA ads: 21)
because advertiser lines are that many: grouping them under a coarser level would cost the
family-level agreement with those lines, so the root is a list of lines (largest first).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from .methods import MethodConfig, silhouette
from .methods.base import centroids, nearest
from .tree import ASSIGNMENT_COLUMNS, ROOT_ID, ClusterTree, Node, child_id

SUB_MIN_ADS = 8       # a family smaller than this is read at a glance: no sub-clusters
SUB_MIN_UNITS = 4
MIN_SUB_ADS = 2       # a sub-cluster of one ad is folded into its nearest sibling
OUTLIER_RADIUS_QUANTILE = 0.95
OUTLIER_MODES = ("attach", "separate")


@dataclass
class Units:
    of_ad: np.ndarray     # (n,) unit index per ad row
    X: np.ndarray         # (u, d) mean feature row per unit
    weight: np.ndarray    # (u,) ads per unit
    line_X: np.ndarray | None = None   # (u, e) mean line-space row per unit (features.line_features)
    kind: np.ndarray | None = None     # (u,) kind gate per unit (features.kind_gate; the highest of its ads)

    @classmethod
    def from_labels(cls, unit_of_ad: np.ndarray, X: np.ndarray, line_X: np.ndarray | None = None,
                    kind: np.ndarray | None = None) -> "Units":
        u = int(unit_of_ad.max()) + 1 if len(unit_of_ad) else 0
        ind = csr_matrix((np.ones(len(unit_of_ad)), (unit_of_ad, np.arange(len(unit_of_ad)))), shape=(u, len(unit_of_ad)))
        weight = np.asarray(ind.sum(axis=1)).ravel()
        means = (ind @ X.astype(np.float64)) / np.maximum(weight, 1)[:, None]
        line_means = None if line_X is None else ((ind @ line_X.astype(np.float64)) / np.maximum(weight, 1)[:, None]).astype(np.float32)
        unit_kind = None
        if kind is not None:
            unit_kind = np.zeros(u, dtype=np.int64)
            np.maximum.at(unit_kind, unit_of_ad, np.asarray(kind, dtype=np.int64))
        return cls(unit_of_ad.astype(np.int64), means.astype(np.float32), weight, line_means, unit_kind)


@dataclass
class HierarchyResult:
    tree: ClusterTree
    method_chosen: str
    silhouette: float
    scores: dict


def attach_noise(X: np.ndarray, labels: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give every noise row (label -1) its nearest cluster; flag the ones beyond that cluster's spread."""
    labels = labels.copy()
    flagged = np.zeros(len(labels), dtype=bool)
    noise = labels < 0
    if not noise.any():
        return labels, flagged
    if noise.all():
        return np.zeros(len(labels), dtype=np.int64), flagged
    C = centroids(X, labels)
    member_dist = np.linalg.norm(X[~noise] - C[labels[~noise]], axis=1)
    radius = np.array([np.quantile(member_dist[labels[~noise] == k], OUTLIER_RADIUS_QUANTILE) if (labels[~noise] == k).any() else 0.0
                       for k in range(len(C))])
    idx, dist = nearest(X[noise], C)
    labels[noise] = idx
    flagged[noise] = dist > radius[idx] + 1e-9
    return labels, flagged


def fold_small(X: np.ndarray, labels: np.ndarray, weight: np.ndarray, min_weight: float) -> np.ndarray:
    """Clusters lighter than min_weight join the nearest heavier cluster (by centroid)."""
    labels = labels.copy()
    while True:
        ks = np.unique(labels)
        w = np.array([weight[labels == k].sum() for k in ks])
        if len(ks) < 2 or w.min() >= min_weight:
            break
        small = ks[int(np.argmin(w))]
        others = ks[ks != small]
        C = centroids(X, labels)
        target = others[nearest(C[[small]], C[others])[0][0]]
        labels[labels == small] = target
    _, labels = np.unique(labels, return_inverse=True)
    return labels


def build_hierarchy(units: Units, ad_ids: np.ndarray, config: MethodConfig, seed: int = 0,
                    outliers: str = "attach") -> HierarchyResult:
    if outliers not in OUTLIER_MODES:
        raise ValueError(f"unknown outliers mode {outliers!r}; valid: {', '.join(OUTLIER_MODES)}")
    X, w = units.X, units.weight
    mixed = None
    if config.lines is not None and units.line_X is not None:
        top = config.lines(seed).fit(units.line_X, w, groups=units.kind)
        mixed = top.mixed_
    else:
        top = config.families(seed).fit(X, w)
    labels = np.asarray(top.labels_)
    raw_noise = labels < 0
    fam_labels, flagged = attach_noise(X, labels, w)
    if outliers == "separate" and flagged.any():
        fam_labels = fam_labels.copy()
        fam_labels[flagged] = fam_labels.max() + 1   # outliers as the last family
    sil = silhouette(X, np.where(raw_noise, -1, fam_labels), seed, sample_weight=w)
    chosen = config.resolved(top)

    nodes: dict[str, Node] = {ROOT_ID: Node(ROOT_ID, None, 0, size=int(w.sum()), label="All ads")}
    unit_leaf = np.empty(len(X), dtype=object)
    first_ad = np.full(len(X), np.iinfo(np.int64).max)
    np.minimum.at(first_ad, units.of_ad, ad_ids.astype(np.int64))
    for k in range(int(fam_labels.max()) + 1):
        fam_units = np.flatnonzero(fam_labels == k)
        if len(fam_units) == 0:
            continue
        fid = child_id(ROOT_ID, "f", k + 1)
        nodes[fid] = Node(fid, ROOT_ID, 1, size=int(w[fam_units].sum()))
        if mixed is not None and k < len(mixed):
            nodes[fid].mixed = bool(mixed[k])
        bottoms = _sub_clusters(fid, fam_units, X, w, flagged, chosen, seed, nodes)
        for bottom_id, bottom_units in bottoms:
            unit_leaf[bottom_units] = bottom_id
            _micro_patterns(bottom_id, bottom_units, w, nodes, unit_leaf, first_ad)

    leaf = unit_leaf[units.of_ad]
    family = np.array([lid.split(".")[0] for lid in leaf], dtype=object)
    assignments = pd.DataFrame({"ad_id": ad_ids.astype(np.int64), "family_id": family, "leaf_id": leaf,
                                "node_path": "", "is_outlier": flagged[units.of_ad], "x": np.nan, "y": np.nan})[ASSIGNMENT_COLUMNS]
    scores = dict(top.scores_) if config.name == "auto" else {}
    return HierarchyResult(ClusterTree(nodes, assignments), chosen.name, sil, scores)


def _sub_clusters(fid, fam_units, X, w, flagged, config: MethodConfig, seed, nodes) -> list[tuple[str, np.ndarray]]:
    """Split a family when it is big and mixed enough; returns (node id, units) of its bottom nodes."""
    core = fam_units[~flagged[fam_units]]   # outliers don't shape a family's inner structure
    if w[fam_units].sum() < SUB_MIN_ADS or len(core) < SUB_MIN_UNITS:
        return [(fid, fam_units)]
    sub = config.sub_clusters(seed).fit(X[core], w[core])
    lab = np.asarray(sub.labels_)
    if lab.max() < 1:
        return [(fid, fam_units)]
    lab, _ = attach_noise(X[core], lab, w[core])
    lab = fold_small(X[core], lab, w[core], MIN_SUB_ADS)
    if lab.max() < 1:
        return [(fid, fam_units)]
    full = np.empty(len(fam_units), dtype=np.int64)
    pos = {u: i for i, u in enumerate(fam_units)}
    full[[pos[u] for u in core]] = lab
    rest = fam_units[flagged[fam_units]]
    if len(rest):
        full[[pos[u] for u in rest]] = nearest(X[rest], centroids(X[core], lab))[0]
    order = np.argsort([-w[fam_units[full == k]].sum() for k in range(lab.max() + 1)], kind="stable")
    out = []
    for i, k in enumerate(order):
        sid = child_id(fid, "s", i + 1)
        members = fam_units[full == k]
        nodes[sid] = Node(sid, fid, 2, size=int(w[members].sum()))
        out.append((sid, members))
    return out


def _micro_patterns(parent_id, bottom_units, w, nodes, unit_leaf, first_ad) -> None:
    """Every micro-pattern (a creative with its variants, or alone) is a level-3 node when the cluster
    holds more than one: an ad's leaf is then its own micro-pattern, never a lump of unrelated ads."""
    if len(bottom_units) < 2:
        return
    for i, u in enumerate(sorted(bottom_units, key=lambda u: (-w[u], first_ad[u]))):
        mid = child_id(parent_id, "m", i + 1)
        nodes[mid] = Node(mid, parent_id, 3, size=int(w[u]))
        unit_leaf[u] = mid
