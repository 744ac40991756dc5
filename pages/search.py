"""Search: one text box plus filters → matching taxonomy nodes (with why), ads with scores
(identical creatives grouped) and the reuse-or-generate verdict."""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

import pandas as pd
import streamlit as st

import core
from core import AdFilters, views
from core.taxonomy.tree import PATH_SEP
from core.safe_text import code_span
from pages import _common as ui
from pages._common import K

ui.route()
library = ui.lib()
ui.header("Search", "Describe the creative you need — what it shows, words you remember, or the idea behind it.")
stats = ui.q(views.library_stats)
if stats["ads"] == 0:
    st.info("This library has no ads yet. Upload a zip on the **Library** page first.", icon=":material/upload:")
    st.page_link("pages/library.py", label="Go to Library", icon=":material/photo_library:")
    st.stop()

opts = ui.q(views.filter_options)
kinds, families = ["any"] + opts["kinds"], ["any"] + list(opts["families"])


# the form's defaults through session state, not value= (app.py keeps the form across pages; a widget given both
# warns): no dates picked (a bare date_input would pick today), 20 results. Kept values this library no longer
# offers (a family a rebuild renamed, a tag no ad has) are dropped by streamlit itself (tested).
st.session_state.setdefault(K.SEARCH_DATES, ())
st.session_state.setdefault(K.SEARCH_TOP_K, 20)
with st.form("search", border=False):
    qcol, kcol, bcol = st.columns([6, 1, 1], vertical_alignment="bottom")
    query = qcol.text_input("Search", key=K.SEARCH_Q, placeholder="e.g. before/after skincare with a discount badge",
                            label_visibility="collapsed")
    top_k = kcol.number_input("Results", min_value=5, max_value=100, step=5, key=K.SEARCH_TOP_K)
    go = bcol.form_submit_button("Search", type="primary", icon=":material/search:", width="stretch")
    with st.expander("Filters"):
        f1, f2, f3, f4 = st.columns(4)
        kind = f1.selectbox("Kind", kinds, key=K.SEARCH_KIND)
        family = f2.selectbox("Family", families, format_func=lambda i: opts["families"].get(i, "any"), key=K.SEARCH_FAMILY)
        formats = f3.multiselect("Format", opts["format"], key=K.SEARCH_FORMATS)
        placements = f4.multiselect("Placement", opts["placement"], key=K.SEARCH_PLACEMENTS)
        g1, g2, g3, g4 = st.columns(4)
        campaigns = g1.multiselect("Campaign", opts["campaign"], key=K.SEARCH_CAMPAIGNS)
        tags = g2.multiselect("Tag", opts["tag"], key=K.SEARCH_TAGS)
        dates = ()
        if opts["date_min"] is not None:
            dates = g3.date_input("Dates", min_value=opts["date_min"], max_value=opts["date_max"], key=K.SEARCH_DATES)
        ctr_min = g4.number_input("Min CTR (%)", min_value=0.0, max_value=100.0, step=0.5, key=K.SEARCH_CTR_MIN)
        other = st.text_input("More filters", key=K.SEARCH_MORE,
                              placeholder="KEY=VALUE, comma-separated: e.g. spend_min=100, language=ja",
                              help="Any metadata attribute works as a key; ranges: spend_min, spend_max, ctr_min, ctr_max, "
                                   "cvr_min, cvr_max; dates: date_from, date_to.")

with st.expander("Search by picture", icon=":material/image_search:"):
    pic = st.file_uploader("An image: ads that look like it", type=["png", "jpg", "jpeg", "gif", "webp"],
                           key="search-image", help="Your picture is compared with every ad's look; nothing is stored.")
    if pic is not None and st.button("Find ads like this picture", icon=":material/image_search:"):
        try:
            with st.spinner("Looking…"):
                res = core.search_similar(library, image=pic.getvalue(), top_k=int(top_k))
            st.session_state[K.SEARCH] = {"query": f"looks like {pic.name}", "filters": [], "result": res, "by_example": True}
        except Exception as e:  # noqa: BLE001
            ui.friendly(e, "search")


def more_like(ad_id: int, file: str) -> None:
    """A hit's "More like this" button: ads that look like it, with the current filters."""
    prev = st.session_state.get(K.SEARCH) or {}
    try:
        res = core.search_similar(library, ad_id=int(ad_id), top_k=int(top_k), filters=prev.get("typed_filters"))
    except Exception as e:  # noqa: BLE001
        st.session_state["search-similar-error"] = str(e)
        return
    st.session_state[K.SEARCH] = {"query": f"more like {Path(file).name}", "filters": prev.get("filters") or [],
                                  "typed_filters": prev.get("typed_filters"), "result": res, "by_example": True}
    st.session_state[K.SEARCH_SCROLL] = time.monotonic_ns()   # new each click: a repeated script would not run again
    ui.set_search_query_param(None)   # before app.py's search_url_before, which would run the old ?q= over it


def typed_filters() -> AdFilters:
    """The filter widgets' values as one typed AdFilters; the free-text box adds any metadata attribute."""
    extra = AdFilters.from_items([p.strip() for p in other.replace("\n", ",").split(",") if p.strip()])
    picked_dates = list(dates) if isinstance(dates, (tuple, list)) else ([dates] if isinstance(dates, dt.date) else [])
    return dataclasses.replace(
        extra,
        kinds=(kind,) if kind != "any" else extra.kinds,
        node=family if family != "any" else extra.node,
        formats=tuple(formats) or extra.formats, placements=tuple(placements) or extra.placements,
        campaigns=tuple(campaigns) or extra.campaigns, tags=tuple(tags) or extra.tags,
        date_from=picked_dates[0] if picked_dates else extra.date_from,
        date_to=picked_dates[1] if len(picked_dates) == 2 else extra.date_to,
        ctr_min=ctr_min / 100 if ctr_min > 0 else extra.ctr_min)


