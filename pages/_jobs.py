"""Background jobs in the app: the live progress panel and sidebar note, the sample library's first build,
and warming search in a background thread; the offers to build a taxonomy. (`pages/_common.py` re-exports these names.)"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

import streamlit as st

import core
from core import views
from core.safe_text import escape_markdown
from pages import _common as ui


@st.fragment(run_every=5)
def sidebar_job(path: str) -> None:
    p = views.job_progress(ui.open_library(path))
    if p is None:
        st.rerun()  # the job ended: refresh every page's data
    st.progress(_fraction(p), text=f"{_job_title(p)}: {_stage_label(p['stage'])}")


# -- the job panel ----------------------------------------------------------------------------------------------

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
    kind = p.get("kind")
    plan = (["building"] if kind == "build" else
            ["analysing", "embedding", "indexing", "building"] if kind == "refresh" else
            (["generating"] if kind == "sample" else []) + list(views.INGEST_STAGES) + ["building"]) + [views.SEARCH_STAGE]
    current = p.get("stage") if p.get("stage") in plan else ("building" if p.get("stage") not in (None, "", "starting") else plan[0])
    at = plan.index(current)
    return [(step, "done" if i < at else "running" if i == at else "pending") for i, step in enumerate(plan)]


def _job_title(p: dict) -> str:
    return {"sample": "Building the sample library", "build": "Building the taxonomy",
            "refresh": "Refreshing the ads' reads"}.get(p.get("kind"), "Ingesting upload")


@st.fragment(run_every=2)
def job_panel(path: str) -> None:
    """Live progress of the running job (polls the jobs table every 2 s); reruns the app when it ends."""
    p = views.job_progress(ui.open_library(path))
    if p is None:
        st.rerun()
    with st.container(border=True):
        st.markdown(f"**{_job_title(p)}** · {escape_markdown(p.get('name') or '')}")
        total = f" — {p['done']:,} / {p['total']:,}" if p.get("total", 0) > 1 else ""
        st.progress(_fraction(p), text=f"{_stage_label(p['stage'])}{total}")
        icons = {"done": ":material/check_circle:", "running": ":material/autorenew:", "pending": ":material/radio_button_unchecked:"}
        st.caption("  ·  ".join(f"{icons[state]} {views.STAGE_LABELS.get(step, step)}" for step, state in _job_steps(p)))
        st.caption("You can leave or refresh this page: the job keeps running on the server.")


@st.cache_resource(show_spinner=False)
def _warm_thread(name: str, path: str, _fn: Callable, _library) -> threading.Thread:
    """One thread per (function, library) per server process; the underscored arguments are not part of the
    cache key, and the finished thread drops them (Thread.run lets go of its target), so a warmed library is
    held by the library cache alone and is let go with it at exit."""
    def run():
        try:
            _fn(_library)
        except Exception:  # noqa: BLE001 - warming is best effort: search loads what it needs on first use anyway
            pass

    t = threading.Thread(target=run, name=f"warm-{name}", daemon=True)
    t.start()
    return t


def warm_once(fn: Callable, library) -> None:
    """Run `fn(library)` once per library per server process, in a background thread (e.g. `core.warm_search`)."""
    _warm_thread(fn.__name__, str(library.path), fn, library)


def sample_images() -> int:
    """How many images the generated sample library has (CTE_SAMPLE_IMAGES makes it smaller for tests)."""
    return int(os.environ.get("CTE_SAMPLE_IMAGES", "200"))


def start_sample(path: Path | None = None) -> None:
    path = Path(path or core.SAMPLE_LIBRARY)
    try:
        views.start_sample(path, n_images=sample_images(), library=ui.open_library(str(path)))
    except views.JobBusy:
        pass


# -- taxonomy guard: no taxonomy yet, or one behind the library ---------------------------------------------------------------------------------------

def require_taxonomy(library=None) -> bool:
    """True when the library has a taxonomy; else explain and offer to build one."""
    library = library or ui.lib()
    if views.current_build_key(library):
        return True
    stats = ui.q(views.library_stats, library=library)
    if views.job_progress(library) is not None:
        st.info("The taxonomy is being built. This page fills in when it is ready.", icon=":material/hourglass_top:")
        job_panel(str(library.path))
        return False
    if stats["ads"] < 2:
        st.info("This library has no ads yet. Upload a zip of ads on the **Library** page, or build the sample ads there.",
                icon=":material/upload:")
        ui.page_link("library", "Go to Library", icon=":material/photo_library:")
        return False
    st.info(f"No taxonomy yet for **{escape_markdown(library.path.name)}** ({stats['ads']:,} ads). Build one: it groups the ads into "
            "families, sub-clusters and micro-patterns.", icon=":material/account_tree:")
    if st.button("Build the taxonomy", type="primary", key=ui.K.BUILD_NOW):
        try:
            views.start_build(library)
            st.rerun()
        except Exception as e:  # noqa: BLE001
            ui.friendly(e, "start the build")
    return False


def drift_banner(library=None) -> None:
    """When many ads arrived since the taxonomy was built (or could not be placed in it), say so and offer a rebuild."""
    library = library or ui.lib()
    drift_fn = getattr(core, "taxonomy_drift", None)
    if drift_fn is None or views.job_progress(library) is not None or not views.current_build_key(library):
        return
    try:
        d = ui.q(drift_fn, library=library)
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
        if b.button("Rebuild now", key=ui.K.DRIFT_REBUILD, icon=":material/refresh:", width="stretch"):
            try:
                views.start_build(library)
                st.rerun()
            except Exception as e:  # noqa: BLE001
                ui.friendly(e, "start the build")
