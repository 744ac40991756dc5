"""Which ads MiniLM cannot read (core/search/scripts.py), against a library's own language metadata,
and what the foreign-language rule costs over many texts.

    python bench/languages.py --library /tmp/realads_copy [--scale 100000]

The library is read, never written (the flags are computed in memory, not saved). A real library is
one into which ../shared/ads was ingested: its click-here banners carry a `language` attribute
(en / es / ja / zh); every other ad is counted under its source folder. Prints, per language, how
many ads the foreign-language rule and the CJK rule flag, then the word rule's time over `--scale`
texts (the library's own texts repeated with a random suffix each, so that none repeats) beside a
reference measured in the same run (50 × a 384² float32 matmul, median of 3).
"""
from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _reference_ms() -> float:
    a = np.random.default_rng(0).standard_normal((384, 384)).astype(np.float32)
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(50):
            a @ a
        runs.append((time.perf_counter() - t) * 1000)
    return float(np.median(runs))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", required=True)
    ap.add_argument("--scale", type=int, default=100_000, help="texts for the timing (0: no timing)")
    a = ap.parse_args(argv)

    import core
    from core.search.corpus import get_corpus
    from core.search.scripts import CJK_SHARE, FOREIGN_MIN_WORDS, FOREIGN_SHARE, LATIN_LANGUAGES, cjk_share, \
        foreign_share, own_texts, word_lists

    library = core.open_library(a.library, read_only=True)
    corpus = get_corpus(library)
    lang = dict(library.execute(
        "SELECT ad_id, lower(value) FROM attributes WHERE lower(key) IN ('language', 'lang')").fetchall())
    lists = word_lists()
    texts = own_texts(library)
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for ad_id, file, doc in zip(corpus.ad_ids.tolist(), corpus.files, corpus.docs):
        group = lang.get(int(ad_id), "").strip()[:2] or file.split("/")[0]
        share, n = foreign_share(texts.get(int(ad_id), ""), lists)
        counts[group]["ads"] += 1
        counts[group]["foreign"] += int(n >= FOREIGN_MIN_WORDS and share >= FOREIGN_SHARE)
        counts[group]["cjk"] += int(cjk_share(doc) >= CJK_SHARE)
    print(f"rule: foreign share ≥ {FOREIGN_SHARE} and ≥ {FOREIGN_MIN_WORDS} known words ({', '.join(LATIN_LANGUAGES)});"
          f" CJK share ≥ {CJK_SHARE}")
    print(f"{'language / set':<32}{'ads':>6}{'foreign':>9}{'cjk':>6}")
    for group in sorted(counts):
        c = counts[group]
        print(f"{group:<32}{c['ads']:>6}{c['foreign']:>9}{c['cjk']:>6}")

    if a.scale:
        ref = _reference_ms()
        rnd = random.Random(0)
        base = list(texts.values())
        many = [base[i % len(base)] + f" {rnd.random()}" for i in range(a.scale)]
        t = time.perf_counter()
        lists = word_lists()
        memo: dict = {}
        for text in many:
            foreign_share(text, lists, memo)
        secs = time.perf_counter() - t
        print(f"word rule over {a.scale:,} texts (lists read included): {secs:.2f} s; "
              f"reference {ref:.1f} ms; ratio {secs * 1000 / ref:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
