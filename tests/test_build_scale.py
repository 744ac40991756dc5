"""A build past MICRO_ENCODE_MAX micro-patterns labels them without the text model (what keeps 100k+
builds fast), on a real synthetic library and the real MiniLM for the clusters."""
from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.parametrize("mixed", [False, True], ids=["fixed-size rows", "a second model's shorter rows"])
def test_visual_rows_stream_into_the_same_matrix(tmp_path, monkeypatch, mixed):
    from core.taxonomy import corpus

    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=300, n_families=4, seed=1, visual_dim=96))
    lib.execute("UPDATE creatives SET visual = NULL WHERE id % 7 = 0")
    if mixed:   # rows of another length are zeros, as in vector_column (the list path, not the FLOAT[d] one)
        lib.execute("UPDATE creatives SET visual = visual[1:48] WHERE id % 5 = 0")
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
    from core.taxonomy.build import drop_duckdb_cache

    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=120, n_families=4, seed=2, visual_dim=64))
    def limit() -> str:
        return lib.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    default = limit()
    seen = []
    build_taxonomy(lib, seed=0, progress=lambda stage, *a: seen.append(limit()))
    assert set(seen) == {"488.2 MiB"} and default != "488.2 MiB"   # capped at 512MB at every stage (its cache dropped once)
    assert limit() == default
    drop_duckdb_cache(lib)   # outside a capped build it leaves the setting alone
    assert limit() == default
    lib.close()


def test_enriched_for_all_siblings_at_once_equals_one_call_per_node():
    from core.taxonomy.evidence_batch import enriched_rows
    from core.taxonomy.facets import enriched

    rng = np.random.default_rng(7)
    names = np.array([f"facet{j}" for j in range(40)], dtype=object)
    kinds = np.array(["tag", "layout", "colour", "placement"] * 10, dtype=object)
    hits = 0
    for trial in range(30):
        parent_size = int(rng.integers(2, 400))
        sizes = rng.integers(1, parent_size + 1, int(rng.integers(1, 12)))
        sizes[0] = parent_size if trial % 5 == 0 else sizes[0]   # a child as big as its parent: nothing to test
        share = rng.beta(0.3, 2, (len(sizes), len(names)))
        in_nodes = np.minimum(rng.binomial(sizes[:, None], share), sizes[:, None])
        in_parent = np.maximum(in_nodes.max(axis=0), rng.integers(0, parent_size + 1, len(names)))
        in_parent[rng.random(len(names)) < 0.2] = 0
        in_nodes[:, in_parent == 0] = 0
        got = enriched_rows(in_nodes, sizes, in_parent, parent_size, names, kinds)
        want = [enriched(in_nodes[i], int(sizes[i]), in_parent, parent_size, names, kinds) for i in range(len(sizes))]
        assert got == want
        hits += sum(len(w) for w in want)
    assert hits > 20   # some facets were enriched


def test_facet_shares_of_all_nodes_equal_the_per_node_order():
    from core.taxonomy.evidence_batch import shares_rows

    rng = np.random.default_rng(8)
    names = np.array(["red", "blue", "green", "teal", "black", "white", "pink"], dtype=object)
    counts = rng.integers(0, 4, (50, len(names))).astype(float)
    sizes = counts.sum(axis=1).astype(int) + rng.integers(0, 3, 50)
    got = shares_rows(counts, sizes, names, 3)
    for row, size, out in zip(counts, sizes, got):   # the per-node rule: by count, ties by name, at most 3
        cols = np.flatnonzero(row > 0)
        order = np.lexsort((names[cols].astype(str), -row[cols]))[:3]
        assert out == [(str(names[cols[o]]), round(float(row[cols[o]] / max(size, 1)), 4)) for o in order]
    assert any(len(o) == 3 for o in got) and any(len(o) < 3 for o in got)


def test_micro_patterns_past_the_limit_keep_the_names_and_evidence_of_small_libraries(tmp_path, monkeypatch):
    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=300, n_families=6, seed=4, visual_dim=128))

    def fields(tree):
        return {n.id: (n.label, n.description, n.keywords, n.tags, n.representatives, n.size) for n in tree.nodes.values()}

    small = fields(build_taxonomy(lib, seed=0))
    monkeypatch.setattr(labelling, "MICRO_ENCODE_MAX", 0)   # the path of libraries with > 2,000 micro-patterns
    big = fields(build_taxonomy(lib, seed=0))
    assert sum(1 for v in small.values() if "variants" in v[0]) >= 5   # named micro-patterns are compared
    assert big == small
    lib.close()


