"""Shared Streamlit helpers for every page: session-state keys, the cached Library and indexes,
cached reads, the library picker, job progress, ad grids and the ad detail dialog.

Pages call the core facade and `core.views` through these helpers; none of them touches DuckDB
or FAISS directly. Caching: one `Library` per path per server process (`st.cache_resource`, also
used by the background ingest thread), indexes per (path, data version) likewise, and read models
in `st.cache_data` keyed by (function, path, data version, arguments).
"""
from __future__ import annotations

import importlib
import os
import runpy
import threading
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import streamlit as st

import core
from core import views

PAGES = Path(__file__).resolve().parent
APP = PAGES.parent / "app.py"
PER_PAGE = 24
GRID_COLS = 6


class K:
    """Every session-state key the app uses (widget keys included), in one place."""

    LIB = "lib"                          # library picker (bound to the ?lib= query parameter)
    LIB_PENDING = "lib_pending"          # a library to pick on the next run (set after the picker exists)
    LIB_SEEN = "lib_seen"                # the library the URL held at the end of the last run
    NEW_LIB = "new_library_name"
    AD = "ad_open"                       # ad shown in the detail dialog: (ad_id, start_s)
    MAP_SELECTION = "map_selection"      # ad ids chosen on the map (box/lasso)
    MAP_CHART = "map_chart"
    MAP_COLOR = "map_color"
    SEARCH = "search_result"             # {"query", "filters", "result"}
    SEARCH_Q = "search_query"
    BENCH = "bench_result"
    TAX_CHART = "tax_chart_kind"
    TAX_COLOR = "tax_color"
    UPLOAD_ZIP = "upload_zip"
    UPLOAD_CSV = "upload_csv"
    REPORT_JOB = "report_job"
    REPORT_NEWEST = "report_newest"      # newest finished job when the report picker was last defaulted
    NODE_PARAM = "node"                  # taxonomy position, in the URL (?node=f3.s1)
    AD_PARAM = "ad"                      # the ad whose detail is open, in the URL (?ad=123)
    Q_PARAM = "q"                        # the Search page's query, in the URL (?q=...)
    GOTO_NODE = "goto_node"              # a jump to the Taxonomy page asked for by a callback
    # widget keys (tests address widgets by these)
    BENCH_N, BENCH_SELF, BENCH_FILE, BENCH_ROOT, BENCH_RUN_FILE, BENCH_CHART = (
        "bench_n", "bench_self", "bench_file", "bench_root", "bench_jsonl", "bench_chart")
    DL_ASSIGN_CSV, DL_ASSIGN_JSON, DL_TAX_CSV, DL_TAX_JSON, DL_BRIEF, BRIEF_NODE = (
        "dl-assign-csv", "dl-assign-json", "dl-tax-csv", "dl-tax-json", "dl-brief", "brief_node")
    DL_BRIEF_HTML, DL_BRIEF_ZIP, DRIFT_REBUILD = "dl-brief-html", "dl-brief-zip", "drift_rebuild"
    SAMPLE_HERE, REBUILD, BUILD_NOW, MAP_CLEAR, TAX_CHART_FIG, CRUMB_ROOT = (
        "sample_here", "rebuild", "build_taxonomy_now", "map-clear", "tax_overview", "crumb-root")

    # gallery, boards and compare
    GALLERY_SEL = "gallery_selected"     # ad ids ticked in the gallery (in order)
    G_SORT, G_DESC, G_FAMILY, G_KIND, G_DATES, G_ATTR = "g_sort", "g_desc", "g_family", "g_kind", "g_dates", "g_attr"
    G_BOARD, G_ADD, G_COMPARE, G_CLEAR, G_COMPARING = "g_board", "g_add", "g_compare", "g_clear", "g_comparing"
    G_BOARD_VIEW, G_DL_HTML, G_DL_ZIP, G_DELETE = "g_board_view", "g_dl_html", "g_dl_zip", "g_delete"
    # what works, atlas
    WW_METRIC, WW_LEVEL, WW_GATE = "ww_metric", "ww_level", "ww_gate"
    MAP_VIEW, MAP_IDS, ATLAS = "map_view", "map_ids", "map_atlas"

    @staticmethod
    def page(prefix: str) -> str:        # st.pagination keys of the paged grids
        return f"page_{prefix}"


