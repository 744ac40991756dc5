"""A build past MICRO_ENCODE_MAX micro-patterns labels them without the text model (what keeps 100k+
builds fast), on a real synthetic library and the real MiniLM for the clusters."""
from __future__ import annotations

import numpy as np

from core.store import Library
from core.taxonomy import build_taxonomy
from core.taxonomy import labelling
from core.taxonomy.synthetic import SyntheticSpec, write_synthetic_library


def test_micro_patterns_past_the_limit_take_their_ads_mean_vector(tmp_path, monkeypatch):
    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=400, n_families=8, seed=3))
    monkeypatch.setattr(labelling, "MICRO_ENCODE_MAX", 0)   # every micro-pattern past the limit
    tree = build_taxonomy(lib, seed=0)
    micro = tree.at_level(3)
    assert micro, "the synthetic library plants variant groups"
    ids, text = lib.ad_vectors("text_vec")
    row = {int(i): r for r, i in enumerate(ids)}
    for node in micro:
        mean = text[[row[int(a)] for a in tree.members(node.id)]].mean(axis=0)
        assert np.allclose(node.label_vec, mean / np.linalg.norm(mean), atol=1e-5)
        assert np.isnan(node.fidelity) and node.label      # still named, from its words
    clusters = tree.at_level(1) + tree.at_level(2)
    assert all(np.isfinite(n.fidelity) for n in clusters)  # families and sub-clusters still embed their texts
    assert not any(np.allclose(n.label_vec, n.text_centroid, atol=1e-5) for n in tree.at_level(1))
    lib.close()
