"""The build pipeline: load → features → variants → hierarchy → (re-applied edits) → labels →
rollups → 2-D map → one transaction of nodes and assignments → a run record that makes it current."""
from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import numpy as np

from .corpus import AdCorpus, load_corpus
from .features import FeatureBuilder, kind_gate, line_features, line_visual, resolve_axes, unit_means
from .hierarchy import OUTLIER_MODES, Units, build_hierarchy
from .labelling import TreeLabeller, membership
from .labels import Labeller
from .methods import get_method
from .persist import RUN_KIND, write_tree
from .projection import project_2d, warm_umap
from .representatives import check_strategy
from .rollups import rollup
from .tree import ClusterTree
from .variants import VariantLinker, variant_inputs

TAXONOMY_VERSION = 1
Progress = Callable[[str, int, int], None]
# DuckDB's cache during a build: it reads every row once into arrays, but DuckDB kept the blocks it
# read (1.6 GB of visual rows at 100k ads) up to its default limit of 80 % of RAM
BUILD_DUCKDB_MEMORY = "512MB"
# up to this many ads the line space is assembled beside the variant linking (100k: 0.3 GB more at the
# peak, taken back by dropping DuckDB's cache); at 1M it would hold 2.4 GB and the visual rows beside it
LINE_SPACE_BESIDE_MAX = 250_000
_CAP: ContextVar[str | None] = ContextVar("duckdb_cap", default=None)   # the cap of the build running here


def _noop(stage: str, done: int, total: int) -> None:
    pass


@dataclass
class Prepared:
    """What every stage after clustering reads: the corpus, its features and its variant units."""

    corpus: AdCorpus
    features: np.ndarray
    axes_used: dict
    units: Units
    variant_links: dict


def prepare(library, axes: dict | None = None, seed: int = 0, progress: Progress = _noop, ad_ids=None,
            stage_s: dict | None = None, veto_phash: bool = True, line_space: bool = True,
            release_visual: bool = False) -> Prepared:
    """`line_space=False` for readers of the feature space alone (trends): the family line space
    (visual SVD, shared-words TF-IDF) is the costliest part of the features and they never read it.
    `release_visual=True` (the build) drops the corpus's visual rows once the line space has read them:
    no later stage reads them, and they are 1.46 GB at 100k ads, held through clustering and labels."""
    stage_s = stage_s if stage_s is not None else {}
    t = time.perf_counter()
    progress("loading", 0, 1)
    corpus = load_corpus(library)
    if ad_ids is not None:
        corpus = corpus.subset(ad_ids)
    t = _lap(stage_s, "load", t)
    progress("features", 0, 1)
    fb = FeatureBuilder(axes=axes, random_state=seed).fit(corpus)
    t = _lap(stage_s, "features", t)
    progress("variants", 0, 1)
    inputs = variant_inputs(corpus, library=library)
    drop_duckdb_cache(library)   # every row is in arrays now
    t = _lap(stage_s, "ocr_embed", t)
    # the line space reads the corpus only: up to LINE_SPACE_BESIDE_MAX ads it is assembled in a thread
    # while the variants are linked (FAISS, BLAS and the cosine gathers run outside the GIL beside its
    # n-gram analyser's Python); above, after them, with the visual rows freed first (memory over time)
    beside = line_space and corpus.n <= LINE_SPACE_BESIDE_MAX
    with ThreadPoolExecutor(1, thread_name_prefix="line-space") as pool:
        lining = pool.submit(_line_space, corpus, seed) if beside else None
        linker = VariantLinker(veto_phash=veto_phash, random_state=seed).fit(inputs)
        del inputs   # holds the visual rows too
        t = _lap(stage_s, "variants", t)
        lines = lining.result() if lining is not None else None
    links = linker.pairs_["reason"].value_counts().to_dict()
    if line_space and not beside:
        line_vis = line_visual(corpus, seed)
        if release_visual:   # before the rest of the line space is assembled
            corpus.visual = np.zeros((len(corpus.creative_ids), 0), np.float32)
        lines = line_features(corpus, seed=seed, visual=line_vis)
        del line_vis
    t = _lap(stage_s, "line_space", t)
    if release_visual:
        corpus.visual = np.zeros((len(corpus.creative_ids), 0), np.float32)
    units = Units.from_labels(linker.labels_[corpus.creative_of_ad], fb.features_, None, kind_gate(corpus))
    if lines is not None:   # the same means as from_labels gives, a block of columns at a time
        units.line_X = unit_means(units.of_ad, units.weight, lines)
        del lines
    _lap(stage_s, "units", t)
    return Prepared(corpus, fb.features_, fb.axes_used_, units, {str(k): int(v) for k, v in links.items() if k != "none"})


