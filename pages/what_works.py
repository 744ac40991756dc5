"""What works: families or sub-clusters ranked by a chosen metric, each with its pictures, the likely
range of its result and the spend it needs before its rates count."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core import what_works as ww
from pages import _common as ui
from pages._common import K

ui.route()
library = ui.lib()
ui.header("What works", "The creative patterns that perform best, with their pictures. Ranked by what each surely reaches, "
          "not by lucky small numbers.")
if not ui.require_taxonomy(library):
    st.stop()
metrics = ui.q(ww.available_metrics)
if not metrics:
    st.info("This library has no performance data (spend, impressions, clicks, conversions). Upload a metadata CSV with "
            "those columns on the **Library** page to rank its patterns.", icon=":material/query_stats:")
    ui.page_link("library", "Go to Library", icon=":material/photo_library:")
    st.stop()

c = st.columns([2, 2, 2], vertical_alignment="bottom")
metric = c[0].selectbox("Rank by", metrics, format_func=lambda m: ww.METRICS[m][0], key=K.WW_METRIC)
level = c[1].segmented_control("Show", [1, 2], format_func={1: "Families", 2: "Sub-clusters"}.get, default=1,
                               key=K.WW_LEVEL, required=True)
gate = c[2].number_input(f"Minimum spend to judge ({ui.currency() or 'in the data’s currency'})", min_value=0.0,
                         value=float(ui.q(ww.default_gate)), step=50.0, key=K.WW_GATE,
                         help="A pattern with less spend than this has too little data for its rates to mean much: it is "
                              "listed apart, not ranked.")
res = ui.q(ww.rank_nodes, metric, int(level), float(gate))
label, is_rate, higher = ww.METRICS[metric]
kind = "ctr" if is_rate else "spend" if metric in ("spend", "cost_per_conversion") else ""
ranked, gated, overall = res["ranked"], res["gated"], res["overall"]

if ranked.empty:
    st.info("No pattern has enough spend to be judged. Lower the minimum spend above to see them anyway.",
            icon=":material/filter_alt_off:")
else:
    # the ranking as a picture: each pattern's value with its likely range, against the whole library
    show = ranked.head(25).iloc[::-1]
    names = [ui.plot_text(f"{r.label[:38]} ({r.size})") for r in show.itertuples()]
    err = {}
    if is_rate and show["low"].notna().any():
        err = {"error_x": {"type": "data", "symmetric": False, "array": (show["high"] - show["value"]).tolist(),
                           "arrayminus": (show["value"] - show["low"]).tolist(), "thickness": 2, "width": 4}}
    colours = {"above": "#16a34a", "below": "#dc2626", "like the rest": "#6b7280"}
    fig = go.Figure(go.Scatter(x=show["value"], y=names, mode="markers", marker={"size": 11, "color": [colours[v] for v in show["verdict"]]},
                               hovertemplate="%{y}: %{x}<extra></extra>", **err))
    if overall is not None:
        fig.add_vline(x=overall, line_dash="dot", line_color="#4F46E5",
                      annotation_text=f"all ads: {ui.fmt_num(overall, kind)}", annotation_position="top")
    fig.update_layout(height=max(260, 30 * len(show) + 80), margin={"t": 30, "l": 10, "r": 10, "b": 10},
                      xaxis={"tickformat": ".2%" if is_rate else ",.0f", "title": label}, showlegend=False)
    st.plotly_chart(fig, width="stretch", key="ww_chart")
    st.caption("Green: clearly above all ads (its whole likely range is), red: clearly below, grey: not clearly different. "
               "Bars: the likely range (95%)." if is_rate else "Green/red: better/worse than all ads.")

    for i, r in enumerate(ranked.itertuples(index=False), 1):
        with st.container(border=True):
            left, right = st.columns([3, 2], vertical_alignment="center")
            with left:
                ui.thumb_strip(r.reps, n=4)
            with right:
                st.markdown(f"**{i}. {ui.safe_md(r.label)}**")
                rng = f" (likely {ui.fmt_num(r.low, kind)} – {ui.fmt_num(r.high, kind)})" if r.low is not None and r.low == r.low else ""
                st.markdown(f"{label}: **{ui.fmt_num(r.value, kind)}**{rng}")
                verdict = {"above": ":green[clearly above all ads]", "below": ":red[clearly below all ads]"}.get(r.verdict, "")
                st.caption(f"{r.size:,} ads · {ui.fmt_num(r.spend, 'spend')} spent" + (f" · {verdict}" if verdict else ""))
                st.button("Open", key=f"ww-open-{r.id}", on_click=ui.goto_node, args=(r.id,), icon=":material/account_tree:")

if len(gated):
    with st.expander(f"{len(gated)} pattern{'s' if len(gated) != 1 else ''} with too little spend to judge"):
        for r in gated.itertuples(index=False):
            st.markdown(f"- **{ui.safe_md(r.label)}** — {r.size:,} ads, {ui.fmt_num(r.spend, 'spend')} spent")

ui.show_ad_dialog()
