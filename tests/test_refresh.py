"""`refresh`: a library ingested by older signal code gets today's reads, as a fresh ingest of the
same files would give them; real files, real models, real DuckDB and FAISS. By default an image keeps
its model reads (OCR, labels, visual vector) and only its signals run again; `--full` re-reads it all."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import numpy as np
import pytest

import core
from core import views
from core.documents import signal_document
from core.search.corpus import library_state
from test_ingest import make_ads
from videoclips import Shot, write_clip

STALE = {"layout_words": "square, collage, illustration", "composition_words": "collage, cartoon"}
MISREAD = ("ad_001.png", "TAMPERED READ")   # an OCR read only a full refresh replaces


def _snapshot(lib) -> dict:
    cols = lib.signal_columns()
    return {
        "creatives": {r[0]: r[1:] for r in lib.execute(f"SELECT sha256, {', '.join(cols)} FROM creatives").fetchall()},
        "documents": dict(lib.execute("SELECT file, document FROM ads").fetchall()),
        "text_vecs": {f: np.asarray(v) for f, v in lib.execute("SELECT file, text_vec FROM ads").fetchall()},
        "label_vecs": {s: np.asarray(v) for s, v in lib.execute("SELECT sha256, label_vec FROM creatives").fetchall()},
        "boxes": lib.execute("SELECT c.sha256, b.idx, b.text FROM ocr_boxes b JOIN creatives c ON c.id = b.creative_id "
                             "ORDER BY 1, 2").fetchall(),
        "ads": lib.execute("SELECT id, file, creative_id FROM ads ORDER BY id").fetchall(),
    }


def _age(lib) -> None:
    """Make the library look ingested by older code: other words in two signals' columns (and in the
    documents built from them), and a signal's column that did not exist yet (NULL)."""
    lib.execute("UPDATE creatives SET layout_words = ?, composition_words = ?, people_words = NULL, reads_version = NULL",
                [STALE["layout_words"], STALE["composition_words"]])
    lib.execute("UPDATE creatives SET ocr_text = ? WHERE id = (SELECT creative_id FROM ads WHERE file = ?)", [MISREAD[1], MISREAD[0]])
    cols = lib.signal_columns()
    from core.writer import AD_COLS

    for ad_id, *rest in lib.execute(f"""SELECT a.id, {', '.join('a.' + c for c in AD_COLS)}, {', '.join('c.' + c for c in cols)}
                                        FROM ads a JOIN creatives c ON c.id = a.creative_id""").fetchall():
        fields = {k: v for k, v in zip(AD_COLS, rest[:len(AD_COLS)]) if v is not None}
        lib.execute("UPDATE ads SET document = ? WHERE id = ?", [signal_document(fields, dict(zip(cols, rest[len(AD_COLS):]))), ad_id])


@pytest.fixture(scope="module")
def aged(tmp_path_factory):
    """(library, its reads as ingested, the ad whose media file went missing): ingested and built with
    today's code, then aged; one creative's stored media file deleted."""
    tmp = tmp_path_factory.mktemp("refresh")
    src = make_ads(tmp / "src", 5)
    write_clip(src / "clip.mp4", [Shot(1.0, "photo", "coffee", text="COLD BREW"), Shot(1.0, "color", color=(20, 90, 200))])
    lib = core.open_library(tmp / "lib")
    summary = core.ingest_source(lib, src, workers=1)
    assert (summary.ads_added, len(summary.errors)) == (6, 0)
    fresh = _snapshot(lib)
    _age(lib)
    gone_file = "ad_004.png"
    media = lib.scalar("SELECT c.media_path FROM creatives c JOIN ads a ON a.creative_id = c.id WHERE a.file = ?", [gone_file])
    (lib.path / media).unlink()
    yield lib, fresh, gone_file
    lib.close()


def _creative_of(lib, file: str) -> str:
    return lib.scalar("SELECT c.sha256 FROM creatives c JOIN ads a ON a.creative_id = c.id WHERE a.file = ?", [file])


