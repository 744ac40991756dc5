"""Families as lines (methods/lines.py), the kind gate, leaves per micro-pattern and the OCR veto on
pHash links: small pure tests on planted data (no models)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from core.taxonomy.features import kind_gate
from core.taxonomy.hierarchy import Units, build_hierarchy
from core.taxonomy.methods import get_method
from core.taxonomy.methods.lines import LineClustering, cohesion
from core.taxonomy.variants import decide_links


def _lines(k: int, per: int, dim: int = 128, spread: float = 0.25, seed: int = 0):
    """k planted lines of `per` unit vectors each around random directions (cosine to centre ≈ 0.95)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    X = np.vstack([c / np.linalg.norm(c) + spread * rng.normal(size=(per, dim)) / np.sqrt(dim) for c in centres])
    return X, np.repeat(np.arange(k), per)


def test_lines_recover_planted_lines_whatever_their_number():
    for k in (3, 12, 30):          # a fixed cosine cut: the count follows the data, no k to pick
        X, y = _lines(k, 6, seed=k)
        m = LineClustering().fit(X)
        assert adjusted_rand_score(y, m.labels_) == 1.0
        assert m.n_clusters_ == k and not m.mixed_.any()


def test_lone_ads_join_a_near_line_or_an_honest_mixed_pool():
    X, y = _lines(4, 6, seed=3)
    rng = np.random.default_rng(9)
    near = X[0] + 0.6 * rng.normal(size=X.shape[1]) / np.sqrt(X.shape[1])   # a loose relative of line 0
    strays = rng.normal(size=(3, X.shape[1]))                                 # unrelated lone ads
    m = LineClustering().fit(np.vstack([X, near, strays]))
    lab = m.labels_
    assert lab[24] == lab[0], "a lone ad close to a line joins it"
    assert len(set(lab[25:])) == 1 and m.mixed_[lab[25]], "unrelated lone ads share one family flagged mixed"
    assert not m.mixed_[lab[0]]


def test_leftovers_that_belong_together_form_their_own_mixed_group():
    """Lone ads far from every line but near each other form a loose group of their own (cut at
    pool_cut), flagged mixed; the ones still alone share the kind's pool."""
    X, _ = _lines(3, 6, seed=4)
    rng = np.random.default_rng(5)
    basis, _ = np.linalg.qr(rng.normal(size=(X.shape[1], 8)))         # orthonormal directions
    theme, own = basis[:, 0], basis[:, 1:5].T
    related = np.sqrt(0.4) * theme + np.sqrt(0.6) * own                 # cosine exactly 0.4 to each other
    strays = basis[:, 5:8].T                                            # cosine 0 to everything else here
    m = LineClustering().fit(np.vstack([X, related, strays]))
    lab = m.labels_
    assert len(set(lab[18:22])) == 1 and m.mixed_[lab[18]]
    assert len(set(lab[22:])) == 1 and m.mixed_[lab[22]] and lab[22] != lab[18]
    one_pool = LineClustering(pool_cut=None).fit(np.vstack([X, related, strays])).labels_
    assert len(set(one_pool[18:])) == 1


def test_shared_words_bring_a_line_together():
    """The n-gram block: two ads of one page that share its name are closer than ads of two pages."""
    from core.taxonomy.lexical import lexical_rows

    frame = pd.DataFrame({"ocr_text": ["STOP ALLINVADERS", "STOP ALLINVADERS now", "Veterans US+ PTSD", "Veterans US+ help",
                                       "Black Fist classes", "BLACK FIST free classes"],
                          "headline": [""] * 6, "copy": [None] * 6, "cta": [""] * 6})
    L = lexical_rows(frame)
    assert L.shape[0] == 6 and 2 <= L.shape[1] <= 128
    assert L[0] @ L[1] > 0.5 > max(L[0] @ L[2], L[0] @ L[4], L[2] @ L[4])
    assert lexical_rows(frame.head(3)).shape == (3, 0), "too few ads to weigh words"
    same = pd.DataFrame({"ocr_text": ["click here"] * 6})
    assert lexical_rows(same).shape == (6, 0), "what every ad says weighs nothing"


