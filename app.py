"""Creative Taxonomy Explorer — the Streamlit app.  Run: `streamlit run app.py`.

This file sets up the page, the navigation and the sidebar's library picker; each page lives in
pages/. On a machine with no library yet it builds the sample library first (in the background,
with a progress bar) and opens on it.
"""
from __future__ import annotations

# (file in pages/, title, icon, url path): every page has its own address (/library, /taxonomy, …)
PAGES = [
    ("library", "Library", ":material/photo_library:", "library"),
    ("gallery", "Gallery", ":material/grid_view:", "gallery"),
    ("taxonomy", "Taxonomy", ":material/account_tree:", "taxonomy"),
    ("what_works", "What works", ":material/emoji_events:", "what-works"),
    ("map", "Map", ":material/scatter_plot:", "map"),
    ("search", "Search", ":material/search:", "search"),
    ("trends", "Trends", ":material/trending_up:", "trends"),
    ("benchmark", "Benchmark", ":material/speed:", "benchmark"),
    ("export", "Export", ":material/download:", "export"),
]


def main() -> None:
    import os
    from pathlib import Path

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import streamlit as st

    from pages import _common as ui

    st.set_page_config(page_title="Creative Taxonomy Explorer", page_icon=":material/account_tree:", layout="wide")
    ui.begin_run()
    try:
        _run(Path(__file__).resolve().parent)
    finally:
        ui.end_run()


def _run(here) -> None:
    import streamlit as st

    import core
    from core import views
    from pages import _common as ui

    # A default page lives only at "/", so the Library gets a second, hidden entry as the default:
    # "/" and "/library" both show it (a default page's own url_path would answer "Page not found").
    pages = [st.Page("pages/library.py", title="Library", icon=":material/photo_library:", url_path="home",
                     default=True, visibility="hidden")]
    pages += [st.Page(f"pages/{file}.py", title=title, icon=icon, url_path=url)
              for file, title, icon, url in PAGES if (here / "pages" / f"{file}.py").exists()]
    ui.PAGE_OBJECTS.update({p.url_path or "home": p for p in pages})
    nav = st.navigation(pages)

    # First run: no library at all -> build the sample one (a background job; the screen below follows it).
    if not core.list_libraries() and views.background_job(core.SAMPLE_LIBRARY) is None:
        ui.start_sample(core.SAMPLE_LIBRARY)

    ui.sidebar()
    ui.follow_goto()

    library = ui.lib()
    running = views.job_progress(library)
    warm = getattr(core, "warm_search", None)      # search models and this library's indexes: once, in the background
    if warm is not None and running is None:
        ui.warm_once(warm, library)
    if running is not None and running["kind"] == "sample" and ui.q(views.library_stats)["ads"] == 0:
        st.title("Welcome to the Creative Taxonomy Explorer")
        st.markdown("Preparing a **sample library** of generated ads so you can explore right away. Your own ads go in "
                    "through the **Library** page (a zip of images and videos, plus an optional metadata CSV).")
        ui.job_panel(str(library.path))
        st.stop()

    ui.keep_widget_state(ui.K.SEARCH_KEPT)        # the Search form outlives a visit to another page
    ui.search_url_before(nav.url_path)            # ?q= on the Search page: run the linked search
    ui.inside_app(True)
    try:
        nav.run()
    finally:
        ui.inside_app(False)
    ui.search_url_after(nav.url_path)             # and write the shown search back into the URL


# Streamlit runs this file as __main__. The ingest's worker processes (multiprocessing "spawn")
# re-import the main module as __mp_main__: they must not run the app.
if __name__ == "__main__":
    main()
