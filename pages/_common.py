"""Shared Streamlit helpers for every page: session-state keys, the cached Library and indexes,
cached reads, the library picker, state in the URL, Markdown-safe text and number formats. Ad grids and
the ad detail live in pages/_ads.py, the Pictures view in pages/_atlas.py, job panels and the build offers
in pages/_jobs.py; pages reach all of them as `ui.<name>` through this module.

Pages call the core facade and `core.views` through these helpers; none of them touches DuckDB
or FAISS directly. Caching: one `Library` per path per server process (`st.cache_resource`, also
used by the background ingest thread), indexes per (path, data version) likewise, and read models
in `st.cache_data` keyed by (function, path, data version, arguments).
"""
from __future__ import annotations

import atexit
import importlib
import runpy
import threading
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import streamlit as st

import core
from core import views
from core.safe_text import code_span, escape_markdown, escape_plotly

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
    SEARCH_SCROLL = "search_scroll"      # set by "More like this": bring the new results into view once
    # the Search form's other widgets (kept across pages with the box: keep_widget_state)
    SEARCH_TOP_K, SEARCH_KIND, SEARCH_FAMILY = "search_top_k", "search_kind", "search_family"
    SEARCH_FORMATS, SEARCH_PLACEMENTS, SEARCH_CAMPAIGNS = "search_formats", "search_placements", "search_campaigns"
    SEARCH_TAGS, SEARCH_DATES, SEARCH_CTR_MIN, SEARCH_MORE = "search_tags", "search_dates", "search_ctr_min", "search_more"
    SEARCH_KEPT = (SEARCH_Q, SEARCH_TOP_K, SEARCH_KIND, SEARCH_FAMILY, SEARCH_FORMATS, SEARCH_PLACEMENTS,
                   SEARCH_CAMPAIGNS, SEARCH_TAGS, SEARCH_DATES, SEARCH_CTR_MIN, SEARCH_MORE)
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
    DL_BRIEF_HTML, DL_BRIEF_ZIP, DRIFT_REBUILD, REFRESH = "dl-brief-html", "dl-brief-zip", "drift_rebuild", "refresh_reads"
    SAMPLE_HERE, REBUILD, BUILD_NOW, MAP_CLEAR, TAX_CHART_FIG, CRUMB_ROOT = (
        "sample_here", "rebuild", "build_taxonomy_now", "map-clear", "tax_overview", "crumb-root")

    # gallery, boards and compare
    GALLERY_SEL = "gallery_selected"     # ad ids ticked in the gallery (in order)
    G_SORT, G_DESC, G_FAMILY, G_KIND, G_DATES, G_ATTR = "g_sort", "g_desc", "g_family", "g_kind", "g_dates", "g_attr"
    G_BOARD, G_ADD, G_COMPARE, G_CLEAR, G_COMPARING = "g_board", "g_add", "g_compare", "g_clear", "g_comparing"
    G_BOARD_VIEW, G_DL_HTML, G_DL_ZIP, G_DELETE = "g_board_view", "g_dl_html", "g_dl_zip", "g_delete"
    # what works, atlas
    WW_METRIC, WW_LEVEL, WW_GATE = "ww_metric", "ww_level", "ww_gate"
    MAP_VIEW, MAP_IDS, ATLAS, ATLAS_FOCUS = "map_view", "map_ids", "map_atlas", "map_atlas_focus"

    @staticmethod
    def page(prefix: str) -> str:        # st.pagination keys of the paged grids
        return f"page_{prefix}"


_RUN = threading.local()   # set by app.py while it runs the picked page (see `route`)


def inside_app(flag: bool) -> None:
    _RUN.inside = flag


def begin_run() -> None:
    """app.py, at the start of each full run: data versions are read once per run from here on (a version
    query costs ~10-40 ms on a loaded machine, and a page asks for it once per cached read: 28 times on the
    gallery). Fragment reruns happen outside a full run and read it each time."""
    _RUN.versions = {}


def end_run() -> None:
    _RUN.versions = None


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


