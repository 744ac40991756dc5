"""Shared fixtures. Models and the sample library are built once per test session."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_ADS = ROOT.parent / "shared" / "ads"
SHARED_EVAL = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def sample_library(tmp_path_factory):
    """The generated sample library (≈200 images + videos), ingested and built once."""
    import core

    path = tmp_path_factory.mktemp("sample") / "lib"
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
