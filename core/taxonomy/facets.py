"""Facets: the categorical things an ad has (tags, layout and colour words, format, placement,
object labels, CTA, metadata attributes) as one sparse ads × facets indicator matrix, and the
test of which facets a node has more often than the rest of its parent.

The test is Fisher's exact test, one-sided (over-representation), written as its hypergeometric
tail so that all facets of a node are tested in one vectorised call; p-values of a node are
corrected with Benjamini–Hochberg (statsmodels `multipletests(method="fdr_bh")`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.stats import hypergeom

TESTED_KINDS = ("tag", "layout", "colour", "format", "placement", "attr")   # Fisher-tested
ATTR_MAX_VALUES = 50     # an attribute with more distinct values is an identifier, not a category
Q_MAX = 0.05


@dataclass
class Facets:
    matrix: sparse.csr_matrix   # (n ads × m facets) 0/1
    names: np.ndarray           # facet value, e.g. "testimonial", "portrait", "placement=feed"
    kinds: np.ndarray           # one of tag, layout, colour, format, placement, attr, object, cta

    def of_kind(self, *kinds: str) -> np.ndarray:
        return np.flatnonzero(np.isin(self.kinds, kinds))


def build_facets(corpus) -> Facets:
    f = corpus.frame
    rows, cols, names, kinds = [], [], [], []
    index: dict[tuple[str, str], int] = {}

    def add(r: int, kind: str, value) -> None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return
        value = str(value).strip()
        if not value:
            return
        key = (kind, value.lower())
        j = index.get(key)
        if j is None:
            j = index[key] = len(names)
            names.append(value.lower())
            kinds.append(kind)
        rows.append(r)
        cols.append(j)

    for r, (tags, layout, colours, objects, fmt, placement, cta, kind) in enumerate(zip(
            f["tags"], f["form_list"], f["color_list"], f["object_list"], f["format"], f["placement"], f["cta"], f["kind"])):
        for t in tags:
            add(r, "tag", t)
        for w in layout:
            add(r, "layout", w)
        if kind == "video" and "video" not in layout:
            add(r, "layout", "video")
        for w in colours:
            add(r, "colour", w)
        for o in objects:
            add(r, "object", o)
        add(r, "format", fmt)
        add(r, "placement", placement)
        add(r, "cta", cta)
    attrs = corpus.attributes
    if len(attrs):
        row_of = {int(a): i for i, a in enumerate(corpus.ad_ids)}
        distinct = attrs.groupby("key")["value"].nunique()
        for ad_id, key, value in attrs[attrs["key"].isin(distinct[distinct <= ATTR_MAX_VALUES].index)].itertuples(index=False):
            if int(ad_id) in row_of:
                add(row_of[int(ad_id)], "attr", f"{key}={value}")
    m = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(corpus.n, len(names)))
    m.sum_duplicates()
    m.data = np.minimum(m.data, 1.0)   # a word listed twice on one ad counts once
    return Facets(m, np.asarray(names, dtype=object), np.asarray(kinds, dtype=object))


def fisher_greater(in_node: np.ndarray, node_size: int, in_parent: np.ndarray, parent_size: int) -> np.ndarray:
    """One-sided Fisher exact p-values (facet over-represented in the node vs the rest of the parent)."""
    in_node = np.asarray(in_node, dtype=np.int64)
    in_parent = np.asarray(in_parent, dtype=np.int64)
    return np.clip(hypergeom.sf(in_node - 1, parent_size, in_parent, node_size), 0.0, 1.0)


def enriched(in_node, node_size: int, in_parent, parent_size: int, names, kinds, q_max: float = Q_MAX) -> list[dict]:
    """Facets significantly more common in the node than in the rest of its parent, by q-value."""
    from statsmodels.stats.multitest import multipletests

    in_node = np.asarray(in_node, dtype=np.int64)
    in_parent = np.asarray(in_parent, dtype=np.int64)
    rest = parent_size - node_size
    tested = np.flatnonzero(in_parent > 0)   # every facet seen in the parent is one test
    if rest <= 0 or len(tested) == 0:
        return []
    p = fisher_greater(in_node[tested], node_size, in_parent[tested], parent_size)
    q = multipletests(p, alpha=q_max, method="fdr_bh")[1]
    out = []
    for j, pj, qj in zip(tested, p, q):
        if qj < q_max:
            share_in = in_node[j] / node_size
            share_rest = (in_parent[j] - in_node[j]) / rest
            out.append({"tag": str(names[j]), "kind": str(kinds[j]), "share_in": round(float(share_in), 4),
                        "share_rest": round(float(share_rest), 4), "p": float(f"{pj:.3g}"), "q": float(f"{qj:.3g}")})
    out.sort(key=lambda d: (d["q"], -d["share_in"], d["tag"]))
    return out
