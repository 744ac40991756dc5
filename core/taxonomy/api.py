"""Reading builds and editing the current one (the functions the app and the CLI call)."""
from __future__ import annotations

import numpy as np

from .labelling import label_text
from .edits import match_names, merge_structure, record_edit, rename_structure, split_structure
from .persist import read_tree, write_tree
from .tree import ClusterTree


def load_tree(library, build_key: str | None = None) -> ClusterTree | None:
    """A stored build (the current one when build_key is None); None before any build."""
    return read_tree(library, build_key)


def _current(library) -> ClusterTree:
    tree = read_tree(library)
    if tree is None:
        raise ValueError("there is no taxonomy build yet: build one first")
    return tree


def _rebuild_labels(library, tree: ClusterTree, base: ClusterTree) -> ClusterTree:
    """Labels, rollups and node positions of an edited tree; ads keep their map positions."""
    from .build import finish, prepare
    from .edits import load_edits

    cfg = base.config or {}
    a = base.assignments()
    prep = prepare(library, cfg.get("axes"), int(cfg.get("seed", 0)), ad_ids=a["ad_id"].to_numpy())
    coords = a[["x", "y"]].to_numpy(dtype=float)
    finish(tree, prep, None, cfg.get("rep_strategy", "convergent"), int(cfg.get("seed", 0)), float(cfg.get("min_spend", 100.0)),
           coords=coords, names=match_names(tree, load_edits(library)))
    write_tree(library, tree, base.build_key, replace=True)
    return tree


def rename_node(library, node_id: str, name: str) -> ClusterTree:
    """Give a node a name of your own; later builds keep it on the matching group."""
    from ..models import text_encoder

    tree = _current(library)
    name = rename_structure(tree, node_id, name)
    record_edit(library, "rename", {"build_key": tree.build_key, "node_id": node_id, "members": tree.members(node_id), "name": name})
    node = tree.nodes[node_id]
    node.label = name
    node.label_vec = np.asarray(text_encoder().encode([label_text(name, node.description, node.keywords)])[0], dtype=np.float32)
    paths = {nid: tree.path(nid) for nid in tree.nodes}
    tree.set_assignment("node_path", tree.assignments()["leaf_id"].map(paths).to_numpy())
    write_tree(library, tree, tree.build_key, replace=True)
    return tree


def merge_nodes(library, node_ids, name: str | None = None) -> ClusterTree:
    """Merge sibling nodes into one (the first id stays); their children move under it."""
    base = _current(library)
    merged = merge_structure(base, node_ids)          # validates before anything is recorded
    if name is not None:
        name = rename_structure(base, list(node_ids)[0], name)
    record_edit(library, "merge", {"build_key": base.build_key, "node_ids": list(node_ids),
                                   "members": [base.members(n) for n in node_ids], "name": name})
    return _rebuild_labels(library, merged, base)


def split_node(library, node_id: str, n: int = 2) -> ClusterTree:
    """Split a node into n siblings (Ward on its groups of variants, which stay whole)."""
    from .build import prepare

    base = _current(library)
    cfg = base.config or {}
    prep = prepare(library, cfg.get("axes"), int(cfg.get("seed", 0)), ad_ids=base.assignments()["ad_id"].to_numpy())
    split = split_structure(base, node_id, n, prep.units.of_ad, prep.units.X, prep.corpus.ad_ids)
    record_edit(library, "split", {"build_key": base.build_key, "node_id": node_id, "members": base.members(node_id), "n": int(n)})
    return _rebuild_labels(library, split, base)
