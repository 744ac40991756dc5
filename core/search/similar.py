"""Search by example: ads that look like one ad of the library, or like an uploaded image.

Both use the visual embedding the ingest stored per creative (creatives.visual, the same
EfficientNet-Lite0 path: core.signals.visual through core.models), scored against every creative
by one mat-vec, restricted by the same filters as text search, and collapsed into identical groups
the same way. An uploaded image goes through the ingest's decoder (core.media.decode_image), so
its pixels are prepared exactly as the library's were: the ad's own file comes back first with
similarity 1.00.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .channels import _flat_view, _index, creative_scores_to_rows
from .config import SearchConfig
from .corpus import get_corpus
from .explain import SAME_IMAGE, looks_like, match_label
from .filters import allowed_mask

# cosine of pooled visual embeddings: ≥ this is "the same picture" (re-encodes, crops, resizes of
# one creative measured 0.93–1.00 on real ads; different ads of one template 0.75–0.9)
REUSE_SIMILARITY = 0.92


def image_vector(library, image) -> np.ndarray:
    """The visual embedding of an uploaded image (path, bytes or PIL image), as ingest makes it."""
    from PIL import Image

    from ..media import decode_image
    from ..models import visual_encoder

    if isinstance(image, Image.Image):
        img = image.convert("RGB")
    else:
        if isinstance(image, (str, os.PathLike)):
            data, name = Path(image).read_bytes(), Path(image).name
        else:
            data, name = bytes(image), "uploaded image"
        img = decode_image(data, name=name).image
    corpus = get_corpus(library)
    model = corpus.visual_model if corpus.visual_model not in (None, "efficientnet-lite0") else None
    vec, _ = visual_encoder(model).encode(img)
    return np.asarray(vec, dtype=np.float32).reshape(-1)


def _creative_vector(library, corpus, ad_id: int) -> np.ndarray:
    rows = corpus.rows_of([int(ad_id)])
    if rows[0] < 0:
        raise ValueError(f"no ad with id {ad_id} in this library")
    cid = int(corpus.creative_ids[rows[0]])
    v = library.execute("SELECT visual FROM creatives WHERE id = ?", [cid]).fetchone()
    if not v or v[0] is None:
        raise ValueError(f"ad {ad_id} has no visual embedding (its analysis failed at ingest)")
    return np.asarray(v[0], dtype=np.float32)


def visual_scores(library, corpus, vec: np.ndarray) -> np.ndarray | None:
    """Cosine of `vec` with every corpus row's creative (one value per row)."""
    ctx = _Ctx(library, corpus)
    flat = _flat_view(ctx, "visual")
    if flat is not None:
        cids, sims = flat[0], flat[1] @ vec if flat[1].shape[1] == vec.shape[0] else None
        if sims is None:
            return None
    else:
        index = _index(ctx, "visual")
        if index is None or index.dim != vec.shape[0]:
            return None
        ids, s = index.search(vec, index.size)
        cids, sims = ids[0], s[0]
    return creative_scores_to_rows(corpus, np.asarray(cids), np.asarray(sims, dtype=np.float32))


class _Ctx:  # the two fields channels' index helpers read
    def __init__(self, library, corpus):
        self.library, self.corpus = library, corpus


def search_similar(library, ad_id: int | None = None, image=None, top_k: int = 10, filters: dict | None = None,
                   config: SearchConfig | None = None) -> dict:
    """Ads that look like ad `ad_id` (itself and its identical copies left out) or like `image`.

    Returns the shape of search(): {"query", "verdict", "ads": [...], "nodes": []}; each hit's
    `match` is the visual similarity (cosine, 0–1) and `why` says so in words.
    """
    from .engine import collapse, hit_record

    if (ad_id is None) == (image is None):
        raise ValueError("give exactly one of ad_id (more like this ad) or image (an uploaded picture)")
    cfg = config or SearchConfig()
    corpus = get_corpus(library)
    label = f"more like ad {ad_id}" if ad_id is not None else "similar to the uploaded image"
    out = {"query": label, "mode": "similar", "verdict": "generate", "nodes": [], "ads": []}
    if corpus.size == 0:
        return out
    vec = _creative_vector(library, corpus, ad_id) if ad_id is not None else image_vector(library, image)
    sims = visual_scores(library, corpus, vec)
    if sims is None:
        return out
    tax = corpus.taxonomy
    mask = allowed_mask(library, corpus.ad_ids, filters, tax.build_key if tax else None)
    if ad_id is not None:  # the ad itself and its byte-identical copies are not "more like it"
        own = corpus.creative_rows[int(corpus.creative_ids[corpus.rows_of([int(ad_id)])[0]])]
        keep = np.ones(corpus.size, dtype=bool)
        keep[own] = False
        mask = keep if mask is None else mask & keep
    final = sims.astype(np.float64)
    if mask is not None:
        final = np.where(mask, final, -np.inf)
    for r, dups in collapse(corpus, final, top_k, cfg, mask):
        sim = float(max(0.0, min(1.0, sims[r])))
        rec = hit_record(library, corpus, r, dups, float(final[r]))
        rec["match"], rec["match_label"] = round(sim, 4), match_label(sim, similar=True)
        rec["why"] = SAME_IMAGE if sim >= 0.995 else looks_like(sim)
        out["ads"].append(rec)
    top = out["ads"][0]["match"] if out["ads"] else 0.0
    out["reuse_threshold"] = REUSE_SIMILARITY
    out["verdict"] = "reuse" if top >= REUSE_SIMILARITY else "generate"
    if out["ads"]:
        out["evidence"] = f"closest ad: {out['ads'][0]['file']}, visual similarity {top:.2f}"
    return out