_RUN = threading.local()   # set by app.py while it runs the picked page (see `route`)


def inside_app(flag: bool) -> None:
    _RUN.inside = flag


def route() -> None:
    """Call first in every page. On a fresh server Streamlit runs a `pages/` folder beside the main
    script as a v1 multipage app until app.py's `st.navigation` has run once, so a deep link
    (/taxonomy) would execute the page file alone, without app.py's navigation and sidebar. Then
    run app.py here (it registers the pages and runs this one, inside it) and stop this run."""
    if getattr(_RUN, "inside", False):
        return
    runpy.run_path(str(APP), run_name="__main__")
    st.stop()


PAGE_OBJECTS: dict[str, Any] = {}   # url path -> st.Page, filled by app.py (links go through `page_link`)


def page_link(url_path: str, label: str, icon: str | None = None) -> None:
    target = PAGE_OBJECTS.get(url_path) or f"pages/{url_path}.py"
    st.page_link(target, label=label, icon=icon, query_params=url_state())


# -- state in the URL: ?lib= ?node= ?ad= ?q= ----------------------------------------------------------

def url_state(**extra) -> dict[str, str]:
    """The query parameters that keep a person's place when a link opens another page."""
    out = {K.LIB: st.session_state.get(K.LIB) or default_library_name()}
    out.update({k: str(v) for k, v in extra.items() if v is not None})
    return out


def search_query_param() -> str:
    """The ?q= of the Search page ('' when absent)."""
    return st.query_params.get(K.Q_PARAM, "") or ""


def set_search_query_param(query: str | None) -> None:
    """Write the Search page's query into the URL (?q=), or drop it when empty."""
    if query:
        st.query_params[K.Q_PARAM] = query
    else:
        st.query_params.pop(K.Q_PARAM, None)


def search_url_before(page_url: str) -> None:
    """Before the Search page runs: a ?q= it has not answered yet (a refresh, a shared link) fills its box and runs
    that search. Contract with pages/search.py: the box is K.SEARCH_Q, the shown result K.SEARCH = {query, filters, result}."""
    want = search_query_param() if page_url == "search" else ""
    if not want or want == (st.session_state.get(K.SEARCH) or {}).get("query"):
        return
    st.session_state[K.SEARCH_Q] = want
    try:
        res = q(core.search_ads, want, top_k=20, filters=None)
    except Exception:  # noqa: BLE001 - the page shows its own errors when the person searches
        return
    st.session_state[K.SEARCH] = {"query": want, "filters": [], "result": res}


def search_url_after(page_url: str) -> None:
    """After the Search page ran: its shown query goes into the URL (?q=); searches by example ('more like <ad>',
    'looks like <picture>') are not a text query and leave it alone."""
    query = (st.session_state.get(K.SEARCH) or {}).get("query") if page_url == "search" else None
    if query and not str(query).startswith(("more like ", "looks like ")) and search_query_param() != query:
        set_search_query_param(query)


# -- libraries and cached reads ----------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def open_library(path: str):
    """One Library (one DuckDB connection) per library folder per server process."""
    return core.open_library(path)


@st.cache_resource(show_spinner="Loading the similarity index…", max_entries=4)
def _neighbour_index(path: str, version: str):
    return views.neighbour_index(open_library(path))


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(module: str, fn_name: str, path: str, version: str, args: tuple, kwargs: tuple):
    return getattr(importlib.import_module(module), fn_name)(open_library(path), *args, **dict(kwargs))


def library_names() -> list[str]:
    return [p.name for p in core.list_libraries()]


def library_path(name: str | None = None) -> Path:
    return Path(core.DATA_DIR) / (name or st.session_state.get(K.LIB) or default_library_name())


