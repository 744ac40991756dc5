"""Library: upload ads (zip + optional metadata CSV), follow the ingest, see what was added and skipped."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

import core
from core import views
from pages import _common as ui
from pages._common import K

ui.route()
library = ui.lib()
stats = ui.q(views.library_stats)
progress = views.job_progress(library)

ui.header("Library", f"`{library.path}`")

tax = stats["taxonomy"]
c = st.columns(6)
c[0].metric("Ads", f"{stats['ads']:,}")
c[1].metric("Creatives", f"{stats['creatives']:,}", help="Distinct files by content: byte-identical uploads share one creative.")
c[2].metric("Videos", f"{stats['videos']:,}")
c[3].metric("Families", tax["families"], help=f"{tax['sub_clusters']} sub-clusters, {tax['micro_patterns']} micro-patterns")
from core.gallery import library_currencies

currencies = ui.q(library_currencies)
c[4].metric("Spend", ui.fmt_num(stats["spend"], "compact") if stats["spend"] else "—",
            help=(ui.fmt_num(stats["spend"], "spend") + (f" — the metadata mixes {', '.join(currencies)}: amounts are added as "
                  f"they are and shown in {currencies[0]}, the commonest" if len(currencies) > 1 else "")) if stats["spend"] else None)
c[5].metric("Campaigns", f"{stats['campaigns']:,}")
notes = []
if stats["date_min"] is not None:
    notes.append(f"ads dated {stats['date_min']:%d %b %Y} – {stats['date_max']:%d %b %Y}")
if stats["errors"] or stats["warnings"]:
    notes.append(f"{stats['errors']:,} files skipped with errors and {stats['warnings']:,} metadata warnings so far "
                 "(see the upload reports below)")
if notes:
    text = "; ".join(notes)
    st.caption(text[0].upper() + text[1:] + ".")

if progress is None:
    ui.drift_banner(library)
    if stats["older_reads"]:
        st.info(f"{stats['older_reads']:,} of {stats['creatives']:,} creatives were read by an earlier version of the app: "
                "**Refresh the ads' reads** (below) gives them this version's picture and text words.", icon=":material/autorenew:")
if progress is not None:
    ui.job_panel(str(library.path))
else:
    last = views.background_job(library.path)
    if last is not None and last.error:
        st.error(f"The last {last.kind} job stopped: {ui.message_md(last.error)}", icon=":material/error:")

# -- upload ----------------------------------------------------------------------------------------------
st.subheader("Add ads")
with st.form("upload", clear_on_submit=True, border=True):   # an ingested zip leaves the form
    left, right = st.columns([3, 2])
    zip_file = left.file_uploader("Ads (.zip of images and videos)", type=["zip"], key=K.UPLOAD_ZIP,
                                  help="JPG, PNG, GIF, WebP, BMP, TIFF images and MP4, MOV, WebM, M4V videos; "
                                       "folders inside the zip are fine. A metadata CSV inside the zip is read too.")
    csv_file = right.file_uploader("Metadata CSV (optional)", type=["csv"], key=K.UPLOAD_CSV,
                                   help="One row per ad with a `file` column (path inside the zip) and any of: headline, copy, "
                                        "cta, tags, format, placement, campaign, date, spend, impressions, clicks, conversions, revenue, ctr.")
    submitted = st.form_submit_button("Ingest", type="primary", disabled=progress is not None, icon=":material/upload:")

if submitted:
    problem = None
    if zip_file is None:
        problem = "Choose a .zip of ads first."
    else:
        problem = views.check_upload(zip_file.name, zip_file.size, bytes(zip_file.getbuffer()[:8]), "zip")
        if not problem and csv_file is not None:
            problem = views.check_upload(csv_file.name, csv_file.size, bytes(csv_file.getbuffer()[:4096]), "csv")
    if problem:
        st.error(ui.message_md(problem), icon=":material/error:")
    else:
        saved = views.save_upload(library, zip_file.name, zip_file)
        problem = views.check_zip_contents(saved)
        if problem:
            saved.unlink(missing_ok=True)
            st.error(ui.message_md(problem), icon=":material/error:")
        else:
            meta = [views.save_upload(library, csv_file.name, csv_file)] if csv_file is not None else None
            try:
                views.start_ingest(library, saved, metadata=meta)
                st.session_state.pop(K.REPORT_JOB, None)
                st.rerun()
            except Exception as e:  # noqa: BLE001
                ui.friendly(e, "start the ingest")

if stats["ads"] == 0 and progress is None:
    st.info("This library is empty. Upload a zip above — or fill it with the generated sample ads to try the app.",
            icon=":material/lightbulb:")
    if st.button("Build the sample ads here", key=K.SAMPLE_HERE):
        try:
            views.start_sample(library.path, n_images=ui.sample_images(), library=library)
            st.rerun()
        except Exception as e:  # noqa: BLE001
            ui.friendly(e, "start the sample build")

# -- upload reports ------------------------------------------------------------------------------------------
reports = [j for j in views.jobs(library, limit=50) if j["kind"] != "build" and j["status"] != "running"]
if reports:
    st.subheader("Upload report")
    ids = [j["id"] for j in reports]
    labels = {j["id"]: f"#{j['id']} · {j['name']} · {j['status']} · {j['started_at']:%Y-%m-%d %H:%M}" for j in reports}
    if st.session_state.get(K.REPORT_JOB) not in ids or st.session_state.get(K.REPORT_NEWEST) != ids[0]:
        st.session_state[K.REPORT_JOB] = ids[0]      # a job that just finished: show its report
        st.session_state[K.REPORT_NEWEST] = ids[0]
    jid = st.selectbox("Upload", ids, format_func=labels.get, key=K.REPORT_JOB, label_visibility="collapsed")
    rep = views.job_report(library, jid)
    j, n = rep["job"], rep["counts"]
    if j["kind"] == "refresh":
        if j["status"] == "done":
            st.success(f"Refresh: {n['refreshed']:,} of {n['creatives']:,} creatives analysed again; the words of "
                       f"{n['changed_words']:,} changed and {n['documents_changed']:,} ad descriptions were rewritten"
                       + (f"; {len(rep['skipped']):,} could not be read and kept their earlier reads (below)." if len(rep["skipped"]) else "."),
                       icon=":material/autorenew:")
        else:
            st.warning(f"This refresh {j['status'] if j['status'] in ('failed', 'interrupted') else 'stopped'}"
                       f"{': ' + ui.message_md(j['error']) if j['error'] else ''}. Ads whose reads were rewritten keep them; "
                       "refresh again to finish the rest.", icon=":material/warning:")
    elif j["status"] == "failed":
        st.error(f"This upload failed: {ui.message_md(j['error'] or 'unknown error')}. What was committed before the failure is kept; "
                 "uploading the same zip again resumes it.", icon=":material/error:")
    elif j["status"] == "interrupted":
        st.warning("This upload was interrupted (the server stopped). Upload the same zip again to finish it: "
                   "ads already added are skipped.", icon=":material/warning:")
    if n.get("files_seen") is not None:
        m = st.columns(5)
        m[0].metric("Media files", f"{n['files_seen']:,}")
        m[1].metric("Ads added", f"{n['ads_added']:,}")
        m[2].metric("Already in library", f"{n['already_present']:,}")
        m[3].metric("Skipped", f"{len(rep['skipped']):,}")
        m[4].metric("Time", f"{n['seconds']:.0f} s" if n.get("seconds") else "—")
        if n.get("duplicates"):
            st.caption(f"{n['duplicates']:,} ad{' is' if n['duplicates'] == 1 else 's are'} byte-identical to another ad: "
                       "each creative was analysed once.")
    b = rep["build"]
    if b is not None:
        placed = b["summary"].get("placed") if b["summary"].get("kind") == "place" else None
        if b["status"] == "done" and placed is not None:
            st.success(f"{placed.get('placed', 0):,} new ads placed into the taxonomy"
                       + (f", {placed['unplaced']:,} shown as new, not yet placed" if placed.get("unplaced") else "")
                       + ". Names, ids and your edits stay; rebuild when you choose.", icon=":material/account_tree:")
        elif b["status"] == "done":
            st.success(f"Taxonomy rebuilt in {b['summary'].get('seconds', 0):.0f} s with the new ads.", icon=":material/account_tree:")
        elif b["status"] == "failed":
            st.warning(f"The ads were added, but the taxonomy could not be rebuilt: {ui.message_md(b['error'])}", icon=":material/warning:")
    t_added, t_skipped, t_warn = st.tabs([f"Added ({len(rep['added']):,})", f"Skipped ({rep['skipped_total']:,})",
                                          f"Metadata warnings ({rep['warnings_total']:,})"])
    with t_added:
        if len(rep["added"]):
            added = rep["added"].drop(columns=[c for c in ("headline", "format", "campaign") if rep["added"][c].isna().all()])
            st.dataframe(added.fillna(""), hide_index=True, width="stretch", height=min(400, 38 + 35 * len(added)),
                         column_config={"ad_id": None})
        else:
            st.caption("Nothing new was added (every file was already in the library, or none could be read).")
    with t_skipped:
        if 0 < len(rep["skipped"]) <= 50:   # a table wraps the long 'why' sentences
            st.table(rep["skipped"][["file", "reason", "message"]].rename(columns={"message": "why"})   # st.table renders Markdown
                     .map(ui.safe_md).set_index("file"))
        elif len(rep["skipped"]):
            st.dataframe(rep["skipped"][["file", "reason", "message"]], hide_index=True, width="stretch",
                         column_config={"message": st.column_config.TextColumn("why", width="large")})
        else:
            st.caption("Nothing was skipped.")
    with t_warn:
        if len(rep["warnings"]):
            if rep["warnings_total"] > len(rep["warnings"]):
                st.caption(f"The first {len(rep['warnings']):,} of {rep['warnings_total']:,} warnings.")
            st.dataframe(rep["warnings"], hide_index=True, width="stretch")
        else:
            st.caption("No metadata warnings.")

# -- libraries ---------------------------------------------------------------------------------------------------
st.subheader("Libraries")
libs = core.list_libraries()
st.caption(f"{len(libs)} librar{'y' if len(libs) == 1 else 'ies'} under `{core.DATA_DIR}`; pick one in the sidebar.")
with st.form("new_library", border=False):
    a, b_ = st.columns([3, 1], vertical_alignment="bottom")
    name = a.text_input("New library", key=K.NEW_LIB, placeholder="e.g. client-spring-2026")
    create = b_.form_submit_button("Create", icon=":material/add:")
if create:
    clean = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-")
    if not clean:
        st.error("Give the library a name (letters, digits, - and _).")
    elif (Path(core.DATA_DIR) / clean / "library.duckdb").exists():
        st.error(f"A library called '{clean}' already exists; pick it in the sidebar.")
    else:
        ui.open_library(str(Path(core.DATA_DIR) / clean))
        ui.select_library(clean)

if stats["ads"] >= 1 and progress is None:
    c_build, c_refresh, _ = st.columns([1, 1, 2])
    if stats["ads"] >= 2 and c_build.button("Rebuild the taxonomy", key=K.REBUILD, icon=":material/refresh:",
                                            help="Re-cluster every ad of this library (new uploads trigger this automatically)."):
        try:
            views.start_build(library)
            st.rerun()
        except Exception as e:  # noqa: BLE001
            ui.friendly(e, "start the build")
    if c_refresh.button("Refresh the ads' reads", key=K.REFRESH, icon=":material/autorenew:",
                        help="Compute every stored ad's picture and text words again with this version (after an "
                             "upgrade: ads uploaded earlier get the new words), then rebuild the taxonomy. Images keep "
                             "their OCR and model reads (about half the time of reading them again: `python -m core refresh --full`)."):
        try:
            views.start_refresh(library)
            st.rerun()
        except Exception as e:  # noqa: BLE001
            ui.friendly(e, "start the refresh")

all_jobs = views.jobs(library, limit=20)
if all_jobs:
    with st.expander("Recent jobs"):
        st.dataframe(pd.DataFrame([{k: j[k] for k in ("id", "name", "kind", "status", "stage", "started_at", "updated_at")} for j in all_jobs]).fillna(""),
                     hide_index=True, width="stretch")

ui.show_ad_dialog()
