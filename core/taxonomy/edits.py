"""User edits: rename, merge, split. Each is stored in `node_edits` with the member ads of the
nodes it touched and applied to the current build at once; every later build re-applies it to
the node whose members still match (Jaccard ≥ 0.5 with the edited node's members), so an edit
survives new ads and rebuilds as long as the group it was about still exists.
"""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from .tree import ROOT_ID, ClusterTree, Node, child_id, id_sort_key

MATCH_MIN_JACCARD = 0.5
EDIT_KINDS = ("rename", "merge", "split")
MAX_NAME_CHARS = 80


# -- matching ------------------------------------------------------------------------------------
def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def best_match(tree: ClusterTree, members, exclude: set[str] = frozenset()) -> str | None:
    """The node whose members are most like `members` (Jaccard ≥ 0.5); shallower wins ties."""
    m = np.unique(np.asarray(members, dtype=np.int64))
    best, best_j = None, MATCH_MIN_JACCARD
    for node in sorted(tree.nodes.values(), key=lambda n: (n.level, id_sort_key(n.id))):
        if node.id == ROOT_ID or node.id in exclude or not (0.5 * len(m) <= node.size <= 2 * len(m)):
            continue
        j = jaccard(m, np.asarray(tree.members(node.id)))
        if j > best_j + 1e-12 or (best is None and j >= MATCH_MIN_JACCARD):
            best, best_j = node.id, j
    return best


# -- structure operations (pure: a new tree, the old one untouched) -------------------------------------
class _Editable:
    def __init__(self, tree: ClusterTree):
        self.base = tree
        self.nodes = {nid: replace(n) for nid, n in tree.nodes.items()}
        self.leaf = tree.assignments()["leaf_id"].to_numpy(dtype=object).copy()
        self.ad_ids = tree.assignments()["ad_id"].to_numpy(dtype=np.int64)

    def children(self, nid: str) -> list[str]:
        return sorted((n.id for n in self.nodes.values() if n.parent_id == nid), key=id_sort_key)

    def next_index(self, parent_id: str, prefix: str) -> int:
        used = [int(c.split(".")[-1][1:]) for c in self.children(parent_id) if c.split(".")[-1][0] == prefix]
        return max(used, default=0) + 1

    def reid(self, old: str, new: str, new_parent: str) -> dict[str, str]:
        """Move a subtree: `old` becomes `new` under `new_parent`; descendants follow."""
        mapping = {nid: new + nid[len(old):] for nid in self.nodes if nid == old or nid.startswith(old + ".")}
        moved = {}
        for o, nw in mapping.items():
            node = self.nodes.pop(o)
            node.id = nw
            node.parent_id = new_parent if o == old else mapping[node.parent_id]
            moved[nw] = node
        self.nodes.update(moved)
        for o, nw in mapping.items():
            self.leaf[self.leaf == o] = nw
        return mapping

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(self.nodes, 0)
        for lid, k in zip(*np.unique(self.leaf.astype(str), return_counts=True)):
            nid = lid
            while nid is not None:
                out[nid] += int(k)
                nid = self.nodes[nid].parent_id
        return out

    def normalise(self) -> None:
        """Drop empty nodes and one-ad micro-patterns; lift an only child that is its parent."""
        changed = True
        while changed:
            changed = False
            counts = self.counts()
            for nid in sorted(self.nodes, key=lambda i: -i.count(".")):
                node = self.nodes[nid]
                if nid == ROOT_ID:
                    continue
                if counts[nid] == 0 or (node.level == 3 and counts[nid] < 2):
                    self.leaf[self.leaf == nid] = node.parent_id
                    for c in self.children(nid):
                        self.reid(c, child_id(node.parent_id, c.split(".")[-1][0], self.next_index(node.parent_id, c.split(".")[-1][0])), node.parent_id)
                    del self.nodes[nid]
                    changed = True
                    break
                kids = self.children(nid)
                if len(kids) == 1 and counts[kids[0]] == counts[nid]:
                    only = kids[0]
                    for g in self.children(only):
                        p = g.split(".")[-1][0]
                        self.reid(g, child_id(nid, p, self.next_index(nid, p)), nid)
                    self.leaf[self.leaf == only] = nid
                    del self.nodes[only]
                    changed = True
                    break
        for nid, k in self.counts().items():
            self.nodes[nid].size = k

    def tree(self) -> ClusterTree:
        a = self.base.assignments()
        a["leaf_id"] = self.leaf
        a["family_id"] = [str(lid).split(".")[0] for lid in self.leaf]
        return ClusterTree(self.nodes, a, self.base.build_key, self.base.config, self.base.metrics)


def _check_node(tree: ClusterTree, node_id: str) -> Node:
    if node_id not in tree.nodes:
        raise ValueError(f"no node {node_id!r} in build {tree.build_key}")
    if node_id == ROOT_ID:
        raise ValueError("the root holds every ad; edit its families instead")
    return tree.nodes[node_id]


def merge_structure(tree: ClusterTree, node_ids) -> ClusterTree:
    ids = sorted(dict.fromkeys(node_ids), key=id_sort_key)
    if len(ids) < 2:
        raise ValueError("merging needs at least two distinct nodes")
    parents = {_check_node(tree, nid).parent_id for nid in ids}
    if len(parents) != 1:
        raise ValueError(f"only siblings can be merged; {', '.join(ids)} have different parents")
    ed = _Editable(tree)
    keep = ids[0]
    for other in ids[1:]:
        for c in ed.children(other):
            p = c.split(".")[-1][0]
            ed.reid(c, child_id(keep, p, ed.next_index(keep, p)), keep)
        ed.leaf[ed.leaf == other] = keep
        del ed.nodes[other]
    ed.normalise()
    return ed.tree()