def default_library_name() -> str:
    names = library_names()
    for cand in (Path(core.DEFAULT_LIBRARY).name, Path(core.SAMPLE_LIBRARY).name):
        if cand in names:
            return cand
    return names[0] if names else Path(core.SAMPLE_LIBRARY).name


def lib():
    """The Library picked in the sidebar (stops the page with a friendly message if it cannot be opened)."""
    path = library_path()
    try:
        return open_library(str(path))
    except Exception as e:  # noqa: BLE001
        if "lock" in str(e).lower():
            st.error(f"The library **{path.name}** is open in another program (another `streamlit run`, or a "
                     "`python -m core` command). Close that program, then reload this page.", icon=":material/lock:")
        else:
            st.error(f"The library **{path.name}** could not be opened: {e}", icon=":material/error:")
        st.stop()


def version(library=None) -> str:
    return views.data_version(library or lib())


def q(fn: Callable, *args, library=None, **kwargs):
    """A cached read (a `core.views` or facade function taking the library first) for the current
    library and data version."""
    library = library or lib()
    return _cached(fn.__module__, fn.__name__, str(library.path), views.data_version(library), args, tuple(sorted(kwargs.items())))


@st.cache_resource(show_spinner="Loading the text model…")
def text_model():
    """The sentence encoder search uses (core.models keeps one per process; this shows it loading once)."""
    from core.models import text_encoder

    return text_encoder()


def neighbour_index(library=None):
    library = library or lib()
    return _neighbour_index(str(library.path), views.data_version(library))


def friendly(exc: BaseException, doing: str = "") -> None:
    """Show an error a person can act on; 'no taxonomy yet' gets an info box that says what to do."""
    msg = views.not_available(exc)
    if msg:
        st.info(msg, icon=":material/account_tree:")
    elif isinstance(exc, views.JobBusy):
        st.warning(str(exc), icon=":material/hourglass_top:")
    else:
        st.error(f"{'Could not ' + doing + ': ' if doing else ''}{exc}", icon=":material/error:")


# -- sidebar -----------------------------------------------------------------------------------------

def sidebar() -> None:
    """Library picker shared by every page, plus a live note while a job runs. The picked library is
    written into the URL (?lib=) on every run, so a refresh or a shared link opens the same one."""
    names = library_names()
    default = default_library_name()
    if default not in names:
        names = names + [default]
    pending = st.session_state.pop(K.LIB_PENDING, None)
    wanted = st.query_params.get(K.LIB)
    if pending in names:
        st.session_state[K.LIB] = pending
        _on_library_change()
    elif wanted in names and (K.LIB not in st.session_state or wanted != st.session_state.get(K.LIB_SEEN)):
        st.session_state[K.LIB] = wanted          # a fresh session (refresh, shared link) or a link to another library
    if st.session_state.get(K.LIB) not in names:
        st.session_state[K.LIB] = default
    with st.sidebar:
        st.selectbox("Library", names, key=K.LIB, on_change=_on_library_change,
                     help="Libraries are folders under the data directory; create one on the Library page.")
        current = st.session_state[K.LIB]
        if st.query_params.get(K.LIB) != current:
            st.query_params[K.LIB] = current
        st.session_state[K.LIB_SEEN] = current
        s = q(views.library_stats)
        st.caption(f"{s['ads']:,} ads · {s['taxonomy']['families']} families" if s["ads"] else "empty library")
        if views.job_progress(lib()) is not None:
            _sidebar_job(str(library_path()))


def select_library(name: str) -> None:
    """Open another library from inside a page (the sidebar's picker takes it on the rerun)."""
    st.session_state[K.LIB_PENDING] = name
    st.query_params[K.LIB] = name
    st.rerun()


def _on_library_change() -> None:
    for k in (K.AD, K.MAP_SELECTION, K.SEARCH, K.BENCH, K.REPORT_JOB):
        st.session_state.pop(k, None)
    for k in (K.NODE_PARAM, K.AD_PARAM):
        st.query_params.pop(k, None)
    if st.session_state.get(K.LIB):
        st.query_params[K.LIB] = st.session_state[K.LIB]


