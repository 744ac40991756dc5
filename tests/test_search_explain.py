"""Search by example, plain-words why lines, identical groups, the verdict's records, the query cap.

Real sample library (DuckDB, FAISS, bm25s, MiniLM, EfficientNet on its pixels); pure checks where
the rule itself is the subject.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import core
from core.search import search
from core.search.lexical import char_grams, query_char_grams

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


# -- char grams only where text may be glued -----------------------------------------------------------
def test_query_char_grams_skip_the_inside_of_ordinary_words():
    grams = set(query_char_grams("woman smiling"))
    assert "ling" not in grams and "ilin" not in grams and "min" not in grams  # matched "SELLING" before
    assert {"ansm", "nsmi"} <= grams            # a glued "WOMANSMILING" still matches across the boundary
    assert {"smili", "milin"} <= grams         # 5-grams of a word: a loose stemmer
    typo = set(query_char_grams("colros"))      # not an ordinary word: every gram, typos forgiven
    assert typo == set(char_grams("colros"))
    glued = set(char_grams("THESECOLORSDONT RUN"))
    q = set(query_char_grams("these colors don't run"))
    assert len(glued & q) / len(q) > 0.8


def test_cap_query_cuts_at_a_word():
    from core.search.engine import cap_query

    long = "red shoes on a beach " * 100
    cut = cap_query(long, 300)
    assert len(cut) <= 300 and long.startswith(cut) and not cut.endswith(" ") and cut.split()[-1] in long.split()
    assert cap_query("short", 300) == "short"


# -- identical means the same picture and the same words -------------------------------------------------
def _corpus(docs, phashes, creatives):
    from core.search.corpus import Corpus

    cids = np.asarray(creatives, dtype=np.int64)
    rows = {}
    for i, c in enumerate(cids.tolist()):
        rows.setdefault(c, []).append(i)
    return Corpus(key="t", ad_ids=np.arange(1, len(docs) + 1, dtype=np.int64), files=[f"f{i}" for i in range(len(docs))],
                  creative_ids=cids, kinds=["image"] * len(docs), thumb_paths=[None] * len(docs),
                  media_paths=[None] * len(docs), phash=phashes, docs=docs, words=None, chars=None, taxonomy=None,
                  visual_model=None, creative_rows={k: np.asarray(v) for k, v in rows.items()})


def test_template_cards_with_other_words_are_not_identical():
    from core.search.config import SearchConfig
    from core.search.engine import collapse

    card = "five stars. {} said: {}. shows: quote card. colours: white"
    docs = [card.format("Anna", "best serum I ever used"), card.format("Ben", "my skin glows after a week"),
            card.format("Anna", "best serum I ever used"), "summer sale 50% off sandals"]
    ph = [0b1011 << 20, (0b1011 << 20) ^ 0b11, (0b1011 << 20) ^ 0b1, 12345]  # 0-2 bits apart: near-identical pictures
    corpus = _corpus(docs, ph, [1, 2, 3, 4])
    hits = collapse(corpus, np.asarray([4.0, 3.0, 2.0, 1.0]), 10, SearchConfig(), None)
    groups = {corpus.files[r]: [corpus.files[d] for d in dups] for r, dups in hits}
    assert groups["f0"] == ["f2"]      # same picture, same words: one hit
    assert "f1" in groups              # same template, another quote: its own hit
    assert len(hits) == 3


# -- on the sample library --------------------------------------------------------------------------------
def _image_ad(lib):
    return lib.execute("""SELECT a.id, a.file, c.media_path, a.creative_id FROM ads a JOIN creatives c ON c.id = a.creative_id
                          WHERE c.kind = 'image' ORDER BY a.id LIMIT 1 OFFSET 7""").fetchone()


def test_image_search_returns_the_ads_own_picture_first(sample_library):
    ad_id, file, media, cid = _image_ad(sample_library)
    res = core.search_similar(sample_library, image=sample_library.path / media, top_k=5)
    top = res["ads"][0]
    same = {r[0] for r in sample_library.execute("SELECT id FROM ads WHERE creative_id = ?", [cid]).fetchall()}
    assert top["ad_id"] in same and top["match"] >= 0.99 and res["verdict"] == "reuse"
    assert "same picture" in top["why"] and "closest ad" in res["evidence"]
    more = core.search_similar(sample_library, ad_id=ad_id, top_k=5)
    assert more["ads"] and not ({a["ad_id"] for a in more["ads"]} & same)   # more like it: not itself
    assert all(0 <= a["match"] <= 1 for a in more["ads"])
    kinds = core.search_similar(sample_library, ad_id=ad_id, top_k=5, filters={"kind": "video"})
    assert all(a["kind"] == "video" for a in kinds["ads"])
    with pytest.raises(ValueError):
        core.search_similar(sample_library, top_k=5)


def test_cli_search_image_json_puts_the_ad_first(sample_library, tmp_path):
    import shutil

    ad_id, file, media, cid = _image_ad(sample_library)
    lib = tmp_path / "lib"  # the session holds the shared library open: the CLI reads a copy
    shutil.copytree(sample_library.path, lib, ignore=shutil.ignore_patterns("*.wal", "*.lock"))
    out = subprocess.run([sys.executable, "-m", "core", "search", "--image", str(lib / media),
                          "--library", str(lib), "--json", "--top-k", "3"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)
    same = {r[0] for r in sample_library.execute("SELECT id FROM ads WHERE creative_id = ?", [cid]).fetchall()}
    assert res["ads"][0]["ad_id"] in same
    assert res["ads"][0]["match_label"] == "looks 100% alike"   # the label the CLI and the Search page print
    # a file that is not a picture: one sentence that says what to do, not a traceback
    (tmp_path / "notes.png").write_text("not a picture")
    bad = subprocess.run([sys.executable, "-m", "core", "search", "--image", str(tmp_path / "notes.png"),
                          "--library", str(lib)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr[-2000:]
    assert "error: 'notes.png' is not an image" in bad.stderr and "export it as JPG/PNG" in bad.stderr


@pytest.mark.parametrize("query,doc,hit,cover", [
    ("smile", "Join us. shows: person, face, woman, smiling", ["smiling"], 1.0),   # the signal's form, said as such
    ("laughing dog", "shows: dog", ["dog"], 0.5),
    ("smile", "click here to SMILE. shows: smiling", ["smile"], 1.0),            # the word itself comes first
])
def test_a_face_word_is_found_in_the_form_the_document_holds(query, doc, hit, cover):
    from core.search.explain import coverage

    found, word_cover, _, _ = coverage(query, doc)
    assert found == hit and word_cover == cover


def test_why_lines_are_plain_words(sample_library):
    for q in ("summer sale", "coffee", "woman smiling", "blue background"):
        res = search(sample_library, q, top_k=8)
        for a in res["ads"]:
            why = a["why"]
            assert why and not re.search(r"channels?:|char-grams|dense|bm25|visual:|node:", why), why
            assert not re.search(r"(?<![\w])-\d", why), why      # no negative scores
            assert re.fullmatch(r"text match \d{1,3}%", a["match_label"]), a["match_label"]
        for n in res["nodes"]:
            assert "score" not in n["why"]
    res = search(sample_library, "summer sale", top_k=3)
    assert any("says" in a["why"] for a in res["ads"])        # the words are on the ad or in its copy


def test_benchmark_never_moves_the_verdict_and_calibration_is_a_run_record(sample_library, tmp_path):
    import shutil

    from core.search.bench import run_benchmark
    from core.search.verdict import RUN_KIND, calibrate_verdict, current_model

    path = tmp_path / "lib"
    shutil.copytree(sample_library.path, path, ignore=shutil.ignore_patterns("*.wal", "*.lock"))
    lib = core.open_library(path)
    before = current_model(lib)
    out = run_benchmark(lib, n=6, seed=2)
    assert current_model(lib) == before and lib.current_run(RUN_KIND) is None
    assert out["verdict"]["model"] == "default" and 0 < out["reuse_threshold"] < 1
    heads = [h for (h,) in lib.execute("SELECT DISTINCT headline FROM ads WHERE headline IS NOT NULL LIMIT 12").fetchall()]
    nonsense = [f"zq{i}x plorfen {w} wicket" for i, w in enumerate("abcdefghijkl")]
    model = calibrate_verdict(lib, heads, nonsense, source="test")
    run = lib.current_run(RUN_KIND)
    assert run["key"] == model["key"] and run["config"]["method"].startswith("logistic")
    res = search(lib, heads[0], top_k=3)
    assert res["verdict_model"] == model["key"] and res["verdict"] == "reuse"
    assert search(lib, nonsense[0], top_k=3)["verdict"] == "generate"
    lib.close()


# -- speed changes that must not change results ------------------------------------------------------------
def test_attribute_words_in_sql_match_the_python_rule(tmp_path):
    from core.search.corpus import _attribute_text, attribute_words

    lib = core.open_library(tmp_path / "lib")
    values = {"language": "ja", "Locale": "es_MX", "lang": "xx", "campaign": "summer_sale", "url": "https://x.io/a",
              "site": "www.shop.com", "hash": "0123456789abcdef0123", "price": "12.50", "date": "2024-01-31T10:00Z",
              "long": "w" * 49, "edge": "x" * 48, "empty": "   ", "padded": "  spring drop \t", "pct": "15%",
              "mixed": "Q3 Promo_A"}
    lib.execute("INSERT INTO attributes VALUES " + ", ".join("(?, ?, ?)" for _ in values) + ", (2, 'tone', 'playful'), (3, 'n', '42')",
                [x for k, v in values.items() for x in (1, k, v)])
    want = {}
    for ad_id, key, value in lib.execute("SELECT ad_id, key, value FROM attributes ORDER BY ad_id, key").fetchall():
        w = attribute_words(key, value)
        if w:
            want.setdefault(ad_id, []).append(w)
    assert _attribute_text(lib) == {k: ", ".join(v) for k, v in want.items()}
    assert "japanese" in _attribute_text(lib)[1] and 3 not in _attribute_text(lib)
    lib.close()


@pytest.mark.parametrize("with_index", [False, True])
def test_word_jaccard_is_the_word_set_jaccard(with_index):
    from core.search.engine import word_jaccard
    from core.search.lexical import Lexical, words

    rng = np.random.default_rng(0)
    vocab = "sale summer serum glow five stars anna said best ever used skin week sandals off".split()
    docs = [" ".join(rng.choice(vocab, rng.integers(0, 9))) for _ in range(40)] + ["", "a the of"]
    corpus = _corpus(docs, [None] * len(docs), list(range(len(docs))))
    if with_index:
        corpus.words = Lexical.build("words", docs)
    for r in range(len(docs)):
        got = word_jaccard(corpus, r, np.arange(len(docs)))
        a = set(words(docs[r]))
        want = [1.0 if not (a | set(words(d))) else len(a & set(words(d))) / len(a | set(words(d))) for d in docs]
        assert np.allclose(got, want), docs[r]


def test_query_encoding_runs_on_one_thread_and_puts_the_count_back():
    import os

    from threadpoolctl import threadpool_info

    from core.search.threads import _blas_controller, _openmp_runtimes, one_blas_thread, one_openmp_thread

    managed = {lib.filepath for lib in _blas_controller().select(user_api="blas").lib_controllers}
    numpy_libs = os.path.dirname(np.__file__) + ".libs"  # the wheel's own OpenBLAS, which np.matmul calls
    assert managed and (any(p.startswith(numpy_libs) for p in managed) or not os.path.isdir(numpy_libs))

    def blas_threads():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["filepath"] in managed}

    before = blas_threads()
    with one_blas_thread():
        assert set(blas_threads().values()) == {1}
    assert blas_threads() == before
    runtimes = _openmp_runtimes()
    counts = [omp.omp_get_max_threads() for omp in runtimes]
    with one_openmp_thread():
        assert all(omp.omp_get_max_threads() == 1 for omp in runtimes)
    assert [omp.omp_get_max_threads() for omp in runtimes] == counts


def test_reading_a_stored_tree_does_not_import_the_build_stages():
    code = "import sys, core.taxonomy.persist; from core.taxonomy import ClusterTree; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