def test_kinds_never_share_a_family():
    X, _ = _lines(2, 6)
    kinds = np.array([0, 1] * 6)      # the same content in two kinds (photo posts, strip banners)
    m = LineClustering().fit(X, groups=kinds)
    for fam in np.unique(m.labels_):
        assert len(set(kinds[m.labels_ == fam])) == 1


def test_a_heavy_loose_family_is_cut_finer():
    rng = np.random.default_rng(4)
    tight, _ = _lines(6, 5, spread=0.1, seed=4)
    # 40 ads in 8 loose sub-lines that a 0.5 cut keeps together (60 % of the library)
    base = rng.normal(size=tight.shape[1])
    subs = [base / np.linalg.norm(base) + 0.9 * rng.normal(size=tight.shape[1]) / np.sqrt(tight.shape[1]) for _ in range(8)]
    loose = np.vstack([s / np.linalg.norm(s) + 0.1 * rng.normal(size=(5, tight.shape[1])) / np.sqrt(tight.shape[1]) for s in subs])
    X = np.vstack([tight, loose])
    m = LineClustering(max_share=0.4).fit(X)
    share = np.bincount(m.labels_) / len(X)
    coh = m.cohesion_
    assert all(s <= 0.4 or c >= m.typical_cohesion_ for s, c in zip(share, coh))


def test_weights_count_ads_and_labels_are_deterministic():
    X, y = _lines(5, 4, seed=2)
    w = np.arange(1, len(X) + 1, dtype=float)
    a = LineClustering(random_state=0).fit(X, w)
    b = LineClustering(random_state=0).fit(X, w)
    assert np.array_equal(a.labels_, b.labels_)
    sizes = np.bincount(a.labels_, weights=w)
    assert list(sizes) == sorted(sizes, reverse=True), "families are numbered by decreasing ads"


def test_cohesion_is_mean_cosine_between_ads():
    X = np.eye(3)
    assert cohesion(X, np.ones(3)) == pytest.approx(0.0)
    assert cohesion(np.ones((2, 3)) / np.sqrt(3), np.ones(2)) == pytest.approx(1.0)


def test_invalid_thresholds_are_rejected():
    with pytest.raises(ValueError):
        LineClustering(threshold=0.8, attach=0.5).fit(np.eye(3))
    with pytest.raises(ValueError):
        LineClustering(threshold=0.5, pool_cut=0.4).fit(np.eye(3))


def test_kind_gate_tells_strips_videos_and_posts():
    class C:
        frame = pd.DataFrame({"width": [468, 1080, 160, 1080, None], "height": [60, 1080, 600, 1920, None],
                              "kind": ["image", "image", "image", "video", "image"]})
    assert kind_gate(C()).tolist() == [1, 0, 1, 2, 0]


def test_pHash_links_obey_the_ocr_veto():
    """Same frame (an Instagram screenshot, a template), different words on it: two messages."""
    reason = decide_links(hamming=np.array([4, 4, 4]), visual_cos=np.array([0.97, 0.97, 0.5]),
                          ocr_cos=np.array([0.3, 0.95, 0.0]), jaccard=np.array([0.2, 0.9, np.nan]),
                          both_text=np.array([True, True, False]))
    assert reason.tolist() == [0, 1, 1]


