"""Taxonomy: an overview (sunburst / treemap sized by ads, coloured by a metric), a drillable tree
family → sub-cluster → micro-pattern with breadcrumbs, node cards with evidence and ads, and the
user's edits (rename, merge, split)."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core import views
from core.what_works import rep_ids
from pages import _common as ui
from pages._common import K

ui.route()
library = ui.lib()
ui.header("Taxonomy", "Families → sub-clusters → micro-patterns, discovered from the creatives themselves.")
if not ui.require_taxonomy(library):
    st.stop()
ui.drift_banner(library)

nodes = ui.q(views.nodes_frame)
if nodes is None:
    st.info("The current taxonomy build has no nodes. Rebuild it from the Library page.", icon=":material/account_tree:")
    st.stop()

node = st.query_params.get(K.NODE_PARAM)
if node is not None and node not in nodes.index:
    st.warning(f"Node {ui.code_span(node)} is not in the current taxonomy (it may have been merged or rebuilt). Showing the overview.")
    node = None
if node is not None and nodes.loc[node, "level"] == 0:
    node = None


def go_to(node_id: str | None) -> None:
    if node_id is None:
        st.query_params.pop(K.NODE_PARAM, None)
    else:
        st.query_params[K.NODE_PARAM] = node_id
    for k in list(st.session_state):
        if str(k).startswith(K.page("node-")):
            del st.session_state[k]


# -- overview chart --------------------------------------------------------------------------------------
def overview_chart() -> None:
    frame = ui.q(views.tree_chart_frame)
    a, b = st.columns([1, 2])
    kind = a.segmented_control("Chart", ["Sunburst", "Treemap"], default="Sunburst", key=K.TAX_CHART, required=True)
    metrics = ["family"] + views.chart_metrics(frame)
    color = b.selectbox("Colour by", metrics, key=K.TAX_COLOR,
                        format_func=lambda m: {"family": "Family", "size": "Ads", "fidelity": "Label fit (0–1)", "ctr": "CTR",
                                               "cvr": "CVR"}.get(m, m.replace("_", " ").capitalize()))
    trace = go.Sunburst if kind == "Sunburst" else go.Treemap
    marker = {}
    if color != "family":
        vals = frame[color]
        marker = {"colors": vals.fillna(vals.min() if vals.notna().any() else 0), "colorscale": "Viridis", "showscale": True,
                  "colorbar": {"title": {"text": color}}}
    hover = "<b>%{label}</b><br>%{customdata[0]}<br>%{value:,} ads" + (f"<br>{color}: %{{color:.3g}}" if marker else "") + "<extra></extra>"
    fig = go.Figure(trace(ids=frame["id"], labels=ui.plot_text(frame["label"]), parents=frame["parent"], values=frame["value"],
                          branchvalues="total", marker=marker, customdata=ui.plot_text(frame["path"]).to_frame(), hovertemplate=hover,
                          maxdepth=3 if kind == "Sunburst" else 2))
    fig.update_layout(margin={"t": 10, "l": 10, "r": 10, "b": 10}, height=520)
    st.plotly_chart(fig, width="stretch", key=K.TAX_CHART_FIG)
    st.caption("Click a wedge to zoom into it; use the tree below for node details and ads.")


# tracked (a key, a rerun on toggle): on a node page it starts closed, and then the chart is neither built nor sent
overview = st.expander("Overview", expanded=node is None, key=f"tax_overview_{'root' if node is None else 'node'}",
                       on_change="rerun")
if overview.open:
    with overview:
        overview_chart()

# -- breadcrumbs -------------------------------------------------------------------------------------------
chain = [] if node is None else nodes.loc[node, "chain"]
with st.container(horizontal=True, gap="small", vertical_alignment="center"):
    st.button("All families", key=K.CRUMB_ROOT, on_click=go_to, args=(None,), type="tertiary" if node else "secondary",
              icon=":material/home:")
    for nid in chain:
        st.markdown("›")
        st.button(ui.safe_md(nodes.loc[nid, "label"]), key=f"crumb-{nid}", on_click=go_to, args=(nid,),
                  type="secondary" if nid == node else "tertiary")


def _cards(kids) -> None:
    cols = st.columns(3)
    for i, r in enumerate(kids.itertuples(index=False)):
        with cols[i % 3].container(border=True):
            st.markdown(f"**{ui.safe_md(r.label)}**")
            ui.thumb_strip(rep_ids(r.representatives), n=4)      # pictures first: what these ads look like
            st.caption(f"{int(r.size or 0):,} ads" + (" · " + ui.safe_md(", ".join(map(str, r.keywords[:5]))) if r.keywords else ""))
            st.button("Open", key=f"child-{r.id}", on_click=go_to, args=(r.id,), width="stretch")


def child_cards(parent: str | None) -> None:
    kids = views.children(nodes, parent)
    if kids.empty:
        return
    level = int(kids["level"].iloc[0])
    noun = views.LEVEL_NAMES.get(level, "node")
    # one idea each first; the pools of loosely related leftovers below, folded, so the lines are what one browses
    mixed = kids[kids["mixed"]]
    ideas = kids.drop(mixed.index)
    plural = noun if len(ideas) == 1 else "families" if level == 1 else noun + "s"
    st.markdown(f"**{len(ideas)} {plural}**" + (f" · {len(mixed)} mixed groups" if len(mixed) else ""))
    _cards(ideas)
    if len(mixed):
        with st.expander(f"{len(mixed)} mixed groups: {int(mixed['size'].sum()):,} ads that are loosely related, "
                         "not one idea each", expanded=ideas.empty, icon=":material/shuffle:"):
            _cards(mixed)


if node is None:
    fam = nodes[nodes["level"] == 1]
    counts = [(len(fam), "families"), (int((nodes["level"] == 2).sum()), "sub-clusters"),
              (int((nodes["level"] == 3).sum()), "micro-patterns")]
    st.caption(" · ".join(f"{n:,} {noun}" for n, noun in counts if n))   # a small upload may have no sub-clusters
    child_cards(None)
    ui.show_ad_dialog()
    st.stop()

# -- node card ---------------------------------------------------------------------------------------------------
card = ui.q(views.node_card, node)
with st.container(border=True):
    top, side = st.columns([3, 1])
    with top:
        st.subheader(ui.safe_md(card["label"]))
        st.caption(f"{card['level_name'].capitalize()} · {card['size']:,} ads")
        if card["description"]:
            st.markdown(ui.safe_md(card["description"]))
        if card["keywords"]:
            st.markdown(" ".join(f":blue-badge[{ui.safe_md(k)}]" for k in card["keywords"]))
    with side:
        from core import briefs

        st.download_button("Brief (web page)", data=lambda: briefs.node_brief_html(library, node),
                           file_name=f"brief-{briefs.slug(card['label'])}.html", mime="text/html",
                           icon=":material/description:", key=f"brief-html-{node}", width="stretch",
                           help="One page with the pictures inside: open it in a browser, or send it.")
        st.download_button("Brief + images (zip)", data=lambda: briefs.node_zip(library, node),
                           file_name=f"brief-{briefs.slug(card['label'])}.zip", mime="application/zip",
                           icon=":material/folder_zip:", key=f"brief-zip-{node}", width="stretch")
        st.download_button("Brief (Markdown)", data=lambda: views.node_brief(library, node), file_name=f"brief-{node}.md",
                           mime="text/markdown", icon=":material/notes:", key=f"brief-{node}", width="stretch",
                           type="tertiary")
    perf = card["perf"]
    shown = [k for k in views.PERF_KEYS if isinstance(perf.get(k), (int, float))]
    if shown:
        for col, k in zip(st.columns(len(shown)), shown):
            lo, hi = perf.get(f"{k}_low"), perf.get(f"{k}_high")
            col.metric(k.upper() if k in ("ctr", "cvr") else k.capitalize(), ui.fmt_num(perf[k], k),
                       help=f"Likely between {ui.fmt_num(lo, k)} and {ui.fmt_num(hi, k)}" if lo is not None and hi is not None else None)
    if perf.get("status") and perf["status"] != "ok":
        st.caption("Not enough spend yet to judge its rates" + (f" (they are shown from {ui.fmt_num(perf['min_spend'], 'spend')} of spend)"
                                                              if perf.get("min_spend") else "") + ".")
    tags = card["tags"]
    share_cols = [c for c in ("share_in", "share_rest") if c in tags.columns]
    if len(tags) and "tag" in tags.columns and len(share_cols) == 2:
        st.markdown("**What sets these ads apart:** " + " · ".join(
            f"{ui.safe_md(t)} ({a:.0%} of them vs {b:.0%} of the rest)" for t, a, b in tags[["tag", *share_cols]].head(5).itertuples(index=False)))
    with st.expander("Evidence"):
        st.caption(f"Node id {ui.code_span(card['id'])}" + (f" · label fit {card['fidelity']:.2f} (how well the name and keywords describe "
                                                "these ads on held-out checks, 0–1)" if card["fidelity"] is not None else ""))
        if len(tags):
            pct = {c: st.column_config.NumberColumn(c.replace("_", " "), format="percent") for c in ("share_in", "share_rest", "share")
                   if c in tags.columns}
            sci = {c: st.column_config.NumberColumn(c, format="%.1e") for c in ("p", "q") if c in tags.columns}
            st.dataframe(tags, hide_index=True, width="stretch", height=min(300, 38 + 35 * len(tags)), column_config={**pct, **sci})
            st.caption("Discriminating tags: share in / share rest = how many of this node's ads and of the other ads have it; "
                       "q = false-discovery-adjusted p-value (lower = stronger evidence).")
        else:
            st.caption("No tag is significantly more common here than in the rest of the library.")

    with st.expander("Edit this node"):
        tab_r, tab_m, tab_s = st.tabs(["Rename", "Merge", "Split"])
        with tab_r:
            new = st.text_input("New name", value=card["label"], key=f"rename-{node}")
            if st.button("Rename", key=f"do-rename-{node}"):
                if not new.strip():
                    st.error("The name cannot be empty.")
                else:
                    try:
                        with st.spinner("Renaming…"):
                            views.edit_node(library, "rename", node, label=new.strip())
                        st.rerun()
                    except Exception as e:  # noqa: BLE001
                        ui.friendly(e, "rename the node")
        with tab_m:
            siblings = nodes.index[(nodes["parent_id"] == nodes.loc[node, "parent_id"]) & (nodes["id"] != node)
                                   & (nodes["level"] == card["level"])].tolist()     # ids only: no list columns copied
            others = st.multiselect("Merge into this node", siblings, key=f"merge-{node}",
                                    format_func=lambda i: f"{nodes.loc[i, 'label']} ({int(nodes.loc[i, 'size'] or 0)} ads)")
            if st.button("Merge", key=f"do-merge-{node}", disabled=not others):
                try:
                    with st.spinner("Merging and re-labelling the taxonomy…"):
                        views.edit_node(library, "merge", node, others=others)
                    st.rerun()
                except Exception as e:  # noqa: BLE001
                    ui.friendly(e, "merge the nodes")
        with tab_s:
            k = st.number_input("Split into", min_value=2, max_value=8, value=2, key=f"split-{node}")
            if st.button("Split", key=f"do-split-{node}", disabled=card["size"] < 4):
                try:
                    with st.spinner("Splitting and re-labelling the taxonomy…"):
                        views.edit_node(library, "split", node, k=int(k))
                    parent = nodes.loc[node, "parent_id"]
                    go_to(parent if parent in nodes.index and nodes.loc[parent, "level"] > 0 else None)  # show the new siblings
                    st.rerun()
                except Exception as e:  # noqa: BLE001
                    ui.friendly(e, "split the node")

child_cards(node)

reps = card["representatives"]
if len(reps):
    st.markdown("**Representative ads**")
    ui.ad_grid(reps, f"rep-{node}")
st.markdown("**More ads in this node**" if len(reps) else "**All ads in this node**")
ui.paged_grid(lambda page: ui.q(views.ads_page, node_id=node, page=page, per_page=ui.PER_PAGE, exclude=tuple(reps["ad_id"])),
              f"node-{node}", empty="All of this node's ads are shown above.",
              note=f" besides the {len(reps):,} representatives above ({card['size']:,} ads in this node)" if len(reps) else "")

ui.show_ad_dialog()
