"""The thumbnail atlas of the map: ads drawn as their own pictures at their 2-D positions.

`layout(library)` places every ad of the current build on a 0..1000 square. `pick_pictures` chooses
which of them are drawn as pictures: every ad up to MAX_PICTURES, above that one per patch of the map
(the ad nearest each grid cell's centre), so the pictures tile the map without piling up. That is the
level of detail that keeps the view interactive at 10k ads in software WebGL, where the cost of a frame
grows with the pictures drawn (bench/pages.py, headless chromium at load ~10: 10,000 pictures pan at
~3-4 frames/s, 1,500 at ~16-18); a full-map background image of dots halved that again, so there is none.

`sprite_sheet(library, points)` packs one small copy of each chosen creative's thumbnail into a
single JPEG (at most 4096 px a side, the texture size every WebGL GPU takes); the map page draws it
with deck.gl's IconLayer (pydeck) in an OrthographicView with no map tiles, so it works offline. Sheets
are cached beside the library, keyed by build and content, so each is made once.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

MAX_SIDE = 4096
MIN_CELL, MAX_CELL = 24, 96
WORLD = 1000.0
SPREAD_KEEP = 0.35       # share of the layout's own distances kept (the rest: rank order)
MAX_PICTURES = 1500      # pictures drawn at once; above this, one per patch of the map


def cell_size(n: int) -> int:
    """Sprite cell in pixels: as large as fits n cells in a MAX_SIDE square, within [24, 96]."""
    cols = max(1, math.ceil(math.sqrt(max(n, 1))))
    return int(max(MIN_CELL, min(MAX_CELL, MAX_SIDE // cols)))


def layout(library) -> pd.DataFrame | None:
    """Every placed ad of the current build: ad_id, x, y (0..WORLD, screen y downwards), family_id, file (name),
    creative_id, kind, thumb_path. None without a 2-D layout."""
    from .views import current_build_key

    key = current_build_key(library)
    if not key:
        return None
    pts = library.query_df(
        """SELECT s.ad_id, s.x, s.y, s.family_id, a.file, a.creative_id, c.kind, c.thumb_path
           FROM assignments s JOIN ads a ON a.id = s.ad_id JOIN creatives c ON c.id = a.creative_id
           WHERE s.build_key = ? AND s.x IS NOT NULL ORDER BY s.ad_id""", [key])
    if pts.empty:
        return None
    x, y = spread(pts["x"].to_numpy(float)), spread(pts["y"].to_numpy(float))
    pts["x"], pts["y"] = x * WORLD, (1 - y) * WORLD
    pts["ad_id"] = pts["ad_id"].astype(int)
    pts["creative_id"] = pts["creative_id"].astype(int)
    pts["file"] = pts["file"].map(lambda f: Path(str(f)).name)
    return pts


def pick_pictures(x: np.ndarray, y: np.ndarray, cap: int = MAX_PICTURES) -> tuple[np.ndarray, float | None]:
    """(indices of the points drawn as pictures, the grid's cell size or None): all of them up to `cap`; else, on a
    grid of about `cap` cells over their extent, the point nearest each occupied cell's centre (the fullest cells
    first when more are occupied)."""
    n = len(x)
    if n <= cap:
        return np.arange(n), None
    x0, y0 = float(np.min(x)), float(np.min(y))
    w, h = max(float(np.ptp(x)), 1e-9), max(float(np.ptp(y)), 1e-9)
    side = max(1, int(math.sqrt(cap)))
    for _ in range(2):      # empty cells (gaps in the map) leave room: a finer grid fills it
        gx = np.minimum((x - x0) / w * side, side - 1e-9)
        gy = np.minimum((y - y0) / h * side, side - 1e-9)
        cell = gx.astype(int) * side + gy.astype(int)
        occupied = len(np.unique(cell))
        if occupied >= 0.8 * cap:
            break
        side = max(side + 1, int(side * math.sqrt(cap / occupied)))
    off = (gx - np.floor(gx) - 0.5) ** 2 + (gy - np.floor(gy) - 0.5) ** 2
    order = np.lexsort((np.arange(n), off, cell))           # per cell: nearest the centre first (ties: input order)
    first = order[np.r_[True, cell[order][1:] != cell[order][:-1]]]
    if len(first) > cap:
        counts = np.bincount(cell, minlength=side * side)
        first = first[np.argsort(-counts[cell[first]], kind="stable")[:cap]]
    return np.sort(first), min(w, h) / side


def sprite_sheet(library, points: pd.DataFrame) -> dict:
    """One JPEG of these points' creatives: {'sheet': data URI, 'mapping': {sprite: {x, y, width, height}}, 'cell',
    'sheet_px', 'sheet_bytes'}; sprite names are 'c<creative_id>'."""
    from PIL import Image

    from .views import current_build_key

    creatives = points.drop_duplicates("creative_id")[["creative_id", "thumb_path"]].reset_index(drop=True)
    n = len(creatives)
    cell = cell_size(n)
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    digest = hashlib.sha1(",".join(map(str, creatives["creative_id"])).encode()).hexdigest()[:12]
    cache = library.path / "atlas" / f"{current_build_key(library) or 'none'}-{n}-{cell}-{digest}.jpg"
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
    uri = "data:image/jpeg;base64," + base64.b64encode(cache.read_bytes()).decode("ascii")
    return {"sheet": uri, "mapping": mapping, "cell": cell, "sheet_bytes": cache.stat().st_size,
            "sheet_px": (cols * cell, rows * cell)}


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
