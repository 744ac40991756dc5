"""The thumbnail atlas of the map: every placed ad drawn as its own picture at its 2-D position.

`atlas(library)` packs one small copy of each creative's thumbnail into a single sprite sheet (a
JPEG at most 4096 px a side, the texture size every WebGL GPU takes) and returns the sheet, the
sprite of each creative and the ads' positions scaled to a 0..1000 square; the map page draws it
with deck.gl's IconLayer (pydeck) in an OrthographicView, with no map tiles, so it works offline
and stays smooth at 10k ads (one texture, one draw call). The sheet is cached beside the library
per build and ad count, so it is made once.
"""
from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

MAX_SIDE = 4096
MIN_CELL, MAX_CELL = 24, 96
WORLD = 1000.0
SPREAD_KEEP = 0.35       # share of the layout's own distances kept (the rest: rank order)


def cell_size(n: int) -> int:
    """Sprite cell in pixels: as large as fits n cells in a MAX_SIDE square, within [24, 96]."""
    cols = max(1, math.ceil(math.sqrt(max(n, 1))))
    return int(max(MIN_CELL, min(MAX_CELL, MAX_SIDE // cols)))


def _points(library) -> pd.DataFrame | None:
    from .views import current_build_key

    key = current_build_key(library)
    if not key:
        return None
    return library.query_df(
        """SELECT s.ad_id, s.x, s.y, s.family_id, a.file, a.creative_id, c.kind, c.thumb_path
           FROM assignments s JOIN ads a ON a.id = s.ad_id JOIN creatives c ON c.id = a.creative_id
           WHERE s.build_key = ? AND s.x IS NOT NULL ORDER BY s.ad_id""", [key])


def atlas(library, max_ads: int | None = None) -> dict | None:
    """{'sheet': data URI, 'mapping': {sprite: {x, y, width, height}}, 'points': DataFrame(ad_id, x, y, sprite, file,
    family_id, kind), 'cell': px, 'world': side} — or None without a 2-D layout."""
    from PIL import Image

    from .views import current_build_key

    pts = _points(library)
    if pts is None or pts.empty:
        return None
    if max_ads and len(pts) > max_ads:
        pts = pts.sample(max_ads, random_state=0).sort_values("ad_id")
    creatives = pts.drop_duplicates("creative_id")[["creative_id", "thumb_path"]].reset_index(drop=True)
    n = len(creatives)
    cell = cell_size(n)
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    key = current_build_key(library) or "none"
    cache = library.path / "atlas" / f"{key}-{len(pts)}-{n}-{cell}.jpg"
    if not cache.exists():
        sheet = Image.new("RGB", (cols * cell, rows * cell), (238, 240, 244))
        small: dict[str, Image.Image | None] = {}       # creatives sharing a thumbnail file are resized once
        for i, rel in enumerate(creatives["thumb_path"]):
            if rel not in small:
                small[rel] = _small(library, rel, cell)
            im = small[rel]
            if im is not None:
                sheet.paste(im, ((i % cols) * cell + (cell - im.width) // 2, (i // cols) * cell + (cell - im.height) // 2))
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".part")
        sheet.save(tmp, "JPEG", quality=82)
        tmp.replace(cache)
    mapping = {f"c{int(c)}": {"x": (i % cols) * cell, "y": (i // cols) * cell, "width": cell, "height": cell, "mask": False}
               for i, c in enumerate(creatives["creative_id"])}
    x, y = spread(pts["x"].to_numpy(float)), spread(pts["y"].to_numpy(float))
    out = pd.DataFrame({"ad_id": pts["ad_id"].astype(int),
                        "x": x * WORLD, "y": (1 - y) * WORLD,   # screen y grows downwards
                        "sprite": "c" + pts["creative_id"].astype(int).astype(str),
                        "file": pts["file"].map(lambda f: Path(str(f)).name), "family_id": pts["family_id"],
                        "kind": pts["kind"]})
    uri = "data:image/jpeg;base64," + base64.b64encode(cache.read_bytes()).decode("ascii")
    return {"sheet": uri, "mapping": mapping, "points": out, "cell": cell, "world": WORLD,
            "sheet_bytes": cache.stat().st_size, "sheet_px": (cols * cell, rows * cell)}


def _small(library, rel, cell: int):
    from PIL import Image

    p = library.abspath(rel) if isinstance(rel, str) else None
    if p is None or not p.exists():
        return None
    try:
        with Image.open(p) as im:
            im.draft("RGB", (cell, cell))          # JPEG: decode at a reduced scale
            im = im.convert("RGB")
            im.thumbnail((cell, cell))
            return im
    except OSError:
        return None


def spread(v: np.ndarray, keep: float = SPREAD_KEEP) -> np.ndarray:
    """0..1 positions that keep some of the layout's distances (min-max) and take the rest from rank order:
    the layout's tight clusters open up so their pictures overlap less, and every neighbour stays a neighbour."""
    if len(v) < 2 or np.ptp(v) == 0:
        return np.full(len(v), 0.5)
    rank = pd.Series(v).rank(method="average").to_numpy()
    return keep * (v - v.min()) / np.ptp(v) + (1 - keep) * (rank - 1) / (len(v) - 1)


def mapping_json(mapping: dict) -> str:
    return json.dumps(mapping, separators=(",", ":"))
