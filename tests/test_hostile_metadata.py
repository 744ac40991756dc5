"""Metadata that arrives late, is corrected, or is hostile: never silently dropped, never amplified."""
from __future__ import annotations

import json
import time

import pytest

from core.ingest import ingest
from core.store import Library

pytestmark = pytest.mark.timeout(400)


def _images(folder, n, seed=0):
    from test_ingest import make_ads

    make_ads(folder, n, seed=seed)
    (folder / "meta.csv").unlink()  # images only
    return folder


@pytest.fixture(scope="module")
def late_csv_library(tmp_path_factory):
    base = tmp_path_factory.mktemp("late")
    src = _images(base / "src", 3)
    lib = Library(base / "lib")
    first = ingest(lib, src, workers=1)
    (src / "meta.csv").write_text("file,headline,clicks,impressions,brand_voice\n"
                                  "ad_000.png,Fresh headline,5,100,calm\nad_001.png,Second,7,200,\n", encoding="utf-8")
    second = ingest(lib, src, workers=1)
    (src / "meta.csv").write_text("file,headline,clicks,impressions,brand_voice\n"
                                  "ad_000.png,Corrected headline,6,100,calm\nad_001.png,Second,7,200,\n", encoding="utf-8")
    third = ingest(lib, src, workers=1)
    yield lib, first, second, third
    lib.close()


def test_late_csv_updates_the_ads_it_names(late_csv_library):
    lib, first, second, _ = late_csv_library
    assert (first.ads_added, second.ads_added, second.metadata_updated) == (3, 0, 2)
    row = lib.execute("SELECT headline, clicks, impressions, document, text_vec IS NOT NULL FROM ads "
                      "WHERE file = 'ad_001.png'").fetchone()
    assert row[:3] == ("Second", 7.0, 200.0) and "Second" in row[3] and row[4]  # re-embedded
    assert lib.scalar("SELECT headline FROM ads WHERE file = 'ad_002.png'") is None  # not named: untouched


def test_corrected_csv_is_a_new_version_and_the_old_is_kept(late_csv_library):
    from core.metadata_versions import metadata_history

    lib, _, _, third = late_csv_library
    assert third.metadata_updated == 1  # only ad_000's row changed
    ad_id = lib.scalar("SELECT id FROM ads WHERE file = 'ad_000.png'")
    assert lib.scalar("SELECT headline FROM ads WHERE id = ?", [ad_id]) == "Corrected headline"
    history = metadata_history(lib, ad_id)
    assert [h["version"] for h in history] == [1, 2]
    assert history[0]["fields"]["headline"] is None and history[1]["fields"]["headline"] == "Fresh headline"
    assert history[1]["attributes"] == {"brand_voice": "calm"}
    assert lib.scalar("SELECT count(*) FROM ads") == 3


def test_late_csv_with_several_rows_for_one_file_updates_its_ad_and_adds_the_rest(tmp_path):
    """ad_000.png first came without a CSV; a CSV then names it twice (one creative re-run with new
    copy): the bare ad takes the first row, the second row is one more ad, and a re-run adds nothing."""
    src = _images(tmp_path / "src", 2, seed=5)
    lib = Library(tmp_path / "lib")
    ingest(lib, src, workers=1)
    bare_id = lib.scalar("SELECT id FROM ads WHERE file = 'ad_000.png'")
    (src / "meta.csv").write_text("file,headline\nad_000.png,First run\nad_000.png,Second run\n", encoding="utf-8")
    second = ingest(lib, src, workers=1)
    third = ingest(lib, src, workers=1)
    rows = lib.execute("SELECT id, headline FROM ads WHERE file = 'ad_000.png' ORDER BY id").fetchall()
    assert rows == [(bare_id, "First run"), (rows[1][0], "Second run")]
    assert (second.ads_added, second.metadata_updated, third.ads_added, third.metadata_updated) == (1, 1, 0, 0)
    assert lib.scalar("SELECT count(*) FROM ads") == 3
    lib.close()


def test_cli_says_metadata_was_updated(tmp_path):
    import subprocess
    import sys

    from test_ingest import ROOT

    src = _images(tmp_path / "src", 2, seed=3)
    lib = tmp_path / "lib"
    first = Library(lib)
    ingest(first, src, workers=1)   # in this process: the CLI's part is the second run's message
    first.close()
    (src / "meta.csv").write_text("file,headline\nad_000.png,Hello\nad_001.png,World\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "core", "ingest", str(src), "--library", str(lib), "--no-build",
                        "--quiet", "--workers", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Updated metadata of 2 ads" in r.stdout


def test_warnings_are_counted_stored_at_once_and_summarised(tmp_path):
    src = _images(tmp_path / "src", 1, seed=5)
    rows = "".join(f"absent_{i}.png,x\n" for i in range(5000))
    rows += "".join(f"ad_000.png,copy {i}\n" for i in range(5000))  # 5,000 rows naming one image
    (src / "meta.csv").write_text("file,headline\n" + rows, encoding="utf-8")
    lib = Library(tmp_path / "lib")
    t = time.perf_counter()
    s = ingest(lib, src, workers=1)
    seconds = time.perf_counter() - t
    assert s.ads_added == 50  # capped: one file stands for at most 50 ads
    assert s.warning_count == 5001 and len(s.warnings) == 200
    assert lib.scalar("SELECT count(*) FROM errors WHERE severity = 'warning'") == 5001
    assert any("5,000 rows for 'ad_000.png'" in w["message"] for w in s.warnings)
    stored = lib.scalar("SELECT summary FROM jobs WHERE id = ?", [s.job_id])
    assert len(stored) < 100_000 and json.loads(stored)["warning_count"] == 5001
    assert seconds < 240
    lib.close()