def test_line_space_assembled_in_row_chunks_is_the_same_matrix(tmp_path, monkeypatch):
    from core.taxonomy import features
    from core.taxonomy.corpus import load_corpus

    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=500, n_families=5, seed=6, visual_dim=96))
    lib.execute("UPDATE ads SET text_vec = NULL WHERE id % 9 = 0")   # ads without a document vector: visual alone
    corpus = load_corpus(lib)
    whole = features.line_features(corpus)
    monkeypatch.setattr(features, "LINE_CHUNK", 37)
    chunked = features.line_features(corpus)
    assert chunked.dtype == np.float32 and chunked.shape == whole.shape and whole.shape[1] > 96
    assert np.array_equal(chunked, whole)
    lib.close()


def test_nonzero_rows_in_chunks():
    from core.taxonomy.variants import _nonzero_rows

    X = np.random.default_rng(0).standard_normal((1000, 16)).astype(np.float32)
    X[::7] = 0
    assert np.array_equal(_nonzero_rows(X, chunk=64), np.linalg.norm(X, axis=1) > 0)
    assert _nonzero_rows(X[:0]).shape == (0,)


def test_candidate_pairs_deduplicated_by_key_equal_the_row_unique():
    from core.taxonomy.variants import _unique_pairs

    rng = np.random.default_rng(3)
    for n in (2, 9, 5000):
        pairs = rng.integers(0, n, size=(4000, 2))
        lo, hi = pairs.min(axis=1), pairs.max(axis=1)
        want = np.unique(np.column_stack([lo, hi])[lo != hi], axis=0)
        got = _unique_pairs(pairs)
        assert got.dtype == np.int64 and np.array_equal(got, want)
    assert _unique_pairs(np.array([[4, 4]])).shape == (0, 2)


def test_build_turns_numpy_hugepage_advice_off_and_back(tmp_path):
    from numpy._core.multiarray import _get_madvise_hugepage, _set_madvise_hugepage

    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=120, n_families=4, seed=2, visual_dim=64))
    before = _set_madvise_hugepage(True)
    try:
        seen = []
        build_taxonomy(lib, seed=0, progress=lambda stage, *a: seen.append(_get_madvise_hugepage()))
        assert seen and not any(seen) and _get_madvise_hugepage()
    finally:
        _set_madvise_hugepage(before)
    lib.close()


def test_build_drops_visual_rows_after_the_line_space_with_the_same_units(tmp_path, monkeypatch):
    """Also: the line space assembled beside the variant linking (a thread) or after it, the same units."""
    from core.taxonomy import build
    from core.taxonomy.build import prepare

    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=300, n_families=4, seed=1, visual_dim=64))
    kept, dropped = prepare(lib), prepare(lib, release_visual=True)
    monkeypatch.setattr(build, "LINE_SPACE_BESIDE_MAX", 0)   # the large-library order: variants, then the line space
    after = prepare(lib, release_visual=True)
    assert kept.corpus.visual.shape[1] == 64 and dropped.corpus.visual.shape == (len(kept.corpus.creative_ids), 0)
    for field in ("of_ad", "X", "weight", "line_X", "kind"):
        assert np.array_equal(getattr(kept.units, field), getattr(dropped.units, field)), field
        assert np.array_equal(getattr(kept.units, field), getattr(after.units, field)), field
    assert np.array_equal(kept.features, dropped.features)
    assert after.corpus.visual.shape[1] == 0 and kept.variant_links == after.variant_links
    lib.close()


def test_unit_means_a_block_of_columns_at_a_time_equal_units_from_labels():
    from core.taxonomy.features import unit_means
    from core.taxonomy.hierarchy import Units

    rng = np.random.default_rng(4)
    of_ad = np.concatenate([np.arange(40), rng.integers(0, 40, 260)])   # units of 1 to many ads
    rows = (rng.standard_normal((300, 150)) * rng.uniform(0.01, 100, 150)).astype(np.float32)
    want = Units.from_labels(of_ad, rows[:, :3], rows)
    for block in (64, 7, 150, 1000):
        got = unit_means(want.of_ad, want.weight, rows, block=block)
        assert got.dtype == np.float32 and np.array_equal(got, want.line_X)


