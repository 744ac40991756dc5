"""Gallery: every ad of the library as a picture, sorted and filtered (controls apply at once); pick ads
into a named board, compare 2–4 side by side, and send a board as a web page or a zip with images."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from core import boards, briefs, gallery
from pages import _common as ui
from pages._common import K

ui.route()
library = ui.lib()
ui.header("Gallery", "Every ad in the library. Tick ads to put them on a board or compare them side by side.")
stats = ui.q(ui.views.library_stats)
if stats["ads"] == 0:
    st.info("This library has no ads yet. Upload a zip on the **Library** page.", icon=":material/upload:")
    ui.page_link("library", "Go to Library", icon=":material/photo_library:")
    st.stop()

opts = ui.q(gallery.gallery_options)
selected: list[int] = st.session_state.setdefault(K.GALLERY_SEL, [])

# -- controls (no form: every change applies at once) --------------------------------------------------------
# (sort key, highest first) -> what a person calls that order
ORDERS = {("date", True): "Newest first", ("date", False): "Oldest first", ("spend", True): "Most spend",
          ("spend", False): "Least spend", ("ctr", True): "Highest CTR", ("ctr", False): "Lowest CTR",
          ("impressions", True): "Most impressions", ("impressions", False): "Fewest impressions",
          ("size", True): "Largest", ("size", False): "Smallest", ("file", False): "File name A–Z"}
orders = [f"{k}-{'desc' if d else 'asc'}" for k, d in ORDERS if k in ("size", "file") or opts["has"].get(k)]
c = st.columns([2, 2, 2, 3], vertical_alignment="bottom")
order = c[0].selectbox("Sort", orders, key=K.G_SORT,
                       format_func=lambda o: ORDERS[(o.split("-")[0], o.endswith("-desc"))])
sort, desc = order.split("-")[0], order.endswith("-desc")
family = c[1].selectbox("Family", [None, *opts["families"]], key=K.G_FAMILY,
                        format_func=lambda f: "All families" if f is None else opts["families"].get(f, f))
kind = c[2].selectbox("Kind", [None, *opts["kinds"]], key=K.G_KIND,
                      format_func=lambda k: "Images and videos" if k is None else f"{k.capitalize()}s")
date_from = date_to = None
if opts["date_min"] is not None:
    dates = c[3].date_input("Dates", value=(), min_value=opts["date_min"], max_value=opts["date_max"], key=K.G_DATES)
    if isinstance(dates, (tuple, list)) and dates:
        date_from, date_to = dates[0], (dates[1] if len(dates) > 1 else dates[0])
attribute = None
if opts["attributes"]:
    a1, a2, _ = st.columns([2, 2, 3], vertical_alignment="bottom")
    akey = a1.selectbox("Attribute", [None, *opts["attributes"]], key=K.G_ATTR,
                        format_func=lambda k: "Any attribute" if k is None else k.replace("_", " "))
    if akey:
        aval = a2.selectbox("Value", opts["attributes"][akey], key=f"{K.G_ATTR}-{akey}")
        attribute = (akey, aval)
flt = gallery.GalleryFilter(family=family, kind=kind, date_from=date_from, date_to=date_to, attribute=attribute)
key = f"gal-{hash((flt, sort, desc)) & 0xffff:x}"     # a new filter or order starts at page 1


def _toggle(ad_id: int) -> None:
    sel = st.session_state[K.GALLERY_SEL]
    st.session_state[K.GALLERY_SEL] = [i for i in sel if i != ad_id] if ad_id in sel else [*sel, ad_id]


def _tick(r: dict) -> None:
    st.checkbox("Select", value=int(r["ad_id"]) in selected, key=f"gsel-{r['ad_id']}", on_change=_toggle,
                args=(int(r["ad_id"]),))


def _extra(r: dict) -> str:
    bits = []
    if sort == "spend" or (sort == "date" and r.get("spend") == r.get("spend") and r.get("spend") is not None):
        bits.append(ui.fmt_num(r.get("spend"), "spend"))
    if sort == "ctr" and r.get("ctr") is not None:
        bits.append(f"CTR {ui.fmt_num(r.get('ctr'), 'ctr')}")
    if sort == "impressions" and r.get("impressions") is not None:
        bits.append(f"{ui.fmt_num(r.get('impressions'))} impressions")
    if sort == "size" and r.get("width"):
        bits.append(f"{int(r['width'])}×{int(r['height'])}")
    if sort == "date" and r.get("date") is not None and str(r.get("date")) != "NaT":
        bits.insert(0, f"{r['date']:%d %b %Y}")
    return " · ".join(b for b in bits if b and b != "—")


# -- selection bar: board and compare ---------------------------------------------------------------------------
def _clear() -> None:
    st.session_state[K.GALLERY_SEL] = []
    for k in [k for k in st.session_state if str(k).startswith("gsel-")]:
        del st.session_state[k]


with st.container(border=True):
    names = boards.board_names(library)
    b = st.columns([2, 3, 2, 2, 2], vertical_alignment="bottom")
    b[0].markdown(f"**{len(selected):,} selected**")
    board = b[1].selectbox("Board", names, index=None, accept_new_options=True, key=K.G_BOARD,
                           placeholder="Pick a board or type a new name")
    if b[2].button("Add to board", key=K.G_ADD, disabled=not selected or not board, icon=":material/bookmark_add:",
                   width="stretch"):
        try:
            n = boards.add_to_board(library, board, selected)
            st.toast(f"{n} ad{'s' if n != 1 else ''} added to “{ui.safe_md(boards.clean_name(board))}”.", icon=":material/bookmark:")
            st.session_state[K.G_BOARD_VIEW] = boards.clean_name(board)
        except ValueError as e:
            st.error(ui.message_md(e))
    compare = b[3].button("Compare", key=K.G_COMPARE, disabled=not 2 <= len(selected) <= 4, icon=":material/compare:",
                          width="stretch", help="Tick 2 to 4 ads to see them side by side.")
    b[4].button("Clear", key=K.G_CLEAR, on_click=_clear, disabled=not selected, width="stretch", type="tertiary")
    if compare or st.session_state.get(K.G_COMPARING):
        st.session_state[K.G_COMPARING] = 2 <= len(selected) <= 4
if st.session_state.get(K.G_COMPARING):
    ui.compare_ads(selected)

# -- the grid -------------------------------------------------------------------------------------------------------
ui.paged_grid(lambda page: ui.q(gallery.gallery_page, flt, sort=sort, descending=desc, page=page, per_page=ui.PER_PAGE),
              key, empty="No ad matches these filters.", below=_tick, extra=_extra)

# -- boards ---------------------------------------------------------------------------------------------------------
summary = boards.board_summary(library)
st.subheader("Boards")
if summary.empty:
    st.caption("No boards yet: tick ads above, type a board name and press **Add to board**.")
else:
    names = summary["name"].tolist()
    if st.session_state.get(K.G_BOARD_VIEW) not in names:
        st.session_state[K.G_BOARD_VIEW] = names[0]
    counts = dict(zip(summary["name"], summary["ads"]))
    view = st.selectbox("Board", names, key=K.G_BOARD_VIEW, format_func=lambda n: f"{n} ({counts[n]} ads)",
                        label_visibility="collapsed")
    ids = boards.board_ad_ids(library, view)
    d = st.columns([2, 2, 2, 4], vertical_alignment="center")
    d[0].download_button("Board as web page", data=lambda: briefs.board_html(library, view),
                         file_name=f"board-{briefs.slug(view)}.html", mime="text/html", icon=":material/description:",
                         key=K.G_DL_HTML, width="stretch", help="One page with the pictures inside: open it or send it.")
    d[1].download_button("Board + images (zip)", data=lambda: briefs.board_zip(library, view),
                         file_name=f"board-{briefs.slug(view)}.zip", mime="application/zip", icon=":material/folder_zip:",
                         key=K.G_DL_ZIP, width="stretch")
    if d[2].button("Delete board", key=K.G_DELETE, icon=":material/delete:", width="stretch", type="tertiary"):
        boards.delete_board(library, view)
        st.rerun()

    def _remove(r: dict) -> None:
        st.button("Remove", key=f"brd-rm-{r['ad_id']}", on_click=boards.remove_from_board, args=(library, view, [r["ad_id"]]),
                  type="tertiary", icon=":material/bookmark_remove:")

    ui.ad_grid(ui.views.ads_by_ids(library, ids), f"brd-{briefs.slug(view)}", below=_remove)

ui.show_ad_dialog()
