"""What `refresh` costs on a library: the default (images keep their model reads) against `--full`
(the visual model and OCR run again), each on its own copy of the library, in the same run.

    python bench/refresh.py --library /tmp/realads_copy [--workers 2] [--against /tmp/fresh_ingest]

The library is copied twice into a temporary folder and never written. Prints, for each mode, the
refresh's own seconds (analysis, documents, text vectors, indexes; no taxonomy build), how many
creatives' words and ads' documents changed, and the default's time as a share of the full one (the
reference). A library ingested by this version's code changes nothing either way. With --against (a
fresh ingest of the same files by this code), each refreshed copy is compared with it: documents and text
vectors by file, every stored creative column and label vector by content hash (ids, created_at and
reads_version aside).
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


_SKIP = {"id", "created_at", "reads_version"}


def _state(lib) -> tuple[dict, dict]:
    """(file → (document, text vector), sha256 → every other creative column) of a library."""
    ads = {f: (d, v) for f, d, v in lib.execute("SELECT file, document, text_vec FROM ads").fetchall()}
    cur = lib.execute("SELECT * FROM creatives")
    cols = [c[0] for c in cur.description]
    rows = {r[cols.index("sha256")]: {c: v for c, v in zip(cols, r) if c not in _SKIP} for r in cur.fetchall()}
    return ads, rows


def _same(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return x == y or (math.isnan(x) and math.isnan(y))
    return x == y


def _compare(lib, fresh) -> dict:
    (ads, rows), (ads_f, rows_f) = _state(lib), _state(fresh)
    return {"documents_equal": sum(ads[f][0] == ads_f.get(f, (None,))[0] for f in ads),
            "text_vectors_equal": sum(ads[f][1] == ads_f.get(f, (None, None))[1] for f in ads), "ads": len(ads),
            "creatives_equal": sum(all(_same(v, rows_f.get(s, {}).get(c)) for c, v in r.items()) for s, r in rows.items()),
            "creatives": len(rows)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", required=True)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--against", default=None, help="a fresh ingest of the same files by this code, to compare with")
    a = ap.parse_args(argv)

    import core
    from core.refresh import refresh

    out = {}
    with tempfile.TemporaryDirectory(prefix="cte-refresh-bench-") as tmp:
        for mode in ("default", "full"):
            copy = Path(tmp) / mode
            shutil.copytree(a.library, copy, ignore=shutil.ignore_patterns("*.wal", "*.lock", "*.bak"))
            with core.open_library(copy) as lib:
                t = time.perf_counter()
                s = refresh(lib, workers=a.workers, full=mode == "full")
                out[mode] = {"seconds": round(time.perf_counter() - t, 2), "creatives": s.creatives, "refreshed": s.refreshed,
                             "failed": len(s.failed), "changed_words": s.changed_words, "documents_changed": s.documents_changed}
                if a.against:
                    with core.open_library(a.against, read_only=True) as fresh:
                        out[mode]["against_fresh_ingest"] = _compare(lib, fresh)
            shutil.rmtree(copy)
    out["default_share_of_full"] = round(out["default"]["seconds"] / out["full"]["seconds"], 3)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
