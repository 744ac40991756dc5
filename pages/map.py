"""Map: the 2-D layout of every ad (UMAP of the build). Two views: Pictures (ads drawn as their own
thumbnails at their places — deck.gl's IconLayer over one sprite sheet, zoomable, WebGL, no map tiles;
above 1,500 ads one per patch of the map or a chosen family's; hover shows a larger picture, a click opens
the ad) and Dots (coloured by family, tree level, a metric
or an attribute; box/lasso selection shows the selected ads and what they share)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from core import views
from pages import _common as ui
from pages._common import K

WEBGL_FROM = 1500           # Scattergl above this many points
MAX_CATEGORIES = 24         # more categories than this: the rest are "other"

ui.route()
library = ui.lib()
ui.header("Map", "Every ad placed by similarity: nearby ads look and read alike.")
if not ui.require_taxonomy(library):
    st.stop()

pts = ui.q(views.map_points)
if pts is None or pts.empty:
    st.info("This taxonomy build has no 2-D layout. Rebuild the taxonomy from the Library page.", icon=":material/scatter_plot:")
    st.stop()

view = st.segmented_control("View", ["pictures", "dots"], key=K.MAP_VIEW, required=True, default="pictures",
                            format_func={"pictures": "Pictures", "dots": "Dots (colour and select)"}.get)
if view == "pictures":
    ui.atlas_view()
    ui.show_ad_dialog()
    st.stop()
st.caption("Drag a box or lasso to select ads.")

BASE = {"family": "Family", "sub_cluster": "Sub-cluster", "micro_pattern": "Micro-pattern", "kind": "Kind (image/video)",
        "format": "Format", "placement": "Placement", "campaign": "Campaign", "cta": "Call to action", "outlier": "Outliers"}
options = [c for c in BASE if c in pts.columns and pts[c].notna().any()]
options += [m for m in views.METRICS if m in pts.columns and pts[m].notna().any()]
from core.gallery import id_like_attributes

hidden = ui.q(id_like_attributes)
attr_keys = [a for a in ui.q(views.attribute_keys) if a not in hidden or st.session_state.get(K.MAP_IDS)]
options += [f"attr:{a}" for a in attr_keys]

a, b = st.columns([2, 1])
color = a.selectbox("Colour by", options, key=K.MAP_COLOR,
                    format_func=lambda o: BASE.get(o, o[5:] + " (attribute)" if o.startswith("attr:") else o.upper() if o == "ctr" else o.capitalize()))
b.caption(f"{len(pts):,} ads · {'WebGL' if len(pts) > WEBGL_FROM else 'SVG'} rendering")
if hidden:
    b.toggle("Offer id and hash columns", key=K.MAP_IDS, help="Attributes that identify rather than describe an ad "
             f"({ui.safe_md(', '.join(sorted(hidden)[:6]))}{'…' if len(hidden) > 6 else ''}) are left out of Colour by.")

if color.startswith("attr:"):
    values = pts["ad_id"].map(ui.q(views.attribute_values, color[5:]))
else:
    values = pts[color]
numeric = pd.api.types.is_numeric_dtype(values) and values.nunique() > 12
Scatter = go.Scattergl if len(pts) > WEBGL_FROM else go.Scatter
hover = "<b>%{customdata[1]}</b><br>%{customdata[2]}<br>%{customdata[3]}<extra></extra>"
custom = np.column_stack([pts["ad_id"], ui.plot_text(pts["node"].fillna("")), ui.plot_text(pts["family"].fillna("")),
                          ui.plot_text(pts["file"].map(lambda f: str(f).rsplit("/", 1)[-1]))])

size = 9 if len(pts) < 500 else 6 if len(pts) < 5000 else 4
palette = plotly.colors.qualitative.Plotly if values.nunique() <= 10 else plotly.colors.qualitative.Dark24
fig = go.Figure()
if numeric:
    v = values.astype(float)
    scale = np.log10(v.clip(lower=1e-9)) if color in ("spend", "impressions", "clicks", "revenue") and v.max() > 1000 else v
    fig.add_trace(Scatter(x=pts["x"], y=pts["y"], mode="markers", customdata=custom, hovertemplate=hover, name=ui.plot_text(color),
                          marker={"size": size, "color": scale, "colorscale": "Viridis", "showscale": True, "opacity": 0.85,
                                  "colorbar": {"title": {"text": ui.plot_text(("log10 " if scale is not v else "") + color)}}}))
else:
    cats = values.fillna("(none)").astype(str)
    top = cats.value_counts().index[:MAX_CATEGORIES]
    cats = cats.where(cats.isin(top), "other")
    for i, cat in enumerate(cats.value_counts().index):
        m = (cats == cat).to_numpy()
        fig.add_trace(Scatter(x=pts["x"][m], y=pts["y"][m], mode="markers", name=ui.plot_text(cat), customdata=custom[m], hovertemplate=hover,
                              marker={"size": size, "opacity": 0.85, "color": "#b8bcc6" if cat in ("other", "(none)", "outliers")
                                      else palette[i % len(palette)]}))
fig.update_layout(height=600, margin={"t": 10, "l": 10, "r": 10, "b": 10}, dragmode="select",
                  legend={"itemsizing": "constant", "orientation": "h", "yanchor": "top", "y": -0.02, "x": 0},
                  xaxis={"visible": False}, yaxis={"visible": False})


def _on_select() -> None:
    ev = st.session_state.get(K.MAP_CHART)
    sel = ev.get("selection", {}) if ev else {}
    ids = [int(p["customdata"][0]) for p in sel.get("points", []) if p.get("customdata") is not None]
    st.session_state[K.MAP_SELECTION] = sorted(set(ids))
    st.session_state.pop(K.page("map-sel"), None)


st.plotly_chart(fig, width="stretch", key=K.MAP_CHART, on_select=_on_select, selection_mode=("box", "lasso"))

selected = st.session_state.get(K.MAP_SELECTION) or []
if not selected:
    st.caption("Select ads with the box or lasso tool (drag on the map) to see them here with what they share.")
    ui.show_ad_dialog()
    st.stop()

head, clear = st.columns([4, 1], vertical_alignment="center")
head.subheader(f"{len(selected):,} selected ads")
if clear.button("Clear selection", key=K.MAP_CLEAR):
    st.session_state.pop(K.MAP_SELECTION, None)
    st.rerun()

traits = ui.q(views.shared_traits, tuple(selected))
st.markdown("**What they share**")
if len(selected) >= len(pts):
    st.caption("You selected every ad on the map: select a smaller region to see what sets it apart.")
elif traits.empty:
    st.caption("Nothing stands out: these ads share no tag, word, colour or family in most of them.")
else:
    st.dataframe(traits, hide_index=True, width="stretch",
                 column_config={"in_selection": st.column_config.ProgressColumn("in selection", format="percent", min_value=0, max_value=1),
                                "in_library": st.column_config.NumberColumn("in library", format="percent"),
                                "lift": st.column_config.NumberColumn(format="%.1f×")})
fam = pts[pts["ad_id"].isin(selected)]["family"].value_counts()
st.caption("Families: " + ", ".join(f"{ui.safe_md(k)} ({v})" for k, v in fam.head(6).items()))
ui.paged_grid(lambda page: ui.q(views.ads_page, ad_ids=tuple(selected), page=page, per_page=ui.PER_PAGE), "map-sel")

ui.show_ad_dialog()
