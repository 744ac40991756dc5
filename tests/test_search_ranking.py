"""Ranking rules on the sample library (real DuckDB, FAISS, bm25s, MiniLM; no mocks): a channel's
confident first pick stays among the first ten hits (core/search/confident.py)."""
from __future__ import annotations

import numpy as np

from core.search import search
from core.search.channels import CHANNELS, QueryContext
from core.search.config import SearchConfig
from core.search.confident import confident_row, keep_in_top
from core.search.corpus import get_corpus
from core.search.engine import _phash_array, _stand_ins, collapse, fusion_channels
from core.search.fusion import fuse

# sample-library queries (seed 0 self-test) whose label channel is sure of one picture the fusion ranks below 10th
QUERIES = ("bring price music", "transformation display landscape", "display transformation landscape")


def _label_pick(lib, query):
    corpus = get_corpus(lib)
    cfg = SearchConfig()
    ctx = QueryContext(lib, corpus, query, cfg)
    chans = {ch.name: ch.scores(ctx) for ch in CHANNELS if cfg.weights.get(ch.name, 0) > 0}
    fchans = fusion_channels(lib, corpus, {k: v for k, v in chans.items() if v is not None}, cfg)
    zs: dict = {}
    fuse(fchans, cfg.weights, cfg.z_clip, None, cfg.z_head, cfg.z_floor, _stand_ins(corpus, fchans, cfg), zs)
    return confident_row(corpus, zs.get("visual"), None, cfg.confident_gap, cfg.phash_max)


def _has(res, corpus, row):
    files = {corpus.files[r] for r in corpus.creative_rows[int(corpus.creative_ids[row])]}
    return any(a["file"] in files or files & set(a["duplicates"]) for a in res["ads"])


def test_a_confident_label_pick_takes_the_tenth_slot_and_nothing_above_moves(sample_library):
    lib = sample_library
    corpus = get_corpus(lib)
    lifted = 0
    for q in QUERIES:
        row = _label_pick(lib, q)
        if row is None:
            continue
        now = search(lib, q, top_k=10, explain=False)
        off = search(lib, q, top_k=10, explain=False, confident_gap=0)
        assert _has(now, corpus, row)
        if not _has(off, corpus, row):
            lifted += 1
            assert [a["ad_id"] for a in now["ads"][:9]] == [a["ad_id"] for a in off["ads"][:9]]
            assert now["ads"][9]["file"] == corpus.files[row] or corpus.files[row] in now["ads"][9]["duplicates"]
            assert now["verdict"] == off["verdict"]
            # a search for fewer hits is the same prefix
            few = search(lib, q, top_k=5, explain=False)
            assert [a["ad_id"] for a in few["ads"]] == [a["ad_id"] for a in now["ads"][:5]]
    assert lifted >= 1  # the rule acted at least once here (it must, or this test measures nothing)


def test_confident_row_needs_a_gap_over_other_pictures_not_over_copies(sample_library):
    corpus = get_corpus(sample_library)
    n = corpus.size
    z = np.zeros(n, dtype=np.float32)
    top = 0
    z[top] = 4.0
    ph, valid = _phash_array(corpus)
    far = (corpus.creative_ids != corpus.creative_ids[top]) & valid & (np.bitwise_count(ph ^ ph[top]) > 6)
    other = int(np.flatnonzero(far)[0])
    near = np.flatnonzero(valid & (np.bitwise_count(ph ^ ph[top]) <= 6) & (corpus.creative_ids != corpus.creative_ids[top]))
    z[near] = 3.9  # pHash near-copies of the top picture are not "another picture"
    z[other] = 1.0
    assert confident_row(corpus, z, None, 2.5, 6) == top
    assert confident_row(corpus, z, None, 3.5, 6) is None
    z[other] = 2.0  # another picture close behind: not sure
    assert confident_row(corpus, z, None, 2.5, 6) is None
    z[other] = 1.0
    # filtered out: the best allowed row decides
    allowed = np.ones(n, dtype=bool)
    allowed[top] = False
    assert confident_row(corpus, z, allowed, 2.5, 6) != top


def test_keep_in_top_places_the_row_at_the_slot(sample_library):
    corpus = get_corpus(sample_library)
    cfg = SearchConfig()
    rng = np.random.default_rng(0)
    final = rng.normal(size=corpus.size)
    hits = collapse(corpus, final, 10, cfg, None)
    shown = {r for r, d in hits} | {x for _, d in hits for x in d}
    row = next(int(r) for r in np.argsort(-final) if int(r) not in shown)
    new_final, new_hits = keep_in_top(corpus, final, hits, row, 10, lambda f: collapse(corpus, f, 10, cfg, None))
    assert new_hits[:9] == hits[:9]
    assert new_hits[9][0] == row
    assert new_final[hits[0][0]] == final[hits[0][0]]
    # already shown: unchanged
    same_final, same_hits = keep_in_top(corpus, final, hits, hits[3][0], 10, lambda f: collapse(corpus, f, 10, cfg, None))
    assert same_hits is hits and same_final is final


def test_a_confident_pick_never_takes_the_slot_from_an_ad_that_says_the_quoted_words(sample_library):
    from core.search.quoted import rows_saying

    lib = sample_library
    corpus = get_corpus(lib)
    q = QUERIES[0]
    row = _label_pick(lib, q)
    said = set(rows_saying(corpus, ["now"]).tolist())
    assert row is not None and row not in said and len(said) >= 10  # the case under test
    res = search(lib, f'"now" {q}', top_k=10, explain=False)
    rows = corpus.rows_of([a["ad_id"] for a in res["ads"]])
    assert len(rows) == 10 and all(int(r) in said for r in rows)