def test_every_ad_leaf_is_its_micro_pattern_and_families_carry_the_mixed_flag():
    X, y = _lines(3, 6, seed=5)
    rng = np.random.default_rng(1)
    strays = rng.normal(size=(2, X.shape[1]))
    line_X = np.vstack([X, strays])
    unit_of_ad = np.arange(len(line_X))
    unit_of_ad[1] = 0                 # ads 0 and 1 are variants of one creative
    feats = line_X.astype(np.float32)
    units = Units.from_labels(np.unique(unit_of_ad, return_inverse=True)[1], feats, line_X, np.zeros(len(line_X), int))
    tree = build_hierarchy(units, np.arange(1, len(line_X) + 1), get_method("auto"), 0).tree
    a = tree.assignments()
    assert a["leaf_id"].nunique() == len(units.weight), "one leaf per micro-pattern"
    assert a.loc[0, "leaf_id"] == a.loc[1, "leaf_id"]
    assert all(tree.nodes[lid].level == 3 or len(tree.members(lid)) == units.weight[units.of_ad[i]]
               for i, lid in enumerate(a["leaf_id"]))
    fams = tree.at_level(1)
    assert any(f.mixed for f in fams) and all(f.mixed is not None for f in fams)


def test_variants_never_link_across_kinds():
    from core.taxonomy.variants import VariantInputs, VariantLinker

    rng = np.random.default_rng(3)
    v = rng.normal(size=16)
    visual = np.vstack([v, v + 0.01 * rng.normal(size=16), v + 0.01 * rng.normal(size=16)])
    visual /= np.linalg.norm(visual, axis=1, keepdims=True)
    base = 0x1234_5678_9ABC_DEF
    data = VariantInputs(np.array([base, base, base]), np.ones(3, bool), visual, ["", "", ""], np.zeros((3, 8), np.float32),
                         kind=np.array([0, 0, 1]))
    lab = VariantLinker(n_neighbors=2).fit(data).labels_
    assert lab[0] == lab[1] and lab[2] != lab[0], "a strip banner is not a variant of a post, however alike"


@pytest.mark.parametrize("url, page", [
    ("https://www.facebook.com/Back-the-Badge-341177102896426/", "backthebadge"),
    ("https://www.facebook.com/pages/Williams-and-Kalvin/123456789", "williamsandkalvin"),
    ("https://www.instagram.Com/stay4police/", "stay4police"),
    ("https://www.facebook.comVeterans-US-1234567/", "veteransus"),          # OCR lost the slash
    ("https://www.facebook.com/Black_|iberation_churCh-1160193507389202/", "blackliberationchurch"),
    ("https://musicfb.info/", "musicfb"),
    ("www.brand.co.uk/summer-sale?utm_source=fb", "brand co summersale"),
    ("https://www.facebook.com/events/1234567890/", ""),                     # an event names no page
    ("https://www.facebook.com/", ""),
    ("—", ""), (None, ""), ("", ""), ("not a url", ""),
])
def test_a_landing_url_names_its_page(url, page):
    from core.taxonomy.line_keys import landing_page

    assert landing_page(url) == page


def test_ads_of_one_page_are_brought_together_and_a_page_every_ad_shares_weighs_nothing():
    from core.taxonomy.line_keys import page_rows

    urls = ["https://facebook.com/WilliamsandKalvin/", "https://facebook.com/Williamsathalvin/",   # one page, an OCR typo
            "https://musicfb.info/", "https://musicfb.info/", "https://facebook.com/VeteransUS-1234567/",
            "https://www.instagram.com/veteransus/", "—"]
    frame = pd.DataFrame({"ad_id": range(len(urls))})
    attributes = pd.DataFrame({"ad_id": range(len(urls)), "key": ["landing_url"] * len(urls), "value": urls})
    P = page_rows(frame, attributes)
    assert P[0] @ P[1] > 0.5 and P[2] @ P[3] > 0.99 and P[4] @ P[5] > 0.99
    assert max(P[0] @ P[2], P[0] @ P[4], P[2] @ P[4]) < 0.2
    assert not P[6].any(), "an ad without a page skips the block"
    one_brand = attributes.assign(value="https://www.brand.com/")
    assert not page_rows(frame, one_brand).any(), "one site on every ad says nothing about lines"