@pytest.mark.parametrize("mixed", [False, True], ids=["fixed-size rows", "a second model's shorter rows"])
def test_text_rows_read_as_fixed_size_arrays_equal_the_list_read(tmp_path, mixed):
    from core.taxonomy import corpus

    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=120, n_families=4, seed=2, visual_dim=32))
    lib.execute("UPDATE ads SET text_vec = NULL WHERE id % 7 = 0")
    if mixed:   # rows of another length: the list path, zeros for them as in vector_column
        lib.execute("UPDATE ads SET text_vec = text_vec[1:100] WHERE id % 5 = 0")
    table = corpus.arrow_query(lib, "SELECT id, text_vec FROM ads ORDER BY id")
    ids, n = table.column("id").to_numpy(), table.num_rows
    got = corpus.text_matrix(lib, n)
    assert got.dtype == np.float32 and got.shape == (n, 384)
    assert np.array_equal(got, corpus.vector_column(table, "text_vec", n, 384))
    assert not got[ids % 7 == 0].any() and got[ids % 7 != 0].any(axis=1).any()
    lib.close()


def test_sub_clusters_past_the_cluster_limit_take_their_ads_mean_vector_and_naive_representatives(tmp_path, monkeypatch):
    from core.taxonomy import representatives as reps
    from core.taxonomy.corpus import load_corpus
    from core.taxonomy.features import FeatureBuilder

    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=400, n_families=6, seed=5, visual_dim=128))

    def names(tree):
        return {n.id: (n.label, n.description, n.keywords, n.tags, n.size) for n in tree.nodes.values()}

    small = build_taxonomy(lib, seed=0)
    monkeypatch.setattr(labelling, "CLUSTER_ENCODE_MAX", 0)   # the path of trees with > 500 clusters
    big = build_taxonomy(lib, seed=0)
    assert names(big) == names(small)                         # names and evidence do not read the vectors
    subs = big.at_level(2)
    assert subs and any(n.size > reps.N_REPRESENTATIVES for n in subs)
    ids, text = lib.ad_vectors("text_vec")
    row = {int(i): r for r, i in enumerate(ids)}
    corpus = load_corpus(lib)
    X = FeatureBuilder(random_state=0).fit(corpus).features_
    for node in subs:
        rows = np.searchsorted(corpus.ad_ids, big.members(node.id))
        mean = text[[row[int(a)] for a in big.members(node.id)]].mean(axis=0)
        assert np.allclose(node.label_vec, mean / np.linalg.norm(mean), atol=1e-5)
        assert np.isnan(node.fidelity) and node.rep_trace == []
        assert node.representatives == [int(a) for a in corpus.ad_ids[rows[reps.naive(X[rows])]]]
    for node in big.at_level(1):   # families still run the sampler and embed their texts
        assert node.rep_trace and np.isfinite(node.fidelity)
        assert node.representatives == small.nodes[node.id].representatives
    assert all(small.nodes[n.id].rep_trace for n in subs if n.size > 1)   # below the limit they sampled
    lib.close()


def test_ocr_cosines_only_where_both_have_a_vector_equal_all_pairs_dots():
    from core.taxonomy.variants import VariantInputs, VariantLinker, _rowwise_dot

    rng = np.random.default_rng(7)
    n = 300
    visual = rng.standard_normal((n, 32)).astype(np.float32)
    visual /= np.linalg.norm(visual, axis=1, keepdims=True)
    ocr = rng.standard_normal((n, 16)).astype(np.float32)
    ocr /= np.linalg.norm(ocr, axis=1, keepdims=True)
    texts = [f"offer number {i} today only" for i in range(n)]
    for r in range(0, n, 3):   # a third without OCR text: zero vectors
        ocr[r], texts[r] = 0, ""
    data = VariantInputs(rng.integers(0, 2 ** 62, n), np.ones(n, bool), visual, texts, ocr)
    pairs = VariantLinker().fit(data).pairs_
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    assert (ocr[i] == 0).all(axis=1).any() and not (ocr[i] == 0).all(axis=1).all()
    assert np.array_equal(pairs["ocr_cos"].to_numpy(), _rowwise_dot(ocr, i, j))