def keep_widget_state(keys) -> None:
    """Streamlit drops a widget's state at the end of any run that does not draw it (another page), so the
    Search form came back empty above its results. Assigning each key to itself on every run, before any
    widget is drawn, makes it plain session state that outlives the page (Streamlit's multipage advice)."""
    for k in keys:
        if k in st.session_state:
            st.session_state[k] = st.session_state[k]


def search_url_before(page_url: str) -> None:
    """Before the Search page runs: a ?q= it has not answered yet (a refresh, a shared link) fills its box and runs
    that search. Contract with pages/search.py: the box is K.SEARCH_Q, the shown result
    K.SEARCH = {query, filters, result[, by_example]}."""
    want = search_query_param() if page_url == "search" else ""
    if not want or want == (st.session_state.get(K.SEARCH) or {}).get("query"):
        return
    st.session_state[K.SEARCH_Q] = want
    try:
        with st.spinner("Searching for the linked query (the first search loads the models)…"):
            res = q(core.search_ads, want, top_k=20, filters=None)
    except Exception:  # noqa: BLE001 - the page shows its own errors when the person searches
        return
    st.session_state[K.SEARCH] = {"query": want, "filters": [], "result": res}


def search_url_after(page_url: str) -> None:
    """After the Search page ran: its shown query goes into the URL (?q=). A search by example ('more like <ad>',
    'looks like <picture>') is not a text query: it takes ?q= out, or the next run's search_url_before would
    answer the old ?q= again and put that text search back over it."""
    shown = (st.session_state.get(K.SEARCH) or {}) if page_url == "search" else {}
    query = shown.get("query")
    if shown.get("by_example"):
        set_search_query_param(None)
    elif query and search_query_param() != query:
        set_search_query_param(query)


# -- libraries and cached reads ----------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def open_library(path: str):
    """One Library (one DuckDB connection) per library folder per server process."""
    return core.open_library(path)


# At exit the cached libraries are let go while DuckDB's module still stands; otherwise its bindings count every
# connection still held as a leak at teardown and print "nanobind: leaked … instances!" (server and test runs)
atexit.register(st.cache_resource.clear)


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
        # core.store's LibraryError says what happened and what to do, in one sentence ("… is in use by another
        # process (PID …)", damaged, not writable); it names paths and a process's command line: shown literally
        locked = "in use by another process" in str(e) or "lock" in str(e).lower()
        st.error(f"The library **{safe_md(path.name)}** could not be opened. {message_md(e)}",
                 icon=":material/lock:" if locked else ":material/error:")
        st.stop()


def version(library=None) -> str:
    """The library's data version (keys every cached read): once per full run (see `begin_run`)."""
    library = library or lib()
    memo = getattr(_RUN, "versions", None)
    if memo is None:
        return views.data_version(library)
    path = str(library.path)
    if path not in memo:
        memo[path] = views.data_version(library)
    return memo[path]


def q(fn: Callable, *args, library=None, **kwargs):
    """A cached read (a `core.views` or facade function taking the library first) for the current
    library and data version."""
    library = library or lib()
    return _cached(fn.__module__, fn.__name__, str(library.path), version(library), args, tuple(sorted(kwargs.items())))


@st.cache_resource(show_spinner="Loading the text model…")
def text_model():
    """The sentence encoder search uses (core.models keeps one per process; this shows it loading once)."""
    from core.models import text_encoder

    return text_encoder()


def neighbour_index(library=None):
    library = library or lib()
    return _neighbour_index(str(library.path), version(library))


def friendly(exc: BaseException, doing: str = "") -> None:
    """Show an error a person can act on; 'no taxonomy yet' gets an info box that says what to do."""
    msg = views.not_available(exc)
    if msg:
        st.info(msg, icon=":material/account_tree:")
    elif isinstance(exc, views.JobBusy):
        st.warning(message_md(exc), icon=":material/hourglass_top:")
    else:
        st.error(f"{'Could not ' + doing + ': ' if doing else ''}{message_md(exc)}", icon=":material/error:")


