"""The taxonomy as the search sees it: node text, node vectors, which ads sit under which node.

- text: the query against the node's label/description/keywords/tags (BM25) and its vectors
  (label_vec, text_centroid); a leaf inherits part of its ancestors' text match, so a query that
  names a family lifts its micro-patterns. The engine adds it to the ads of the best-matching
  leaves (the node boost), so it is already inside every ad's final score;
- leaves are ranked by the best final score among their own ads: the nodes shown are the
  micro-patterns of the best ads, so a target ad in the top 5 has its leaf in the top 5 nodes
  (near-copies folded into a hit are left out: engine.search ranks the leaves of the hits shown). Adding the leaf's text match
  a second time (0.6 z, before) put other leaves first: leaf recall@5 on the dev queries 0.767 →
  0.800 (half A 0.800 → 0.833, half B 0.733 → 0.767), 20 IRA "what it shows" queries 0.55 →
  0.60, self-test on the real ads (3 query seeds) 0.84/0.81/0.88 → 0.88/0.86/0.89, sample
  libraries of generator seeds 0/1/2 0.865/0.765/0.74 → 0.910/0.825/0.79; ads unchanged.
Only the deepest nodes (the ones ads are assigned to) are ranked: they are where a strategist
lands, and their path names the family and sub-cluster above them.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from .fusion import zscore
from .lexical import Lexical, words

TEXT_WEIGHTS = {"label_vec": 1.0, "centroid": 0.7, "bm25": 0.8}
ANCESTOR_SHARE = 0.5      # a leaf's text score += this × its parent's (and its square × grandparent's)


@dataclass
class Taxonomy:
    build_key: str
    ids: list[str]
    parents: np.ndarray           # node index of the parent, -1 for none
    labels: list[str]
    paths: list[str]              # "Family › Sub › Micro" (ClusterTree.path)
    texts: list[str]              # what the node BM25 indexes
    label_vecs: np.ndarray | None
    centroids: np.ndarray | None
    lex: Lexical
    leaf_of_row: np.ndarray       # deepest node index of each corpus row, -1 when unassigned
    node_path_of_row: list
    order: np.ndarray             # rows sorted by leaf (assigned rows only)
    starts: np.ndarray            # reduceat boundaries in `order`
    leaf_index: np.ndarray        # node index of each reduceat segment

    def node_text(self, i: int) -> str:
        return self.texts[i]


def _terms(items) -> list[str]:
    out = []
    for it in items or []:
        if isinstance(it, (list, tuple)) and it:
            out.append(str(it[0]))
        elif isinstance(it, dict):
            out.append(str(it.get("tag") or it.get("word") or it.get("name") or ""))
        elif it is not None:
            out.append(str(it))
    return [t for t in out if t]


def _matrix(vals, n: int) -> np.ndarray | None:
    dims = {len(v) for v in vals if v is not None and len(v)}
    if len(dims) != 1:
        return None
    d = dims.pop()
    m = np.zeros((n, d), dtype=np.float32)
    for i, v in enumerate(vals):
        if v is not None and len(v) == d:
            m[i] = v
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


def _assigned_nodes(assignments, index: dict) -> tuple[np.ndarray, np.ndarray]:
    """(ad ids, node index) of the tree's assignments: the ad's leaf, else its family, else -1. Ids
    are factorised once (a few hundred distinct nodes) instead of walking 100k rows in Python."""
    import pandas as pd

    node = np.full(len(assignments), -1, dtype=np.int64)
    for col in ("family_id", "leaf_id"):  # the leaf overrides the family where both are known
        codes, uniques = pd.factorize(assignments[col])  # missing → -1
        known = np.asarray([index.get(u, -1) if u else -1 for u in uniques] + [-1], dtype=np.int64)
        found = known[codes]
        node = np.where(found >= 0, found, node)
    return assignments["ad_id"].to_numpy(dtype=np.int64), node


def _rows_to_nodes(a_ids: np.ndarray, node: np.ndarray, ad_ids: np.ndarray) -> np.ndarray:
    """Node index of each corpus row (-1 when unassigned); corpus ad ids are sorted."""
    out = np.full(len(ad_ids), -1, dtype=np.int64)
    if not len(a_ids) or not len(ad_ids):
        return out
    pos = np.clip(np.searchsorted(ad_ids, a_ids), 0, len(ad_ids) - 1)
    hit = (ad_ids[pos] == a_ids) & (node >= 0)
    out[pos[hit]] = node[hit]
    return out


# persist.RUN_KIND, named here so that a search need not import persist (and pandas) to read it
TAXONOMY_RUN_KIND = "taxonomy"
# What the saved node index (vectors/search_nodes.*) was made by: bump when the texts or paths change.
NODES_VERSION = 1


def _tree_fingerprint(library, build_key: str) -> str:
    """Changes whenever the current tree's nodes or assignments do (an edit rewrites them under the
    same build key). DuckDB's hash is deterministic; a sum over rows does not depend on their order."""
    nodes = library.execute(
        """SELECT count(*), sum(hash(id, parent_id, level, label, description, keywords, tags, label_vec, text_centroid))
           FROM nodes WHERE build_key = ?""", [build_key]).fetchone()
    assigned = library.execute(
        "SELECT count(*), sum(hash(ad_id, family_id, leaf_id)) FROM assignments WHERE build_key = ?", [build_key]).fetchone()
    return f"{NODES_VERSION}|{build_key}|{nodes[0]}:{nodes[1]}|{assigned[0]}:{assigned[1]}"