def test_rowwise_dots_in_cache_sized_blocks_equal_one_whole_gather():
    from core.taxonomy.variants import _rowwise_dot

    rng = np.random.default_rng(3)
    A = rng.standard_normal((500, 3840), dtype=np.float32)
    i, j = rng.integers(0, 500, 3000), rng.integers(0, 500, 3000)
    whole = np.einsum("ij,ij->i", A[i], A[j])
    assert np.array_equal(_rowwise_dot(A, i, j), whole)                 # default: ~1 MB blocks (68 rows)
    assert np.array_equal(_rowwise_dot(A, i, j, chunk=7), whole)
    assert np.array_equal(_rowwise_dot(A, i, j, threads=2), whole)            # halves in two threads
    assert np.array_equal(_rowwise_dot(A, i, j, chunk=7, threads=3), whole)
    assert np.array_equal(_rowwise_dot(A, i[:5], j[:5], threads=2), whole[:5])   # fewer pairs than a block
    assert np.array_equal(_rowwise_dot(A[:, :64].copy(), i, j), np.einsum("ij,ij->i", A[i, :64], A[j, :64]))


def test_labelling_with_its_model_rounds_in_threads_equals_one_call_at_a_time(tmp_path):
    """The rule labeller's names are composed while MiniLM runs the convergent rounds and the clusters'
    vectors in other threads; a labeller of another type is called one call at a time. Same tree."""
    from core.taxonomy.labels import RuleLabeller

    class OneAtATime(RuleLabeller):   # not the RuleLabeller type itself: the sequential path
        pass

    trees = []
    for name, labeller in (("threads", None), ("sequential", OneAtATime())):
        lib = Library(tmp_path / name)
        write_synthetic_library(lib, SyntheticSpec(n_ads=150, n_families=4, seed=2, visual_dim=96))
        trees.append(build_taxonomy(lib, labeller=labeller))
        lib.close()
    a, b = trees
    assert sorted(a.nodes) == sorted(b.nodes) and len(a.nodes) > 20
    assert any(n.rep_trace for n in a.nodes.values())   # the convergent rounds ran
    for nid, n in a.nodes.items():
        m = b.nodes[nid]
        assert (n.label, n.description, n.keywords, n.tags, n.representatives, n.rep_trace) == \
               (m.label, m.description, m.keywords, m.tags, m.representatives, m.rep_trace), nid
        assert np.array_equal(n.label_vec, m.label_vec) and np.array_equal(n.text_centroid, m.text_centroid)
        assert n.fidelity == m.fidelity or (np.isnan(n.fidelity) and np.isnan(m.fidelity))


def test_rule_names_read_through_the_taken_view_equal_the_sorted_tuple():
    """The rule labeller gets the live set of taken names as a view (no copy per micro-pattern); names
    that collide with taken ones must come out as they did from the sorted tuple of those names."""
    from core.taxonomy.labels import NodeEvidence, RuleLabeller, TakenNames

    lab = RuleLabeller()
    terms = [("veterans", 1.0, 0.9), ("police", 0.8, 0.7), ("truck", 0.5, 0.6), ("summer sale", 0.4, 0.5)]
    taken = {"veterans police variants", "police truck photos", "veterans variants", "mixed photos: veterans, police"}
    cases = []
    for level, size, mixed in ((3, 4, False), (3, 1, False), (2, 30, False), (2, 30, True), (1, 90, True)):
        for k in range(len(terms)):
            ev = NodeEvidence(f"n{level}{k}", level, size, layout=[("photo", 0.9)], name_terms=terms[k:] + terms[:k], mixed=mixed)
            cases.append(ev)
    changed = 0
    for ev in cases:
        ev.avoid_names = tuple(sorted(taken))
        old = lab.name(ev)
        ev.avoid_names = TakenNames(taken)
        assert lab.name(ev) == old, ev.node_id
        changed += old.lower() != lab.name(NodeEvidence(ev.node_id, ev.level, ev.size, layout=ev.layout,
                                                         name_terms=ev.name_terms, mixed=ev.mixed)).lower()
    assert changed >= 2   # some names really were steered off a taken one
    view = TakenNames(taken)
    assert tuple(view) == tuple(sorted(taken)) and len(view) == len(taken) and "veterans variants" in view