def _line_space(corpus: AdCorpus, seed: int) -> np.ndarray:
    return line_features(corpus, seed=seed, visual=line_visual(corpus, seed))


def finish(tree: ClusterTree, prep: Prepared, labeller: Labeller | None, rep_strategy: str, seed: int, min_spend: float,
           progress: Progress = _noop, coords: np.ndarray | None = None, names: dict | None = None,
           stage_s: dict | None = None) -> str:
    """Labels, rollups and map positions of a tree whose structure is final. Returns how coordinates were made."""
    corpus = prep.corpus
    stage_s = stage_s if stage_s is not None else {}
    # the 2-D map reads only the features: it is made in a thread while the nodes are labelled (its
    # FAISS searches run outside the GIL beside labelling's Python; same calls, same coordinates)
    with ThreadPoolExecutor(1, thread_name_prefix="projection") as pool:
        projecting = pool.submit(project_2d, prep.features, seed) if coords is None else None
        t = time.perf_counter()
        progress("labels", 0, len(tree.nodes))
        TreeLabeller(corpus, prep.features, labeller, rep_strategy, seed, progress=progress).run(tree, names or {})
        t = _lap(stage_s, "labels", t)
        progress("rollups", 0, 1)
        ids, M = membership(tree, corpus)
        for nid, perf in zip(ids, rollup(M, corpus.frame, min_spend)):
            tree.nodes[nid].perf = perf
        t = _lap(stage_s, "rollups", t)
        how = "stored"
        if projecting is not None:
            progress("projection", 0, 1)
            coords, how = projecting.result()
    tree.set_assignment("x", coords[:, 0])
    tree.set_assignment("y", coords[:, 1])
    sizes = np.asarray(M.sum(axis=1)).ravel()
    xy = (M @ coords) / np.maximum(sizes, 1)[:, None]
    for nid, (x, y) in zip(ids, xy):
        tree.nodes[nid].x, tree.nodes[nid].y = float(x), float(y)
    paths = {nid: tree.path(nid) for nid in ids}
    tree.set_assignment("node_path", tree.assignments()["leaf_id"].map(paths).to_numpy())
    _lap(stage_s, "projection", t)
    return how


def _lap(stage_s: dict, name: str, t: float) -> float:
    now = time.perf_counter()
    stage_s[name] = round(stage_s.get(name, 0.0) + now - t, 3)
    return now


@contextmanager
def capped_duckdb(library, limit: str = BUILD_DUCKDB_MEMORY):
    """DuckDB's memory limit lowered for the build, then back to its default (the library sets none)."""
    library.execute(f"SET memory_limit = '{limit}'")
    token = _CAP.set(limit)
    try:
        yield
    finally:
        _CAP.reset(token)
        library.execute("RESET memory_limit")


def drop_duckdb_cache(library) -> None:
    """Inside a capped build, give back the blocks DuckDB kept from the build's reads (0.44 GB at 100k
    ads, under the cap): a lower limit evicts them, then the cap is set again. Elsewhere a no-op."""
    limit = _CAP.get()
    if limit is not None:
        library.execute("SET memory_limit = '16MB'")
        library.execute(f"SET memory_limit = '{limit}'")


@contextmanager
def small_pages():
    """numpy's MADV_HUGEPAGE advice off for the build, then back as it was. Under Linux's default THP
    defrag mode ("madvise") every first touch of advised memory compacts RAM synchronously while the
    page cache fills it: measured here, filling a fresh 1.46 GB array (the 100k visual rows) took
    19.1 s advised and 1.3 s not; a build allocates many such arrays. Values are the same either way."""
    try:
        from numpy._core.multiarray import _get_madvise_hugepage, _set_madvise_hugepage
    except ImportError:   # another numpy layout: leave its default
        yield
        return
    before = _get_madvise_hugepage()
    _set_madvise_hugepage(False)
    try:
        yield
    finally:
        _set_madvise_hugepage(before)


