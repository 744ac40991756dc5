"""The result of a build: a tree of labelled nodes over ads (like hdbscan's CondensedTree).

Node ids spell their place: 'root', families 'f3', sub-clusters 'f3.s1', micro-patterns 'f3.s1.m2'
(or 'f3.m2' when the family has no sub-clusters). `level` says what a node is (1 family, 2
sub-cluster, 3 micro-pattern), not its depth. Every ad has one leaf: the deepest node holding it.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..store import json_default  # noqa: F401 - the one numpy-aware JSON encoder (tree.json_default)

ROOT_ID = "root"
PATH_SEP = " › "    # between the labels of a node's path, everywhere a path is shown or stored
LEVEL_NAMES = {0: "root", 1: "family", 2: "sub-cluster", 3: "micro-pattern"}


@dataclass
class Node:
    id: str
    parent_id: str | None
    level: int
    size: int = 0
    label: str = ""
    keywords: list = field(default_factory=list)         # [[term, c-TF-IDF score], ...]
    description: str = ""
    tags: list = field(default_factory=list)             # [{tag, kind, share_in, share_rest, p, q}, ...]
    representatives: list = field(default_factory=list)  # ad ids
    rep_strategy: str = ""
    rep_trace: list = field(default_factory=list)
    fidelity: float = float("nan")
    x: float = float("nan")
    y: float = float("nan")
    perf: dict = field(default_factory=dict)
    text_centroid: np.ndarray | None = None
    label_vec: np.ndarray | None = None
    mixed: bool | None = None   # set by the hierarchy: True for a catch-all family (a pool of leftovers)

    def to_dict(self, vectors: bool = False) -> dict:
        d = asdict(self)
        for key in ("text_centroid", "label_vec"):
            v = d.pop(key)
            if vectors:
                d[key] = None if v is None else np.asarray(v, dtype=float).round(6).tolist()
        for key in ("fidelity", "x", "y"):
            if isinstance(d[key], float) and math.isnan(d[key]):
                d[key] = None
        return d


def id_sort_key(node_id: str) -> tuple:
    """'root' first; 'f2' < 'f10'; 'f1.s2' after 'f1'."""
    if node_id == ROOT_ID:
        return ()
    return tuple((p[0], int(p[1:]) if p[1:].isdigit() else p) for p in node_id.split("."))


ASSIGNMENT_COLUMNS = ["ad_id", "family_id", "leaf_id", "node_path", "is_outlier", "x", "y"]


class ClusterTree:
    """Nodes by id plus one assignment row per ad (leaf, family, outlier flag, 2-D position)."""

    def __init__(self, nodes: dict[str, Node], assignments: pd.DataFrame, build_key: str | None = None,
                 config: dict | None = None, metrics: dict | None = None):
        self.nodes = nodes
        self._assignments = assignments.reset_index(drop=True)
        self.build_key = build_key
        self.config = config or {}
        self.metrics = metrics or {}
        self._children: dict[str, list[str]] = {nid: [] for nid in nodes}
        for node in nodes.values():
            if node.parent_id is not None:
                self._children[node.parent_id].append(node.id)
        for kids in self._children.values():
            kids.sort(key=id_sort_key)
        self._members: dict[str, np.ndarray] | None = None
        self._leaf_by_ad = dict(zip(self._assignments["ad_id"].astype(int), self._assignments["leaf_id"]))

    # -- navigation --------------------------------------------------------------------------
    @property
    def root(self) -> Node:
        return self.nodes[ROOT_ID]

    def children(self, node_id: str) -> list[Node]:
        return [self.nodes[c] for c in self._children[node_id]]

    def ancestors(self, node_id: str) -> list[Node]:
        """Parent first, root last."""
        out, pid = [], self.nodes[node_id].parent_id
        while pid is not None:
            out.append(self.nodes[pid])
            pid = self.nodes[pid].parent_id
        return out

    def descendants(self, node_id: str) -> list[Node]:
        out, stack = [], list(reversed(self._children[node_id]))
        while stack:
            nid = stack.pop()
            out.append(self.nodes[nid])
            stack.extend(reversed(self._children[nid]))
        return out

    def members(self, node_id: str) -> list[int]:
        """Ad ids under the node, recursively, ascending."""
        return self._member_index()[node_id].tolist()

    def chain(self, node_id: str) -> list[str]:
        """Node ids from the family down to this node (the root left out)."""
        out = [n.id for n in [self.nodes[node_id]] + self.ancestors(node_id) if n.id != ROOT_ID]
        return out[::-1]

    def path(self, node_id: str) -> str:
        return PATH_SEP.join(self.nodes[n].label or n for n in self.chain(node_id))

    def leaf_of(self, ad_id: int) -> str:
        return self._leaf_by_ad[int(ad_id)]

    def family_of(self, ad_id: int) -> str:
        nid = self.leaf_of(ad_id)
        while self.nodes[nid].level > 1:
            nid = self.nodes[nid].parent_id
        return nid

    def at_level(self, level: int) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.level == level), key=lambda n: id_sort_key(n.id))

    @property
    def levels(self) -> int:
        return max((n.level for n in self.nodes.values()), default=0)

    @property
    def outlier_share(self) -> float:
        a = self._assignments
        return float(a["is_outlier"].mean()) if len(a) else 0.0

    def _member_index(self) -> dict[str, np.ndarray]:
        if self._members is None:
            by_node: dict[str, list[int]] = {nid: [] for nid in self.nodes}
            for ad_id, leaf in self._leaf_by_ad.items():
                nid = leaf
                while nid is not None:
                    by_node[nid].append(ad_id)
                    nid = self.nodes[nid].parent_id
            self._members = {nid: np.sort(np.asarray(v, dtype=np.int64)) for nid, v in by_node.items()}
        return self._members

    def set_assignment(self, column: str, values) -> None:
        """Fill a per-ad column (positions, paths) in ad order; structure columns stay fixed."""
        if column not in ("x", "y", "node_path"):
            raise ValueError(f"{column!r} is not a writable assignment column")
        self._assignments[column] = values

    # -- export --------------------------------------------------------------------------------
    def assignments(self) -> pd.DataFrame:
        return self._assignments.copy()

    def to_pandas(self) -> pd.DataFrame:
        rows = []
        for nid in sorted(self.nodes, key=id_sort_key):
            d = self.nodes[nid].to_dict()
            d["path"] = self.path(nid)
            d["n_children"] = len(self._children[nid])
            perf = d.pop("perf") or {}
            for key in ("spend", "impressions", "clicks", "conversions", "ctr", "ctr_low", "ctr_high", "cvr", "cvr_low", "cvr_high"):
                d[key] = perf.get(key)
            rows.append(d)
        return pd.DataFrame(rows)

    def to_dict(self, assignments: bool = True) -> dict:
        """The one JSON shape of a tree (CLI `tree --json`, the app's export): run facts, the root's fields,
        the families nested with their `children` (each node with its `path`), and one row per ad."""
        def node(nid: str) -> dict:
            d = self.nodes[nid].to_dict()
            d["path"] = self.path(nid)
            d["children"] = [node(c) for c in self._children[nid]]
            return d

        out = {"build_key": self.build_key, "config": self.config, "metrics": self.metrics,
               "root": self.root.to_dict(), "families": [node(c) for c in self._children[ROOT_ID]]}
        if assignments:
            out["assignments"] = [
                {"ad_id": int(r.ad_id), "leaf_id": r.leaf_id, "is_outlier": bool(r.is_outlier),
                 "x": _finite(r.x), "y": _finite(r.y)} for r in self._assignments.itertuples()]
        return out

    def to_json(self, assignments: bool = True, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(assignments), indent=indent, default=json_default, ensure_ascii=False)

    def to_text(self, max_depth: int = 3, show_keywords: int = 3) -> str:
        """An indented tree for the CLI: label, id, size, outliers, CTR where known."""
        root = self.root
        head = (f"{root.label or 'All ads'}: {root.size} ads, {len(self.children(ROOT_ID))} families, "
                f"{self.outlier_share:.1%} outliers" + (f" (build {self.build_key})" if self.build_key else ""))
        lines = [head]

        def walk(nid: str, prefix: str, depth: int) -> None:
            kids = self._children[nid]
            for i, cid in enumerate(kids):
                node = self.nodes[cid]
                last = i == len(kids) - 1
                extra = []
                if show_keywords and node.keywords:
                    extra.append(", ".join(str(k[0]) for k in node.keywords[:show_keywords]))
                ctr = (node.perf or {}).get("ctr")
                if ctr is not None:
                    extra.append(f"CTR {ctr:.2%}")
                tail = f"  [{'; '.join(extra)}]" if extra else ""
                lines.append(f"{prefix}{'└─ ' if last else '├─ '}{node.label or cid} ({cid}, {node.size} ad{'' if node.size == 1 else 's'}){tail}")
                if depth < max_depth:
                    walk(cid, prefix + ("   " if last else "│  "), depth + 1)

        walk(ROOT_ID, "", 1)
        return "\n".join(lines)

    def __repr__(self) -> str:
        counts = [len(self.at_level(lv)) for lv in (1, 2, 3)]
        return f"ClusterTree(build_key={self.build_key!r}, ads={len(self._assignments)}, families={counts[0]}, sub={counts[1]}, micro={counts[2]})"


def _finite(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)


def child_id(parent_id: str, prefix: str, index: int) -> str:
    """The id of a parent's index-th child of one kind: ('f3', 's', 1) → 'f3.s1'."""
    return f"{prefix}{index}" if parent_id == ROOT_ID else f"{parent_id}.{prefix}{index}"
