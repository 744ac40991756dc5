"""Identical hits: one picture posted with other copy is one hit; a template with other words on the
picture is another (engine.collapse, corpus.text_hash). Sample library: real DuckDB, bm25s; no mocks."""
from __future__ import annotations

import dataclasses
import re
from collections import defaultdict

import numpy as np

from core.search.config import SearchConfig
from core.search.corpus import get_corpus
from core.search.engine import collapse, word_jaccard


def test_picture_text_hash_is_the_set_of_words_read_off_the_picture(sample_library):
    corpus = get_corpus(sample_library)
    assert corpus.text_hash is not None and len(corpus.text_hash) == corpus.size
    ocr = dict(sample_library.execute(
        "SELECT a.id, coalesce(c.ocr_text, '') FROM ads a JOIN creatives c ON c.id = a.creative_id").fetchall())
    by_set = defaultdict(set)
    for r, a in enumerate(corpus.ad_ids.tolist()):
        by_set[frozenset(re.findall(r"\w+", ocr[a].lower()))].add(int(corpus.text_hash[r]))
    assert len(by_set) > 10  # the sample's pictures say many different things
    assert all(len(h) == 1 for h in by_set.values())  # one word set, one hash …
    hashes = [next(iter(h)) for h in by_set.values()]
    assert len(set(hashes)) == len(hashes)  # … and another word set, another hash


def _distinct_rows(corpus, n):
    """n rows of distinct creatives with a pHash whose documents share few words."""
    rows = []
    for r in range(corpus.size):
        if corpus.phash[r] is None or any(corpus.creative_ids[r] == corpus.creative_ids[o] for o in rows):
            continue
        if rows and word_jaccard(corpus, r, np.asarray(rows)).max() >= 0.5:
            continue
        rows.append(r)
        if len(rows) == n:
            return rows
    raise AssertionError("the sample library has too few distinct ads")


def test_a_picture_with_other_copy_collapses_and_a_template_with_other_words_does_not(sample_library):
    corpus = get_corpus(sample_library)
    a, b, x = _distinct_rows(corpus, 3)
    # b: a's picture posted with b's copy (same pHash, same words on the picture);
    # x: a's layout with other words on it (same pHash, other picture text)
    phash, text_hash = list(corpus.phash), corpus.text_hash.copy()
    phash[b] = phash[x] = phash[a]
    text_hash[b] = text_hash[a]
    text_hash[x] = text_hash[a] + np.uint64(1)
    c = dataclasses.replace(corpus, phash=phash, text_hash=text_hash, extras={})
    final = np.zeros(c.size)
    final[[a, b, x]] = [3.0, 2.0, 1.0]
    hits = collapse(c, final, 5, SearchConfig(), None)
    assert hits[0][0] == a and b in hits[0][1] and x not in hits[0][1]
    assert [r for r, _ in hits[:2]] == [a, x]
    # without the picture text the whole documents decide, as before: all three stay apart
    plain = collapse(dataclasses.replace(c, text_hash=None, extras={}), final, 5, SearchConfig(), None)
    assert [r for r, _ in plain[:3]] == [a, b, x]