def safe_md(text) -> str:
    """User text (file names, labels, keywords, metadata, OCR, node ids from the URL) shown literally inside
    Markdown: every markup character escaped, line breaks made spaces (core.safe_text)."""
    return escape_markdown(text)


def plot_text(values):
    """User text (labels, file names, metadata values) for a Plotly chart: a string, or each item of a list/Series,
    escaped so that Plotly's HTML subset (<a href>, <b>, <span style>) shows as text (core.safe_text)."""
    if isinstance(values, pd.Series):
        return values.map(escape_plotly)
    if isinstance(values, (list, tuple)):
        return [escape_plotly(v) for v in values]
    return escape_plotly(values)


def message_md(text) -> str:
    """An engine message shown in Markdown: its `code` spans stay code spans, everything else (paths, file
    names, a process's command line) is escaped. Odd backticks: the whole message escaped."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:
        return escape_markdown(text)
    return "".join(code_span(p) if i % 2 else escape_markdown(p) for i, p in enumerate(parts))


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
            from pages._jobs import sidebar_job

            sidebar_job(str(library_path()))


def select_library(name: str) -> None:
    """Open another library from inside a page (the sidebar's picker takes it on the rerun)."""
    st.session_state[K.LIB_PENDING] = name
    st.query_params[K.LIB] = name
    st.rerun()


def _on_library_change() -> None:
    for k in (K.AD, K.MAP_SELECTION, K.SEARCH, K.BENCH, K.REPORT_JOB) + K.SEARCH_KEPT:   # another library's filters
        st.session_state.pop(k, None)
    for k in (K.NODE_PARAM, K.AD_PARAM):
        st.query_params.pop(k, None)
    if st.session_state.get(K.LIB):
        st.query_params[K.LIB] = st.session_state[K.LIB]


# -- ads and nodes in the URL ------------------------------------------------------------------------------------

def open_ad(ad_id: int, start_s: float | None = None) -> None:
    """Callback: open this ad's detail (also written into the URL as ?ad=, so a refresh or a link reopens it)."""
    st.session_state[K.AD] = (int(ad_id), float(start_s or 0))
    st.query_params[K.AD_PARAM] = str(int(ad_id))


def close_ad() -> None:
    st.session_state.pop(K.AD, None)
    st.query_params.pop(K.AD_PARAM, None)


def goto_node(node_id: str | None) -> None:
    """Callback: show this node on the Taxonomy page."""
    close_ad()
    st.session_state[K.GOTO_NODE] = node_id


def follow_goto() -> None:
    """Call early on each page: performs a pending jump to the Taxonomy page (keeping the library in the URL)."""
    if K.GOTO_NODE in st.session_state:
        node = st.session_state.pop(K.GOTO_NODE)
        target = PAGE_OBJECTS.get("taxonomy") or "pages/taxonomy.py"
        st.switch_page(target, query_params=url_state(**({K.NODE_PARAM: node} if node else {})))


# -- small formatting helpers ---------------------------------------------------------------------------------

def currency(library=None) -> str | None:
    """The data's currency when it is an ISO-like code (3 letters); anything else from a CSV cell is not shown
    beside every amount (fmt_num's output goes into Markdown)."""
    import re

    from core.gallery import library_currency

    code = q(library_currency, library=library)
    return code if code and re.fullmatch(r"[A-Z]{3}", code) else None


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


# -- names that live in the sibling modules (pages import them all from here, as `ui.<name>`) ---------------------

_ELSEWHERE = {
    "pages._ads": ("ad_grid", "paged_grid", "thumb_strip", "tile_css", "ad_detail", "show_ad_dialog", "compare_ads"),
    "pages._atlas": ("atlas_view",),
    "pages._jobs": ("job_panel", "warm_once", "sample_images", "start_sample", "require_taxonomy", "drift_banner"),
}
_HOME = {name: module for module, names in _ELSEWHERE.items() for name in names}


def __getattr__(name: str):
    """`ui.ad_grid` etc.: imported on first use, since those modules import this one (no import cycle at load)."""
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
