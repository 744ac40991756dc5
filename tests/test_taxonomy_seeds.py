"""Families against the planted ones on three generator seeds: seed 0 is the session's sample library;
seeds 1 and 2 are smaller (60 images, no videos: ten planted image families of six ads) to keep the
suite's time bounded. Measured with the default build: seed 0 0.93, seeds 1/2 (full size) 0.95/0.87,
seed 1 at 60 images 0.89."""
from __future__ import annotations

import json

import pytest
from sklearn.metrics import adjusted_rand_score

pytestmark = pytest.mark.slow
FLOOR = 0.8


def _small_sample(tmp_path_factory, seed: int):
    import core
    from core.demo import generate_sample

    path = tmp_path_factory.mktemp(f"seed{seed}") / "lib"
    src = path / "uploads" / f"sample-seed{seed}"
    generate_sample(src, seed=seed, n_images=60, with_videos=False)
    lib = core.open_library(path)
    core.ingest_source(lib, src, build=False)
    return lib, json.loads((src / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def seeded(request, tmp_path_factory):
    made = {}

    def get(seed):
        if seed == 0:
            lib = request.getfixturevalue("sample_library")
            return lib, request.getfixturevalue("sample_truth")
        if seed not in made:
            made[seed] = _small_sample(tmp_path_factory, seed)
        return made[seed]

    yield get
    for lib, _ in made.values():
        lib.close()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_families_match_planted_families(seeded, seed):
    from core.taxonomy.build import prepare
    from core.taxonomy.hierarchy import build_hierarchy
    from core.taxonomy.methods import get_method

    lib, truth = seeded(seed)
    prep = prepare(lib)
    files = truth["files"]
    family = [(files.get(f) or files[f.split("/", 1)[-1]])["family"] for f in prep.corpus.frame["file"]]
    tree = build_hierarchy(prep.units, prep.corpus.ad_ids, get_method("auto"), 0).tree
    assert adjusted_rand_score(family, tree.assignments()["family_id"]) >= FLOOR
    assert not any(f.mixed for f in tree.at_level(1)), "planted families leave no catch-all"
