"""compute_trends: periods → one taxonomy per period → lineage → metrics per approach.

Every period is clustered on its own (families only) with the taxonomy's pure pieces: features and
micro-patterns are computed once over all ads active in the kept periods (`core.taxonomy.build.prepare`
with those ad ids), so that every period is clustered in one shared feature space — which is what
makes centroids of different periods comparable — and variants are linked across periods too. Nothing
is written to the library: `nodes`/`assignments` keep holding the library's current taxonomy.

For `ward` and `auto` a period's families start from the whole window's: with ~15-25 variant groups a month
a period's own silhouette sweep, or a cut of its own tree at one height, is unreliable (a thin first month
was cut one merge finer than its families, a growing family split in its biggest month), so periods were not
comparable and lineage saw SPLIT/MERGE events that were only changes of resolution. So the families estimator
picks k once on the whole window (`_window_families`), every micro-pattern gets its window family, and a
period departs from that only on clear evidence in its own Ward trees, each merge brought to the family's
window size (a Ward height grows as √ads for the same centroid distance, so a period merge is scaled by
√(family's window ads / its ads in the period)):

- a family splits where its own tree in the period stands above (1 + HYSTERESIS) × the highest merge the
  window keeps inside any family (it is more separated now than anything the window calls one family), into
  parts of at least MIN_PART_ADS ads;
- two families of the period merge, closest first, where their Ward merge falls below (1 - HYSTERESIS) × the
  lowest merge between two window families (they are closer now than any two families of the window); the
  parts of a split are never merged back.

Other methods run the registry (`build_hierarchy`) on each period's micro-patterns.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .lineage import ABSENT, ACTIVE, PeriodNodes, link, overlap
from .metrics import deltas, direction, period_metrics
from .periods import Period, make_periods, overlap_days, run_spans

N_KEYWORDS = 5
SHARED_RESOLUTION = ("ward", "auto")   # methods whose periods start from the window's Ward families
HYSTERESIS = 0.25
MIN_PART_ADS = 2                       # a split's parts each hold at least this many of the period's ads
WARD_FIT_MAX = 3000                    # ads in one Ward tree (as WardClustering's fit_max); a seeded sample above
NO_DATES = ("No ad in this library has a date, so there is nothing to follow over time. Add a `date` column "
            "(and ideally `end_date`) to the metadata CSV and ingest it again.")


@dataclass
class TrendsResult:
    """What compute_trends returns, as a dict via to_dict() (the JSON the CLI prints)."""

    config: dict
    periods: list[dict] = field(default_factory=list)
    approaches: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    flows: list[dict] = field(default_factory=list)
    undated_ads: int = 0
    message: str | None = None

    def to_dict(self) -> dict:
        return {"config": self.config, "periods": self.periods, "approaches": self.approaches, "events": self.events,
                "flows": self.flows, "undated_ads": self.undated_ads, "message": self.message}


def compute_trends(library, period: str = "month", boundaries=None, min_jaccard: float = 0.4, seed: int = 0,
                   method: str = "auto", axes: dict | None = None, keep: int = 4) -> dict:
    return trends(library, period, boundaries, min_jaccard, seed, method, axes, keep).to_dict()


def trends(library, period: str = "month", boundaries=None, min_jaccard: float = 0.4, seed: int = 0,
           method: str = "auto", axes: dict | None = None, keep: int = 4) -> TrendsResult:
    from ..taxonomy.build import prepare
    from ..taxonomy.features import resolve_axes
    from ..taxonomy.methods import get_method

    if not 0 < min_jaccard <= 1:
        raise ValueError("min_jaccard must be in (0, 1]")
    config = get_method(method)
    weights = resolve_axes(axes)
    result = TrendsResult({"period": None if boundaries is not None else period,
                           "boundaries": None if boundaries is None else [str(pd.Timestamp(b).date()) for b in boundaries],
                           "min_jaccard": min_jaccard, "seed": seed, "method": method, "keep": keep})
    ads = _ads_frame(library)
    dated = ads["date"].notna()
    result.undated_ads = int((~dated).sum())
    if not dated.any():
        result.message = NO_DATES
        return result
    periods = make_periods(ads.loc[dated, "date"], period, boundaries, keep)
    starts, ends = run_spans(ads["date"], ads["end_date"])
    days = np.column_stack([overlap_days(starts, ends, p) for p in periods])
    window = days.sum(axis=1) > 0
    result.periods = [p.to_dict(int((days[:, i] > 0).sum())) for i, p in enumerate(periods)]
    if not window.any():
        result.message = "No ad is active in these periods."
        return result

    ads, days = ads[window].reset_index(drop=True), days[window]
    duration = ((ends - starts)[window].astype("timedelta64[D]").astype(np.int64) + 1).astype(float)
    share = days / duration[:, None]
    # the previous variant rule (pHash links without the OCR veto): these periods were tuned on it
    prep = prepare(library, weights, seed, ad_ids=ads["ad_id"].to_numpy(), veto_phash=False, line_space=False)
    keep_rows = np.searchsorted(ads["ad_id"].to_numpy(), prep.corpus.ad_ids)   # the corpus' rows, in its order
    ads, days, share = ads.iloc[keep_rows].reset_index(drop=True), days[keep_rows], share[keep_rows]
    X, unit = prep.features, prep.units.of_ad

    if method in SHARED_RESOLUTION:
        window = _window_families(unit, X, config, seed)
        nodes = [_cut_period(np.flatnonzero(days[:, i] > 0), unit, X, window, seed).fit(X) for i in range(len(periods))]
    else:
        nodes = [_cluster_period(np.flatnonzero(days[:, i] > 0), unit, X, prep.corpus.ad_ids, config, seed).fit(X)
                 for i in range(len(periods))]
    lineage = _lineage(nodes, periods, X, unit, min_jaccard)
    result.events, result.flows = lineage["events"], lineage["flows"]
    result.approaches = _approaches(library, lineage, nodes, periods, ads, share, prep.corpus.documents)
    return result


def _ads_frame(library) -> pd.DataFrame:
    ads = library.query_df("SELECT id AS ad_id, date, end_date, spend, impressions, clicks, conversions, revenue FROM ads ORDER BY id")
    freq = library.query_df("SELECT ad_id, TRY_CAST(value AS DOUBLE) AS frequency FROM attributes WHERE lower(key) = 'frequency'")
    return ads.merge(freq.drop_duplicates("ad_id"), on="ad_id", how="left")


def _cluster_period(rows: np.ndarray, unit: np.ndarray, X: np.ndarray, ad_ids: np.ndarray, config, seed: int) -> PeriodNodes:
    """Families of one period: the method registry on this period's micro-patterns (variants stay whole)."""
    from ..taxonomy.hierarchy import Units, build_hierarchy

    if len(rows) == 0:
        return PeriodNodes(rows, np.zeros(0, dtype=np.int64), unit[rows])
    _, local_unit = np.unique(unit[rows], return_inverse=True)
    hier = build_hierarchy(Units.from_labels(local_unit, X[rows]), ad_ids[rows], config, seed)
    fam = hier.tree.assignments()["family_id"].to_numpy()
    order = {f: i for i, f in enumerate(sorted(set(fam), key=lambda f: int(f[1:])))}   # f1 (largest) first
    return PeriodNodes(rows, np.array([order[f] for f in fam], dtype=np.int64), unit[rows])


