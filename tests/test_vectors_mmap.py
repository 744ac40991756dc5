"""Indexes are read memory-mapped (core.vectors._read): same hits as a copied read, and a loaded index
keeps answering while a rebuild replaces its file (files are only ever replaced whole)."""
from __future__ import annotations

import faiss
import numpy as np

from core.store import Library
from core.taxonomy.synthetic import SyntheticSpec, write_synthetic_library
from core.vectors import load_index, rebuild_indexes


def test_mapped_index_answers_as_a_copied_one_and_survives_a_rebuild(tmp_path):
    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=300, n_families=3, subs_per_family=2, visual_dim=64, seed=3))
    rebuild_indexes(lib)
    path = lib.path / "vectors" / "text.faiss"
    mapped = load_index(lib, "text")
    with open("/proc/self/maps", encoding="utf-8") as maps:
        assert str(path) in maps.read(), "the index file is mapped, not copied"
    copied = faiss.read_index(str(path))
    queries = np.random.default_rng(0).standard_normal((8, copied.d)).astype(np.float32)
    want_d, want_i = copied.search(queries, 10)
    got_i, got_d = mapped.search(queries, 10)
    assert (got_i == want_i).all() and np.allclose(got_d, want_d)
    before = path.stat().st_ino
    rebuild_indexes(lib)                       # temp + rename: a new file under the old name
    assert path.stat().st_ino != before
    again_i, again_d = mapped.search(queries, 10)
    assert (again_i == want_i).all() and np.allclose(again_d, want_d)
    lib.close()
