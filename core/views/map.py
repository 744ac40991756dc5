"""The map: placed ads with their tree labels, and what a selection of ads shares."""
from __future__ import annotations

import pandas as pd

from .base import current_build_key
from .taxonomy import nodes_frame

_STOPWORDS = frozenset("""the and for with you your our are was were this that from have has had not but all any can will just
into out off its it's more most get got now new one two per via than then them they their there these those what when where which
who why how shows tags colours colors layout text image photo jpg png mp4 www com http https""".split())


def map_points(library, nodes: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """One row per placed ad: x, y, family / sub-cluster / micro-pattern labels and the ad's fields."""
    key = current_build_key(library)
    if not key:
        return None
    df = library.query_df(
        """SELECT s.ad_id, s.x, s.y, s.family_id, s.leaf_id, s.is_outlier, a.file, c.kind, a.headline, a.format, a.placement,
                  a.campaign, a.cta, a.date, a.spend, a.impressions, a.clicks, a.conversions, a.revenue, a.ctr
           FROM assignments s JOIN ads a ON a.id = s.ad_id JOIN creatives c ON c.id = a.creative_id
           WHERE s.build_key = ? AND s.x IS NOT NULL ORDER BY s.ad_id""", [key])
    if df.empty:
        return df
    nodes = nodes if nodes is not None else nodes_frame(library, key)
    lab = dict(zip(nodes["id"], nodes["label"])) if nodes is not None else {}
    level = dict(zip(nodes["id"], nodes["level"])) if nodes is not None else {}
    by_level = {nid: {level[c]: lab[c] for c in chain} for nid, chain in zip(nodes["id"], nodes["chain"])} if nodes is not None else {}

    leaf = df["leaf_id"].where(df["leaf_id"].notna(), df["family_id"])
    df["family"] = [lab.get(f, f) if f is not None else "outliers" for f in df["family_id"]]
    df["sub_cluster"] = [by_level.get(lf, {}).get(2, "(none)") for lf in leaf]
    df["micro_pattern"] = [by_level.get(lf, {}).get(3, "(none)") for lf in leaf]
    df["node"] = [lab.get(lf, lf) for lf in leaf]
    df["outlier"] = df.pop("is_outlier").fillna(False).map({True: "outlier", False: "assigned"})
    return df


def shared_traits(library, ad_ids: list[int], min_share: float = 0.5, top: int = 15) -> pd.DataFrame:
    """What a selection of ads has in common: tags, words, colours, layout, family, format, kind…,
    each with its share in the selection, its share in the library and the lift between them."""
    ids = sorted({int(i) for i in ad_ids})
    cols = ["trait", "what", "in_selection", "in_library", "lift"]
    if not ids:
        return pd.DataFrame(columns=cols)
    key = current_build_key(library) or ""
    df = library.query_df(
        """WITH base AS (
             SELECT a.id, a.id IN (SELECT unnest(?::INTEGER[])) AS s, a.tags, a.format, a.placement, a.campaign, a.cta,
                    c.kind, c.color_words, c.layout_words, lower(coalesce(a.document, '')) AS doc, f.label AS family
             FROM ads a JOIN creatives c ON c.id = a.creative_id
             LEFT JOIN assignments x ON x.ad_id = a.id AND x.build_key = ?
             LEFT JOIN nodes f ON f.build_key = x.build_key AND f.id = x.family_id),
           items AS (
             SELECT id, s, 'tag' AS what, unnest(list_distinct(coalesce(tags, []))) AS v FROM base
             UNION ALL SELECT id, s, 'colour', unnest(list_distinct(string_split(coalesce(color_words, ''), ', '))) FROM base
             UNION ALL SELECT id, s, 'layout', unnest(list_distinct(string_split(coalesce(layout_words, ''), ', '))) FROM base
             UNION ALL SELECT id, s, 'word', unnest(list_distinct(regexp_extract_all(doc, '[a-z][a-z''-]{2,}'))) FROM base
             UNION ALL SELECT id, s, 'family', family FROM base
             UNION ALL SELECT id, s, 'format', format FROM base
             UNION ALL SELECT id, s, 'placement', placement FROM base
             UNION ALL SELECT id, s, 'campaign', campaign FROM base
             UNION ALL SELECT id, s, 'call to action', cta FROM base
             UNION ALL SELECT id, s, 'kind', kind FROM base)
           SELECT what, v AS trait, count(*) FILTER (WHERE s) AS n_sel, count(*) AS n_all
           FROM items WHERE v IS NOT NULL AND v <> '' GROUP BY what, v HAVING count(*) FILTER (WHERE s) > 0""", [ids, key])
    n_all = library.scalar("SELECT count(*) FROM ads") or 1
    n_sel = len(ids)
    df = df[~((df["what"] == "word") & df["trait"].isin(_STOPWORDS))]
    df["in_selection"] = df["n_sel"] / n_sel
    df["in_library"] = df["n_all"] / n_all
    df["lift"] = df["in_selection"] / df["in_library"]
    df = df[df["in_selection"] >= min_share]
    if n_sel < n_all:
        df = df[df["lift"] > 1.05]                     # shared by the selection more than by the library
    named = set(df.loc[df["what"] != "word", "trait"].str.lower())
    df = df[~((df["what"] == "word") & df["trait"].isin(named))]   # a word that repeats a tag/colour/layout row
    df = df.sort_values(["in_selection", "lift"], ascending=False).head(top)
    return df[cols].reset_index(drop=True)
