"""Grid rows: the few fields an ad tile shows, with its thumbnail and media paths checked on disk."""
from __future__ import annotations

from typing import Iterable

import pandas as pd


_GRID_COLS = """a.id AS ad_id, a.file, c.kind, c.thumb_path, c.media_path, a.headline, a.format, a.campaign, a.spend, a.ctr,
                c.duration_s, a.creative_id"""


def _grid_rows(library, df: pd.DataFrame) -> pd.DataFrame:
    df["thumb"] = df["thumb_path"].map(lambda p: _existing(library, p))
    df["media"] = df["media_path"].map(lambda p: _existing(library, p))
    return df.drop(columns=["thumb_path", "media_path"])


def _existing(library, rel) -> str | None:
    p = library.abspath(rel) if isinstance(rel, str) else None
    return str(p) if p is not None and p.exists() else None


def ads_by_ids(library, ad_ids: Iterable[int]) -> pd.DataFrame:
    """Grid rows for these ads, in the order given."""
    ids = [int(i) for i in ad_ids]
    if not ids:
        return _grid_rows(library, library.query_df(f"SELECT {_GRID_COLS} FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE false"))
    df = library.query_df(f"""SELECT {_GRID_COLS} FROM ads a JOIN creatives c ON c.id = a.creative_id
                              WHERE a.id IN (SELECT unnest(?::INTEGER[]))""", [ids])
    order = {a: i for i, a in enumerate(ids)}
    df = df.sort_values("ad_id", key=lambda s: s.map(order)).reset_index(drop=True)
    return _grid_rows(library, df)
