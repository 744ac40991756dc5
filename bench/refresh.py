"""What `refresh` costs on a library: the default (images keep their model reads) against `--full`
(the visual model and OCR run again), each on its own copy of the library, in the same run.

    python bench/refresh.py --library /tmp/realads_copy [--workers 2]

The library is copied twice into a temporary folder and never written. Prints, for each mode, the
refresh's own seconds (analysis, documents, text vectors, indexes; no taxonomy build), how many
creatives' words and ads' documents changed, and the default's time as a share of the full one (the
reference). A library ingested by this version's code changes nothing either way.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", required=True)
    ap.add_argument("--workers", type=int, default=None)
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
            shutil.rmtree(copy)
    out["default_share_of_full"] = round(out["default"]["seconds"] / out["full"]["seconds"], 3)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
