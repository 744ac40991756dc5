"""Fast unit tests of the taxonomy engine's parts on synthetic vectors (no models, no media)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.stats import fisher_exact

from core.taxonomy.facets import enriched, fisher_greater
from core.taxonomy.keywords import c_tf_idf, doc_term_matrix, top_terms
from core.taxonomy.labels import NodeEvidence, RuleLabeller, unique_name
from core.taxonomy.methods import METHODS, AutoClustering, GraphClustering, HDBSCANClustering, WardClustering, get_method
from core.taxonomy.methods.graph import mean_pairwise_cosine
from core.taxonomy.representatives import check_strategy, convergent, naive, weighted
from core.taxonomy.rollups import rollup
from core.taxonomy.tree import ClusterTree, Node
from core.taxonomy.variants import VariantInputs, VariantLinker, decide_links, hamming64


def _unit(X):
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def _blobs(n_per=20, k=4, dim=32, spread=0.15, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    X = np.vstack([c + spread * rng.normal(size=(n_per, dim)) for c in centres])
    return X.astype(np.float32), np.repeat(np.arange(k), n_per)


# -- variants ------------------------------------------------------------------------------------
def _inputs(visual, phash=None, texts=None, ocr_vec=None):
    n = len(visual)
    phash = np.zeros(n, dtype=np.int64) if phash is None else np.asarray(phash, dtype=np.int64)
    has = np.array([p is not None for p in phash]) if phash is not None else np.zeros(n, bool)
    texts = texts or [""] * n
    ocr_vec = np.zeros((n, 8), np.float32) if ocr_vec is None else ocr_vec
    return VariantInputs(phash, has, _unit(visual), texts, ocr_vec)


def test_phash_link_within_10_bits():
    rng = np.random.default_rng(1)
    visual = rng.normal(size=(3, 16))            # unrelated visuals: only the hash can link
    base = 0x1234_5678_9ABC_DEF
    near = base ^ 0b1111111111                   # 10 bits flipped
    far = base ^ (0b11111111111 << 20)           # 11 other bits flipped: 21 from `near`
    lk = VariantLinker(n_neighbors=2).fit(_inputs(visual, [base, near, far]))
    assert lk.labels_[0] == lk.labels_[1]
    assert lk.labels_[2] != lk.labels_[0]
    assert set(lk.pairs_.loc[lk.pairs_.reason == "phash", ["i", "j"]].itertuples(index=False, name=None)) == {(0, 1)}
    assert hamming64(np.array([base]), np.array([far]))[0] == 11


def test_ocr_text_vetoes_a_visual_link_and_links_on_its_own():
    rng = np.random.default_rng(2)
    v = rng.normal(size=16)
    visual = np.vstack([v, v + 0.01 * rng.normal(size=16), v + 0.01 * rng.normal(size=16), rng.normal(size=16), rng.normal(size=16)])
    t = rng.normal(size=8)
    other = rng.normal(size=8)
    ocr = _unit(np.vstack([t, other, t + 0.01, t + 0.02, t + 0.03]))
    texts = ["SUMMER SALE 50% OFF everything", "Fresh coffee beans delivered", "SUMMER SALE 50% OFF everything",
             "SUMMER SALE 50% OFF everything!", "SUMMER SALE 50% OFF everything."]
    far_hashes = np.random.default_rng(7).integers(0, 2**62, 5)
    assert min(hamming64(far_hashes[[i]], far_hashes[[j]])[0] for i in range(5) for j in range(i)) > 10
    lk = VariantLinker(n_neighbors=4).fit(_inputs(visual, far_hashes, texts, ocr))
    lab = lk.labels_
    assert lab[0] != lab[1], "same picture, different words: two messages, not variants"
    assert lab[0] == lab[2], "same picture, same words: variants"
    assert lab[3] == lab[4] == lab[0], "same words on a new picture: linked by OCR text"


def test_decide_links_is_pure_and_ordered():
    reason = decide_links(hamming=np.array([3, 20, 20, 20, -1]), visual_cos=np.array([0.1, 0.9, 0.9, 0.2, 0.99]),
                          ocr_cos=np.array([0, 0.95, 0.3, 0.95, 0.0]), jaccard=np.array([np.nan, 0.8, np.nan, 0.9, np.nan]),
                          both_text=np.array([False, True, True, True, False]))
    assert reason.tolist() == [1, 2, 0, 3, 2]


# -- methods ---------------------------------------------------------------------------------------
def test_registry_rejects_unknown_method_listing_valid_ones():
    with pytest.raises(ValueError) as err:
        get_method("kmeans")
    for name in METHODS:
        assert name in str(err.value)


def test_graph_method_recovers_planted_clusters():
    from sklearn.metrics import adjusted_rand_score

    X, y = _blobs(k=4, spread=0.1)
    g = GraphClustering().fit(X - X.mean(axis=0))
    assert adjusted_rand_score(y, g.labels_) == 1.0
    assert g.tree_.children, "the root split into clusters"
    assert mean_pairwise_cosine(_unit(np.ones((3, 4)))) == pytest.approx(1.0)


def test_graph_min_size_makes_singletons_noise():
    X, _ = _blobs(k=3, n_per=10, spread=0.1)
    rng = np.random.default_rng(5)
    X = np.vstack([X, rng.normal(size=(1, X.shape[1])) * 5])
    g = GraphClustering(min_size=2).fit(X - X.mean(axis=0))
    assert g.labels_[-1] == -1


def test_ward_sweep_picks_planted_count_and_respects_weights():
    from sklearn.metrics import adjusted_rand_score

    X, y = _blobs(k=5, spread=0.2)
    w = WardClustering().fit(X)
    assert w.n_clusters_ == 5 and adjusted_rand_score(y, w.labels_) == 1.0
    assert max(w.sweep_, key=w.sweep_.get) == 5
    assert np.bincount(w.labels_).tolist() == sorted(np.bincount(w.labels_).tolist(), reverse=True)


@pytest.mark.parametrize("n_units", [40, 95])
def test_ward_shows_a_crowded_structureless_set_in_browsable_parts(n_units):
    """Sub-clusters of a family of 95 unrelated banners: no split is 'separated' (silhouette under the
    floor), yet a node of 95 children cannot be browsed, so the set is cut into parts of ≤ max_units."""
    X = np.random.default_rng(n_units).normal(size=(n_units, 16))
    plain = WardClustering(k_max=8, min_silhouette=0.5).fit(X)
    assert plain.n_clusters_ == 1
    crowded = WardClustering(k_max=8, min_silhouette=0.5, max_units=15).fit(X)
    assert 2 <= crowded.n_clusters_ <= 15
    assert np.bincount(crowded.labels_).max() <= 15


def test_ward_max_units_leaves_a_set_too_big_for_two_levels_to_the_sweep():
    """300 units cannot be shown 15 at a time in two levels: only the silhouette sweep decides."""
    X = np.random.default_rng(1).normal(size=(300, 8))
    assert np.array_equal(WardClustering(k_max=8).fit(X).labels_, WardClustering(k_max=8, max_units=15).fit(X).labels_)


def test_ward_max_units_leaves_a_set_that_fits_alone():
    X, _ = _blobs(k=3, n_per=4, spread=0.2)
    assert np.array_equal(WardClustering(k_max=8).fit(X).labels_, WardClustering(k_max=8, max_units=15).fit(X).labels_)


def test_auto_uses_ward_under_50_ads_and_hdbscan_only_when_clearly_better():
    X, _ = _blobs(k=3, n_per=10, spread=0.2)
    small = AutoClustering().fit(X)
    assert small.chosen_ == "ward" and "hdbscan" not in small.scores_
    big = AutoClustering().fit(X, sample_weight=np.full(len(X), 3.0))   # 90 ads: both are tried
    assert set(big.scores_) == {"ward", "hdbscan"}
    s_w, s_h = big.scores_["ward"], big.scores_["hdbscan"]
    assert big.chosen_ == ("hdbscan" if s_h > s_w + 0.05 else "ward")


def test_hdbscan_marks_noise():
    X, _ = _blobs(k=3, n_per=30, spread=0.1)
    rng = np.random.default_rng(3)
    X = np.vstack([X, rng.uniform(-20, 20, size=(3, X.shape[1]))])
    h = HDBSCANClustering(min_cluster_size=5).fit(X)
    assert h.n_clusters_ == 3 and (h.labels_[-3:] == -1).all()


# -- keywords, facets, labels -----------------------------------------------------------------------
def test_c_tf_idf_prefers_terms_distinctive_of_a_class():
    docs = ["discount badge coffee sale", "discount badge coffee offer", "testimonial quote coffee review",
            "testimonial quote coffee stars"]
    X, vocab = doc_term_matrix(docs)
    classes = sparse.csr_matrix(np.vstack([X[:2].sum(axis=0), X[2:].sum(axis=0)]))
    scores, idf = c_tf_idf(classes)
    first = [t for t, _ in top_terms(scores[0], vocab, 3)]
    second = [t for t, _ in top_terms(scores[1], vocab, 3)]
    assert "discount" in first and "badge" in first and "coffee" not in first[:2]
    assert "testimonial" in second and "quote" in second
    assert idf[list(vocab).index("coffee")] < idf[list(vocab).index("discount")]


def test_fisher_exact_with_bh_finds_the_planted_tag():
    # node: 20 of 40 ads of its parent; "ugc" is on 18 of the node's ads and 2 of the rest
    in_node = np.array([18, 10, 5])
    in_parent = np.array([20, 20, 10])
    p = fisher_greater(in_node, 20, in_parent, 40)
    ref = fisher_exact([[18, 2], [2, 18]], alternative="greater")[1]
    assert p[0] == pytest.approx(ref, rel=1e-9)
    tags = enriched(in_node, 20, in_parent, 40, np.array(["ugc", "square", "red"]), np.array(["tag", "layout", "colour"]))
    assert [t["tag"] for t in tags] == ["ugc"]
    assert tags[0]["q"] < 0.05 and tags[0]["share_in"] == 0.9 and tags[0]["share_rest"] == 0.1


def test_rule_labeller_names_from_distinctive_words_and_siblings_differ():
    lab = RuleLabeller()
    ev = NodeEvidence("f1", 1, 30, keywords=[("shop", 2.0), ("discount", 1.5), ("badge", 1.2), ("red", 1.0)],
                      layout=[("photo", 0.8), ("square", 0.9)], colours=[("red", 0.7)], ctas=[("shop now", 0.6)])
    label = lab.label(ev)
    assert label.name == "Discount badge photos"
    assert 2 <= len(label.name.split()) <= 5
    assert "shop" not in label.name.lower()
    assert label.description.endswith(".") and "30 ads" in label.description
    ev.avoid_names = ("discount badge photos",)
    assert lab.label(ev).name != "Discount badge photos"
    assert unique_name("Sale photos", ev, {"sale photos"}) != "Sale photos"


# -- representatives -----------------------------------------------------------------------------------
def test_representative_strategies():
    X, _ = _blobs(k=1, n_per=30, spread=0.3)
    assert len(naive(X, 5)) == 5
    w = weighted(X, 5, np.random.default_rng(0))
    assert len(set(w.tolist())) == 5
    with pytest.raises(ValueError, match="naive, weighted, convergent"):
        check_strategy("random")
    text = _unit(X[:, :8])
    calls = []

    def encode(texts):
        calls.append(len(texts))
        return np.tile(text.mean(axis=0) / np.linalg.norm(text.mean(axis=0)), (len(texts), 1))

    out = convergent({"a": np.arange(30)}, text, lambda nid, rows: f"{len(rows)} ads", encode, seed=0)
    reps, trace = out["a"]
    assert len(reps) == 6 and trace and trace[-1]["round"] == len(trace) - 1
    assert len(trace) >= 2, "the similarity of fresh members must be seen to settle"


# -- rollups -----------------------------------------------------------------------------------------------
def test_rollups_weight_by_spend_and_gate_small_spend():
    frame = pd.DataFrame({"spend": [100.0, 300.0, 10.0], "impressions": [1000.0, 3000.0, 100.0], "clicks": [10.0, 60.0, 5.0],
                          "conversions": [1.0, 3.0, 0.0], "ctr": [np.nan] * 3})
    M = sparse.csr_matrix(np.array([[1, 1, 0], [0, 0, 1]], dtype=float))
    big, small = rollup(M, frame, min_spend=100.0)
    assert big["spend"] == 400.0 and big["clicks"] == 70.0 and big["ads"] == 2
    assert big["ctr"] == pytest.approx((100 * 0.01 + 300 * 0.02) / 400)
    assert big["ctr_low"] < big["ctr"] < big["ctr_high"]
    assert big["cvr"] == pytest.approx((100 * 0.1 + 300 * 0.05) / 400)
    assert small["status"] == "insufficient data" and small["ctr"] is None and small["spend"] == 10.0


# -- tree --------------------------------------------------------------------------------------------------
def _toy_tree() -> ClusterTree:
    nodes = {
        "root": Node("root", None, 0, size=5, label="All ads"),
        "f1": Node("f1", "root", 1, size=3, label="Sale photos", keywords=[["sale", 1.0]]),
        "f1.s1": Node("f1.s1", "f1", 2, size=2, label="Red sale photos"),
        "f1.s1.m1": Node("f1.s1.m1", "f1.s1", 3, size=2, label="Sale variants"),
        "f1.s2": Node("f1.s2", "f1", 2, size=1, label="Blue sale photos"),
        "f2": Node("f2", "root", 1, size=2, label="Quote cards"),
    }
    a = pd.DataFrame({"ad_id": [1, 2, 3, 4, 5], "family_id": ["f1", "f1", "f1", "f2", "f2"],
                      "leaf_id": ["f1.s1.m1", "f1.s1.m1", "f1.s2", "f2", "f2"], "node_path": "",
                      "is_outlier": [False, False, False, False, True], "x": 0.0, "y": 0.0})
    return ClusterTree(nodes, a, "tx-test")


def test_cluster_tree_navigation_and_exports():
    t = _toy_tree()
    assert t.root.id == "root"
    assert [n.id for n in t.children("f1")] == ["f1.s1", "f1.s2"]
    assert [n.id for n in t.ancestors("f1.s1.m1")] == ["f1.s1", "f1", "root"]
    assert t.members("f1") == [1, 2, 3] and t.members("root") == [1, 2, 3, 4, 5]
    assert t.path("f1.s1.m1") == "Sale photos › Red sale photos › Sale variants"
    assert t.leaf_of(3) == "f1.s2" and t.family_of(1) == "f1"
    assert t.levels == 3 and t.outlier_share == pytest.approx(0.2)
    df = t.to_pandas()
    assert list(df["id"]) == ["root", "f1", "f1.s1", "f1.s1.m1", "f1.s2", "f2"]
    assert {"label", "path", "size", "ctr"} <= set(df.columns)
    assert '"build_key": "tx-test"' in t.to_json()
    text = t.to_text()
    assert "Sale photos (f1, 3 ads)" in text and "└─ Quote cards" in text