def _capped(build):
    @functools.wraps(build)
    def run(library, *args, **kwargs):
        with capped_duckdb(library), small_pages():
            return build(library, *args, **kwargs)
    return run


def new_build_key() -> str:
    return "tx-" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")


@_capped
def build_taxonomy(library, method: str = "auto", axes: dict | None = None, seed: int = 0, progress: Progress | None = None,
                   outliers: str = "attach", rep_strategy: str = "convergent", min_spend: float = 100.0,
                   labeller: Labeller | None = None) -> ClusterTree:
    from .carry import carry_ids
    from .edits import apply_edits, load_edits, match_names
    from .persist import read_tree

    config = get_method(method)           # fail fast, before minutes of loading
    weights = resolve_axes(axes)
    check_strategy(rep_strategy)
    if outliers not in OUTLIER_MODES:
        raise ValueError(f"unknown outliers mode {outliers!r}; valid: {', '.join(OUTLIER_MODES)}")
    if not np.isfinite(min_spend) or min_spend < 0:
        raise ValueError("min_spend must be a number ≥ 0")
    progress = progress or _noop
    t0 = time.perf_counter()
    stage_s: dict[str, float] = {}

    if not library.scalar("SELECT count(*) FROM ads"):
        raise ValueError("the library has no ads yet: ingest a folder or zip first")
    warming = threading.Thread(target=warm_umap, name="warm-umap", daemon=True)
    warming.start()   # numba compiles UMAP on the other core while loading and linking run
    prep = prepare(library, weights, seed, progress, stage_s=stage_s, release_visual=True)
    t = time.perf_counter()
    progress("clustering", 0, 1)
    hier = build_hierarchy(prep.units, prep.corpus.ad_ids, config, seed, outliers)
    prep.units.line_X = None   # read by the family clustering only (1.75 GB at 1M ads); edits read of_ad and X
    t = _lap(stage_s, "clustering", t)
    edits = load_edits(library)
    tree, edit_report = apply_edits(hier.tree, edits, prep, seed)
    tree, edit_report["ids"] = carry_ids(tree, read_tree(library))   # groups that survive keep their ids
    names = match_names(tree, edits)
    edit_report["named"] = len(names)
    warming.join()
    t = _lap(stage_s, "edits", t)
    how = finish(tree, prep, labeller, rep_strategy, seed, min_spend, progress, names=names, stage_s=stage_s)
    t = time.perf_counter()

    key = new_build_key()
    counts = [len(tree.at_level(lv)) for lv in (1, 2, 3)]
    metrics = {
        "ads": int(prep.corpus.n), "micro_patterns_total": int(len(prep.units.weight)),
        "silhouette": None if not np.isfinite(hier.silhouette) else round(float(hier.silhouette), 4),
        "outlier_share": round(tree.outlier_share, 4), "levels": tree.levels, "clusters_by_level": counts,
        "family_sizes": [n.size for n in tree.at_level(1)], "method": method, "method_chosen": hier.method_chosen,
        "mixed_families": [n.id for n in tree.at_level(1) if n.mixed],
        "method_scores": {k: (None if not np.isfinite(v) else round(float(v), 4)) for k, v in hier.scores.items()},
        "variant_links": prep.variant_links, "axes_used": prep.axes_used, "projection": how, "edits": edit_report,
    }
    run_config = {"method": method, "axes": weights, "seed": seed, "outliers": outliers, "rep_strategy": rep_strategy,
                  "min_spend": min_spend, "labeller": type(labeller).__name__ if labeller else "RuleLabeller"}
    progress("saving", 0, 1)
    write_tree(library, tree, key)
    stage_s["save"] = round(time.perf_counter() - t, 3)
    metrics["seconds"] = round(time.perf_counter() - t0, 3)
    metrics["stage_seconds"] = stage_s
    library.record_run(key, RUN_KIND, TAXONOMY_VERSION, run_config, metrics)
    tree.build_key, tree.config, tree.metrics = key, run_config, metrics
    progress("done", 1, 1)
    return tree

