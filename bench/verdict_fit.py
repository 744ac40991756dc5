"""Fit the reuse/generate verdict on labelled query sets and say how it does on sets it did not see.

    python bench/verdict_fit.py --library /tmp/realads_copy \\
        --reuse ../shared/eval/dev_queries.jsonl --reuse SET_A.jsonl --reuse SET_B.jsonl \\
        --generate NO_MATCH_A.txt --generate NO_MATCH_B.txt [--root ../shared/ads] [--c 0.3]

Every query of a --reuse file (JSONL, as `core bench --queries`) is a request the library can serve, every
line of a --generate file one it cannot. Prints, for the built-in model and for the fit, the balanced
accuracy on each held-out fold: a --reuse set other than the first (the first, the dev set, is always
trained on) against one --generate set, the fit made on every other set. Reading (a) counts every query as
reuse, (b) only those whose top hit is their ad. Then the model fitted on everything, as the dict that
`core/search/verdict.py` DEFAULT_MODEL holds. The library is read, never written; nothing is recorded.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rows(library, items) -> list[dict]:
    """Each request's top-hit features, whether that hit is one of its targets, and the features of the top
    hit once its targets are left out (the benchmark's check: a wrong top hit should read as generate)."""
    from core.search.bench import _rank
    from core.search.engine import search

    files_to_ids = defaultdict(set)
    for ad_id, f in library.execute("SELECT id, file FROM ads").fetchall():
        files_to_ids[f].add(int(ad_id))
    out = []
    for it in items:
        res = search(library, it["query"], top_k=10)
        if res.get("verdict_features"):
            first = bool(it.get("targets")) and _rank(res, it["targets"], files_to_ids) == 1
            wrong = search(library, it["query"], top_k=10, exclude_ads=it["targets"]) if first else {}
            out.append({"features": res["verdict_features"], "first": first, "wrong": wrong.get("verdict_features")})
    return out


def _accuracy(model, pos, neg, first_only=False) -> float:
    from core.search.verdict import probability

    pos = [r for r in pos if r["first"]] if first_only else pos
    p = np.mean([probability(model, r["features"]) >= model["threshold"] for r in pos])
    q = np.mean([probability(model, r["features"]) < model["threshold"] for r in neg])
    return round(0.5 * float(p + q), 3)


def _check(model, pos) -> float:
    """The benchmark's check: top hit right → reuse, the best other ad → generate."""
    return _accuracy(model, [r for r in pos if r["first"]], [{"features": r["wrong"]} for r in pos if r.get("wrong")])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", required=True)
    ap.add_argument("--reuse", action="append", required=True, help="JSONL queries (repeatable; the first is always trained on)")
    ap.add_argument("--generate", action="append", required=True, help="no-match requests, one a line (repeatable)")
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared" / "ads"))
    ap.add_argument("--c", type=float, default=0.3)
    a = ap.parse_args(argv)

    import core
    from core.search.bench import load_queries
    from core.search.verdict import DEFAULT_MODEL, fit

    lib = core.open_library(a.library, read_only=True)
    reuse = {p: _rows(lib, load_queries(lib, p, a.root)) for p in a.reuse}
    generate = {p: _rows(lib, [{"query": q} for q in Path(p).read_text(encoding="utf-8").splitlines() if q.strip()])
                for p in a.generate}
    print("held-out folds: reuse set vs no-match set, balanced accuracy (a) every query / (b) top hit right /"
          " (c) the benchmark's check on the reuse set (right top hit vs the best other ad)")
    folds = [(r, g) for r in a.reuse[1:] for g in a.generate]
    totals = defaultdict(list)
    for r, g in folds:
        pos = [x for p in a.reuse if p != r for x in reuse[p]]
        neg = [x for p in a.generate if p != g or len(a.generate) == 1 for x in generate[p]]
        model = fit([x["features"] for x in pos], [x["features"] for x in neg], "fold", c=a.c)
        for name, m in (("built-in", DEFAULT_MODEL), ("fit", model)):
            abc = (_accuracy(m, reuse[r], generate[g]), _accuracy(m, reuse[r], generate[g], first_only=True),
                   _check(m, reuse[r]))
            totals[name].append(abc)
            print(f"  {Path(r).name} vs {Path(g).name}  {name:8s} " + " / ".join(f"{x:.3f}" for x in abc))
    for name, v in totals.items():
        print(f"mean over {len(v)} folds  {name:8s} " + " / ".join(f"{x:.3f}" for x in np.mean(v, axis=0)))
    pos = [x["features"] for p in a.reuse for x in reuse[p]]
    neg = [x["features"] for p in a.generate for x in generate[p]]
    model = fit(pos, neg, f"{len(pos)} reuse + {len(neg)} generate requests", c=a.c)
    print(json.dumps(model, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
