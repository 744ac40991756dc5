"""What the composition signal says on a library (core/signals/composition.py), and what it costs a picture.

    python bench/composition.py --library /tmp/realads_copy

The library is read, never written. Prints how many ads carry each composition word as stored at
ingest, then per picture (one per creative, its stored media file) the time of the whole signal's
words and of the black-box search alone, median over the pictures, beside the pixel read they share
(`_gray` at 96², measured in the same run) as the reference.
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import median_ms  # noqa: E402  (bench/, beside this script)



def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", required=True)
    a = ap.parse_args(argv)

    import core
    from core.signals import composition as comp

    lib = core.open_library(a.library, read_only=True)
    ads = lib.ads_frame()
    said = collections.Counter(w for ws in ads["composition_words"].fillna("") for w in ws.split(", ") if w)
    print(f"{len(ads)} ads")
    for word in comp.WORDS:
        print(f"  {word:<24} {said.get(word, 0)}")

    pictures = ads[ads["kind"] == "image"].drop_duplicates("creative_id")
    frames = [(Image.open(lib.abspath(p)).convert("RGB"), str(t or ""), float(s or 0.0))
              for p, t, s in zip(pictures["media_path"], pictures["ocr_text"], pictures["text_area_share"])]
    reference = median_ms(lambda f: comp._gray(f[0], 96), frames)
    whole = median_ms(lambda f: comp.composition_words(f[0], ["photo"], f[2], f[1]), frames)
    box = median_ms(lambda f: comp.black_box(f[0]), frames)
    print(f"{len(frames)} pictures, median ms a picture: composition words {whole:.2f}, black box alone {box:.2f}; "
          f"reference (96² grey read) {reference:.2f}; ratios {whole / reference:.1f}× / {box / reference:.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
