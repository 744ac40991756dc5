"""Taxonomy-aware hybrid search over a library, and its benchmark.

    from core.search import search, parse_filters, SearchConfig
    search(library, "fast UGC hook with product close-up", top_k=10, filters=parse_filters(["tag=ugc"]))

Heavy pieces (bm25s, faiss, the text model) load on first use and stay cached per process.
"""
from __future__ import annotations

from .config import DEFAULT_REUSE_THRESHOLD, REUSE_META_KEY, SearchConfig
from .filters import parse_filters

__all__ = ["search", "parse_filters", "SearchConfig", "run_benchmark", "DEFAULT_REUSE_THRESHOLD", "REUSE_META_KEY",
           "clear_cache"]


def search(library, query: str, top_k: int = 10, filters: dict | None = None, **kw) -> dict:
    """Ranked ads and taxonomy nodes for a free-text query; see engine.search for the options."""
    from .engine import search as _search

    return _search(library, query, top_k=top_k, filters=filters, **kw)


def run_benchmark(library, queries=None, root=None, k: int = 5, **kw) -> dict:
    from .bench import run_benchmark as _bench

    return _bench(library, queries=queries, root=root, k=k, **kw)


def clear_cache() -> None:
    from .corpus import clear_cache as _clear

    _clear()
