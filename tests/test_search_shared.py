"""Search quality on the real shared ads (skipped in a fresh clone without ../shared)."""
from __future__ import annotations

import pytest

from conftest import SHARED_EVAL


@pytest.fixture(scope="module")
def shared_library(shared_ads, tmp_path_factory):
    import core

    if not (SHARED_EVAL / "dev_queries.jsonl").exists():
        pytest.skip("../shared/eval/dev_queries.jsonl is absent")
    lib = core.open_library(tmp_path_factory.mktemp("shared") / "lib")
    core.ingest_source(lib, shared_ads, build=False)  # flat search: the recall target must not lean on a taxonomy
    yield lib
    lib.close()


@pytest.mark.slow
def test_dev_queries_recall_at_10(shared_library, shared_ads):
    from core.search import run_benchmark

    out = run_benchmark(shared_library, queries=str(SHARED_EVAL / "dev_queries.jsonl"), root=str(shared_ads), k=5)
    assert out["n"] == 60
    summary = {k: out[k] for k in ("recall@1", "recall@5", "recall@10", "mrr", "by_style")}
    # the issue's target; measured 0.82 (head-z fusion, text-kind words), 0.75 before
    assert out["recall@10"] >= 0.80, summary
    assert out["by_style"]["remembered_text"]["recall@10"] >= 0.95, summary
    assert out["node_recall@5"] is None  # no taxonomy was built
    # the tuning halves: 10 + 10 queries of each style, the same split in every run (bench.assign_halves)
    assert {h: r["n"] for h, r in out["by_half"].items()} == {"A": 30, "B": 30}
    assert {(q["style"], q["half"]) for q in out["queries"] if q["id"] in ("q096", "q106", "q116")} == {
        ("visual", "B"), ("remembered_text", "B"), ("concept", "B")}
    assert 0.0 < out["reuse_threshold"] < 1.0
