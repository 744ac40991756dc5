"""Quoted words are words the ad must say (core/search/quoted.py), on the sample library: real
DuckDB, FAISS, bm25s and the encoders; no mocks."""
from __future__ import annotations

import numpy as np

from core.search import search
from core.search.corpus import get_corpus
from core.search.lexical import compact, words
from core.search.quoted import ad_text, quoted_phrases, rows_saying


def test_quoted_phrases_are_read_in_every_common_quote_style():
    assert quoted_phrases('the "ALL NIGHT" banner with “Free  Trial!” and „Jetzt kaufen“ or «vite»') == [
        "allnight", "freetrial", "jetztkaufen", "vite"]
    assert quoted_phrases('"a" and "" and no quotes') == []
    assert quoted_phrases("don't quote me") == []


def _phrase_and_other(corpus):
    """A two-word phrase from one ad's text held by few ads, and another ad's headline words."""
    texts = [ad_text(d) for d in corpus.docs]
    for i, d in enumerate(corpus.docs):
        ws = [w for w in words(d.split(". shows:")[0]) if w.isalpha() and len(w) >= 4]
        for a, b in zip(ws, ws[1:]):
            holders = [r for r, t in enumerate(texts) if compact(a + b) in t]
            if 1 <= len(holders) <= 5:
                others = [r for r in range(corpus.size) if r not in holders and len(words(corpus.docs[r])) >= 6]
                return f"{a} {b}", holders, others[len(others) // 2]
    raise AssertionError("no distinctive phrase in the sample library")


def test_ads_saying_the_quoted_words_come_first(sample_library):
    corpus = get_corpus(sample_library)
    phrase, holders, other = _phrase_and_other(corpus)
    other_words = " ".join(words(corpus.docs[other])[:6])
    holder_ids = {int(corpus.ad_ids[r]) for r in holders}

    plain = search(sample_library, f"{other_words} {phrase}", top_k=10, explain=False)
    quoted = search(sample_library, f'{other_words} "{phrase}"', top_k=10, explain=False)
    said = [ad["ad_id"] in holder_ids or any(
        int(a) in holder_ids for a in corpus.ad_ids[np.isin(corpus.files, ad["duplicates"])]) for ad in quoted["ads"]]
    assert said[0], (phrase, quoted["ads"][0]["file"])
    # every hit saying the phrase is above every hit that does not
    assert said == sorted(said, reverse=True), said
    first_plain = plain["ads"][0]["ad_id"]
    assert first_plain in holder_ids or quoted["ads"][0]["ad_id"] != first_plain


def test_signal_words_are_not_the_ads_text(sample_library):
    corpus = get_corpus(sample_library)
    colour_only = [r for r, d in enumerate(corpus.docs) if "colours: " in d and "teal" in d.split("colours: ")[1].split(".")[0]
                   and "teal" not in ad_text(d)]
    assert colour_only, "no ad coloured teal without the word in its text"
    assert not set(rows_saying(corpus, ["teal"]).tolist()) & set(colour_only)


def test_a_quote_no_ad_says_leaves_the_ranking_as_it_is(sample_library):
    """Then the quote only gives its words, as if it were not quoted (the quote may be half-remembered)."""
    assert len(rows_saying(get_corpus(sample_library), ["zqxwvortelbrand"])) == 0
    q = "summer sale on running shoes"
    plain = search(sample_library, q + " zqxw vortelbrand", top_k=10, explain=False)
    quoted = search(sample_library, q + ' "zqxw vortelbrand"', top_k=10, explain=False)
    assert [a["ad_id"] for a in quoted["ads"]] == [a["ad_id"] for a in plain["ads"]]
    assert [a["score"] for a in quoted["ads"]] == [a["score"] for a in plain["ads"]]
