"""Shared fixtures. Models and the sample library are built once per test session."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_ADS = ROOT.parent / "shared" / "ads"
SHARED_EVAL = ROOT.parent / "shared" / "eval"


def copy_library(library, dest: Path):
    """A private, writable copy of a library (for tests that build, edit or ingest: never the shared one)."""
    from core.store import Library

    if not library.read_only:
        library.execute("CHECKPOINT")  # the copy must not depend on the WAL of a connection still open
    shutil.copytree(library.path, dest, ignore=shutil.ignore_patterns("*.wal", "*.lock"))
    return Library(dest)


@pytest.fixture(scope="session")
def sample_library(tmp_path_factory):
    """The generated sample library (≈200 images + videos), ingested and built once. Shared by the
    session: read it, never change it — tests that rebuild, edit or ingest work on `copy_library(...)`.

    CTE_TEST_SAMPLE=<folder of a sample library built by this code> copies that one instead of
    generating it (a shortcut for local runs; CI leaves it unset)."""
    import core

    path = tmp_path_factory.mktemp("sample") / "lib"
    prebuilt = os.environ.get("CTE_TEST_SAMPLE")
    if prebuilt:
        shutil.copytree(prebuilt, path, ignore=shutil.ignore_patterns("*.wal", "*.lock"))
        library = core.open_library(path)
    else:
        library, summary = core.make_demo(path, seed=0)
    yield library
    library.close()


@pytest.fixture(scope="session")
def sample_truth(sample_library) -> dict:
    src = next((sample_library.path / "uploads").glob("sample-seed*"))
    return json.loads((src / "ground_truth.json").read_text())


@pytest.fixture(scope="session")
def shared_ads() -> Path:
    if not SHARED_ADS.exists():
        pytest.skip("../shared/ads is absent (a fresh clone has no shared evaluation data)")
    return SHARED_ADS
