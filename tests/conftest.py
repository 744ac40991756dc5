"""Shared fixtures. Models and the sample library are built once per test session."""
from __future__ import annotations

import csv
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
    """The generated sample library (≈200 images + videos), ingested, built and prepared for search once. Shared by the
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
    core.warm_search(library, image_model=False)   # as the app's sample job leaves it: copies search at once
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


LATER_SHARE = 0.1   # the real ads' second upload: this share of each set's metadata rows


def _split_upload(src: Path, dst: Path, share: float, seed: int = 0) -> tuple[Path, Path]:
    """Copies of the real sets in two uploads (under tmp, never the repo): `share` of each set's rows later."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for meta in sorted(src.glob("*/metadata.csv")):
        with open(meta, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            rows, fields = list(reader), reader.fieldnames
        later = set(rng.choice(len(rows), int(round(share * len(rows))), replace=False).tolist())
        for part, keep in (("first", [r for i, r in enumerate(rows) if i not in later]),
                           ("second", [r for i, r in enumerate(rows) if i in later])):
            out = dst / part / meta.parent.name
            (out / "images").mkdir(parents=True, exist_ok=True)
            with open(out / "metadata.csv", "w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=fields)
                writer.writeheader()
                writer.writerows(keep)
            for r in keep:
                shutil.copyfile(meta.parent / r["file"], out / r["file"])
    return dst / "first", dst / "second"


@pytest.fixture(scope="session")
def real_ingest(shared_ads, tmp_path_factory):
    """The 461 real ads in two uploads, as a user grows a library: 90% ingested and built, then the other
    10% placed into that build, then a rebuild (the default build of all 461, ids carried).
    (library, summaries of both ingests, tree after the first, tree after placement, placement drift).
    One ingest of the real ads per test session (the taxonomy and search tests share it): read it, never
    change it; copy it with `copy_library` to write."""
    import core
    from core.taxonomy import load_tree

    first, second = _split_upload(shared_ads, tmp_path_factory.mktemp("realads_upload"), LATER_SHARE)
    lib = core.open_library(tmp_path_factory.mktemp("realads") / "lib")
    summaries = [core.ingest_source(lib, first)]
    built = load_tree(lib)
    summaries.append(core.ingest_source(lib, second))
    placed = load_tree(lib)
    drift = core.taxonomy_drift(lib)
    core.build_taxonomy(lib)
    yield {"lib": lib, "summaries": summaries, "built": built, "placed": placed, "drift": drift}
    lib.close()


@pytest.fixture(scope="session")
def real_library(real_ingest):
    return real_ingest["lib"]
