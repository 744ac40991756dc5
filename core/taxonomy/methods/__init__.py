"""Clustering methods by name (a registry like FiftyOne Brain's): each name maps to a config that
makes the estimator for families and the one for sub-clusters inside a family."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .auto import AutoClustering
from .base import UnitClusterer, silhouette
from .density import HDBSCANClustering
from .graph import GraphClustering
from .lines import LineClustering
from .ward import WardClustering


@dataclass(frozen=True)
class MethodConfig:
    name: str
    families: Callable[[int], UnitClusterer]      # seed → estimator for the top level
    sub_clusters: Callable[[int], UnitClusterer]  # seed → estimator run inside one family
    description: str = ""
    # seed → estimator for the top level in the line space (features.line_features, one kind per
    # unit); None: families come from `families` in the feature space (trends uses that one)
    lines: Callable[[int], LineClustering] | None = None

    def resolved(self, fitted_top) -> "MethodConfig":
        """The config that sub-clusters follow: for `auto`, the method it chose."""
        return METHODS[fitted_top.chosen_] if self.name == "auto" else self


SUB_MAX_SHARE = 0.8        # inside a family, "one odd creative vs the rest" is not a level
SUB_MIN_SILHOUETTE = 0.1   # real ads' silhouettes run 0.1-0.2; the generated sample's 0.2-0.35
MAX_CHILDREN = 15          # a node shows at most this many children where its units allow (issue 12: 3-15)


def _ward_sub(seed: int) -> WardClustering:
    # inside a family only a separated split is worth a level
    return WardClustering(k_max=8, min_silhouette=SUB_MIN_SILHOUETTE, max_share=SUB_MAX_SHARE, max_units=MAX_CHILDREN,
                          random_state=seed)


def _lines(seed: int) -> LineClustering:
    return LineClustering(random_state=seed)


def _auto(seed: int) -> AutoClustering:
    return AutoClustering(random_state=seed)


METHODS: dict[str, MethodConfig] = {
    "ward": MethodConfig("ward", lambda seed: WardClustering(random_state=seed), _ward_sub,
                         "Ward agglomerative clustering, cluster count by silhouette sweep"),
    "hdbscan": MethodConfig(
        "hdbscan",
        lambda seed: HDBSCANClustering(random_state=seed),
        lambda seed: HDBSCANClustering(min_cluster_size=3, random_state=seed),
        "HDBSCAN density clustering; sub-clusters by re-clustering each family"),
    "graph": MethodConfig("graph", lambda seed: GraphClustering(), lambda seed: GraphClustering(),
                          "recursive FAISS k-NN similarity graph with rising thresholds"),
    "lines": MethodConfig("lines", _auto, _ward_sub, "families: average linkage of document+visual vectors at "
                          "cosine 0.5 within each kind (methods/lines.py); sub-clusters: Ward", lines=_lines),
    "auto": MethodConfig("auto", _auto, _ward_sub, "families as `lines`; trends' window families: Ward, or HDBSCAN "
                         "when its silhouette beats Ward's by > 0.05", lines=_lines),
}


def get_method(name: str) -> MethodConfig:
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown clustering method {name!r}; valid methods: {', '.join(sorted(METHODS))}") from None


__all__ = ["METHODS", "MethodConfig", "get_method", "silhouette", "UnitClusterer", "WardClustering",
           "HDBSCANClustering", "GraphClustering", "AutoClustering", "LineClustering"]