def test_language_guess_from_cached_word_masks_equals_counting_each_list():
    from core.taxonomy import words

    def counted(ws):   # the plain rule: how many of the words each short list knows, English on ties
        latin = [w for w in ws if w.isascii() or w.isalpha()]
        if not latin:
            return "en"
        scores = {lang: sum(w in words.frequencies(lang, "small") for w in latin) for lang in words.LATIN_LANGS}
        best = max(scores.values())
        return "en" if scores["en"] == best else max(words.LATIN_LANGS, key=lambda lang: (scores[lang], lang == "en"))

    texts = ["the summer sale is here", "para tu casa con amor", "le chat est sur la table", "der hund und die katze",
             "o gato e a casa", "il gatto e la casa", "de kat en het huis", "para para the the", "zzqx wfvb", "",
             "en de la", "sale sale sale venta venta", "Ésta es una prueba para todos", "100% día"]
    for t in texts:
        ws = words.tokens(t)
        assert words.guess_language(ws) == counted(ws), t
    assert len({words.guess_language(words.tokens(t)) for t in texts}) >= 5   # not English everywhere


def test_lexicon_reading_each_distinct_text_once_counts_every_ad():
    from collections import Counter

    from core.taxonomy.words import Lexicon, guess_language, tokens

    texts = ["Facemusic free music", "facemusic free music", "Facemusic free music", "", "para tu casa", "Facemusic free music"]
    lex = Lexicon(texts)
    assert lex.ad_words == [tokens(t) for t in texts]
    assert lex.language == [guess_language(tokens(t)) for t in texts]
    expect = Counter(w for t in texts for w in set(tokens(t)))
    assert lex.ads_with == expect and list(lex.ads_with) == list(expect)   # counts and first-seen order
    assert lex.ads_with["facemusic"] == 4 and lex.is_real_word("facemusic")
    assert lex.langs_of["casa"] == {"en", guess_language(tokens("para tu casa"))}


def test_nodes_written_from_arrow_columns_equal_the_pandas_rows(tmp_path):
    """write_tree inserts an Arrow table (vectors as list<float>); the rows must be what inserting
    node_frame's pandas rows gives, cell for cell (NULL where a vector or number is missing)."""
    from core.taxonomy.persist import NODE_COLUMNS, node_frame, read_tree, write_tree

    lib = Library(tmp_path / "lib")
    write_synthetic_library(lib, SyntheticSpec(n_ads=120, n_families=3, seed=5, visual_dim=64))
    tree = build_taxonomy(lib)
    some = sorted(tree.nodes)[1]
    tree.nodes[some].label_vec = None            # a node without a vector and without numbers
    tree.nodes[some].fidelity = float("nan")
    tree.nodes[some].x = None
    write_tree(lib, tree, "arrow")
    frame = node_frame(tree, "pandas")
    with lib.transaction() as cur:
        cur.register("_f", frame)
        cur.execute(f"""INSERT INTO nodes ({', '.join(NODE_COLUMNS)})
            SELECT build_key, id, parent_id, level, label, keywords::JSON, description, tags::JSON, representatives::JSON,
                   rep_strategy, rep_trace::JSON, fidelity, size, x, y, perf::JSON,
                   text_centroid::FLOAT[], label_vec::FLOAT[] FROM _f""")
        cur.unregister("_f")
    cols = ", ".join(NODE_COLUMNS[1:])
    a = lib.execute(f"SELECT {cols} FROM nodes WHERE build_key = 'arrow' ORDER BY id").fetchall()
    b = lib.execute(f"SELECT {cols} FROM nodes WHERE build_key = 'pandas' ORDER BY id").fetchall()
    assert len(a) == len(tree.nodes) > 10 and a == b
    row = dict(zip(NODE_COLUMNS[1:], next(r for r in a if r[0] == some)))
    assert row["label_vec"] is None and row["fidelity"] is None and row["x"] is None and row["text_centroid"] is not None
    back = read_tree(lib, "arrow")
    assert np.array_equal(back.nodes[sorted(tree.nodes)[2]].label_vec, tree.nodes[sorted(tree.nodes)[2]].label_vec)
    lib.close()