def described(f: AdFilters) -> list[str]:
    """The filters in words for the results line (node ids shown by their family's name)."""
    out = []
    for key, v in f.to_dict().items():
        if key == "node":
            v = opts["families"].get(v, v)
        out.append(f"{key.replace('_', ' ')} {', '.join(map(str, v)) if isinstance(v, list) else v}")
    return out


if go:
    if not query.strip():
        st.warning("Type what you are looking for first.", icon=":material/edit:")
    else:
        try:
            filters = typed_filters()
        except ValueError as e:
            st.error(f"Filter problem: {ui.message_md(e)}", icon=":material/filter_alt_off:")
        except Exception as e:  # noqa: BLE001
            ui.friendly(e)
        else:
            try:
                ui.text_model()
                with st.spinner("Searching…"):
                    # not cached by data version: the verdict's calibration may change without the ads changing
                    res = core.search_ads(library, query.strip(), top_k=int(top_k), filters=filters)
                st.session_state[K.SEARCH] = {"query": query.strip(), "filters": described(filters),
                                              "typed_filters": filters, "result": res}
            except Exception as e:  # noqa: BLE001
                ui.friendly(e, "search")

err = st.session_state.pop("search-similar-error", None)
if err:
    st.error(f"More like this: {ui.message_md(err)}", icon=":material/image_not_supported:")
last = st.session_state.get(K.SEARCH)
if not last:
    st.caption(f"Searching {stats['ads']:,} ads by their pixels, on-image text, copy and the taxonomy.")
    ui.show_ad_dialog()
    st.stop()

res = last["result"]
if st.session_state.get(K.SEARCH_SCROLL):
    # Streamlit keeps the scroll position: after "More like this" deep in the grid the new results began above the
    # fold. A fixed script (no user text) brings their first line into view, once.
    st.html(f"<div id='search-results' data-n='{int(st.session_state.pop(K.SEARCH_SCROLL))}'></div><script>"
            "document.getElementById('search-results').scrollIntoView({block: 'center'})</script>",
            unsafe_allow_javascript=True)
st.caption(f"Results for “{ui.safe_md(last['query'])}”" + (f" with {ui.safe_md(', '.join(last['filters']))}" if last["filters"] else ""))
if not res["ads"] and not res["nodes"]:
    st.info("No results. Try fewer filters or other words — describe what the ad shows, or a phrase from its text.",
            icon=":material/search_off:")
    ui.show_ad_dialog()
    st.stop()

top = res["ads"][0] if res["ads"] else None
evidence = ui.safe_md(res.get("evidence") or (f"closest ad: {Path(top['file']).name}" if top else ""))
if res["verdict"] == "reuse" and top:
    st.success(f"**Reuse** — the library already has a close match: {code_span(Path(top['file']).name)}.  \n:gray[{evidence}]",
               icon=":material/recycling:")
else:
    st.info("**Generate** — nothing in the library matches closely enough: brief a new creative. "
            f"The nearest ads and patterns below are a starting point.  \n:gray[{evidence}]", icon=":material/auto_awesome:")

if res["nodes"]:
    st.markdown("**Matching patterns**")
    for n in res["nodes"][:6]:
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        parent = n["path"].rsplit(PATH_SEP, 1)[0] if PATH_SEP in (n.get("path") or "") else ""
        c1.markdown(f"**{ui.safe_md(n['label'])}**" + (f" · in {ui.safe_md(parent)}" if parent else "")
                    + f"  \n:gray[{ui.safe_md(n['why'])}]")
        c2.page_link("pages/taxonomy.py", label="Open node", icon=":material/account_tree:",
                     query_params=ui.url_state(**{K.NODE_PARAM: n["id"]}))

if res["ads"]:
    st.markdown(f"**Ads** ({len(res['ads'])})")
    df = pd.DataFrame(res["ads"]).rename(columns={"thumb_path": "thumb", "media_path": "media"})

    def below(r: dict) -> None:
        st.caption(r["match_label"] + (f"  \n{ui.safe_md(r['why'])}" if r.get("why") else ""))
        dups = r.get("duplicates") or []
        if dups:
            with st.popover(f"+{len(dups)} identical", width="stretch",
                            help="The same picture (same bytes, or a near-copy with the same words)"):
                thumbs = r.get("duplicate_thumbs") or [None] * len(dups)
                for c, (d, t) in zip(st.columns(min(4, len(dups))) * (len(dups) // 4 + 1), zip(dups, thumbs)):
                    with c:
                        if t:
                            st.image(t, width="stretch")
                        st.caption(ui.safe_md(Path(d).name))
        # full width: beside another button the label was cut to "More li…"
        st.button("More like this", key=f"hit-like-{r['ad_id']}", on_click=more_like, args=(r["ad_id"], r["file"]),
                  width="stretch", type="tertiary", icon=":material/image_search:")

    def node_button(r: dict) -> None:
        if r.get("node_id"):
            st.button("Node", key=f"hit-node-{r['ad_id']}", on_click=ui.goto_node, args=(r["node_id"],), width="stretch",
                      type="tertiary", icon=":material/account_tree:", help=r.get("node_path") or "")

    ui.ad_grid(df, "hits", cols=5, below=below, beside_open=node_button, start=lambda r: r.get("moment_s"))

ui.show_ad_dialog()