def _index_from_tree(library) -> dict | None:
    """The current build read through `ClusterTree`, as the arrays and strings search keeps."""
    from ..taxonomy.persist import read_tree

    tree = read_tree(library)
    if tree is None:
        return None
    nodes = sorted((n for n in tree.nodes.values() if n.level > 0), key=lambda n: (n.level, n.id))
    if not nodes:
        return None
    ids = [n.id for n in nodes]
    index = {nid: i for i, nid in enumerate(ids)}
    a_ids, a_node = _assigned_nodes(tree.assignments(), index)
    return {"build_key": tree.build_key, "ids": ids,
            "parents": np.asarray([index.get(n.parent_id, -1) for n in nodes], dtype=np.int64),
            "labels": [n.label or n.id for n in nodes], "paths": [tree.path(nid) for nid in ids],
            "texts": [". ".join(p for p in [n.label or "", n.description or "", ", ".join(_terms(n.keywords)),
                                            ", ".join(_terms(n.tags))] if p) for n in nodes],
            "label_vecs": _matrix([n.label_vec for n in nodes], len(nodes)),
            "centroids": _matrix([n.text_centroid for n in nodes], len(nodes)), "a_ids": a_ids, "a_node": a_node}


_STRINGS = ("build_key", "ids", "labels", "paths", "texts")
_ARRAYS = ("parents", "a_ids", "a_node", "label_vecs", "centroids")


def _load_index(folder, key: str) -> dict | None:
    try:
        saved = json.loads((folder / "search_nodes.json").read_text(encoding="utf-8"))
        if saved.get("key") != key:
            return None
        with np.load(folder / "search_nodes.npz") as f:
            if str(f["key"]) != key:
                return None
            arrays = {k: (f[k] if k in f.files else None) for k in _ARRAYS}
        return {**{k: saved[k] for k in _STRINGS}, **arrays}
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):  # damaged: rebuilt
        return None


def _save_index(folder, key: str, idx: dict) -> None:
    try:  # derived files: temp + rename, so a reader never sees half of one; a read-only folder skips them
        tmp = folder / f"search_nodes.tmp{os.getpid()}.npz"
        np.savez(tmp, key=np.asarray(key), **{k: idx[k] for k in _ARRAYS if idx[k] is not None})
        os.replace(tmp, folder / "search_nodes.npz")
        tmp = folder / f"search_nodes.tmp{os.getpid()}.json"
        tmp.write_text(json.dumps({"key": key, **{k: idx[k] for k in _STRINGS}}), encoding="utf-8")
        os.replace(tmp, folder / "search_nodes.json")
    except OSError:
        pass


