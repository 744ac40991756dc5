"""Taxonomy engine: ads → families → sub-clusters → micro-patterns (groups of variants), each node
labelled, rolled up and placed on a 2-D map. One build = one run record; the latest is current.

Stages (one module each): corpus (load) → features (axes, PCA) → variants (micro-patterns) →
methods (registry: auto, ward, hdbscan, graph) → hierarchy → labelling (keywords, facets, labels,
representatives) → rollups → projection → persist. Edits (rename/merge/split) live in edits/api.

The names below load on first use (PEP 562): a reader of a stored tree (search, the CLI) imports
`core.taxonomy.persist` without paying for the build stages (scipy.stats, sklearn: ~1 s of a
fresh process's first search).
"""
from __future__ import annotations

import importlib

_LAZY = {
    "load_tree": ".api", "merge_nodes": ".api", "rename_node": ".api", "split_node": ".api",
    "TAXONOMY_VERSION": ".build", "build_taxonomy": ".build", "DEFAULT_AXES": ".features",
    "Labeller": ".labels", "NodeEvidence": ".labels", "NodeLabel": ".labels", "RuleLabeller": ".labels",
    "METHODS": ".methods", "get_method": ".methods", "warm_umap": ".projection",
    "REP_STRATEGIES": (".representatives", "STRATEGIES"), "ClusterTree": ".tree", "Node": ".tree",
}

__all__ = ["build_taxonomy", "load_tree", "rename_node", "merge_nodes", "split_node", "warm_umap", "ClusterTree", "Node",
           "Labeller", "NodeEvidence", "NodeLabel", "RuleLabeller", "METHODS", "get_method", "DEFAULT_AXES",
           "REP_STRATEGIES", "TAXONOMY_VERSION"]


def __getattr__(name: str):
    spec = _LAZY.get(name)
    if spec is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = spec if isinstance(spec, tuple) else (spec, name)
    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