@st.fragment(run_every=5)
def _sidebar_job(path: str) -> None:
    p = views.job_progress(open_library(path))
    if p is None:
        st.rerun()  # the job ended: refresh every page's data
    st.progress(_fraction(p), text=f"{_job_title(p)}: {_stage_label(p['stage'])}")


# -- jobs ----------------------------------------------------------------------------------------------

def _fraction(p: dict) -> float:
    return min(1.0, p["done"] / p["total"]) if p.get("total") else 0.0


def _stage_label(stage: str | None) -> str:
    if stage in views.STAGE_LABELS:
        return views.STAGE_LABELS[stage]
    if stage in (None, "", "starting"):
        return "Starting"
    return f"Building the taxonomy: {stage.replace('_', ' ')}"   # the build's own steps (features, clustering, labels…)


def _job_steps(p: dict) -> list[tuple[str, str]]:
    """(step, state) for every step of this kind of job: done | running | pending."""
    plan = ["building"] if p.get("kind") == "build" else \
        (["generating"] if p.get("kind") == "sample" else []) + list(views.INGEST_STAGES) + ["building"]
    current = p.get("stage") if p.get("stage") in plan else ("building" if p.get("stage") not in (None, "", "starting") else plan[0])
    at = plan.index(current)
    return [(step, "done" if i < at else "running" if i == at else "pending") for i, step in enumerate(plan)]


def _job_title(p: dict) -> str:
    return {"sample": "Building the sample library", "build": "Building the taxonomy"}.get(p.get("kind"), "Ingesting upload")


@st.fragment(run_every=2)
def job_panel(path: str) -> None:
    """Live progress of the running job (polls the jobs table every 2 s); reruns the app when it ends."""
    p = views.job_progress(open_library(path))
    if p is None:
        st.rerun()
    with st.container(border=True):
        st.markdown(f"**{_job_title(p)}** · {p.get('name') or ''}")
        total = f" — {p['done']:,} / {p['total']:,}" if p.get("total", 0) > 1 else ""
        st.progress(_fraction(p), text=f"{_stage_label(p['stage'])}{total}")
        icons = {"done": ":material/check_circle:", "running": ":material/autorenew:", "pending": ":material/radio_button_unchecked:"}
        st.caption("  ·  ".join(f"{icons[state]} {views.STAGE_LABELS.get(step, step)}" for step, state in _job_steps(p)))
        st.caption("You can leave or refresh this page: the job keeps running on the server.")


_WARM: dict[str, tuple[Callable, Any]] = {}


@st.cache_resource(show_spinner=False)
def _warm_thread(name: str, path: str) -> threading.Thread:
    fn, library = _WARM[f"{name}:{path}"]

    def run():
        try:
            fn(library)
        except Exception:  # noqa: BLE001 - warming is best effort: search loads what it needs on first use anyway
            pass

    t = threading.Thread(target=run, name=f"warm-{name}", daemon=True)
    t.start()
    return t


def warm_once(fn: Callable, library) -> None:
    """Run `fn(library)` once per library per server process, in a background thread (e.g. `core.warm_search`)."""
    _WARM[f"{fn.__name__}:{library.path}"] = (fn, library)
    _warm_thread(fn.__name__, str(library.path))


def sample_images() -> int:
    """How many images the generated sample library has (CTE_SAMPLE_IMAGES makes it smaller for tests)."""
    return int(os.environ.get("CTE_SAMPLE_IMAGES", "200"))


def start_sample(path: Path | None = None) -> None:
    path = Path(path or core.SAMPLE_LIBRARY)
    try:
        views.start_sample(path, n_images=sample_images(), library=open_library(str(path)))
    except views.JobBusy:
        pass


# -- taxonomy guard ---------------------------------------------------------------------------------------

