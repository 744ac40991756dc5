"""The map as pictures (the Map page's Pictures view): every ad's thumbnail at its 2-D place in one pydeck
IconLayer over a sprite sheet. (`pages/_common.py` re-exports `atlas_view`.)"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core import views
from pages import _common as ui
from pages._common import K


@st.cache_resource(show_spinner=False, max_entries=4)
def _atlas_deck(path: str, version: str, height: int):
    """The Pictures view's deck for one library version, built once; its JSON (8 MB at 10k ads) is made once too."""
    import html

    import pydeck as pdk

    from core.atlas import atlas

    class _JsonOnce(pdk.Deck):
        def to_json(self):
            if getattr(self, "_json_once", None) is None:
                self._json_once = super().to_json()
            return self._json_once

    library = ui.open_library(path)
    a = atlas(library)
    if a is None:
        return None
    pts = views.map_points(library)
    p = a["points"].copy()
    p["family"] = p["ad_id"].map(dict(zip(pts["ad_id"], pts["family"]))).fillna("")
    for col in ("file", "family"):             # the tooltip is HTML: names from the upload are escaped
        p[col] = p[col].map(lambda v: html.escape(str(v)))
    cell, (w, h) = a["cell"], a["sheet_px"]
    k = 160 / cell                                   # the hover picture: the sprite, 160 px wide
    p["bx"] = p["sprite"].map(lambda s: -a["mapping"][s]["x"] * k)
    p["by"] = p["sprite"].map(lambda s: -a["mapping"][s]["y"] * k)
    size = 1.4 * a["world"] / max(1.0, len(p) ** 0.5)   # pictures a bit larger than their average spacing
    p = p[["ad_id", "x", "y", "sprite", "file", "family", "bx", "by"]].round({"x": 1, "y": 1, "bx": 0, "by": 0})   # payload
    # icon_atlas quoted: pydeck would read a bare string as a JavaScript accessor
    layer = pdk.Layer("IconLayer", p, id="ads", get_icon="sprite", icon_atlas=f"'{a['sheet']}'", icon_mapping=a["mapping"],
                      get_position=["x", "y"], get_size=size, size_units="common", pickable=True, auto_highlight=True)
    tip = {"html": f"<div style='width:160px;height:160px;background-image:url({a['sheet']});background-repeat:no-repeat;"
                   f"background-size:{w * k:.0f}px {h * k:.0f}px;background-position:{{bx}}px {{by}}px'></div>"
                   "<div style='max-width:180px'><b>{file}</b><br/>{family}</div>",
           "style": {"backgroundColor": "white", "color": "#1f2430", "border": "1px solid #d6d9e0", "padding": "6px"}}
    deck = _JsonOnce(layers=[layer], views=[pdk.View(type="OrthographicView", controller=True)], map_style=None,
                     initial_view_state=pdk.ViewState(target=[float(p["x"].min() + p["x"].max()) / 2,
                                                               float(p["y"].min() + p["y"].max()) / 2, 0],
                                                       zoom=_fit_zoom(p, size, height), min_zoom=-3, max_zoom=7), tooltip=tip)
    caption = (f"{len(p):,} ads drawn as pictures · scroll to zoom, drag to pan, hover for a closer look, click to open. "
               f"Sprite sheet {w}×{h} px, {a['sheet_bytes'] / 1e6:.1f} MB.")
    return deck, caption


def atlas_view(height: int = 640) -> None:
    """The map as pictures: every ad's thumbnail at its 2-D place (pydeck IconLayer, one sprite sheet, an
    OrthographicView with no map tiles, so it works offline). Hover: a larger picture, the file and its family;
    a click opens the ad."""
    library = ui.lib()
    with st.spinner("Preparing the pictures (once per taxonomy build)…"):
        built = _atlas_deck(str(library.path), views.data_version(library), height)
    if built is None:
        st.info("This taxonomy build has no 2-D layout.")
        return
    deck, caption = built
    event = st.pydeck_chart(deck, height=height, key=K.ATLAS, on_select="rerun", selection_mode="single-object")
    st.caption(caption)
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
