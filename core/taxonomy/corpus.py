"""Everything a build reads from the library, loaded once into arrays (one row per ad).

Vectors come back through Arrow rather than Python lists: 100k visual rows of 3840 floats as
Python objects would take minutes and gigabytes.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..documents import label_words
from ..store import json_cell

# composition words that say what an ad is as much as a layout word does: in names and tags only (the
# clustering's layout axis reads the layout words alone, features.py)
FORM_COMPOSITION_WORDS = ("social media screenshot",)


@dataclass
class AdCorpus:
    ad_ids: np.ndarray             # (n,) int64, ascending
    frame: pd.DataFrame            # one row per ad: ad fields + its creative's signals (parsed JSON)
    creative_ids: np.ndarray       # (c,) distinct creatives, ascending
    creative_of_ad: np.ndarray     # (n,) row in creative_ids for each ad
    visual: np.ndarray             # (c, dv) unit rows (zeros where missing)
    text: np.ndarray               # (n, 384) unit rows of ads.text_vec (zeros where missing)
    attributes: pd.DataFrame       # ad_id, key, value
    _doc_terms: tuple | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.ad_ids)

    @property
    def documents(self) -> list[str]:
        return self.frame["document"].fillna("").astype(str).tolist()

    def doc_terms(self):
        """(ads × terms counts, vocabulary) of the documents, computed once per corpus."""
        if self._doc_terms is None:
            from .keywords import doc_term_matrix

            self._doc_terms = doc_term_matrix(self.documents)
        return self._doc_terms

    def subset(self, ad_ids) -> "AdCorpus":
        """The corpus restricted to some ads (an edit on a build made before later ingests)."""
        keep = np.isin(self.ad_ids, np.asarray(list(ad_ids), dtype=np.int64))
        used = np.unique(self.creative_of_ad[keep])
        remap = np.full(len(self.creative_ids), -1)
        remap[used] = np.arange(len(used))
        return AdCorpus(self.ad_ids[keep], self.frame[keep].reset_index(drop=True), self.creative_ids[used],
                        remap[self.creative_of_ad[keep]], self.visual[used], self.text[keep],
                        self.attributes[self.attributes["ad_id"].isin(self.ad_ids[keep])])


AD_SQL = """
SELECT a.id AS ad_id, a.creative_id, a.file, a.headline, a.copy, a.cta, a.tags, a.format, a.placement, a.campaign,
       a.spend, a.impressions, a.clicks, a.conversions, a.ctr, a.document,
       c.kind, c.width, c.height, c.phash, c.colors, c.color_words, c.ocr_text, c.text_area_share, c.labels,
       c.layout_words, c.composition_words, c.extra
FROM ads a JOIN creatives c ON c.id = a.creative_id ORDER BY a.id
"""


def arrow_query(library, sql: str, params=None):
    """A query result as an Arrow table (the fast path for list columns)."""
    rel = library.con.sql(sql, params=params) if params else library.con.sql(sql)
    return rel.to_arrow_table()


def vector_column(table, column: str, n_rows: int, dim: int | None = None) -> np.ndarray:
    """A FLOAT[] Arrow column as a float32 matrix; null rows become zeros."""
    col = table.column(column).combine_chunks()
    valid = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if not valid.any():
        return np.zeros((n_rows, dim or 0), dtype=np.float32)
    lengths = np.asarray(col.value_lengths().fill_null(0).to_numpy(zero_copy_only=False))
    d = int(lengths[valid].max())
    out = np.zeros((n_rows, d), dtype=np.float32)
    flat = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    full = valid & (lengths == d)
    if full.all():
        return flat.reshape(n_rows, d)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for i in np.flatnonzero(full):  # rare: a mix of models' dims, or nulls
        out[i] = flat[offsets[i]:offsets[i + 1]]
    return out


def load_corpus(library) -> AdCorpus:
    # the visual rows stream from DuckDB in a thread (its own cursor; DuckDB runs outside the GIL)
    # while this one parses the per-ad table's JSON cells, which is Python
    with ThreadPoolExecutor(1, thread_name_prefix="visual-rows") as pool:
        reading = pool.submit(visual_matrix, library)
        frame, text = _ad_table(library)
        all_ids, vis_all = reading.result()
    ad_ids = frame["ad_id"].to_numpy(dtype=np.int64)
    creative_ids, creative_of_ad = np.unique(frame["creative_id"].to_numpy(dtype=np.int64), return_inverse=True)
    if len(all_ids) == 0:
        visual = np.zeros((len(creative_ids), 0), np.float32)
    elif np.array_equal(all_ids, creative_ids):
        visual = vis_all              # the usual case: no copy of a matrix that is 1.5 GB at 100k
    else:
        visual = vis_all[np.searchsorted(all_ids, creative_ids)]
    attrs = library.query_df("SELECT ad_id, key, value FROM attributes ORDER BY ad_id, key")
    return AdCorpus(ad_ids, frame, creative_ids, creative_of_ad.astype(np.int64), visual, text, attrs)


def _ad_table(library) -> tuple[pd.DataFrame, np.ndarray]:
    """The per-ad table (JSON cells parsed, word lists split) and the ads' document vectors."""
    frame = library.query_df(AD_SQL)
    n = len(frame)
    frame["tags"] = [list(t) if t is not None and not isinstance(t, float) else [] for t in frame["tags"]]
    frame["colors"] = [json_cell(v, {}) for v in frame["colors"]]
    frame["labels"] = [json_cell(v, []) for v in frame["labels"]]
    frame["extra"] = [json_cell(v, {}) for v in frame["extra"]]
    frame["color_list"] = [_split(v) for v in frame["color_words"]]
    frame["layout_list"] = [_split(v) for v in frame["layout_words"]]
    # what names and tags say the ads look like: the layout words, and a feed capture (composition's word).
    # Names only: the clustering's layout axis reads layout_list (features.py)
    frame["form_list"] = [lay + [w for w in _split(comp) if w in FORM_COMPOSITION_WORDS]
                          for lay, comp in zip(frame["layout_list"], frame["composition_words"])]
    frame["object_list"] = [label_words(v) for v in frame["labels"]]
    frame["ocr_text"] = frame["ocr_text"].fillna("").astype(str)
    return frame, text_matrix(library, n)


