"""Ids that survive a rebuild: a node of the new tree takes the id of the previous build's node
whose members mostly agree (Jaccard ≥ 0.5 over the ads both builds hold, the rule user edits already
follow), so bookmarks, exports and the app's selection keep pointing at the same group.

Matching runs top-down among siblings: families against the previous families, then each matched
family's sub-clusters against that family's previous sub-clusters, and so on; pairs are taken
greedily by Jaccard (ties by id, so the result is deterministic). A node with no match gets an
index no previous sibling used, so an old id never comes back meaning another group.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .edits import MATCH_MIN_JACCARD
from .tree import ROOT_ID, ClusterTree, child_id, id_sort_key

SKIP_IDS = frozenset({"new"})   # placement's "new, not yet placed" node is no group to carry


def _segment(node_id: str) -> tuple[str, int]:
    last = node_id.split(".")[-1]
    return last[0], int(last[1:]) if last[1:].isdigit() else 0


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


def carry_ids(tree: ClusterTree, previous: ClusterTree | None) -> tuple[ClusterTree, dict]:
    """The tree with ids taken over from `previous` where members agree; and {"carried", "fresh"}."""
    kept = [n for n in tree.nodes if n != ROOT_ID]
    if previous is None or not kept:
        return tree, {"carried": 0, "fresh": len(kept)}
    common = np.intersect1d(np.asarray(tree.members(ROOT_ID), dtype=np.int64),
                            np.asarray(previous.members(ROOT_ID), dtype=np.int64))

    def members(t: ClusterTree, nid: str) -> np.ndarray:
        return np.intersect1d(np.asarray(t.members(nid), dtype=np.int64), common, assume_unique=True)

    mapping = {ROOT_ID: ROOT_ID}
    carried = 0

    def assign(new_parent: str, old_parent: str | None) -> None:
        nonlocal carried
        kids = [k.id for k in tree.children(new_parent)]
        old_kids = [k.id for k in previous.children(old_parent) if k.id not in SKIP_IDS] if old_parent else []
        new_m = {k: members(tree, k) for k in kids}
        old_m = {k: members(previous, k) for k in old_kids}
        pairs = []
        for k in kids:
            for o in old_kids:
                if previous.nodes[o].level != tree.nodes[k].level:
                    continue
                j = _jaccard(new_m[k], old_m[o])
                if j >= MATCH_MIN_JACCARD:
                    pairs.append((-j, id_sort_key(k), id_sort_key(o), k, o))
        match: dict[str, str] = {}
        taken: set[str] = set()
        for _, _, _, k, o in sorted(pairs):
            if k not in match and o not in taken:
                match[k], taken = o, taken | {o}
        used: dict[str, set[int]] = {}
        for o in old_kids:
            p, i = _segment(o)
            used.setdefault(p, set()).add(i)
        for k in sorted(kids, key=id_sort_key):
            if k in match:
                p, i = _segment(match[k])
                carried += 1
            else:
                p, _ = _segment(k)
                i = max(used.get(p, {0}) | {0}) + 1
                used.setdefault(p, set()).add(i)
            mapping[k] = child_id(mapping[new_parent], p, i)
        for k in kids:
            assign(k, match.get(k))

    assign(ROOT_ID, ROOT_ID)
    if all(k == v for k, v in mapping.items()):
        return tree, {"carried": carried, "fresh": len(kept) - carried}
    nodes = {}
    for nid, node in tree.nodes.items():
        nodes[mapping[nid]] = replace(node, id=mapping[nid],
                                      parent_id=None if node.parent_id is None else mapping[node.parent_id])
    a = tree.assignments()
    a["leaf_id"] = a["leaf_id"].map(mapping)
    a["family_id"] = a["family_id"].map(lambda f: mapping.get(f, f))
    return ClusterTree(nodes, a, tree.build_key, tree.config, tree.metrics), {"carried": carried, "fresh": len(kept) - carried}
