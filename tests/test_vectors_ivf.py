"""FAISS index choice by size: IVF-PQ when the raw vectors outgrow memory, filled from DuckDB in chunks.

The size thresholds are lowered so that a small real library (synthetic vectors, real DuckDB, real
FAISS) takes the path a 1M-ad library takes.
"""
from __future__ import annotations

import numpy as np
import pytest

from core import vectors
from core.store import Library
from core.taxonomy.synthetic import SyntheticSpec, write_synthetic_library


def test_index_kind_by_size():
    assert vectors.index_kind(10_000, 3840) == "flat"
    assert vectors.index_kind(100_000, 3840) == "hnsw"        # 1.5 GB of floats: a graph still fits
    assert vectors.index_kind(1_000_000, 3840) == "ivfpq"     # 15 GB: compressed
    assert vectors.index_kind(1_000_000, 384) == "hnsw"
    nlist, m = vectors.ivfpq_shape(1_000_000, 3840)
    assert (nlist, m) == (1024, 96) and 3840 % m == 0


@pytest.fixture()
def small_limits(monkeypatch):
    monkeypatch.setattr(vectors, "FLAT_MAX", 100)
    monkeypatch.setattr(vectors, "HNSW_MAX_BYTES", 10_000)
    monkeypatch.setattr(vectors, "CHUNK_ROWS", 500)   # several chunks


def test_rebuild_streams_an_ivfpq_index_that_finds_the_exact_neighbours(tmp_path, small_limits):
    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=2000, n_families=10, visual_dim=64, text_dim=32, seed=1))
    manifest = vectors.rebuild_indexes(lib)
    assert manifest["visual"]["kind"] == manifest["text"]["kind"] == "ivfpq"
    assert manifest["visual"]["count"] == lib.scalar("SELECT count(*) FROM creatives")
    index = vectors.load_index(lib, "visual")
    assert index.size == manifest["visual"]["count"]         # every chunk went in, no rebuild on load
    ids, X = lib.creative_vectors("visual")
    queries = np.random.default_rng(0).choice(len(ids), 60, replace=False)
    exact = vectors.make_index(X, ids, kind="flat")
    _, truth = exact.search(X[queries], 10)
    got, _ = index.search(X[queries], 10)
    recall = np.mean([len(set(t) & set(g)) / 10 for t, g in zip(truth, got)])
    assert recall >= 0.9, recall   # PQ candidates re-ranked with the exact vectors from DuckDB
    assert np.mean(got[:, 0] == ids[queries]) >= 0.9         # a vector finds itself first (or its variant twin)
    lib.close()


def test_make_index_ivfpq_in_memory():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 32)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    index = vectors.VectorIndex(vectors.make_index(X, np.arange(4000) + 10, kind="ivfpq"), 32)
    ids, scores = index.search(X[:20], 1)
    assert np.mean(ids[:, 0] == np.arange(20) + 10) >= 0.9
    with pytest.raises(ValueError, match="ivfpq"):
        vectors.make_index(X, np.arange(4000), kind="lsh")