def text_matrix(library, n: int) -> np.ndarray:
    """ads.text_vec in id order as an (n, d) float32 matrix, nulls as zeros. When every stored row has
    one length it is read as FLOAT[d] and each Arrow chunk's flat buffer is copied once into the matrix
    (no combined copy, no list offsets; the same floats); otherwise as lists (`vector_column`)."""
    (d, shortest), = library.execute("SELECT coalesce(max(len(text_vec)), 0), min(len(text_vec)) FROM ads").fetchall()
    d = int(d)
    if not d or shortest != d:
        return vector_column(arrow_query(library, "SELECT id, text_vec FROM ads ORDER BY id"), "text_vec", n, 384)
    out = np.zeros((n, d), np.float32)
    at = 0
    for chunk in arrow_query(library, f"SELECT text_vec::FLOAT[{d}] AS v FROM ads ORDER BY id").column("v").chunks:
        rows = np.asarray(chunk.values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, d)
        rows = rows[chunk.offset:chunk.offset + len(chunk)]
        if chunk.null_count:
            valid = ~np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            out[at:at + len(chunk)][valid] = rows[valid]
        else:
            out[at:at + len(chunk)] = rows
        at += len(chunk)
    return out


VISUAL_BATCH = 8_192


def visual_matrix(library) -> tuple[np.ndarray, np.ndarray]:
    """(creative ids ascending, float32 visual rows) read in Arrow batches into one preallocated
    matrix, so the peak is the matrix plus one batch (100k × 3840 floats: 1.5 GB, not the 3+ GB of a
    whole Arrow table and its combined copy). Rows are read in storage order and placed by id: an
    ORDER BY over the vector column made DuckDB materialise all of it (1.6 GB more at 100k, and no
    way to cap its memory). Rows whose length differs from the longest are zeros, as in `vector_column`."""
    ids = np.asarray([r[0] for r in library.execute("SELECT id FROM creatives ORDER BY id").fetchall()], dtype=np.int64)
    (d, shortest), = library.execute("SELECT coalesce(max(len(visual)), 0), min(len(visual)) FROM creatives").fetchall()
    d = int(d)
    out = np.zeros((len(ids), d), dtype=np.float32)
    if not d:
        return ids, out
    if shortest == d:   # the usual case, one model's rows: read as fixed-size arrays
        return ids, _fixed_rows(library, ids, d, out)
    reader = library.con.sql("SELECT id, visual FROM creatives").to_arrow_reader(VISUAL_BATCH)
    for batch in reader:
        at = np.searchsorted(ids, np.asarray(batch.column("id").to_numpy(zero_copy_only=False), dtype=np.int64))
        col = batch.column("visual")
        valid = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        lengths = np.asarray(col.value_lengths().fill_null(0).to_numpy(zero_copy_only=False))
        flat = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
        full = valid & (lengths == d)
        if full.all():
            out[at] = flat.reshape(len(at), d)
        else:
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            for i in np.flatnonzero(full):
                out[at[i]] = flat[offsets[i]:offsets[i + 1]]
    return ids, out


def _fixed_rows(library, ids: np.ndarray, d: int, out: np.ndarray) -> np.ndarray:
    """`visual_matrix` when every stored row has d floats: cast to FLOAT[d], DuckDB hands Arrow one
    flat buffer per batch with no list offsets (100k × 3840: 4.4 s, against 10.7 s as variable-length
    lists; the same floats). Null rows stay zeros."""
    reader = library.con.sql(f"SELECT id, visual::FLOAT[{d}] AS visual FROM creatives").to_arrow_reader(VISUAL_BATCH)
    for batch in reader:
        at = np.searchsorted(ids, np.asarray(batch.column("id").to_numpy(zero_copy_only=False), dtype=np.int64))
        col = batch.column("visual")
        rows = np.asarray(col.values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, d)[col.offset:col.offset + len(col)]
        if col.null_count:
            valid = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            out[at[valid]] = rows[valid]
        else:
            out[at] = rows
    return out


def _split(s) -> list[str]:
    if not isinstance(s, str):
        return []
    return [w.strip() for w in s.split(",") if w.strip()]