def _ward_tree(units, seed: int):
    """Ward tree over ads snapped to their unit's centroid (WardClustering's tree): (Z, ads in it,
    fitted units, the tree leaf of each fitted unit); Z is None with fewer than 2 ads."""
    from scipy.cluster.hierarchy import ward

    from ..taxonomy.methods.base import snapped_rows

    fit_units, rows, first = snapped_rows(units.weight, WARD_FIT_MAX, seed)
    if len(rows) < 2:
        return None, len(rows), fit_units, first
    return ward(units.X[fit_units].astype(np.float64)[rows]), len(rows), fit_units, first


@dataclass
class WindowFamilies:
    """The whole window's family level: the family of every micro-pattern, the highest Ward merge the window
    keeps inside a family, the lowest one between two families, and each family's ads, counted as in the
    window's tree (heights scale with √ads)."""

    of_unit: np.ndarray
    split_height: float
    merge_height: float
    ads: np.ndarray


def _window_families(unit: np.ndarray, X: np.ndarray, config, seed: int) -> WindowFamilies:
    """The families estimator picks k on all the window's micro-patterns; the window's Ward tree cut into k
    gives each micro-pattern its family; the tree's k-1 and k-th merges from the top are the split and merge
    references (module docstring)."""
    from scipy.cluster.hierarchy import fcluster

    from ..taxonomy.hierarchy import Units
    from ..taxonomy.methods.base import place_unfitted

    units = Units.from_labels(unit, X)
    Z, n, fit_units, first = _ward_tree(units, seed)
    k = 1 if Z is None else min(int(config.families(seed).fit(units.X, units.weight).n_clusters_), n - 1)
    if k <= 1:
        return WindowFamilies(np.zeros(len(units.X), dtype=np.int64), np.inf, np.inf, np.array([max(n, 1.0)]))
    labels = place_unfitted(units.X, fit_units, fcluster(Z, k, criterion="maxclust")[first] - 1)
    ads = np.bincount(labels, weights=units.weight) * n / units.weight.sum()   # as many as the tree held
    return WindowFamilies(labels, float(Z[n - k - 1, 2]), float(Z[n - k, 2]), ads)