def test_refresh_gives_a_fresh_ingests_reads_and_keeps_a_missing_files_old_ones(aged):
    lib, fresh, gone_file = aged
    gone_sha = lib.scalar("SELECT c.sha256 FROM creatives c JOIN ads a ON a.creative_id = c.id WHERE a.file = ?", [gone_file])
    assert all(fresh["documents"][f] != d for f, d in _snapshot(lib)["documents"].items())   # aging changed every document
    key_before = library_state(lib)[0]
    build_before = core.current_build_key(lib)
    assert views.library_stats(lib)["older_reads"] == 6

    summary = core.refresh_library(lib, workers=1)

    assert (summary.creatives, summary.refreshed) == (6, 5)
    assert [f["file"] for f in summary.failed] == [gone_file]
    assert gone_file in summary.failed[0]["message"] and "earlier reads were kept" in summary.failed[0]["message"]
    assert lib.scalar("SELECT count(*) FROM errors WHERE job_id = ? AND file = ?", [summary.job_id, gone_file]) == 1
    assert lib.scalar("SELECT status FROM jobs WHERE id = ?", [summary.job_id]) == "done"
    now = _snapshot(lib)
    assert now["ads"] == fresh["ads"]                       # no ad added, lost or renumbered
    assert now["boxes"] == fresh["boxes"]                   # OCR boxes rewritten, none doubled
    misread_sha = _creative_of(lib, MISREAD[0])
    for sha, row in now["creatives"].items():
        if sha == gone_sha:                                 # unreadable now: its aged reads stay
            assert STALE["composition_words"] in row
        elif sha == misread_sha:                            # signals again, but its OCR read is kept
            assert MISREAD[1] in row and row != fresh["creatives"][sha]
        else:
            assert row == fresh["creatives"][sha]
    for f, doc in now["documents"].items():
        assert (doc == fresh["documents"][f]) == (f not in (gone_file, MISREAD[0]))
    assert MISREAD[1] in now["documents"][MISREAD[0]] and STALE["composition_words"] not in now["documents"][MISREAD[0]]
    assert summary.changed_words == 5 and summary.documents_changed == 5
    # the vectors are a fresh ingest's: same documents, same batches
    assert all(np.array_equal(now["text_vecs"][f], fresh["text_vecs"][f]) for f in now["text_vecs"] if f not in (gone_file, MISREAD[0]))
    assert all(np.array_equal(now["label_vecs"][s], fresh["label_vecs"][s]) for s in now["label_vecs"])
    # search and the taxonomy follow: a new corpus key, a new build over the same ads
    assert library_state(lib)[0] != key_before
    assert core.current_build_key(lib) not in (None, build_before)
    hits = core.search_ads(lib, "cold brew", top_k=3)["ads"]
    assert hits and hits[0]["file"] == "clip.mp4"
    assert views.library_stats(lib)["older_reads"] == core.info(lib)["older_reads"] == 1   # the unreadable one: earlier reads


def test_full_refresh_on_the_cli_reads_the_text_again(aged):
    lib, fresh, gone_file = aged
    before = _snapshot(lib)
    out = io.StringIO()
    from core.__main__ import main

    lib.execute("CHECKPOINT")
    with redirect_stdout(out):
        rc = main(["refresh", "--library", str(lib.path), "--full", "--no-build", "--json", "--quiet", "--workers", "1"])
    assert rc == 0
    d = json.loads(out.getvalue())
    assert (d["refreshed"], d["changed_words"], d["documents_changed"]) == (5, 1, 1)    # only the misread one
    assert [f["file"] for f in d["failed"]] == [gone_file]
    after = _snapshot(lib)
    assert after["ads"] == before["ads"] and after["boxes"] == before["boxes"] == fresh["boxes"]
    sha = _creative_of(lib, MISREAD[0])
    assert after["creatives"][sha] == fresh["creatives"][sha]
    assert {f: d for f, d in after["documents"].items() if f != gone_file} == \
        {f: d for f, d in fresh["documents"].items() if f != gone_file}


def test_library_page_refreshes_in_the_background_and_reports_the_unreadable_file(aged, recwarn):
    from test_app import data_dir, make_app, ok, shown, texts

    lib, _, gone_file = aged
    with data_dir(lib.path.parent):
        at = ok(make_app(lib.path.name).run())
        older = views.library_stats(lib)["older_reads"]      # 6, or 1 after the tests above
        assert f"{older} of 6 creatives were read by an earlier version" in texts(at)
        ok(at.button(key="refresh_reads").click().run())
        job = views.background_job(lib.path)
        assert job is not None and job.kind == "refresh", "the refresh did not start"
        assert job.wait(timeout=300) and job.error is None, job.error
        ok(at.run())
    # the job kept its safety copy: a cursor of this process with an unread result (Library.scalar's, before
    # it read to the end) held a transaction open, and the job's CHECKPOINT failed
    assert not [w for w in recwarn if "could not keep a backup" in str(w.message)]
    page = texts(at)
    assert "Refresh: 5 of 6 creatives analysed again" in page and "kept their earlier reads" in page
    reasons = next(t.value for t in at.table if "reason" in t.value.columns)
    assert gone_file in {shown(f) for f in reasons.index}    # st.table renders Markdown: cells escaped
    assert views.jobs(lib, limit=5)[0]["kind"] == "build"      # the taxonomy was rebuilt after it
