"""Export: the taxonomy and the per-ad assignments as CSV / JSON, and a per-node brief as Markdown."""
from __future__ import annotations

import streamlit as st

from core import views
from pages import _common as ui
from pages._common import K

ui.route()
library = ui.lib()
name = library.path.name
ui.header("Export", "Take the taxonomy into a spreadsheet, a deck or a brief.")
stats = ui.q(views.library_stats)
if stats["ads"] == 0:
    st.info("This library has no ads yet, so there is nothing to export. Upload a zip on the **Library** page.",
            icon=":material/upload:")
    st.stop()


def payload(what: str, fmt: str):
    return lambda: views.export_bytes(library, what, fmt)


has_tax = views.current_build_key(library) is not None
st.subheader("Ads and their place in the taxonomy")
st.caption(f"One row per ad ({stats['ads']:,}): file, metadata, attributes" + (", family, node path and leaf" if has_tax else "") + ".")
c1, c2, _ = st.columns([1, 1, 3])
c1.download_button("Assignments CSV", payload("assignments", "csv"), file_name=f"{name}-assignments.csv", mime="text/csv",
                   icon=":material/table:", key=K.DL_ASSIGN_CSV)
c2.download_button("Assignments JSON", payload("assignments", "json"), file_name=f"{name}-assignments.json",
                   mime="application/json", icon=":material/data_object:", key=K.DL_ASSIGN_JSON)

st.subheader("Taxonomy")
if not has_tax:
    ui.require_taxonomy(library)
    st.stop()
nodes = ui.q(views.nodes_frame)
st.caption(f"{int((nodes['level'] > 0).sum())} nodes with labels, keywords, tags, fidelity and performance; "
           "CSV is one row per node, JSON is the nested tree.")
c1, c2, _ = st.columns([1, 1, 3])
c1.download_button("Taxonomy CSV", payload("taxonomy", "csv"), file_name=f"{name}-taxonomy.csv", mime="text/csv",
                   icon=":material/table:", key=K.DL_TAX_CSV)
c2.download_button("Taxonomy JSON", payload("taxonomy", "json"), file_name=f"{name}-taxonomy.json", mime="application/json",
                   icon=":material/account_tree:", key=K.DL_TAX_JSON)

st.subheader("Node brief")
choices = nodes[nodes["level"] > 0].sort_values(["path"])
node = st.selectbox("Node", choices["id"].tolist(), format_func=lambda i: f"{choices.loc[i, 'path']} ({int(choices.loc[i, 'size'] or 0)} ads)",
                    key=K.BRIEF_NODE)
if node:
    from core import briefs

    brief = ui.q(views.node_brief, node)
    slug = briefs.slug(str(choices.loc[node, "label"]))
    c1, c2, c3, _ = st.columns([1, 1, 1, 2])
    c1.download_button("Brief (web page)", lambda: briefs.node_brief_html(library, node), file_name=f"{name}-{slug}-brief.html",
                       mime="text/html", icon=":material/description:", key=K.DL_BRIEF_HTML,
                       help="One page with the pictures inside: open it in a browser, or send it.")
    c2.download_button("Brief + images (zip)", lambda: briefs.node_zip(library, node), file_name=f"{name}-{slug}-brief.zip",
                       mime="application/zip", icon=":material/folder_zip:", key=K.DL_BRIEF_ZIP)
    c3.download_button("Brief (Markdown)", brief, file_name=f"{name}-{node}-brief.md", mime="text/markdown",
                       icon=":material/notes:", key=K.DL_BRIEF)
    with st.container(border=True):                     # what the brief says, in short, with its pictures
        card = ui.q(views.node_card, node)
        st.markdown(f"#### {ui.safe_md(card['label'])}")
        st.caption(f"{card['level_name'].capitalize()} · {card['size']:,} ads")
        ui.thumb_strip(card["representatives"]["ad_id"].tolist(), n=6)
        if card["description"]:
            st.markdown(ui.safe_md(card["description"]))
        if card["keywords"]:
            st.markdown(" ".join(f":blue-badge[{ui.safe_md(k)}]" for k in card["keywords"]))
