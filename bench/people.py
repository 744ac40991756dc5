"""What the people signal says on a library (core/signals/people.py), and what the gender read costs.

    python bench/people.py --library /tmp/realads_copy

The library is read, never written. Prints how many image creatives have faces and carry each people word as
stored at ingest; for a few requests for smiles, how many of the top 5 hits show a face the expression network
reads as smiling (P(happy) ≥ people.SMILING_AT, read now from the picture, so a library ingested before the
word existed is measured the same way); then, over the pictures with faces, the median time of face detection
alone (the reference, measured in the same run), of detection with each face's gender and expression reads,
and of the expression read alone (crops and network), with their ratios to the reference.
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import median_ms  # noqa: E402  (bench/, beside this script)

SMILE_REQUESTS = ("woman smiling", "smiling people", "smiling girl", "smiling man", "smile", "grinning man",
                  "big smile", "laughing woman")


def _smiling_creatives(lib) -> set[int]:
    """Creatives with a face the expression network reads as smiling, from their stored face boxes."""
    from core.signals import face_expression, people
    from core.store import json_cell

    out = set()
    for cid, path, faces in lib.execute("SELECT id, media_path, faces FROM creatives WHERE kind = 'image' "
                                        "AND faces IS NOT NULL").fetchall():
        boxes = json_cell(faces, [])
        if boxes:
            rgb = np.asarray(Image.open(lib.abspath(path)).convert("RGB"))
            if max(face_expression.faces_happy(rgb, boxes)) >= people.SMILING_AT:
                out.add(int(cid))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", required=True)
    a = ap.parse_args(argv)

    import core
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

    smiling = _smiling_creatives(lib)
    print(f"requests for smiles: hits of the top 5 showing a smiling face ({len(smiling)} creatives show one)")
    ad_creative = dict(lib.execute("SELECT id, creative_id FROM ads").fetchall())
    for query in SMILE_REQUESTS:
        hits = core.search_ads(lib, query, top_k=5)["ads"][:5]
        print(f"  {query:<16} {sum(ad_creative[h['ad_id']] in smiling for h in hits)}")

    frames = [np.asarray(Image.open(lib.abspath(p)).convert("RGB")) for p in with_faces]
    if not frames:
        return 0
    people.detect_faces(Image.fromarray(frames[0]), face_reads=True)   # networks loaded before anything is timed
    boxes = [people.detect_faces(Image.fromarray(f)) for f in frames]
    reference = median_ms(lambda f: people.detect_faces(Image.fromarray(f)), frames)
    reads = median_ms(lambda f: people.detect_faces(Image.fromarray(f), face_reads=True), frames)
    smile = median_ms(lambda i: face_expression.faces_happy(frames[i], boxes[i]), range(len(frames)))
    print(f"{len(frames)} pictures, {sum(map(len, boxes))} faces; median ms a picture: detection {reference:.1f} "
          f"(reference), with the gender and expression reads {reads:.1f} (ratio {reads / reference:.2f}), the "
          f"expression read alone {smile:.1f} (ratio {smile / reference:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