def require_taxonomy(library=None) -> bool:
    """True when the library has a taxonomy; else explain and offer to build one."""
    library = library or lib()
    if views.current_build_key(library):
        return True
    stats = q(views.library_stats, library=library)
    if views.job_progress(library) is not None:
        st.info("The taxonomy is being built. This page fills in when it is ready.", icon=":material/hourglass_top:")
        job_panel(str(library.path))
        return False
    if stats["ads"] < 2:
        st.info("This library has no ads yet. Upload a zip of ads on the **Library** page, or build the sample ads there.",
                icon=":material/upload:")
        page_link("library", "Go to Library", icon=":material/photo_library:")
        return False
    st.info(f"No taxonomy yet for **{library.path.name}** ({stats['ads']:,} ads). Build one: it groups the ads into "
            "families, sub-clusters and micro-patterns.", icon=":material/account_tree:")
    if st.button("Build the taxonomy", type="primary", key=K.BUILD_NOW):
        try:
            views.start_build(library)
            st.rerun()
        except Exception as e:  # noqa: BLE001
            friendly(e, "start the build")
    return False


def drift_banner(library=None) -> None:
    """When many ads arrived since the taxonomy was built (or could not be placed in it), say so and offer a rebuild."""
    library = library or lib()
    drift_fn = getattr(core, "taxonomy_drift", None)
    if drift_fn is None or views.job_progress(library) is not None or not views.current_build_key(library):
        return
    try:
        d = q(drift_fn, library=library)
    except Exception:  # noqa: BLE001 - the offer is a convenience; the pages work without it
        return
    if not d.get("rebuild_suggested"):
        return
    with st.container(border=True):
        a, b = st.columns([4, 1], vertical_alignment="center")
        new = int(d.get("placed", 0)) + int(d.get("unplaced", 0)) + int(d.get("pending", 0))
        waiting = int(d.get("unplaced", 0)) + int(d.get("pending", 0))
        a.markdown(f":material/update: **The taxonomy is behind the library:** {new:,} ads arrived since it was built"
                   + (f", {waiting:,} of them not placed in it yet (they wait in “new, not yet placed”)" if waiting else "")
                   + ". A rebuild groups them with the rest.")
        if b.button("Rebuild now", key=K.DRIFT_REBUILD, icon=":material/refresh:", width="stretch"):
            try:
                views.start_build(library)
                st.rerun()
            except Exception as e:  # noqa: BLE001
                friendly(e, "start the build")


# -- ads: grid and detail ------------------------------------------------------------------------------------

def open_ad(ad_id: int, start_s: float | None = None) -> None:
    """Callback: open this ad's detail (also written into the URL as ?ad=, so a refresh or a link reopens it)."""
    st.session_state[K.AD] = (int(ad_id), float(start_s or 0))
    st.query_params[K.AD_PARAM] = str(int(ad_id))


def _close_ad() -> None:
    st.session_state.pop(K.AD, None)
    st.query_params.pop(K.AD_PARAM, None)


def _caption(r: dict, extra: str = "") -> str:
    name = Path(str(r["file"])).name
    icon = "▶ " if r.get("kind") == "video" else ""
    return f"{icon}{name}{(' · ' + extra) if extra else ''}"


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
            start: Callable[[dict], float | None] | None = None, below: Callable[[dict], None] | None = None) -> None:
    """Thumbnails in rows of `cols`, each with a caption and an Open button (the detail dialog); a video
    tile also gets a ▶ button that plays it right there."""
    tile_css()
    rows = df.to_dict("records")
    for i in range(0, len(rows), cols):
        for col, r in zip(st.columns(cols), rows[i:i + cols]):
            with col:
                _tile_image(r)
                st.caption(_caption(r, extra(r) if extra else ""))
                if below:
                    below(r)
                if r.get("kind") == "video" and r.get("media"):
                    a, b = st.columns([1, 2])
                    with a.popover("▶", help="Play the video here"):
                        # alt names the ad: two ads of one video file on a page would otherwise be one element id
                        st.video(r["media"], autoplay=True, muted=True, alt=f"{Path(str(r['file'])).name} (ad {r['ad_id']}, {key})")
                    b.button("Open", key=f"{key}-open-{r['ad_id']}", on_click=open_ad,
                             args=(r["ad_id"], start(r) if start else None), width="stretch", type="tertiary")
                else:
                    st.button("Open", key=f"{key}-open-{r['ad_id']}", on_click=open_ad,
                              args=(r["ad_id"], start(r) if start else None), width="stretch", type="tertiary")


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

    library = open_library(path)
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
    library = lib()
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
            open_ad(chosen)