def split_structure(tree: ClusterTree, node_id: str, n: int, unit_of_ad: np.ndarray, unit_X: np.ndarray,
                    corpus_ad_ids: np.ndarray) -> ClusterTree:
    """Split a node into n siblings by Ward on its variant units (a group of variants stays whole)."""
    from scipy.cluster.hierarchy import fcluster, ward

    node = _check_node(tree, node_id)
    if int(n) != n or n < 2:
        raise ValueError("n must be an integer ≥ 2")
    ed = _Editable(tree)
    members = np.asarray(tree.members(node_id), dtype=np.int64)
    pos = np.searchsorted(ed.ad_ids, members)
    units = unit_of_ad[np.searchsorted(corpus_ad_ids, members)]
    distinct = np.unique(units)
    if len(distinct) < n:
        raise ValueError(f"node {node_id!r} holds {len(distinct)} group(s) of variants; it cannot be split into {n} parts")
    labels = fcluster(ward(unit_X[distinct].astype(np.float64)), n, criterion="maxclust") - 1 if len(distinct) > 1 else np.zeros(1, int)
    if len(np.unique(labels)) < n:
        raise ValueError(f"node {node_id!r} has fewer than {n} distinguishable groups")
    weight = np.array([(units == u).sum() for u in distinct])
    order = np.argsort([-weight[labels == k].sum() for k in range(n)], kind="stable")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    part_of_unit = dict(zip(distinct, rank[labels]))
    part = np.array([part_of_unit[u] for u in units])

    prefix = node_id.split(".")[-1][0]
    part_ids = [node_id]
    for _ in range(1, n):
        pid = child_id(node.parent_id, prefix, ed.next_index(node.parent_id, prefix))
        ed.nodes[pid] = Node(pid, node.parent_id, node.level)
        part_ids.append(pid)
    # each descendant belongs to the part holding most of its members
    sub_part = {}
    for d in tree.descendants(node_id):
        dm = np.searchsorted(members, np.asarray(tree.members(d.id), dtype=np.int64))
        sub_part[d.id] = int(np.bincount(part[dm], minlength=n).argmax())
    new_leaf = {}
    for i, p in zip(pos, part):
        nid = ed.leaf[i]
        while nid != node_id and sub_part.get(nid) != p:
            nid = tree.nodes[nid].parent_id
        new_leaf[i] = nid if nid != node_id else part_ids[p]
    for i, lid in new_leaf.items():
        ed.leaf[i] = lid
    for c in [c.id for c in tree.children(node_id)]:
        p = sub_part[c]
        if p:
            target = part_ids[p]
            pre = c.split(".")[-1][0]
            ed.reid(c, child_id(target, pre, ed.next_index(target, pre)), target)
    ed.normalise()
    return ed.tree()


def rename_structure(tree: ClusterTree, node_id: str, name: str) -> str:
    _check_node(tree, node_id)
    name = " ".join(str(name or "").split())
    if not name:
        raise ValueError("a name needs at least one word")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"names are at most {MAX_NAME_CHARS} characters")
    return name


# -- stored edits ------------------------------------------------------------------------------------
def load_edits(library) -> list[dict]:
    rows = library.execute("SELECT id, kind, payload FROM node_edits ORDER BY id").fetchall()
    return [{"id": r[0], "kind": r[1], **json.loads(r[2] or "{}")} for r in rows]


def record_edit(library, kind: str, payload: dict) -> int:
    if kind not in EDIT_KINDS:
        raise ValueError(kind)
    return library.execute("INSERT INTO node_edits (kind, payload) VALUES (?, ?) RETURNING id",
                           [kind, json.dumps(payload, default=int)]).fetchone()[0]


def apply_edits(tree: ClusterTree, edits: list[dict], prep, seed: int = 0) -> tuple[ClusterTree, dict]:
    """Re-apply stored merges and splits to a fresh tree where their nodes still match."""
    report = {"applied": 0, "skipped": 0}
    for e in edits:
        try:
            if e["kind"] == "merge":
                ids = []
                for m in e["members"]:
                    nid = best_match(tree, m, exclude=set(ids))
                    if nid is None:
                        raise LookupError
                    ids.append(nid)
                tree = merge_structure(tree, ids)
            elif e["kind"] == "split":
                nid = best_match(tree, e["members"])
                if nid is None:
                    raise LookupError
                tree = split_structure(tree, nid, int(e["n"]), prep.units.of_ad, prep.units.X, prep.corpus.ad_ids)
            else:
                continue
            report["applied"] += 1
        except (LookupError, ValueError):
            report["skipped"] += 1   # the group no longer exists in this form: the edit waits
    return tree, report


def match_names(tree: ClusterTree, edits: list[dict]) -> dict[str, str]:
    """node id → user-given name, from renames and named merges, later edits winning."""
    names: dict[str, str] = {}
    for e in edits:
        if e["kind"] == "rename":
            members = e["members"]
        elif e["kind"] == "merge" and e.get("name"):
            members = sorted({a for m in e["members"] for a in m})
        else:
            continue
        nid = best_match(tree, members)
        if nid is not None:
            names[nid] = e["name"]
    return names