def load_taxonomy(library, ad_ids: np.ndarray) -> Taxonomy | None:
    """The current build as search's node index over these corpus rows: read through `ClusterTree`,
    and saved beside the library (vectors/search_nodes.*, with the node texts' BM25 index) under a
    fingerprint of the tree's rows. A fresh search process then reads two small files instead of
    importing pandas and reading the tree (at 100k ads ~1 s of CPU of a fresh CLI search)."""
    row = library.execute("SELECT max(key) FROM runs WHERE kind = ? AND is_current", [TAXONOMY_RUN_KIND]).fetchone()
    if row is None or row[0] is None:
        return None
    key = _tree_fingerprint(library, row[0])
    folder = library.path / "vectors"
    idx, lex = _load_index(folder, key), None
    if idx is not None:
        lex = Lexical.load("words", folder / "bm25_nodes", key)
    else:
        idx = _index_from_tree(library)
        if idx is None:
            return None
        _save_index(folder, key, idx)
    if lex is None:
        lex = Lexical.build("words", idx["texts"])
        try:
            lex.save(folder / "bm25_nodes", key)
        except OSError:
            pass
    leaf_of_row = _rows_to_nodes(idx["a_ids"], idx["a_node"], ad_ids)
    path_of = np.asarray(idx["paths"] + [None], dtype=object)  # -1 (unassigned) picks the trailing None
    node_path_of_row: list = path_of[leaf_of_row].tolist()
    assigned = np.flatnonzero(leaf_of_row >= 0)
    order = assigned[np.argsort(leaf_of_row[assigned], kind="stable")]
    if len(order):
        leaves_sorted = leaf_of_row[order]
        starts = np.flatnonzero(np.r_[True, leaves_sorted[1:] != leaves_sorted[:-1]])
        leaf_index = leaves_sorted[starts]
    else:
        starts = leaf_index = np.zeros(0, dtype=np.int64)
    return Taxonomy(idx["build_key"], idx["ids"], idx["parents"], idx["labels"], idx["paths"], idx["texts"],
                    idx["label_vecs"], idx["centroids"], lex, leaf_of_row, node_path_of_row, order, starts, leaf_index)


def text_scores(tax: Taxonomy, query: str, qvec: np.ndarray | None) -> tuple[np.ndarray, dict]:
    """Per-node text match (z-summed), leaves inheriting from ancestors; and the raw parts for `why`."""
    n = len(tax.ids)
    parts = {"bm25": tax.lex.scores(query)[:n]}
    if qvec is not None:
        for name, m in (("label_vec", tax.label_vecs), ("centroid", tax.centroids)):
            if m is not None and m.shape[1] == qvec.shape[0]:
                parts[name] = m @ qvec
    own = sum(TEXT_WEIGHTS[k] * zscore(v) for k, v in parts.items())
    total = own.copy()
    p = tax.parents
    share = ANCESTOR_SHARE
    anc = p.copy()
    for _ in range(3):
        has = anc >= 0
        total[has] += share * own[anc[has]]
        anc = np.where(has, p[np.maximum(anc, 0)], -1)
        share *= ANCESTOR_SHARE
    return total, parts


def score_leaves(tax: Taxonomy, final_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(leaf node indices, scores): the best final score among each leaf's ads (the node-text boost
    included), z-scored over leaves."""
    if not len(tax.order):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    evidence = np.maximum.reduceat(final_rows[tax.order], tax.starts)
    return tax.leaf_index, zscore(evidence)


def matched_words(tax: Taxonomy, i: int, query: str) -> list[str]:
    node_words = set(words(tax.texts[i]))
    return [w for w in dict.fromkeys(words(query)) if w in node_words]
