"""Node evidence for many nodes in one pass: the same values, in the same order, as the per-node
functions they stand for (`keywords.top_terms`, `facets.enriched`, `TreeLabeller._evidence`'s
shares). A 100k-ad library has ~71k micro-patterns; one call per node was most of its labelling."""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.stats import false_discovery_control, hypergeom

from .facets import Q_MAX


def term_rank(vocab: np.ndarray) -> np.ndarray:
    """Each term's place in string order (ties in a score break by term, as in `top_terms`)."""
    order = np.argsort(vocab.astype(str), kind="stable")
    rank = np.empty(len(vocab), dtype=np.int64)
    rank[order] = np.arange(len(vocab))
    return rank


def _firsts(row: np.ndarray, n_rows: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (at most k on) of each row's run in a row-sorted array."""
    start = np.searchsorted(row, np.arange(n_rows))
    end = np.minimum(np.searchsorted(row, np.arange(n_rows), side="right"), start + k)
    return start, end


def top_terms_rows(scores, vocab: np.ndarray, rank: np.ndarray, k: int, keep: np.ndarray | None = None) -> list[list]:
    """`keywords.top_terms` of every row of `scores` in one sort."""
    S = sparse.csr_matrix(scores)
    row = np.repeat(np.arange(S.shape[0]), np.diff(S.indptr))
    idx, vals = S.indices, S.data
    if keep is not None:
        ok = keep[idx]
        row, idx, vals = row[ok], idx[ok], vals[ok]
    order = np.lexsort((rank[idx], -vals, row))
    row, idx, vals = row[order], idx[order], vals[order]
    start, end = _firsts(row, S.shape[0], k)
    return [[(str(vocab[idx[o]]), round(float(vals[o]), 5)) for o in range(a, b) if vals[o] > 0] for a, b in zip(start, end)]


def shares_rows(counts: np.ndarray, sizes: np.ndarray, names: np.ndarray, limit: int) -> list[list[tuple[str, float]]]:
    """Per row of counts (nodes × the facets of one kind): its facets by count (ties by name), at most
    `limit`, each with its share of the node's ads."""
    names = names.astype(str)
    r, j = np.nonzero(counts > 0)
    vals = counts[r, j]
    order = np.lexsort((term_rank(names)[j], -vals, r))
    r, j, vals = r[order], j[order], vals[order]
    start, end = _firsts(r, len(counts), limit)
    return [[(str(names[j[o]]), round(float(vals[o] / max(int(sizes[n]), 1)), 4)) for o in range(a, b)]
            for n, (a, b) in enumerate(zip(start, end))]


def enriched_rows(in_nodes: np.ndarray, node_sizes: np.ndarray, in_parent: np.ndarray, parent_size: int,
                  names: np.ndarray, kinds: np.ndarray, q_max: float = Q_MAX) -> list[list[dict]]:
    """`facets.enriched` for every child of one parent (rows of in_nodes): the Fisher tails in one
    call and Benjamini–Hochberg per row in one call (scipy's `false_discovery_control`)."""
    in_nodes = np.asarray(in_nodes, dtype=np.int64)
    in_parent = np.asarray(in_parent, dtype=np.int64)
    node_sizes = np.asarray(node_sizes, dtype=np.int64)
    out: list[list[dict]] = [[] for _ in range(len(in_nodes))]
    tested = np.flatnonzero(in_parent > 0)
    live = np.flatnonzero(parent_size - node_sizes > 0)
    if len(tested) == 0 or len(live) == 0:
        return out
    x = in_nodes[np.ix_(live, tested)]
    p = np.clip(hypergeom.sf(x - 1, parent_size, in_parent[tested][None, :], node_sizes[live][:, None]), 0.0, 1.0)
    q = false_discovery_control(p, axis=1, method="bh")   # Benjamini–Hochberg per row, as facets.enriched's
    for r, c in zip(*np.nonzero(q < q_max)):
        i, j = live[r], tested[c]
        size, rest = int(node_sizes[i]), parent_size - int(node_sizes[i])
        out[i].append({"tag": str(names[j]), "kind": str(kinds[j]), "share_in": round(float(in_nodes[i, j] / size), 4),
                       "share_rest": round(float((in_parent[j] - in_nodes[i, j]) / rest), 4),
                       "p": float(f"{p[r, c]:.3g}"), "q": float(f"{q[r, c]:.3g}")})
    for tags in out:
        tags.sort(key=lambda d: (d["q"], -d["share_in"], d["tag"]))
    return out


def mean_text_units(M: sparse.csr_matrix, text: np.ndarray) -> np.ndarray:
    """Per row of M (nodes × ads): the unit mean of its ads' non-zero document vectors (zeros when none),
    for all nodes in two sparse products instead of a gather and two norms per node."""
    has = (np.linalg.norm(text, axis=1) > 0).astype(np.float32)
    means = np.asarray(M @ text, dtype=np.float32) / np.maximum(M @ has, 1)[:, None].astype(np.float32)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.where(norms > 0, norms, 1)).astype(np.float32)
