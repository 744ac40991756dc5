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


def _planted_near_duplicates(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n // 20, d)).astype(np.float32) / np.sqrt(d)
    X = centres[rng.integers(0, len(centres), n)] * 0.8 + rng.standard_normal((n, d)).astype(np.float32) / np.sqrt(d)
    m = n // 4   # a quarter are near-copies (cosine ≈ 0.9) of another row
    X[-m:] = X[:m] + 0.4 * rng.standard_normal((m, d)).astype(np.float32) / np.sqrt(d)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_inverted_file_candidates_keep_the_pairs_the_link_rules_accept(monkeypatch):
    from core.taxonomy import variants

    X = _planted_near_duplicates(6000, 64)
    rows = np.arange(len(X))
    exact = variants.knn_pairs(X, rows, 15)
    monkeypatch.setattr(variants, "KNN_EXACT_MAX", 1000)   # the large-library path on a small set
    approx = variants.knn_pairs(X, rows, 15)

    def close(pairs):
        cos = np.einsum("ij,ij->i", X[pairs[:, 0]], X[pairs[:, 1]])
        return {tuple(p) for p in pairs[cos >= 0.85]}

    want, got = close(exact), close(approx)
    assert len(want) >= 1400                      # the planted near-copies are there to be found
    assert len(want & got) / len(want) >= 0.99
    assert np.array_equal(approx, variants.knn_pairs(X, rows, 15))   # seeded: same candidates twice


def test_visual_rows_stream_into_the_same_matrix(tmp_path, monkeypatch):
    from core.taxonomy import corpus

    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=300, n_families=4, seed=1, visual_dim=96))
    lib.execute("UPDATE creatives SET visual = NULL WHERE id % 7 = 0")
    monkeypatch.setattr(corpus, "VISUAL_BATCH", 64)   # several batches
    ids, V = corpus.visual_matrix(lib)
    table = corpus.arrow_query(lib, "SELECT id, visual FROM creatives ORDER BY id")
    assert np.array_equal(ids, table.column("id").to_numpy())
    assert np.array_equal(V, corpus.vector_column(table, "visual", table.num_rows))
    assert not V[ids % 7 == 0].any() and V.shape == (len(ids), 96)
    lib.close()


def test_unit_rows_pca_is_sampled_pca_of_normalised_rows():
    from core.taxonomy.features import SampledPCA, UnitRowsPCA, l2_rows

    rng = np.random.default_rng(2)
    X = (rng.standard_normal((700, 48)) * rng.uniform(0.1, 5, (700, 1))).astype(np.float32)
    X[5] = 0
    a = UnitRowsPCA(8, fit_max=300, random_state=4).fit(X).transform(X)
    b = SampledPCA(8, fit_max=300, random_state=4).fit(l2_rows(X)).transform(l2_rows(X))
    assert np.array_equal(a, b)


def test_top_terms_of_all_rows_in_one_sort_equal_one_call_per_row():
    from scipy import sparse

    from core.taxonomy.keywords import top_terms
    from core.taxonomy.labelling import term_rank, top_terms_rows

    rng = np.random.default_rng(5)
    vocab = np.array(sorted({"".join(rng.choice(list("abcdé"), rng.integers(1, 5))) for _ in range(300)}), dtype=object)
    for trial in range(20):
        S = sparse.random(30, len(vocab), density=0.06, random_state=trial, format="csr")
        S.data = np.round(S.data * 3) / 3   # many ties: broken by term
        S.data[::7] = 0                     # stored zeros never become keywords
        keep = rng.random(len(vocab)) < 0.7 if trial % 2 else None
        k = int(rng.integers(1, 15))
        want = [top_terms(S[i], vocab, k, keep) for i in range(S.shape[0])]
        assert top_terms_rows(S, vocab, term_rank(vocab), k, keep) == want
    assert any(want)


def test_build_caps_duckdb_memory_and_gives_it_back(tmp_path):
    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=120, n_families=4, seed=2, visual_dim=64))
    def limit() -> str:
        return lib.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    default = limit()
    seen = []
    build_taxonomy(lib, seed=0, progress=lambda stage, *a: seen.append(limit()))
    assert set(seen) == {"488.2 MiB"} and default != "488.2 MiB"   # capped at 512MB at every stage
    assert limit() == default
    lib.close()
