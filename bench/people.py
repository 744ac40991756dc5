"""What the people signal says on a library (core/signals/people.py), and what the gender read costs.

    python bench/people.py --library /tmp/realads_copy

The library is read, never written. Prints how many image creatives have faces and carry each people word as
stored at ingest, then, over the pictures with faces, the median time of face detection alone (the reference,
measured in the same run), of detection with each face's gender and expression reads, and of the expression
read alone (crops and network), with their ratios to the reference.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _median_ms(fn, items) -> float:
    runs = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        runs.append((time.perf_counter() - t) * 1000)
    return float(np.median(runs))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", required=True)
    a = ap.parse_args(argv)

    import core
    import cv2

    from core.signals import face_expression, people

    lib = core.open_library(a.library, read_only=True)
    rows = lib.execute("SELECT media_path, coalesce(people_words, '') FROM creatives WHERE kind = 'image' "
                       "ORDER BY id").fetchall()
    said = collections.Counter(w for _, ws in rows for w in ws.split(", ") if w)
    with_faces = [path for path, ws in rows if ws]
    gendered = sum(1 for _, ws in rows if set(ws.split(", ")) & set(people.GENDER_WORDS))
    print(f"{len(rows)} image creatives, {len(with_faces)} with faces, {gendered} with a man / woman word")
    for word in people.WORDS:
        print(f"  {word:<16} {said.get(word, 0)}")

    frames = [Image.open(lib.abspath(p)).convert("RGB") for p in with_faces]
    if not frames:
        return 0
    people.detect_faces(frames[0], face_reads=True)   # networks loaded before anything is timed
    faces = sum(len(people.detect_faces(f)) for f in frames)
    reference = _median_ms(people.detect_faces, frames)
    reads = _median_ms(lambda f: people.detect_faces(f, face_reads=True), frames)
    boxes = {id(f): people.detect_faces(f) for f in frames}

    def expression(frame):
        gray, (h, w) = cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2GRAY), np.asarray(frame).shape[:2]
        face_expression.happy_probability([face_expression.face_crop(gray, (b[0] * w, b[1] * h, b[2] * w, b[3] * h))
                                           for b in boxes[id(frame)]])

    smile = _median_ms(expression, frames)
    print(f"{len(frames)} pictures, {faces} faces; median ms a picture: detection {reference:.1f} (reference), "
          f"with the gender and expression reads {reads:.1f} (ratio {reads / reference:.2f}), the expression read "
          f"alone {smile:.1f} (ratio {smile / reference:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
