"""Broken stores: damaged database, damaged derived files, a held lock, a missing source — one clear
sentence each, and `python -m core check --repair` brings the library back."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(400)
ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, env=None, drop=(), timeout=300):
    full = {k: v for k, v in os.environ.items() if k not in drop} | (env or {})
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A 3-ad library made by the CLI with an empty HOME (to see what lands there)."""
    from test_ingest import make_ads

    base = tmp_path_factory.mktemp("store")
    src = make_ads(base / "src", 3, seed=11)
    home = base / "home"
    home.mkdir()
    # the engine itself must turn onnxruntime's telemetry off: the child gets no setting from here
    r = _cli("ingest", str(src), "--library", str(base / "lib"), "--no-build", "--quiet", "--workers", "1",
             env={"HOME": str(home)}, drop=("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY"))
    assert r.returncode == 0, r.stderr[-2000:]
    return base / "lib", home


@pytest.fixture
def lib_copy(built, tmp_path):
    lib, _ = built
    copy = tmp_path / "lib"
    shutil.copytree(lib, copy)
    return copy


def test_ingest_keeps_a_last_good_copy(built):
    import duckdb

    lib, _ = built
    con = duckdb.connect(str(lib / "library.duckdb.bak"), read_only=True)
    assert con.execute("SELECT count(*) FROM jobs").fetchone()[0] >= 0  # a real, readable DuckDB file
    con.close()


def test_nothing_written_under_home(built):
    _, home = built
    assert [str(p.relative_to(home)) for p in home.rglob("*")] == []  # no onnxruntime telemetry queue or device id


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_database_one_sentence_then_repair(lib_copy, damage):
    db = lib_copy / "library.duckdb"
    data = db.read_bytes()
    db.write_bytes(b"not a database " * 500 if damage == "garbage" else data[: 3 * 4096 + 100])  # headers, no blocks
    r = _cli("info", "--library", str(lib_copy), "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "is damaged" in r.stderr and "check --library" in r.stderr and "--repair" in r.stderr
    r = _cli("check", "--library", str(lib_copy))
    assert r.returncode == 1 and "problem:" in r.stdout
    r = _cli("check", "--library", str(lib_copy), "--repair")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "restored library.duckdb" in r.stdout
    assert any(p.name.startswith("library.duckdb.damaged-") for p in lib_copy.iterdir())
    import json

    info = json.loads(_cli("info", "--library", str(lib_copy), "--json").stdout)
    assert info["ads"] >= 0 and info["creatives"] >= 0


def test_damaged_derived_files_are_rebuilt(lib_copy):
    from core.check import check_library
    from core.store import Library
    from core.vectors import load_index

    faiss_file = lib_copy / "vectors" / "visual.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    thumb = next((lib_copy / "thumbs").rglob("*.jpg"))
    thumb.write_bytes(b"\xff\xd8 half a jpeg")
    report = check_library(lib_copy)
    assert not report.healthy and any("visual.faiss" in p for p in report.problems)
    assert any("thumbnails" in p for p in report.problems)
    with Library(lib_copy, read_only=True) as lib:  # a reader survives the damaged index meanwhile
        assert load_index(lib, "visual").size == 3
    import faiss

    assert faiss.read_index(str(faiss_file)).ntotal == 3  # and saved what it rebuilt for the next reader
    report = check_library(lib_copy, repair=True)
    assert report.healthy, report.to_dict()
    assert check_library(lib_copy).healthy


def test_lock_names_the_process_that_holds_it(lib_copy):
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               f"c = duckdb.connect({str(lib_copy / 'library.duckdb')!r}); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = _cli("info", "--library", str(lib_copy))
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"PID {holder.pid}" in r.stderr and "in use by another process" in r.stderr
    finally:
        holder.kill()
        holder.wait()


def test_missing_source_creates_no_library(tmp_path):
    r = _cli("ingest", str(tmp_path / "no-such-folder"), "--library", str(tmp_path / "new"), "--no-build")
    assert r.returncode == 2 and "does not exist" in r.stderr
    assert not (tmp_path / "new").exists()


def test_check_on_a_healthy_library(lib_copy):
    r = _cli("check", "--library", str(lib_copy), "--json")
    assert r.returncode == 0, r.stdout
    import json

    assert json.loads(r.stdout)["healthy"] is True


def test_a_reader_that_goes_away_is_not_a_damaged_library(built):
    """`python -m core info | head`: the pipe closes early. That once printed "The library … could not be
    opened ([Errno 32] Broken pipe); run check", sending a person to repair a healthy library."""
    lib, _ = built
    proc = subprocess.Popen([sys.executable, "-m", "core", "info", "--library", str(lib)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()   # the reader is gone before the first line
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert "could not be opened" not in err and "Traceback" not in err and "error" not in err.lower(), err
