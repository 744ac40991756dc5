"""Showing ads: thumbnail tiles and paged grids, the ad detail dialog (?ad=) and the side-by-side compare.
(`pages/_common.py` re-exports the public names.) Every string from an upload (file names, labels, metadata,
OCR text) is shown as literal text: Markdown-escaped, or in an element that does not render Markdown."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st

from core import views
from core.safe_text import escape_markdown
from pages._common import GRID_COLS, PER_PAGE, K, close_ad, fmt_num, friendly, goto_node, lib, neighbour_index, open_ad, q


# -- tiles and grids ------------------------------------------------------------------------------------------

def _caption(r: dict, extra: str = "") -> str:
    """A tile's caption (Markdown): the file name and the page's extra words, both shown literally."""
    name = escape_markdown(Path(str(r["file"])).name)
    icon = "▶ " if r.get("kind") == "video" else ""
    return f"{icon}{name}{(' · ' + escape_markdown(extra)) if extra else ''}"


def _tile_image(r: dict) -> None:
    if r.get("thumb"):
        st.image(r["thumb"], width="stretch")
    else:
        st.markdown("<div style='aspect-ratio:1;background:#eef0f4;border-radius:6px;display:flex;align-items:center;"
                    "justify-content:center;color:#8a8f98'>no preview</div>", unsafe_allow_html=True)


# tiles in the page's grids (not the detail dialog) share one picture height, so rows line up
_TILE_CSS = """<style>
[data-testid="stMainBlockContainer"] [data-testid="stColumn"] [data-testid="stImage"] img {
  height: 150px; width: 100%; object-fit: contain; background: #f3f4f8; border-radius: 6px; }
[data-testid="stMainBlockContainer"] [data-testid="stColumn"] [data-testid="stColumn"] [data-testid="stImage"] img {
  height: 96px; }
</style>"""   # the second rule: the small picture strips of cards (columns inside a card's column)


def tile_css() -> None:
    st.html(_TILE_CSS)


def ad_grid(df: pd.DataFrame, key: str, cols: int = GRID_COLS, extra: Callable[[dict], str] | None = None,
            start: Callable[[dict], float | None] | None = None, below: Callable[[dict], None] | None = None,
            beside_open: Callable[[dict], None] | None = None) -> None:
    """Thumbnails in rows of `cols`, each with a caption and an Open button (the detail dialog); a video
    tile also gets a ▶ button that plays it right there. `below` draws under the caption, `beside_open`
    in a column next to Open (one short button: a tile is ~160 px wide), or under it on a video's tile."""
    tile_css()
    rows = df.to_dict("records")
    for i in range(0, len(rows), cols):
        for col, r in zip(st.columns(cols), rows[i:i + cols]):
            with col:
                _tile_image(r)
                st.caption(_caption(r, extra(r) if extra else ""))
                if below:
                    below(r)
                video = r.get("kind") == "video" and r.get("media")
                # a video's ▶ takes the place beside Open (a third column squeezed it to its chevron); beside_open then goes below
                if video:
                    play, open_slot = st.columns([1, 2])
                    with play.popover("▶", help="Play the video here"):
                        # alt names the ad: two ads of one video file on a page would otherwise be one element id
                        st.video(r["media"], autoplay=True, muted=True, alt=f"{Path(str(r['file'])).name} (ad {r['ad_id']}, {key})")
                    extra_slot = st.container() if beside_open else None
                elif beside_open:
                    open_slot, extra_slot = st.columns(2)
                else:
                    open_slot, extra_slot = st, None
                open_slot.button("Open", key=f"{key}-open-{r['ad_id']}", on_click=open_ad,
                                 args=(r["ad_id"], start(r) if start else None), width="stretch", type="tertiary")
                if beside_open:
                    with extra_slot:
                        beside_open(r)


def thumb_strip(ad_ids, n: int = 4, library=None) -> None:
    """A row of up to n small pictures (a card's representatives)."""
    ids = [int(i) for i in list(ad_ids)[:n]]
    if not ids:
        return
    tiles = q(views.ads_by_ids, tuple(ids), library=library)
    tile_css()
    for col, r in zip(st.columns(n, gap="small"), tiles.to_dict("records")):
        with col:
            _tile_image(r)


def paged_grid(fetch: Callable[[int], tuple[int, pd.DataFrame]], key: str, empty: str = "No ads here.",
               note: str = "", **grid_kw) -> int:
    """A thumbnail grid with pagination; `fetch(page)` returns (total, rows of that page); `note` follows the count."""
    page = st.session_state.get(K.page(key), 1) or 1
    total, df = fetch(page)
    if total == 0:
        st.caption(empty)
        return 0
    n_pages = max(1, -(-total // PER_PAGE))
    if page > n_pages:
        total, df = fetch(1)
    first = (min(page, n_pages) - 1) * PER_PAGE
    st.caption(f"Ads {first + 1:,}–{first + len(df):,} of {total:,}{note}")
    ad_grid(df, key, **grid_kw)
    if n_pages > 1:
        st.pagination(n_pages, key=K.page(key))
    return total


# -- compare and detail ---------------------------------------------------------------------------------------

def compare_ads(ad_ids) -> None:
    """2–4 ads side by side: the picture (or the video), then the same facts in the same rows."""
    ids = [int(i) for i in list(ad_ids)[:4]]
    library = lib()
    details = []
    for i in ids:
        try:
            details.append(views.ad_detail(library, i, index=None, k=0))
        except Exception as e:  # noqa: BLE001
            friendly(e, f"load ad {i}")
    if not details:
        return
    for col, d in zip(st.columns(len(details)), details):
        with col.container(border=True):
            if d["kind"] == "video" and d["media"]:
                st.video(d["media"], alt=f"{Path(d['file']).name} (ad {d['ad_id']}, compared)")
            elif d["media"] or d["thumb"]:
                st.image(d["media"] or d["thumb"], width="stretch")
            st.markdown(f"**{escape_markdown(Path(d['file']).name)}**")
            m = d["metadata"]
            facts = [("Family", " › ".join(p["label"] for p in d["path"]) or "—"),
                     ("Date", m.get("date", "—")), ("Spend", fmt_num(_to_float(m["spend"]), "spend") if "spend" in m else "—"),
                     ("CTR", m.get("ctr", "—")), ("Impressions", m.get("impressions", "—")),
                     ("Size", f"{d['width']}×{d['height']}" if d["width"] else "—"), ("Headline", m.get("headline", "—")),
                     ("Text in it", (d["ocr_text"] or "—")[:160])]
            st.markdown("\n".join(f"- **{k}:** {escape_markdown(v)}" for k, v in facts))
            st.button("Open", key=f"cmp-open-{d['ad_id']}", on_click=open_ad, args=(d["ad_id"],), type="tertiary")


def show_ad_dialog() -> None:
    """Call at the end of a page: opens the detail dialog of the ad in ?ad= (set by an Open button or a link)."""
    raw = st.query_params.get(K.AD_PARAM)
    try:
        ad_id = int(raw) if raw is not None else None
    except ValueError:
        ad_id = None
    if ad_id is None:
        st.session_state.pop(K.AD, None)
        return
    sel = st.session_state.get(K.AD)
    start = sel[1] if sel and sel[0] == ad_id else 0.0
    _ad_dialog(ad_id, start)


@st.dialog("Ad detail", width="large", on_dismiss=close_ad)
def _ad_dialog(ad_id: int, start_s: float = 0.0) -> None:
    ad_detail(ad_id, start_s)


def ad_detail(ad_id: int, start_s: float = 0.0) -> None:
    """The full image or a video player, metadata, OCR text, object labels, neighbours and path in the tree."""
    library = lib()
    try:
        d = views.ad_detail(library, ad_id, index=neighbour_index(library))
    except KeyError:
        st.warning("That ad is no longer in this library (it may belong to another library).")
        return
    except Exception as e:  # noqa: BLE001
        try:
            d = views.ad_detail(library, ad_id, index=None, k=0)
        except Exception:  # noqa: BLE001
            friendly(e, "load the ad")
            return
    st.markdown(f"#### {escape_markdown(Path(d['file']).name)}")
    if d["path"]:
        crumbs = " › ".join(escape_markdown(p["label"]) for p in d["path"])
        outlier = " (outlier: nearest node)" if d["path"][-1].get("outlier") else ""
        st.markdown(f"**In the taxonomy:** {crumbs}{outlier}")
        leaf = d["path"][-1]["id"]
        st.button("Open its node", key=f"ad-node-{ad_id}", icon=":material/account_tree:", on_click=goto_node, args=(leaf,))
    left, right = st.columns([3, 2])
    with left:
        if d["media"] and d["kind"] == "video":
            st.video(d["media"], start_time=int(start_s or 0))
            if start_s:
                st.caption(f"Starts at the matching moment, {start_s:.1f} s.")
        elif d["media"]:
            st.image(d["media"], width="stretch")
        elif d["thumb"]:
            st.image(d["thumb"], width="stretch")
        else:
            st.caption("The media file is missing from the library folder.")
    with right:
        size = f"{d['width']}×{d['height']}" if d["width"] else ""
        dur = f" · {d['duration_s']:.1f} s" if d["duration_s"] else ""
        shots = f" · {d['extra']['shot_count']} shots" if d["kind"] == "video" and d["extra"].get("shot_count") else ""
        st.caption(f"{d['kind']} · {size}{dur}{shots}")
        from core.gallery import id_like_attributes

        hidden = q(id_like_attributes)
        meta = dict(d["metadata"])
        for k in ("spend", "revenue"):       # the engine gives '1,234.50': add the data's currency
            if k in meta and _to_float(meta[k]) is not None:
                meta[k] = fmt_num(_to_float(meta[k]), "spend")
        meta.update({k: v for k, v in d["attributes"].items() if k not in hidden})
        if meta:
            st.dataframe(pd.DataFrame({"field": [k.replace("_", " ") for k in meta], "value": [str(v) for v in meta.values()]}),
                         hide_index=True, width="stretch",
                         column_config={"field": st.column_config.TextColumn(width="small"),
                                        "value": st.column_config.TextColumn(width="large")})
        else:
            st.caption("No metadata for this ad (it came without a CSV row).")
        if d["identical"]:
            st.caption("The same creative was also uploaded as: "
                       + ", ".join(escape_markdown(Path(i["file"]).name) for i in d["identical"][:5]))
        with st.expander("Evidence"):
            ids = {"ad id": d["ad_id"], "file": d["file"], "sha256": d.get("sha256")}
            ids.update({k: v for k, v in d["attributes"].items() if k in hidden})
            st.dataframe(pd.DataFrame({"field": list(ids), "value": [str(v) for v in ids.values()]}), hide_index=True,
                         width="stretch")
    t1, t2, t3 = st.tabs(["Text in the creative", "Objects & colours", "Similar ads"])
    with t1:
        st.text(d["ocr_text"] or "(no text found)")
        if len(d["ocr_boxes"]) and d["kind"] == "video":
            st.dataframe(d["ocr_boxes"], hide_index=True, width="stretch")
    with t2:
        if d["labels"]:
            st.dataframe(pd.DataFrame(d["labels"], columns=["object", "probability"]), hide_index=True, width="stretch",
                         column_config={"probability": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f")})
        st.caption(f"Colours: {escape_markdown(d['color_words'] or '—')} · Layout: {escape_markdown(d['layout_words'] or '—')}")
    with t3:
        if d["neighbours"]:
            nb = pd.DataFrame(d["neighbours"])
            ad_grid(nb, f"nb-{ad_id}", cols=4, extra=lambda r: f"{max(0.0, r['score']):.0%} alike")
        else:
            st.caption("No similar ads found (the library needs visual vectors).")


def _to_float(v) -> float | None:
    try:
        return float(str(v).replace(",", ""))
    except (TypeError, ValueError):
        return None
