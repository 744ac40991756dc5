"""The map as pictures (the Map page's Pictures view): ads' thumbnails at their 2-D places in one pydeck
IconLayer over a sprite sheet; above core.atlas.MAX_PICTURES ads, one picture per patch of the map, or a chosen
family's own ads (the level of detail that keeps it interactive). (`pages/_common.py` re-exports `atlas_view`.)"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import views
from pages import _common as ui
from pages._common import K


@st.cache_resource(show_spinner=False, max_entries=8)
def _atlas_deck(path: str, version: str, height: int, focus: str | None):
    """The Pictures view's deck for one library version and focus (None: the whole map; else a family id), built
    once; its JSON is made once too."""
    import html

    import pydeck as pdk

    from core import atlas

    class _JsonOnce(pdk.Deck):
        def to_json(self):
            if getattr(self, "_json_once", None) is None:
                self._json_once = super().to_json()
            return self._json_once

    library = ui.open_library(path)
    pts = atlas.layout(library)
    if pts is None:
        return None
    nodes = views.nodes_frame(library)
    pts["family"] = pts["family_id"].map(nodes["label"] if nodes is not None else {}).fillna("outliers")
    pool = pts if focus is None else pts[pts["family_id"] == focus]
    if pool.empty:
        pool = pts
    chosen, patch = atlas.pick_pictures(pool["x"].to_numpy(), pool["y"].to_numpy())
    p = pool.iloc[chosen].copy()
    a = atlas.sprite_sheet(library, p)
    p["sprite"] = "c" + p["creative_id"].astype(str)
    for col in ("file", "family"):             # the tooltip is HTML: names from the upload are escaped
        p[col] = p[col].map(lambda v: html.escape(str(v)))
    cell, (w, h) = a["cell"], a["sheet_px"]
    k = 160 / cell                                   # the hover picture: the sprite, 160 px wide
    p["bx"] = p["sprite"].map(lambda s: -a["mapping"][s]["x"] * k)
    p["by"] = p["sprite"].map(lambda s: -a["mapping"][s]["y"] * k)
    xspan, yspan = float(np.ptp(p["x"])) if len(p) > 1 else 0.0, float(np.ptp(p["y"])) if len(p) > 1 else 0.0
    area = max(xspan, atlas.WORLD / 20) * max(yspan, atlas.WORLD / 20)
    size = 1.4 * (area / max(1, len(p))) ** 0.5     # pictures a bit larger than their average spacing
    if patch is not None:
        size = patch                                  # one per patch: pictures tile their patches
    p = p[["ad_id", "x", "y", "sprite", "file", "family", "bx", "by"]].round({"x": 1, "y": 1, "bx": 0, "by": 0})   # payload
    left_out = len(pool) - len(p)
    # icon_atlas quoted: pydeck would read a bare string as a JavaScript accessor
    layer = pdk.Layer("IconLayer", p, id="ads", get_icon="sprite", icon_atlas=f"'{a['sheet']}'", icon_mapping=a["mapping"],
                      get_position=["x", "y"], get_size=size, size_units="common", pickable=True, auto_highlight=True)
    tip = {"html": f"<div style='width:160px;height:160px;background-image:url({a['sheet']});background-repeat:no-repeat;"
                   f"background-size:{w * k:.0f}px {h * k:.0f}px;background-position:{{bx}}px {{by}}px'></div>"
                   "<div style='max-width:180px;overflow-wrap:anywhere'><b>{file}</b><br/>{family}</div>",
           "style": {"backgroundColor": "white", "color": "#1f2430", "border": "1px solid #d6d9e0", "padding": "6px"}}
    deck = _JsonOnce(layers=[layer], views=[pdk.View(type="OrthographicView", controller=True)], map_style=None,
                     initial_view_state=pdk.ViewState(target=[float(p["x"].min() + p["x"].max()) / 2,
                                                               float(p["y"].min() + p["y"].max()) / 2, 0],
                                                       zoom=_fit_zoom(p, size, height), min_zoom=-3, max_zoom=7), tooltip=tip)
    if focus is None:
        shown = "every ad" if not left_out else f"{len(p):,} of {len(pool):,} ads, one per patch of the map"
    else:
        shown = "every ad of this family" if not left_out else f"{len(p):,} of this family's {len(pool):,} ads, one per patch"
    caption = (f"{len(p):,} pictures: {shown}. Scroll to zoom, drag to pan, hover for a closer look, click to open."
               + (" Pick a family above to see its own ads as pictures." if left_out and focus is None else "")
               + f" Sprite sheet {w}×{h} px, {a['sheet_bytes'] / 1e6:.1f} MB.")
    return deck, caption


def atlas_view(height: int = 640) -> None:
    """The map as pictures: ads' thumbnails at their 2-D places (pydeck IconLayer, one sprite sheet, an
    OrthographicView with no map tiles, so it works offline). Above core.atlas.MAX_PICTURES ads, one picture per
    patch of the map; a family can be picked to see its own ads as pictures. Hover: a larger
    picture, the file and its family; a click opens the ad."""
    from core.atlas import MAX_PICTURES

    library = ui.lib()
    focus = None
    stats = ui.q(views.library_stats)
    if stats["ads"] > MAX_PICTURES:
        nodes = ui.q(views.nodes_frame)
        fams = nodes[nodes["level"] == 1].sort_values(["size", "id"], ascending=[False, True]) if nodes is not None else None
        if fams is not None and len(fams):
            focus = st.selectbox("Pictures of", [None, *fams["id"]], key=K.ATLAS_FOCUS,
                                 format_func=lambda f: "The whole map (one picture per patch)" if f is None
                                 else f"{fams.loc[f, 'label']} ({int(fams.loc[f, 'size'] or 0):,} ads)")
    with st.spinner("Preparing the pictures (once per taxonomy build)…"):
        built = _atlas_deck(str(library.path), ui.version(library), height, focus)
    if built is None:
        st.info("This taxonomy build has no 2-D layout.")
        return
    deck, caption = built
    event = st.pydeck_chart(deck, height=height, key=f"{K.ATLAS}-{focus or 'all'}", on_select="rerun",
                            selection_mode="single-object")
    st.caption(ui.safe_md(caption))
    objs = (event.selection.get("objects") or {}).get("ads") if event and event.get("selection") else None
    if objs:
        chosen = int(objs[0]["ad_id"])
        if st.session_state.get(K.ATLAS + "_last") != chosen:      # a new click opens the ad once
            st.session_state[K.ATLAS + "_last"] = chosen
            ui.open_ad(chosen)


def _fit_zoom(p: pd.DataFrame, size: float, height: int, width: int = 900) -> float:
    """OrthographicView zoom (log2 of pixels per world unit) that fits every picture in the chart."""
    import math

    xspan = float(p["x"].max() - p["x"].min()) + 2 * size
    yspan = float(p["y"].max() - p["y"].min()) + 2 * size
    return math.log2(max(1e-3, 0.92 * min(width / max(xspan, 1e-6), height / max(yspan, 1e-6))))
