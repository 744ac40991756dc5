"""Trends: creative approaches over time — lineage as a Sankey (approaches per period, member flows),
metric lines per approach, the events (new, inactive, split, merge) and a filter to the approaches
that are improving or declining. The computation (one taxonomy per period) is cached per library
path and data version (ads count, current build) through `ui.q`."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

import core
from core import views
from pages import _common as ui

PERIODS = {"month": "Month", "week": "Week", "quarter": "Quarter", "custom": "Custom"}
METRICS = {"ads": "Ads", "spend": "Spend", "impressions": "Impressions", "ctr": "CTR", "cvr": "CVR",
           "cost_per_conversion": "Cost per conversion", "conversions_per_1k_spend": "Conversions per 1k spend",
           "frequency": "Frequency"}
SHOW = {"all": "All approaches", "improving": "Improving", "declining": "Declining or peaked", "both": "Improving or declining"}
DIRECTIONS = {"all": None, "improving": {"improving"}, "declining": {"declining", "peaked"},
              "both": {"improving", "declining", "peaked"}}
# glyphs that Debian's DejaVu fonts carry (no emoji font there): nothing renders as an empty box
ICONS = {"improving": "↗", "peaked": "▲", "declining": "↘", "steady": "→", "new": "★"}
KIND_ICONS = {"NEW": "★ New", "INACTIVE": "■ Stopped", "SPLIT": "↔ Split", "MERGE": "⊕ Merged"}

ui.route()
library = ui.lib()
ui.header("Trends", "Creative approaches over time: which grow, peak, appear, disappear or split into new ones.")
stats = ui.q(views.library_stats)
if stats["ads"] < 2:
    st.info("This library has no ads yet. Upload a zip with a metadata CSV (with dates) on the **Library** page.",
            icon=":material/upload:")
    ui.page_link("library", "Go to Library", icon=":material/photo_library:")
    st.stop()

# one control per row: segmented controls in narrow columns get cut off
period = st.segmented_control("Period", list(PERIODS), format_func=PERIODS.get, default="month", key="trends_period",
                              required=True)
show = st.segmented_control("Show", list(SHOW), format_func=SHOW.get, default="all", key="trends_show", required=True)
with st.expander("Evidence: how strictly periods are matched"):
    min_jaccard = st.slider("Match threshold (Jaccard overlap)", 0.2, 0.9, 0.4, 0.05, key="trends_jaccard",
                            help="How much two periods' groups must overlap (after projecting each period's ads onto the "
                                 "other period's groups) to count as the same approach.")
kwargs: dict = {"min_jaccard": float(min_jaccard)}
if period == "custom":
    first, last = stats["date_min"] or dt.date.today(), stats["date_max"] or dt.date.today()
    text = st.text_input("Period boundaries (dates, comma-separated: each period runs from one date to the day before the next)",
                         value=", ".join(str(d) for d in pd.date_range(first, last + dt.timedelta(days=1), periods=5).date),
                         key="trends_bounds")
    kwargs["boundaries"] = tuple(b.strip() for b in text.split(",") if b.strip())
else:
    kwargs["period"] = period

with st.spinner("Computing trends: one taxonomy per period, then matching them… (cached afterwards)"):
    try:
        res = ui.q(core.compute_trends, **kwargs)
    except ValueError as e:
        st.error(ui.message_md(e), icon=":material/error:")
        st.stop()
    except Exception as e:  # noqa: BLE001
        ui.friendly(e, "compute the trends")
        st.stop()

if res.get("message"):
    st.info(ui.message_md(res["message"]), icon=":material/calendar_month:")
    st.stop()

periods = [p["id"] for p in res["periods"]]
approaches = {a["id"]: a for a in res["approaches"]}
wanted = DIRECTIONS[show]
shown = [a for a in res["approaches"] if wanted is None or a["direction"] in wanted]
shown_ids = {a["id"] for a in shown}
palette = plotly.colors.qualitative.Dark24
colour = {a: palette[i % len(palette)] for i, a in enumerate(approaches)}


_label_count = pd.Series([a["label"] for a in res["approaches"]]).value_counts()


def name(aid: str) -> str:
    """An approach as people read it: its label (with its id only where two approaches share a label)."""
    label = approaches[aid]["label"] or aid
    return f"{label} ({aid})" if _label_count.get(label, 0) > 1 else label


m = st.columns(4)
m[0].metric("Periods", len(periods), help=f"{res['periods'][0]['start']} → {res['periods'][-1]['end']}")
m[1].metric("Approaches", len(approaches))
m[2].metric("Events", len(res["events"]))
m[3].metric("Undated ads (left out)", res["undated_ads"])
if not shown:
    st.info(f"No approach is {SHOW[show].lower()} over these periods.", icon=":material/filter_alt_off:")

# -- lineage ------------------------------------------------------------------------------------------------------
st.subheader("Lineage")
st.caption("Each column is a period, each block an approach's ads in it; a band shows ads an approach shares with the next "
           "period's approach (its own, or the ones it split into or merged with).")
cells = [(p, a["id"]) for a in shown for p in periods if a["metrics"].get(p)]
index = {cell: i for i, cell in enumerate(cells)}
links = [f for f in res["flows"] if (f["from_period"], f["from_id"]) in index and (f["to_period"], f["to_id"]) in index]
if cells:
    col_x = [0.01 + 0.98 * i / max(len(periods) - 1, 1) for i in range(len(periods))]
    row = {a["id"]: (i + 0.5) / len(shown) for i, a in enumerate(shown)}   # an approach keeps its row across periods
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": [ui.plot_text(f"{name(a)[:32]} ({approaches[a]['metrics'][p]['ads']})") for p, a in cells],
              "x": [col_x[periods.index(p)] for p, _ in cells], "y": [row[a] for _, a in cells],
              "color": [colour[a] for _, a in cells], "pad": 12,
              "customdata": [ui.plot_text(f"{p} · {name(a)}") for p, a in cells], "hovertemplate": "%{customdata}<extra></extra>"},
        link={"source": [index[(f["from_period"], f["from_id"])] for f in links],
              "target": [index[(f["to_period"], f["to_id"])] for f in links],
              "value": [f["ads"] for f in links],
              "color": ["rgba(120,120,120,0.25)" if f["from_id"] == f["to_id"] else "rgba(230,120,40,0.45)" for f in links],
              "customdata": [ui.plot_text(f"{name(f['from_id'])} → {name(f['to_id'])}: {f['ads']} ads, overlap {f['jaccard']:.0%}")
                             for f in links],
              "hovertemplate": "%{customdata}<extra></extra>"}))
    fig.update_layout(height=max(320, 26 * len(shown) + 120), margin={"t": 30, "l": 10, "r": 10, "b": 10},
                      annotations=[{"x": xi, "y": 1.06, "xref": "paper", "yref": "paper", "text": ui.plot_text(p), "showarrow": False}
                                   for p, xi in zip(periods, col_x)])
    st.plotly_chart(fig, width="stretch", key="trends_sankey")

# -- metric lines ---------------------------------------------------------------------------------------------------
st.subheader("Metrics per approach")
metric = st.selectbox("Metric", list(METRICS), format_func=METRICS.get, key="trends_metric")
fig = go.Figure()
for a in shown:
    ys = [(a["metrics"].get(p) or {}).get(metric) for p in periods]
    # the name goes in as data (%{fullData.name}), never into the template, where a '%{…}' in a label would be read
    fig.add_trace(go.Scatter(x=periods, y=ys, mode="lines+markers", name=ui.plot_text(name(a["id"])[:40]), connectgaps=False,
                             line={"color": colour[a["id"]]}, hovertemplate="%{fullData.name} · %{x}: %{y:,.4g}<extra></extra>"))
fig.update_layout(height=380, margin={"t": 10, "l": 10, "r": 10, "b": 10}, yaxis_title=METRICS[metric],
                  yaxis_tickformat=".2%" if metric in ("ctr", "cvr") else None, legend={"font": {"size": 11}})
st.plotly_chart(fig, width="stretch", key="trends_lines")


def delta_cell(a: dict, key: str) -> str:
    d = a["deltas"][0] if a["deltas"] else None
    if d is None or d.get(f"{key}_pct") is None:
        return "—"
    test = d.get("ctr_test") if key == "ctr" else None
    sig = " *" if test and test["significant"] else ""
    return f"{d[f'{key}_pct']:+.0%}{sig}"


rows = []
for a in shown:
    last = a["metrics"].get(periods[-1]) or {}
    rows.append({"approach": name(a["id"]), "direction": f"{ICONS.get(a['direction'], '')} {a['direction'] or ''}".strip() or "—",
                 **{p: (a["status_by_period"].get(p) or "—") for p in periods},
                 "ads": last.get("ads") or 0, "spend": ui.fmt_num(last.get("spend"), "spend"), "CTR": ui.fmt_num(last.get("ctr"), "ctr"),
                 "Δ spend": delta_cell(a, "spend"), "Δ CTR": delta_cell(a, "ctr"), "keywords": ", ".join(a["keywords"][:4])})
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")   # formatted text: no "None" in empty cells
    st.caption(f"Status per period; last period ({periods[-1]}) metrics and change against {periods[-2] if len(periods) > 1 else '—'}. "
               "* = CTR change significant (two-proportion z-test, p < 0.05).")

# -- events ---------------------------------------------------------------------------------------------------------
st.subheader("Events")
events = [e for e in res["events"] if wanted is None or e["approach_id"] in shown_ids or set(e["related_ids"]) & shown_ids]
if events:
    st.dataframe(pd.DataFrame([{"period": e["period"], "event": KIND_ICONS.get(e["kind"], e["kind"]), "approach": name(e["approach_id"]),
                                "related": ", ".join(name(r) if r in approaches else r for r in e["related_ids"]) or "—"}
                               for e in events]), hide_index=True, width="stretch")
else:
    st.caption("No approach appeared, stopped, split or merged in these periods.")

# -- ads of one approach ----------------------------------------------------------------------------------------------
if shown:
    with st.expander("Ads of an approach"):
        pick = st.selectbox("Approach", [a["id"] for a in shown], format_func=name, key="trends_pick")
        in_period = [p for p in periods if approaches[pick]["ad_ids"].get(p)]
        when = st.segmented_control("Period", in_period, default=in_period[-1], key="trends_pick_period", required=True)
        ids = tuple(approaches[pick]["ad_ids"][when])      # paged: an approach holds thousands of ads at 10k
        ui.paged_grid(lambda page: ui.q(views.ads_page, ad_ids=ids, page=page, per_page=ui.PER_PAGE), f"trends-{pick}-{when}")

with st.expander("How approaches are matched"):
    st.markdown(
        "Every period is clustered on its own into families (the taxonomy's method, with variants of one creative kept "
        "together), in one feature space shared by all periods. Two consecutive periods are compared after **projecting** "
        "each period's ads onto the other period's families (the family holding the ad's variants there, else the nearest "
        "family centroid within its reach). A family continues an approach when the Jaccard overlap of the projected "
        f"memberships is ≥ {min_jaccard:.2f}; a family that several new families draw from is a **split**, several that flow "
        "into one a **merge**; no match means **new** (in the later period) or **inactive** (in the earlier one).")

ui.show_ad_dialog()
