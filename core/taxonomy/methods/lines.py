"""Families as creative lines: average-linkage clusters of micro-patterns at a fixed cosine distance.

The space is the line space of `features.line_features`: the ad's own document vector (MiniLM of
copy, headline, CTA, visible text and visual words, stored at ingest) with the visual embedding
at 20 % of the squared norm (and lexical.py's shared words at 10 %, the landing page the metadata
names at 20 %: line_keys.py, where the figures that chose it are). Within each kind (`features.kind_gate`: image, wide strip banner,
video) the units' average-linkage tree is cut where the ad-weighted mean cosine distance between
two groups passes `threshold` (0.5: the ads of a family are, on average, closer than cosine 0.5
to each other's group). The criterion is absolute, so the number of families follows the data
and cannot collapse when the silhouette is flat.

Why (bench/taxonomy_quality.py; ARI of families against advertiser lines on ../shared/ads — IRA
landing pages — and against the sample's planted families; measured before this change landed):
* the old rule (smallest k within 0.02 of the best Ward silhouette) cut the 190 IRA ads into 2-3
  families (ARI 0.07-0.11) because the silhouette is flat on real ads (0.24-0.29 at every k);
  the largest-k-within-tolerance, arg-max silhouette, gap statistic and bootstrap stability
  (20 × 80 % resamples) each failed on at least one of IRA / banners / the three sample seeds
  (gap and stability chose k = 2 on IRA and on seed 1);
* HDBSCAN on a 5-d UMAP of the same units (BERTopic's recipe) reached 0.39-0.54 on IRA;
* Ward on the document vectors is good only at a k nobody can pick from the data (IRA 0.77 at
  k = 24, 0.53 at k = 25; sample 0.89 at k = 11-13);
* average linkage at cosine 0.5 in the line space: IRA 0.78, sample seeds 0/1/2 0.93/0.95/0.87
  (visual at 0: 0.77 and 0.83/0.84/0.88; at 30 %: 0.74 and 0.96/0.86/0.89; threshold 0.45 /
  0.55 move IRA to 0.80 / 0.73 and the sample to 0.83-0.85 / 0.80-0.89).
With the shared words in, the visual share was swept again (family ARI, IRA / banners / all real ads /
sample seeds 0, 1, 2): 0.1 → 0.72/0.34/0.50/0.85/0.93/0.90, 0.15 → 0.725/0.35/0.51/0.88/0.93/0.92,
0.2 → 0.725/0.39/0.55/0.96/0.94/0.96, 0.25 → 0.71/0.39/0.58/0.96/0.95/0.89, 0.3 → 0.72/0.39/0.49/0.97/0.95/0.89:
0.2 is the share no set loses by.
Units lighter than `min_family_ads` (a lone creative without variants) are not a line: each joins
the nearest family of its kind when its mean cosine distance to that family's ads is within
`attach` (0.6), else it is a leftover. Leftovers are cut again, loosely (average linkage at
`pool_cut` 0.75), into groups flagged `mixed` (what they hold is related, not one idea); the ones
still alone share one pool per kind. attach / pool_cut were swept on eight views of the real ads
(all, IRA, one ad per distinct image of IRA and of all, banners, three random 70% IRA subsets) and
the three sample seeds: 0.65 / 0.7 gave mean ARI 0.591 (IRA 0.716, IRA distinct 0.489, 70% subsets
0.756/0.652/0.679, all 0.544, banners 0.377); 0.6 / 0.75 gives 0.614 (0.745, 0.528, 0.792/0.703/0.721,
0.541, 0.366), the seeds unchanged (0.959/0.937/0.960), 45 families for all 461 ads; 0.5-0.55 cost
banners 0.02-0.09, a pool cut of 0.6 cost IRA 0.03-0.12, 0.8 gained nothing. Re-run a point with
`python bench/taxonomy_quality.py --real LIB --sample S0 S1 S2 --views --attach A --pool-cut P`
(also --threshold, --visual-share, --lexical-share). Attaching everything cost IRA ARI (0.78 → 0.71, since many IRA
pages ran one ad) but kept the root browsable (20 families for the 190 IRA ads instead of 62). With
lexical.py's shared words, ARI is the same either way (IRA 0.733 with attach 0.7 and one pool,
0.731 with these loose groups, 0.74 leaving each lone ad its own family: 36 families, 12 of one
ad); the loose groups are kept because a pool of 30 unrelated ads is not browsable.
A family heavier than `max_share` of the library whose cohesion (ad-weighted mean cosine to its
centroid) is below the median family's is cut again at a smaller threshold (steps of 0.05) until
it is not; a mixed pool that heavy is split at the `attach` distance.
Average linkage needs all pairwise distances, so above `fit_max` ads a seeded sample is fitted and
the other units join the nearest family centroid (then the same attach rule).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from .base import canonical_labels, snapped_rows, weights_or_ones

SHRINK_STEP = 0.05
MIN_THRESHOLD = 0.2


def _unit_rows(X: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(n > 0, n, 1)


def _cut(X: np.ndarray, w: np.ndarray, threshold: float, fit_max: int, seed: int) -> np.ndarray:
    """Average-linkage (cosine) labels 0..k-1 of unit rows X weighing w ads, cut at `threshold`."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(X) == 1:
        return np.zeros(1, dtype=np.int64)
    fit_units, rows, first = snapped_rows(w, fit_max, seed)
    if len(fit_units) == 1:
        return np.zeros(len(X), dtype=np.int64)
    Z = linkage(X[fit_units][rows], method="average", metric="cosine")
    fit_labels = fcluster(Z, threshold, criterion="distance")[first] - 1
    labels = np.empty(len(X), dtype=np.int64)
    labels[fit_units] = fit_labels
    rest = np.setdiff1d(np.arange(len(X)), fit_units)
    if len(rest):
        labels[rest] = np.argmax(X[rest] @ _centroid_sums(X[fit_units], w[fit_units], fit_labels).T, axis=1)
    return labels


