"""How long a search waits for its query vector while a small upload's documents are embedded.

    python bench/upload_search_wait.py --library /tmp/realads_copy [--docs 32] [--runs 2]

The library is read, never written. Its `--docs` longest ad documents are embedded by the numpy MiniLM
(core/search/query_encoder.py, the small-upload encoder) on one thread while another thread encodes a
short query every 0.1 s, as a search typed in the app would. Prints, per run: the upload's time in the
encoder's bounded passes, the same documents in one pass (the reference: what the encoder did before
session 21, when a search waited for all of it) with their ratio, the largest difference between the
two vector sets, and the query waits.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUERY = "woman with boxing gloves"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", required=True)
    ap.add_argument("--docs", type=int, default=32)
    ap.add_argument("--runs", type=int, default=2)
    a = ap.parse_args(argv)

    import core
    from core.search.query_encoder import _batches, query_encoder
    from core.search.threads import one_blas_thread

    lib = core.open_library(a.library, read_only=True)
    docs = [d for (d,) in lib.execute("SELECT document FROM ads ORDER BY length(document) DESC, id LIMIT ?",
                                      [a.docs]).fetchall()]
    lib.close()
    encoder = query_encoder()
    encoder.encode([QUERY])   # weights read before anything is timed
    print(f"{len(docs)} documents, {len(_batches(docs))} passes")
    for run in range(1, a.runs + 1):
        waits, out = [], {}

        def upload():
            t = time.perf_counter()
            out["vecs"] = encoder.encode(docs)
            out["seconds"] = time.perf_counter() - t

        thread = threading.Thread(target=upload)
        thread.start()
        time.sleep(0.1)
        while thread.is_alive():
            t = time.perf_counter()
            encoder.encode([QUERY])
            waits.append(time.perf_counter() - t)
            time.sleep(0.1)
        thread.join()
        t = time.perf_counter()
        with one_blas_thread():
            reference = encoder._encode_batch(docs)
        one_pass = time.perf_counter() - t
        print(f"run {run}: passes {out['seconds']:.2f} s, one pass (reference) {one_pass:.2f} s, "
              f"ratio {out['seconds'] / one_pass:.2f}; max |difference| {np.abs(reference - out['vecs']).max():.1e}; "
              f"query waits {min(waits):.3f}–{max(waits):.3f} s over {len(waits)} queries "
              f"(a search waited up to the one-pass time before)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
