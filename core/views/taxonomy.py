"""Tree reads for the pages: the current build's nodes with their paths, children, node cards, an ad's path, chart frames."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..taxonomy.persist import read_tree
from .base import LEVEL_NAMES, PERF_KEYS, NoTaxonomy, _num, _rep_id, current_build_key
from .grid import ads_by_ids


def nodes_frame(library, build_key: str | None = None) -> pd.DataFrame | None:
    """Every node of a build (the current one by default) read through `ClusterTree`, one row each, indexed
    by id, ordered by level then id: keywords as words, `chain` (ids family → node), `path` and `mixed`
    (a pool of loosely related leftovers, not one idea). None if no build."""
    tree = read_tree(library, build_key)
    if tree is None:
        return None
    rows = [{"id": n.id, "parent_id": n.parent_id, "level": n.level, "label": n.label or n.id,
             "keywords": [str(k[0]) if isinstance(k, (list, tuple)) and k else str(k) for k in n.keywords],
             "description": n.description, "tags": n.tags, "representatives": n.representatives, "rep_strategy": n.rep_strategy,
             "fidelity": n.fidelity, "size": n.size, "mixed": bool(n.mixed), "x": n.x, "y": n.y, "perf": n.perf if isinstance(n.perf, dict) else {},
             "chain": tree.chain(n.id), "path": tree.path(n.id)}
            for n in sorted(tree.nodes.values(), key=lambda n: (n.level, n.id))]
    df = pd.DataFrame(rows, index=pd.Index([r["id"] for r in rows]))
    df.attrs["build_key"] = tree.build_key
    return df


def root_id(nodes: pd.DataFrame) -> str | None:
    roots = nodes[nodes["level"] == 0]
    return None if roots.empty else roots["id"].iloc[0]


def children(nodes: pd.DataFrame, node_id: str | None) -> pd.DataFrame:
    if node_id is None or nodes.loc[node_id, "level"] == 0:
        kids = nodes[nodes["level"] == 1]
    else:
        kids = nodes[nodes["parent_id"] == node_id]
    return kids.sort_values(["size", "id"], ascending=[False, True])


def descendants(nodes: pd.DataFrame, node_id: str) -> list[str]:
    """The node and every node below it."""
    return [nid for nid, chain in zip(nodes["id"], nodes["chain"]) if nid == node_id or node_id in chain]


def _member_filter(library, node_id: str | None, key: str, nodes: pd.DataFrame | None = None) -> tuple[str, list]:
    """SQL condition on `s` (assignments) for the ads of a node and its descendants."""
    if node_id is None:
        return "s.build_key = ?", [key]
    nodes = nodes if nodes is not None else nodes_frame(library, key)
    if nodes is not None and node_id in nodes.index and nodes.loc[node_id, "level"] == 0:
        return "s.build_key = ?", [key]
    ids = descendants(nodes, node_id) if nodes is not None and node_id in nodes.index else [node_id]
    return "s.build_key = ? AND (s.family_id = ? OR s.leaf_id IN (SELECT unnest(?::VARCHAR[])))", [key, node_id, ids]


def node_card(library, node_id: str, nodes: pd.DataFrame | None = None) -> dict[str, Any]:
    """Everything the node card shows, representatives first."""
    nodes = nodes if nodes is not None else nodes_frame(library)
    if nodes is None:
        raise NoTaxonomy()
    if node_id not in nodes.index:
        raise KeyError(f"no node {node_id!r} in the current taxonomy")
    n = nodes.loc[node_id]
    reps = [_rep_id(r) for r in n["representatives"]]
    reps = [r for r in reps if r is not None]
    return {
        "id": node_id, "label": n["label"], "level": int(n["level"]), "level_name": LEVEL_NAMES.get(int(n["level"]), "node"),
        "path": n["path"], "chain": [{"id": c, "label": nodes.loc[c, "label"]} for c in n["chain"]],
        "description": n["description"] or "", "keywords": [str(k) for k in n["keywords"]],
        "tags": tags_frame(n["tags"]), "fidelity": _num(n["fidelity"]), "size": int(n["size"] or 0),
        "perf": n["perf"] if isinstance(n["perf"], dict) else {},
        "representatives": ads_by_ids(library, reps), "rep_strategy": n["rep_strategy"],
        "children": children(nodes, node_id)[["id", "label", "size", "fidelity", "keywords"]].to_dict("records"),
    }


def tags_frame(tags) -> pd.DataFrame:
    """Discriminating tags as a table, whatever shape the build stored them in (dicts, pairs, a mapping)."""
    if isinstance(tags, dict):
        tags = [{"tag": k, **(v if isinstance(v, dict) else {"q": v})} for k, v in tags.items()]
    rows = []
    for t in tags or []:
        if isinstance(t, dict):
            rows.append(t)
        elif isinstance(t, (list, tuple)) and t:
            rows.append(dict(zip(["tag", "q", "share", "lift"], t)))
        else:
            rows.append({"tag": str(t)})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    first = [c for c in ("tag", "term", "value", "kind", "axis") if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def ad_tree_path(library, ad_id: int, nodes: pd.DataFrame | None = None) -> list[dict]:
    key = current_build_key(library)
    if not key:
        return []
    row = library.execute("SELECT family_id, leaf_id, is_outlier FROM assignments WHERE build_key = ? AND ad_id = ?", [key, int(ad_id)]).fetchone()
    if row is None:
        return []
    nodes = nodes if nodes is not None else nodes_frame(library, key)
    leaf = row[1] or row[0]
    if nodes is None or leaf not in nodes.index:
        return [{"id": leaf, "label": leaf, "level": None, "outlier": bool(row[2])}]
    return [{"id": c, "label": nodes.loc[c, "label"], "level": int(nodes.loc[c, "level"]), "outlier": bool(row[2])}
            for c in nodes.loc[leaf, "chain"]]


def tree_chart_frame(library, nodes: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """ids/parents/labels/values (+ metric columns) for a sunburst or treemap sized by ads."""
    nodes = nodes if nodes is not None else nodes_frame(library)
    if nodes is None:
        return None
    df = nodes[nodes["level"] > 0][["id", "parent_id", "level", "label", "size", "fidelity", "path"]].copy()
    levels = dict(zip(nodes["id"], nodes["level"]))
    df["parent"] = df["parent_id"].map(lambda p: p if p is not None and levels.get(p, 0) > 0 else "")
    perf = nodes.loc[df["id"], "perf"].map(lambda p: p if isinstance(p, dict) else {})
    for k in PERF_KEYS:
        if any(isinstance(p.get(k), (int, float)) for p in perf):
            df[k] = [_num(p.get(k)) for p in perf]
    # 'total' branch values need parents >= the sum of their children
    size = dict(zip(df["id"], df["size"].fillna(0).astype(float)))
    kids_sum: dict[str, float] = {}
    for nid, parent in sorted(zip(df["id"], df["parent"]), key=lambda t: -levels[t[0]]):
        size[nid] = max(size[nid], kids_sum.get(nid, 0.0))
        if parent:
            kids_sum[parent] = kids_sum.get(parent, 0.0) + size[nid]
    df["value"] = df["id"].map(size)
    return df.reset_index(drop=True)


def chart_metrics(frame: pd.DataFrame) -> list[str]:
    skip = {"id", "parent_id", "level", "label", "path", "parent", "value"}
    return [c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any()]
