"""Taxonomy engine: ads → families → sub-clusters → micro-patterns (groups of variants), each node
labelled, rolled up and placed on a 2-D map. One build = one run record; the latest is current.

Stages (one module each): corpus (load) → features (axes, PCA) → variants (micro-patterns) →
methods (registry: auto, ward, hdbscan, graph) → hierarchy → labelling (keywords, facets, labels,
representatives) → rollups → projection → persist. Edits (rename/merge/split) live in edits/api.
"""
from __future__ import annotations

from .api import load_tree, merge_nodes, rename_node, split_node
from .build import TAXONOMY_VERSION, build_taxonomy
from .features import DEFAULT_AXES
from .labels import Labeller, NodeEvidence, NodeLabel, RuleLabeller
from .methods import METHODS, get_method
from .projection import warm_umap
from .representatives import STRATEGIES as REP_STRATEGIES
from .tree import ClusterTree, Node

__all__ = ["build_taxonomy", "load_tree", "rename_node", "merge_nodes", "split_node", "warm_umap", "ClusterTree", "Node",
           "Labeller", "NodeEvidence", "NodeLabel", "RuleLabeller", "METHODS", "get_method", "DEFAULT_AXES",
           "REP_STRATEGIES", "TAXONOMY_VERSION"]