def _fit_zoom(p: pd.DataFrame, size: float, height: int, width: int = 900) -> float:
    """OrthographicView zoom (log2 of pixels per world unit) that fits every picture in the chart."""
    import math

    xspan = float(p["x"].max() - p["x"].min()) + 2 * size
    yspan = float(p["y"].max() - p["y"].min()) + 2 * size
    return math.log2(max(1e-3, 0.92 * min(width / max(xspan, 1e-6), height / max(yspan, 1e-6))))


def compare_ads(ad_ids) -> None:
    """2–4 ads side by side: the picture (or the video), then the same facts in the same rows."""
    ids = [int(i) for i in list(ad_ids)[:4]]
    library = lib()
    from core.views import ad_tree_path

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
            st.markdown(f"**{Path(d['file']).name}**")
            m = d["metadata"]
            facts = [("Family", " › ".join(p["label"] for p in d["path"]) or "—"),
                     ("Date", m.get("date", "—")), ("Spend", fmt_num(_to_float(m["spend"]), "spend") if "spend" in m else "—"),
                     ("CTR", m.get("ctr", "—")), ("Impressions", m.get("impressions", "—")),
                     ("Size", f"{d['width']}×{d['height']}" if d["width"] else "—"), ("Headline", m.get("headline", "—")),
                     ("Text in it", (d["ocr_text"] or "—")[:160])]
            st.markdown("\n".join(f"- **{k}:** {safe_md(str(v))}" for k, v in facts))
            st.button("Open", key=f"cmp-open-{d['ad_id']}", on_click=open_ad, args=(d["ad_id"],), type="tertiary")


def safe_md(text: str) -> str:
    """User text shown inside Markdown: markup characters escaped (core.safe_text when it is there)."""
    try:
        from core.safe_text import escape_markdown   # helper H's module
    except ImportError:
        import re

        return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$])", r"\\\1", text).replace("\n", " ")
    return escape_markdown(text)


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


@st.dialog("Ad detail", width="large", on_dismiss=_close_ad)
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
    st.markdown(f"#### {Path(d['file']).name}")
    if d["path"]:
        crumbs = " › ".join(p["label"] for p in d["path"])
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
            st.caption(f"The same creative was also uploaded as: {', '.join(Path(i['file']).name for i in d['identical'][:5])}")
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
        st.caption(f"Colours: {d['color_words'] or '—'} · Layout: {d['layout_words'] or '—'}")
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


def goto_node(node_id: str | None) -> None:
    """Callback: show this node on the Taxonomy page."""
    _close_ad()
    st.session_state[K.GOTO_NODE] = node_id


def follow_goto() -> None:
    """Call early on each page: performs a pending jump to the Taxonomy page (keeping the library in the URL)."""
    if K.GOTO_NODE in st.session_state:
        node = st.session_state.pop(K.GOTO_NODE)
        target = PAGE_OBJECTS.get("taxonomy") or "pages/taxonomy.py"
        st.switch_page(target, query_params=url_state(**({K.NODE_PARAM: node} if node else {})))


# -- small formatting helpers ---------------------------------------------------------------------------------

def currency(library=None) -> str | None:
    from core.gallery import library_currency

    return q(library_currency, library=library)


def fmt_num(v: Any, kind: str = "") -> str:
    """A number as a person reads it: money in the data's currency, rates as %, thousands separators."""
    from core.gallery import money

    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—"
    if kind in ("pct", "ctr", "cvr"):
        return f"{v:.2%}"
    if kind in ("spend", "revenue", "money"):
        return money(v, currency())
    if kind == "compact":   # $3.0M, $302k: fits a metric tile
        return money(v, currency(), compact=True)
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def header(title: str, caption: str | None = None) -> None:
    st.title(title)
    if caption:
        st.caption(caption)