def _centroid_sums(X, w, labels) -> np.ndarray:
    """Ad-weighted mean row per label: x·mean is the mean cosine from x to the label's ads."""
    k = int(labels.max()) + 1
    out = np.zeros((k, X.shape[1]))
    np.add.at(out, labels, X * w[:, None])
    return out / np.maximum(np.bincount(labels, weights=w, minlength=k), 1e-12)[:, None]


def cohesion(X: np.ndarray, w: np.ndarray) -> float:
    """Ad-weighted mean cosine of a group's ads to each other (1 for one ad)."""
    if w.sum() <= 1:
        return 1.0
    s = (X * w[:, None]).sum(axis=0)
    total = w.sum()
    return float((s @ s - (w ** 2 * (X ** 2).sum(axis=1)).sum()) / (total ** 2 - (w ** 2).sum()) if total ** 2 > (w ** 2).sum() else 1.0)


class LineClustering(BaseEstimator, ClusterMixin):
    """Learned: labels_ (family per unit), mixed_ (per family: a pool of leftovers), n_clusters_,
    cohesion_ (per family), typical_cohesion_ (median over families of ≥ 3 ads)."""

    def __init__(self, threshold: float = 0.5, attach: float = 0.6, pool_cut: float | None = 0.75, min_family_ads: int = 2,
                 max_share: float = 0.4, fit_max: int = 3000, random_state: int = 0):
        self.threshold = threshold
        self.attach = attach
        self.pool_cut = pool_cut
        self.min_family_ads = min_family_ads
        self.max_share = max_share
        self.fit_max = fit_max
        self.random_state = random_state

    def fit(self, X, sample_weight=None, groups=None):
        if not 0 < self.threshold <= self.attach <= 2:
            raise ValueError("need 0 < threshold ≤ attach ≤ 2 (cosine distances)")
        if self.pool_cut is not None and not self.threshold <= self.pool_cut <= 2:
            raise ValueError("need threshold ≤ pool_cut ≤ 2 (cosine distance), or pool_cut=None for one pool per kind")
        X = _unit_rows(np.asarray(X, dtype=np.float64))
        w = weights_or_ones(X, sample_weight)
        groups = np.zeros(len(X), dtype=np.int64) if groups is None else np.asarray(groups)
        if groups.shape != (len(X),):
            raise ValueError("groups must give one kind per row")
        total = float(w.sum())
        labels = np.full(len(X), -1, dtype=np.int64)
        mixed: list[bool] = []
        for g in np.unique(groups):
            idx = np.flatnonzero(groups == g)
            local, local_mixed = self._fit_kind(X[idx], w[idx], total)
            labels[idx] = local + len(mixed)
            mixed.extend(local_mixed)
        # a heavy family that is less cohesive than a typical one is cut finer
        coh = np.array([cohesion(X[labels == k], w[labels == k]) for k in range(len(mixed))])
        size = np.bincount(labels, weights=w, minlength=len(mixed))
        lines = [k for k in range(len(mixed)) if not mixed[k] and size[k] >= 3]
        typical = float(np.median(coh[lines])) if lines else 0.0
        for k in range(len(mixed)):
            if size[k] <= self.max_share * total:
                continue
            rows = np.flatnonzero(labels == k)
            if len(rows) < 2 or (not mixed[k] and coh[k] >= typical):
                continue
            parts = self._split_heavy(X[rows], w[rows], total, typical, mixed[k])
            pw = np.bincount(parts, weights=w[rows])
            big = [p for p in range(len(pw)) if pw[p] >= self.min_family_ads]
            pool = np.isin(parts, [p for p in range(len(pw)) if pw[p] < self.min_family_ads])
            if not big:
                continue
            for i, p in enumerate(big):   # the first part keeps the family's label
                if i:
                    labels[rows[parts == p]] = len(mixed)
                    mixed.append(mixed[k])
            if pool.any():                # its lone creatives become one pool of leftovers
                labels[rows[pool]] = len(mixed)
                mixed.append(w[rows[pool]].sum() > 1)
        new = canonical_labels(labels, w)
        order = {int(new[i]): int(labels[i]) for i in range(len(labels))}
        self.labels_ = new
        self.n_clusters_ = int(new.max()) + 1
        self.mixed_ = np.array([mixed[order[k]] for k in range(self.n_clusters_)], dtype=bool)
        self.cohesion_ = np.array([cohesion(X[new == k], w[new == k]) for k in range(self.n_clusters_)])
        self.typical_cohesion_ = typical
        self.chosen_ = "lines"
        self.scores_ = {}
        return self

    def _fit_kind(self, X: np.ndarray, w: np.ndarray, total: float) -> tuple[np.ndarray, list[bool]]:
        lab = _cut(X, w, self.threshold, self.fit_max, self.random_state)
        size = np.bincount(lab, weights=w)
        lines = np.flatnonzero(size >= self.min_family_ads)
        small = np.flatnonzero(size[lab] < self.min_family_ads)
        out = np.full(len(X), -1, dtype=np.int64)
        remap = {int(k): i for i, k in enumerate(lines)}
        for u in np.flatnonzero(size[lab] >= self.min_family_ads):
            out[u] = remap[int(lab[u])]
        if len(small) and len(lines):
            member = size[lab] >= self.min_family_ads
            C = _centroid_sums(X[member], w[member], out[member])
            sims = X[small] @ C.T
            best = sims.argmax(axis=1)
            near = 1 - sims[np.arange(len(small)), best] <= self.attach
            out[small[near]] = best[near]
            small = small[~near]
        mixed = [False] * len(lines)
        if len(small):                       # leftovers: loose groups, each shown as "Mixed"
            pools = _cut(X[small], w[small], self.pool_cut, self.fit_max, self.random_state) if self.pool_cut else np.zeros(len(small), np.int64)
            alone = np.bincount(pools, weights=w[small])[pools] < self.min_family_ads
            pools[alone] = pools.max() + 1    # the ones still alone share one pool
            for p in np.unique(pools):
                members = small[pools == p]
                out[members] = len(mixed)
                mixed.append(w[members].sum() > 1)   # one lone ad is itself, not a catch-all
        return out, mixed

    def _split_heavy(self, X, w, total, typical, is_mixed) -> np.ndarray:
        """Sub-labels 0..p of a heavy family: 0 keeps its place, the others become new families."""
        if is_mixed:
            return _cut(X, w, self.attach, self.fit_max, self.random_state)
        t = self.threshold
        lab = np.zeros(len(X), dtype=np.int64)
        while t - SHRINK_STEP >= MIN_THRESHOLD:
            t -= SHRINK_STEP
            lab = _cut(X, w, t, self.fit_max, self.random_state)
            size = np.bincount(lab, weights=w)
            heavy = np.flatnonzero(size > self.max_share * total)
            if not any(cohesion(X[lab == k], w[lab == k]) < typical for k in heavy):
                break
        return lab
