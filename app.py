"""Creative Taxonomy Explorer — the Streamlit app.  Run: `streamlit run app.py`.

This file sets up the page, the navigation and the sidebar's library picker; each page lives in
pages/. On a machine with no library yet it builds the sample library first (in the background,
with a progress bar) and opens on it.
"""
from __future__ import annotations


def main() -> None:
    import os
    from pathlib import Path

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import streamlit as st

    import core
    from core import views
    from pages import _common as ui

    here = Path(__file__).resolve().parent
    st.set_page_config(page_title="Creative Taxonomy Explorer", page_icon=":material/account_tree:", layout="wide")

    pages = [
        st.Page("pages/library.py", title="Library", icon=":material/photo_library:", url_path="library", default=True),
        st.Page("pages/taxonomy.py", title="Taxonomy", icon=":material/account_tree:", url_path="taxonomy"),
        st.Page("pages/map.py", title="Map", icon=":material/scatter_plot:", url_path="map"),
        st.Page("pages/search.py", title="Search", icon=":material/search:", url_path="search"),
    ]
    if (here / "pages" / "trends.py").exists():  # added by the trends work when it lands
        pages.append(st.Page("pages/trends.py", title="Trends", icon=":material/trending_up:", url_path="trends"))
    pages += [
        st.Page("pages/benchmark.py", title="Benchmark", icon=":material/speed:", url_path="benchmark"),
        st.Page("pages/export.py", title="Export", icon=":material/download:", url_path="export"),
    ]
    nav = st.navigation(pages)

    # First run: no library at all -> build the sample one (a background job; the screen below follows it).
    if not core.list_libraries() and views.background_job(core.SAMPLE_LIBRARY) is None:
        ui.start_sample(core.SAMPLE_LIBRARY)

    ui.sidebar()
    ui.follow_goto()

    library = ui.lib()
    running = views.job_progress(library)
    if running is not None and running["kind"] == "sample" and ui.q(views.library_stats)["ads"] == 0:
        st.title("Welcome to the Creative Taxonomy Explorer")
        st.markdown("Preparing a **sample library** of generated ads so you can explore right away. Your own ads go in "
                    "through the **Library** page (a zip of images and videos, plus an optional metadata CSV).")
        ui.job_panel(str(library.path))
        st.stop()

    nav.run()


# Streamlit runs this file as __main__. The ingest's worker processes (multiprocessing "spawn")
# re-import the main module as __mp_main__: they must not run the app.
if __name__ == "__main__":
    main()
