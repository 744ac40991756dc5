"""Placing ads ingested after a build into that build, without re-clustering, so ids, names and
user edits stay where people left them.

An ad that is a variant of an ad in the build (same variant group) joins that ad's leaf. Any other
ad joins the family whose centroid is nearest in the build's feature space, then the nearest
sub-cluster inside it. Its fit score is the share of the family's own members that lie at least
as far from the centroid (1 = as central as any member, 0.05 = as far out as the farthest 5%).
An ad beyond the family's own spread (the 95th percentile of its members' distances, the radius
the hierarchy already uses for outliers) fits nowhere: it goes to the "new, not yet placed" node
until the user rebuilds. `drift` says how much of the library arrived since the build, so the app
can offer a rebuild when the build no longer describes the library.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..store import registered
from .persist import RUN_KIND, read_tree, write_tree
from .tree import ASSIGNMENT_COLUMNS, ROOT_ID, ClusterTree, Node

UNPLACED_ID = "new"
UNPLACED_LABEL = "New, not yet placed"
RADIUS_QUANTILE = 0.95        # as hierarchy.OUTLIER_RADIUS_QUANTILE: beyond it an ad is not the family's
SMALL_FAMILY_ADS = 10         # a radius from fewer members is noise: such families get at least the median radius
K_MAP = 5                     # a placed ad's map position: mean of its nearest built ads'
# when to offer a rebuild: a twentieth of the library fits nowhere, or a quarter arrived since the build
DRIFT_UNPLACED_SHARE = 0.05
DRIFT_NEW_SHARE = 0.25

PLACEMENTS_DDL = """CREATE TABLE IF NOT EXISTS placements (
    build_key VARCHAR NOT NULL, ad_id INTEGER NOT NULL, placed BOOLEAN, fit DOUBLE, how VARCHAR,
    placed_at TIMESTAMP DEFAULT current_timestamp, PRIMARY KEY (build_key, ad_id))"""


def _leaf_path(tree: ClusterTree, leaf: str) -> list[str]:
    out, nid = [], leaf
    while nid is not None and nid != ROOT_ID:
        out.append(nid)
        nid = tree.nodes[nid].parent_id
    return out[::-1]


class Placer:
    """Centroids and spreads of a build's clusters, in the feature space of `features` (rows = ads in
    `ad_ids` order). `place(rows)` returns (leaf id or UNPLACED_ID, fit, how) per row."""

    def __init__(self, tree: ClusterTree, ad_ids: np.ndarray, features: np.ndarray, unit_of_ad: np.ndarray):
        a = tree.assignments()
        a = a[a["leaf_id"] != UNPLACED_ID]
        self.tree, self.X, self.unit_of_ad = tree, features.astype(np.float64), unit_of_ad
        self.row_of = pd.Series(np.arange(len(ad_ids)), index=np.asarray(ad_ids, dtype=np.int64))
        self.built_rows = self.row_of.reindex(a["ad_id"].astype(np.int64)).dropna().astype(int).to_numpy()
        self.built_leaf = a.set_index("ad_id")["leaf_id"].reindex(ad_ids[self.built_rows]).to_numpy(dtype=object)
        self.cluster_ids = [n.id for n in tree.nodes.values() if 1 <= n.level < 3 and n.id != UNPLACED_ID]
        rows_of = {nid: [] for nid in self.cluster_ids}
        for r, leaf in zip(self.built_rows, self.built_leaf):
            for nid in _leaf_path(tree, leaf):
                if nid in rows_of:
                    rows_of[nid].append(r)
        self.rows_of = {k: np.asarray(v, dtype=np.int64) for k, v in rows_of.items() if v}
        self.centroid = {k: self.X[v].mean(axis=0) for k, v in self.rows_of.items()}
        self.member_dist = {k: np.sort(np.linalg.norm(self.X[v] - self.centroid[k], axis=1)) for k, v in self.rows_of.items()}
        fams = [k for k in self.rows_of if tree.nodes[k].level == 1]
        radius = {k: float(np.quantile(self.member_dist[k], RADIUS_QUANTILE)) for k in fams}
        floor = float(np.median(list(radius.values()))) if radius else 0.0
        self.radius = {k: (max(r, floor) if len(self.rows_of[k]) < SMALL_FAMILY_ADS else r) for k, r in radius.items()}
        self.families = fams

    def fit_score(self, nid: str, d: float) -> float:
        md = self.member_dist[nid]
        return round(float(len(md) - np.searchsorted(md, d - 1e-12)) / len(md), 4)

    def place(self, rows: np.ndarray) -> list[tuple[str, float, str]]:
        out = []
        unit_leaves: dict[int, list[str]] = {}
        for r, leaf in zip(self.built_rows, self.built_leaf):
            unit_leaves.setdefault(int(self.unit_of_ad[r]), []).append(leaf)
        C = np.vstack([self.centroid[f] for f in self.families]) if self.families else np.zeros((0, self.X.shape[1]))
        for r in rows:
            mates = unit_leaves.get(int(self.unit_of_ad[r]))
            if mates:   # a variant of a built ad: its group's leaf
                values, counts = np.unique(np.asarray(mates, dtype=str), return_counts=True)
                out.append((str(values[np.argmax(counts)]), 1.0, "variant"))
                continue
            if not len(C):
                out.append((UNPLACED_ID, 0.0, "no clusters"))
                continue
            x = self.X[r]
            d = np.linalg.norm(C - x, axis=1)
            fam = self.families[int(np.argmin(d))]
            dist = float(d.min())
            if dist > self.radius[fam] + 1e-9:
                out.append((UNPLACED_ID, self.fit_score(fam, dist), "beyond " + fam))
                continue
            fit, node = self.fit_score(fam, dist), fam
            while True:   # down to the nearest sub-cluster; micro-patterns are variant groups only
                kids = [k.id for k in self.tree.children(node) if k.level < 3 and k.id in self.centroid]
                if not kids:
                    break
                node = kids[int(np.argmin([np.linalg.norm(self.centroid[k] - x) for k in kids]))]
            out.append((node, fit, "nearest"))
        return out

    def map_position(self, rows: np.ndarray, coords: np.ndarray) -> np.ndarray:
        """Mean map position of each row's K_MAP nearest built ads (coords are the built ads')."""
        B = self.X[self.built_rows]
        out = np.zeros((len(rows), 2))
        for i, r in enumerate(rows):
            near = np.argsort(np.linalg.norm(B - self.X[r], axis=1))[:K_MAP]
            out[i] = np.nanmean(coords[near], axis=0)
        return out


def place_new_ads(library, progress=None) -> dict:
    """Place every ad that the current build does not hold (or holds as not yet placed). Returns
    counts: {"build_key", "considered", "placed", "unplaced", "by_variant"}."""
    from .build import prepare
    from .labelling import membership
    from .rollups import rollup

    tree = read_tree(library)
    if tree is None:
        raise ValueError("there is no taxonomy build yet: build one first")
    cfg = tree.config or {}
    a = tree.assignments()
    all_ids = library.query_df("SELECT id FROM ads ORDER BY id")["id"].to_numpy(dtype=np.int64)
    settled = a[a["leaf_id"] != UNPLACED_ID]
    todo = np.setdiff1d(all_ids, settled["ad_id"].to_numpy(dtype=np.int64))
    report = {"build_key": tree.build_key, "considered": int(len(todo)), "placed": 0, "unplaced": 0, "by_variant": 0}
    if len(todo) == 0:
        return report
    if progress:
        progress("placing", 0, len(todo))
    prep = prepare(library, cfg.get("axes"), int(cfg.get("seed", 0)))
    ids = prep.corpus.ad_ids
    placer = Placer(tree, ids, prep.features, prep.units.of_ad)
    rows = placer.row_of.reindex(todo).dropna().astype(int).to_numpy()
    results = placer.place(rows)
    built = settled.set_index("ad_id")
    coords = built[["x", "y"]].reindex(ids[placer.built_rows]).to_numpy(dtype=float)
    xy = placer.map_position(rows, coords)

    nodes = dict(tree.nodes)
    if len(settled) and (settled["leaf_id"].map(lambda leaf: nodes[leaf].level if leaf in nodes else 0) >= 3).all():
        # the build gives every ad a leaf of its own (its variant group, or itself): so does placement
        results = _own_leaves(nodes, rows, results, prep.corpus)
    unplaced = [r for r, (leaf, _, _) in zip(rows, results) if leaf == UNPLACED_ID]
    if unplaced:
        latest = sorted((int(ids[r]) for r in unplaced), reverse=True)[:6]   # every waiting ad is re-tried each time
        nodes[UNPLACED_ID] = Node(UNPLACED_ID, ROOT_ID, 1, label=UNPLACED_LABEL, representatives=latest, description=(
            "Ads added since the build that fit none of its families well enough. Rebuild the taxonomy to place them."))
    else:
        nodes.pop(UNPLACED_ID, None)
    new_rows = pd.DataFrame({
        "ad_id": ids[rows], "leaf_id": [leaf for leaf, _, _ in results],
        "is_outlier": [leaf == UNPLACED_ID for leaf, _, _ in results], "x": xy[:, 0], "y": xy[:, 1]})
    new_rows["family_id"] = [leaf.split(".")[0] for leaf in new_rows["leaf_id"]]
    new_rows["node_path"] = ""
    settled = settled[settled["ad_id"].isin(ids)]   # ads deleted from the library since the build drop out
    merged = pd.concat([settled[ASSIGNMENT_COLUMNS], new_rows[ASSIGNMENT_COLUMNS]], ignore_index=True)
    merged = merged.sort_values("ad_id").reset_index(drop=True)
    out = ClusterTree(nodes, merged, tree.build_key, tree.config, tree.metrics)
    paths = {nid: out.path(nid) for nid in nodes}
    out.set_assignment("node_path", out.assignments()["leaf_id"].map(paths).to_numpy())
    node_ids, M = membership(out, prep.corpus)
    sizes = np.asarray(M.sum(axis=1)).ravel()
    for nid, perf, size in zip(node_ids, rollup(M, prep.corpus.frame, float(cfg.get("min_spend", 100.0))), sizes):
        out.nodes[nid].perf, out.nodes[nid].size = perf, int(size)
    write_tree(library, out, tree.build_key, replace=True)
    _record(library, tree.build_key, ids[rows], results)
    report.update(placed=int(len(rows) - len(unplaced)), unplaced=int(len(unplaced)),
                  by_variant=int(sum(how == "variant" for _, _, how in results)))
    if progress:
        progress("placing", len(todo), len(todo))
    return report


def _own_leaves(nodes: dict, rows: np.ndarray, results: list, corpus) -> list:
    """A placed ad that is no variant of a built one gets its own one-ad leaf under the cluster it
    joined, named from its own words, so a leaf never lumps unrelated ads."""
    from .labelling import FORM_WORDS
    from .labels import NodeEvidence, RuleLabeller, is_content, unique_name
    from .tree import child_id
    from .words import corpus_lexicon

    if not any(how == "nearest" for _, _, how in results):
        return results
    lex = corpus_lexicon(corpus.frame)
    n_ads = len(lex.ad_words)
    labeller = RuleLabeller()
    out = []
    for r, (leaf, fit, how) in zip(rows, results):
        if how != "nearest":
            out.append((leaf, fit, how))
            continue
        kids = [n for n in nodes.values() if n.parent_id == leaf]
        index = max([int(n.id.split(".")[-1][1:]) for n in kids if n.id.split(".")[-1][:1] == "m"] + [0]) + 1
        nid = child_id(leaf, "m", index)
        words = [w for w in dict.fromkeys(lex.ad_words[r]) if lex.is_real_word(w) and w not in FORM_WORDS
                 and is_content(w) and not lex.function_word(w) and len(w) > 2]
        words.sort(key=lambda w: lex.ads_with[w])   # the ad's rarest real words say most about it
        row = corpus.frame.iloc[r]
        ev = NodeEvidence(nid, 3, 1, name_terms=[(w, float(np.log(n_ads / max(lex.ads_with[w], 1))), 1.0) for w in words[:6]],
                          layout=[(w, 1.0) for w in row["form_list"]], colours=[(c, 1.0) for c in row["color_list"]],
                          video_share=1.0 if row["kind"] == "video" else 0.0)
        label = labeller.label(ev)
        name = unique_name(label.name, ev, {n.label.lower() for n in kids})
        nodes[nid] = Node(nid, leaf, 3, size=1, label=name, description=label.description)
        out.append((nid, fit, how))
    return out


def _current_key(library) -> str | None:
    return (library.current_run(RUN_KIND) or {}).get("key")


def _record(library, build_key: str, ad_ids, results) -> None:
    frame = pd.DataFrame({"build_key": build_key, "ad_id": np.asarray(ad_ids, dtype=np.int64),
                          "placed": [leaf != UNPLACED_ID for leaf, _, _ in results],
                          "fit": [fit for _, fit, _ in results], "how": [how for _, _, how in results]})
    with library.transaction() as cur:
        cur.execute(PLACEMENTS_DDL)
        with registered(cur, "_tx_place", frame):
            cur.execute("""INSERT OR REPLACE INTO placements (build_key, ad_id, placed, fit, how)
                           SELECT build_key, ad_id, placed, fit, how FROM _tx_place""")


def placements(library, build_key: str | None = None) -> pd.DataFrame:
    """Ads placed into a build after it was made: ad_id, placed, fit, how, placed_at."""
    key = build_key or _current_key(library)
    cols = ["ad_id", "placed", "fit", "how", "placed_at"]
    if key is None or not library.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'placements'"):
        return pd.DataFrame(columns=cols)
    return library.query_df(f"SELECT {', '.join(cols)} FROM placements WHERE build_key = ? ORDER BY ad_id", [key])


def drift(library) -> dict:
    """How far the library has moved from its current build (see module doc and core.taxonomy_drift)."""
    total = int(library.scalar("SELECT count(*) FROM ads") or 0)
    key = _current_key(library)
    out = {"build_key": key, "total_ads": total, "built_ads": 0, "placed": 0, "unplaced": 0, "pending": total,
           "new_share": 1.0 if total else 0.0, "unplaced_share": 1.0 if total else 0.0, "rebuild_suggested": total >= 2,
           "reason": "no taxonomy build yet" if total >= 2 else "too few ads for a taxonomy"}
    if key is None:
        return out
    a = library.query_df("SELECT ad_id, leaf_id FROM assignments WHERE build_key = ?", [key])
    p = placements(library, key)
    later = set(p["ad_id"].astype(int)) if len(p) else set()
    in_build = set(a["ad_id"].astype(int))
    unplaced = int((a["leaf_id"] == UNPLACED_ID).sum())
    placed = len(later & in_build) - unplaced
    pending = int(library.scalar(f"SELECT count(*) FROM ads WHERE id NOT IN (SELECT ad_id FROM assignments WHERE build_key = ?)", [key]))
    new_share = (placed + unplaced + pending) / total if total else 0.0
    unplaced_share = (unplaced + pending) / total if total else 0.0
    suggest = unplaced_share >= DRIFT_UNPLACED_SHARE or new_share >= DRIFT_NEW_SHARE
    reason = (f"{unplaced + pending} ads ({unplaced_share:.0%}) are not placed" if unplaced_share >= DRIFT_UNPLACED_SHARE
              else f"{new_share:.0%} of the ads arrived since the build" if suggest else "the build still describes the library")
    out.update(built_ads=len(in_build - later), placed=placed, unplaced=unplaced, pending=pending,
               new_share=round(new_share, 4), unplaced_share=round(unplaced_share, 4), rebuild_suggested=bool(suggest),
               reason=reason)
    return out