def _cut_period(rows: np.ndarray, unit: np.ndarray, X: np.ndarray, window: WindowFamilies, seed: int) -> PeriodNodes:
    """Families of one period: the window's families, split or merged only where the period's own Ward
    merges, brought to the window's family sizes, stand clearly past the window's references (module
    docstring); variants stay whole."""
    from ..taxonomy.hierarchy import Units
    from ..taxonomy.methods.base import canonical_labels

    if len(rows) == 0:
        return PeriodNodes(rows, np.zeros(0, dtype=np.int64), unit[rows])
    members, local_unit = np.unique(unit[rows], return_inverse=True)
    units = Units.from_labels(local_unit, X[rows])
    if len(units.X) > WARD_FIT_MAX:   # as the window's tree: heights on at most WARD_FIT_MAX ads
        units = Units(units.of_ad, units.X, units.weight * WARD_FIT_MAX / units.weight.sum())
    family = window.of_unit[members]
    labels, scale, of_group = _split_families(units, family, window, seed)
    labels = _merge_families(units, labels, scale, of_group, window.merge_height * (1 - HYSTERESIS))
    return PeriodNodes(rows, canonical_labels(labels, units.weight)[local_unit], unit[rows])


def _split_families(units, family: np.ndarray, window: WindowFamilies, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each family's own Ward tree over its ads in the period, cut where its merges stand above the window's
    split reference once brought to the family's window size (×√(window ads / period ads)); a family stays
    whole unless its top merge does. Returns the labels and, per label, the factor from period to window size
    and the window family."""
    from scipy.cluster.hierarchy import fcluster

    from ..taxonomy.hierarchy import Units
    from ..taxonomy.methods.base import place_unfitted

    labels = np.zeros(len(family), dtype=np.int64)
    scale, of_group = [], []
    for f in np.unique(family):
        idx = np.flatnonzero(family == f)
        part = np.zeros(len(idx), dtype=np.int64)
        factor = window.ads[f] / units.weight[idx].sum()
        height = window.split_height * (1 + HYSTERESIS) / np.sqrt(factor)
        Z, _, fit_units, first = _ward_tree(Units(idx, units.X[idx], units.weight[idx]), seed)
        if Z is not None and np.isfinite(height) and Z[-1, 2] > height:
            part = place_unfitted(units.X[idx], fit_units, fcluster(Z, height, criterion="distance")[first] - 1)
            part = _fold_thin_parts(units.X[idx].astype(np.float64), units.weight[idx], part)
        labels[idx] = len(scale) + part
        of_group += [f] * (int(part.max()) + 1)
        scale += [factor] * (int(part.max()) + 1)
    return labels, np.array(scale), np.array(of_group)


def _fold_thin_parts(X: np.ndarray, weight: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Parts of a split with fewer than MIN_PART_ADS ads join the nearest part that has enough: one odd ad
    is not a new approach. Fewer than two such parts: no split."""
    ads = np.bincount(part, weights=weight)
    solid = np.flatnonzero(ads >= MIN_PART_ADS)
    if len(solid) < 2:
        return np.zeros(len(part), dtype=np.int64)
    from ..taxonomy.methods.base import nearest

    centre = np.array([np.average(X[part == p], axis=0, weights=weight[part == p]) for p in solid])
    thin = ~np.isin(part, solid)
    part = part.copy()
    part[thin] = solid[nearest(X[thin], centre)[0]]
    return np.unique(part, return_inverse=True)[1]


def _merge_families(units, labels: np.ndarray, scale: np.ndarray, family: np.ndarray, height: float) -> np.ndarray:
    """Join, closest first, the period's groups of different window families whose Ward merge at their window
    sizes (√(2·m·n/(m+n)) × centroid distance, the height scipy's ward gives, with m, n the sizes × `scale`)
    stands below `height`; `family` is the window family of each group (the parts of a split stay apart)."""
    k = int(labels.max()) + 1
    size = np.bincount(labels, weights=units.weight, minlength=k) * scale
    centre = np.zeros((k, units.X.shape[1]))
    np.add.at(centre, labels, units.X.astype(np.float64) * units.weight[:, None])
    centre /= np.maximum(np.bincount(labels, weights=units.weight, minlength=k), 1e-12)[:, None]
    holds = {g: {int(family[g])} for g in range(k)}
    while np.isfinite(height):
        pairs = [(_ward_height(size[a], size[b], centre[a], centre[b]), a, b)
                 for i, a in enumerate(holds) for b in list(holds)[i + 1:] if not holds[a] & holds[b]]
        if not pairs:
            break
        h, a, b = min(pairs)
        if h >= height:
            break
        centre[a] = (size[a] * centre[a] + size[b] * centre[b]) / (size[a] + size[b])
        size[a] += size[b]
        holds[a] |= holds.pop(b)
        labels = np.where(labels == b, a, labels)
    return np.unique(labels, return_inverse=True)[1]


def _ward_height(m: float, n: float, a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(2 * m * n / (m + n)) * np.linalg.norm(a - b))


def _lineage(nodes: list[PeriodNodes], periods: list[Period], X, unit, min_jaccard: float) -> dict:
    """Approach id of every period node, status of every approach per period, events and member flows."""
    counter = [0]

    def next_id() -> str:
        counter[0] += 1
        return f"A{counter[0]}"

    ids = [[next_id() for _ in range(nodes[0].k)]]
    status = [{a: ACTIVE for a in ids[0]}]          # the first period is the baseline: nothing is NEW in it
    events, flows = [], []
    for t in range(1, len(nodes)):
        ov = overlap(nodes[t - 1], nodes[t], X, unit)
        step = link(ids[t - 1], ov, min_jaccard, next_id, periods[t].id)
        ids.append(step.ids)
        status.append(step.status)
        events += step.events
        jac = ov.jaccard
        for j, i in zip(*np.nonzero(ov.shared)):
            flows.append({"from_period": periods[t - 1].id, "from_id": ids[t - 1][j], "to_period": periods[t].id,
                          "to_id": ids[t][i], "ads": int(ov.shared[j, i]), "jaccard": round(float(jac[j, i]), 4)})
    return {"ids": ids, "status": status, "events": events, "flows": flows}


def _approaches(library, lineage: dict, nodes: list[PeriodNodes], periods: list[Period], ads: pd.DataFrame,
                share: np.ndarray, documents: list[str]) -> list[dict]:
    ids, status = lineage["ids"], lineage["status"]
    pids = [p.id for p in periods]
    all_ids = sorted({a for per in ids for a in per} | {a for st in status for a in st}, key=lambda a: (len(a), a))
    rows_of = {a: {} for a in all_ids}
    for t, per in enumerate(ids):
        for i, a in enumerate(per):
            rows_of[a][pids[t]] = nodes[t].members(i)
    keywords = _keywords(documents, [np.concatenate(list(rows_of[a].values())) if rows_of[a] else np.zeros(0, np.int64)
                                     for a in all_ids])
    family = _current_families(library, ads["ad_id"].to_numpy())
    out = []
    for a, kw in zip(all_ids, keywords):
        members = rows_of[a]
        series = [None if pid not in members else period_metrics(ads.iloc[members[pid]], share[members[pid], t])
                  for t, pid in enumerate(pids)]
        by_period = {pid: _status(status[t].get(a), pid in members) for t, pid in enumerate(pids)}
        born = by_period[pids[0]] == ABSENT
        every = np.concatenate(list(members.values())) if members else np.zeros(0, np.int64)
        fam_label, fam_id = _majority(family, every)
        out.append({
            "id": a, "label": fam_label or (" · ".join(k for k, _ in kw[:3]) or a), "family_id": fam_id,
            "keywords": [k for k, _ in kw], "status_by_period": by_period,
            "metrics": dict(zip(pids, series)), "deltas": deltas(series, pids),
            "direction": direction(series, born) if members else None,
            "ad_ids": {pid: [int(x) for x in ads["ad_id"].to_numpy()[r]] for pid, r in members.items()},
        })
    _distinguish_labels(out)
    return out


def _distinguish_labels(approaches: list[dict]) -> None:
    """Approaches that share their family's label (several lines of one family) get their own top keywords
    after it, and their id where those are alike too, so a reader can tell them apart in the chart and tables."""
    count: dict = {}
    for a in approaches:
        count[a["label"]] = count.get(a["label"], 0) + 1
    for a in approaches:
        extra = [k for k in a["keywords"] if k.lower() not in a["label"].lower()][:2]
        if count[a["label"]] > 1 and a["family_id"] is not None and extra:
            a["label"] = f"{a['label']} — {' · '.join(extra)}"
    seen: dict = {}
    for a in approaches:   # the same words too: the id tells them apart
        seen[a["label"]] = seen.get(a["label"], 0) + 1
    for a in approaches:
        if seen[a["label"]] > 1:
            a["label"] = f"{a['label']} ({a['id']})"


def _status(recorded: str | None, present: bool) -> str:
    """Status in one period: the transition's word where there is one, ACTIVE while present, else absent."""
    if recorded is not None:
        return recorded
    return ACTIVE if present else ABSENT


def _keywords(documents: list[str], groups: list[np.ndarray]) -> list[list[tuple[str, float]]]:
    """c-TF-IDF keywords of each approach's ads against the other approaches (as the taxonomy names nodes)."""
    from scipy import sparse

    from ..taxonomy.keywords import c_tf_idf, doc_term_matrix, top_terms

    docs, vocab = doc_term_matrix(documents)
    if docs.shape[1] == 0 or not groups:
        return [[] for _ in groups]
    r = np.concatenate([np.full(len(g), k) for k, g in enumerate(groups)])
    c = np.concatenate(groups)
    M = sparse.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(groups), len(documents)))
    scores, _ = c_tf_idf(M @ docs)
    return [top_terms(scores[k], vocab, N_KEYWORDS) for k in range(len(groups))]


def _current_families(library, ad_ids: np.ndarray) -> pd.DataFrame | None:
    """(family id, label) of each window ad in the library's current taxonomy; None before any build."""
    from ..taxonomy.persist import current_build_key

    key = current_build_key(library)
    if key is None:
        return None
    fam = library.query_df(
        """SELECT a.ad_id, a.family_id, n.label FROM assignments a
           LEFT JOIN nodes n ON n.build_key = a.build_key AND n.id = a.family_id WHERE a.build_key = ?""", [key])
    return pd.DataFrame({"ad_id": ad_ids}).merge(fam, on="ad_id", how="left")


def _majority(family: pd.DataFrame | None, rows: np.ndarray) -> tuple[str | None, str | None]:
    """The current-taxonomy family holding most of these ads (ties: smaller family id)."""
    if family is None or len(rows) == 0:
        return None, None
    sub = family.iloc[rows].dropna(subset=["family_id"])
    if sub.empty:
        return None, None
    counts = sub.groupby("family_id")["label"].agg(["size", "first"])
    fid = min(counts.index, key=lambda f: (-counts.loc[f, "size"], len(f), f))
    label = counts.loc[fid, "first"]
    return (None if pd.isna(label) else str(label)), str(fid)
