"""Ingest engines: the Ray engine gives the library the local engine gives (real models, real DuckDB).

Ray is optional (requirements-ray.txt; CI installs requirements.txt only), so the comparison skips
without it; the install hint is tested either way.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.engines.compare import library_differences
from core.ingest import ingest
from core.store import Library
from test_ingest import make_ads

ROOT = Path(__file__).resolve().parents[1]


def _ray_or_skip():
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        pytest.skip("ray is not installed (optional: pip install -r requirements-ray.txt)")


def test_engine_ray_without_ray_says_how_to_install(tmp_path):
    # a Python where `import ray` fails, as on an install from requirements.txt alone
    code = ("import sys; sys.modules['ray'] = None; from core.__main__ import main; "
            f"sys.exit(main(['ingest', {str(tmp_path / 'src')!r}, '--library', {str(tmp_path / 'lib')!r}, '--engine', 'ray']))")
    make_ads(tmp_path / "src", 2)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "pip install -r requirements-ray.txt" in r.stderr
    assert not (tmp_path / "lib").exists()  # refused before anything was written


def test_unknown_engine_is_refused(tmp_path):
    with pytest.raises(ValueError, match="valid: local, ray"):
        ingest(Library(tmp_path / "lib"), make_ads(tmp_path / "src", 1), engine="spark")


@pytest.fixture(scope="module")
def mixed_source(tmp_path_factory) -> Path:
    """Eight image ads with text and metadata, a byte-identical copy, and a two-shot video with a caption."""
    from videoclips import Shot, write_clip

    src = make_ads(tmp_path_factory.mktemp("engines") / "src", 8)
    (src / "copy_of_ad_001.png").write_bytes((src / "ad_001.png").read_bytes())
    write_clip(src / "clip.mp4", [Shot(1.0, "photo", "coffee", text="HOT COFFEE NOW"), Shot(1.0, "color", color=(20, 60, 200))])
    return src


def test_local_and_ray_engines_write_the_same_library(tmp_path, mixed_source):
    _ray_or_skip()
    local = Library(tmp_path / "local")
    s_local = ingest(local, mixed_source, workers=2, engine="local")
    on_ray = Library(tmp_path / "ray")
    s_ray = ingest(on_ray, mixed_source, workers=2, engine="ray")
    assert (s_ray.ads_added, s_ray.creatives_added, len(s_ray.errors)) == (s_local.ads_added, s_local.creatives_added, 0)
    assert (s_ray.ads_added, s_ray.creatives_added) == (10, 9)
    assert on_ray.scalar("SELECT count(*) FROM creatives WHERE kind = 'video'") == 1
    assert "COFFEE" in on_ray.scalar("SELECT ocr_text FROM creatives WHERE kind = 'video'").upper()
    assert library_differences(local, on_ray) == []
    # the same library again on Ray adds nothing: the single writer stays idempotent
    again = ingest(on_ray, mixed_source, workers=2, engine="ray")
    assert (again.ads_added, again.creatives_added, again.already_present) == (0, 0, 10)
    local.close(), on_ray.close()


def test_comparison_notices_a_changed_vector_and_text(tmp_path, mixed_source):
    """The equality check above can fail: a nudged vector or an edited OCR text is reported."""
    a = Library(tmp_path / "a")
    ingest(a, mixed_source, workers=1)
    a.close()
    import shutil

    shutil.copytree(tmp_path / "a", tmp_path / "b")
    a, b = Library(tmp_path / "a"), Library(tmp_path / "b")
    assert library_differences(a, b) == []
    b.execute("UPDATE creatives SET visual = list_transform(visual, lambda x: x + 0.01) WHERE id = 1")
    b.execute("UPDATE creatives SET ocr_text = 'something else' WHERE id = 2")
    diffs = library_differences(a, b)
    assert any("creatives.visual" in d for d in diffs) and any("ocr_text" in d for d in diffs), diffs
    a.close(), b.close()


def test_killed_ray_ingest_resumes_to_the_local_engines_library(tmp_path):
    _ray_or_skip()
    import os
    import signal

    from test_ingest import _run_cli_until

    src = make_ads(tmp_path / "src", 40)
    args = ["ingest", str(src), "--library", str(tmp_path / "ray"), "--no-build", "--engine", "ray", "--workers", "2"]
    proc = _run_cli_until(args, r"analysing.*\b(2[4-9]|3\d)/40", timeout=300)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = subprocess.run([sys.executable, "-m", "core", *args, "--json", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed, reference = Library(tmp_path / "ray"), Library(tmp_path / "local")
    ingest(reference, src, workers=2)   # one uninterrupted local run: nothing lost, nothing twice
    assert resumed.counts()["ads"] == 40
    assert library_differences(reference, resumed) == []
    assert [r[0] for r in resumed.execute("SELECT status FROM jobs ORDER BY id").fetchall()] == ["interrupted", "done"]
    resumed.close(), reference.close()


def test_one_by_one_fallback_gives_the_streamed_results(tmp_path):
    """The path taken after a worker crash (each creative its own never-retried task) computes the same."""
    ray = pytest.importorskip("ray", reason="ray is not installed (optional: pip install -r requirements-ray.txt)")
    import hashlib

    from core.compute import CreativeTask
    from core.engines import ray_engine

    src = make_ads(tmp_path / "src", 3)
    tasks = [CreativeTask(hashlib.sha256(f.read_bytes()).hexdigest(), str(f), "image", f.name) for f in sorted(src.glob("*.png"))]
    streamed = {r.sha256: r for r in ray_engine.run_tasks(tasks, workers=2)}
    started = ray_engine._connect(ray, None, 2)
    try:
        alone = {r.sha256: r for r in ray_engine._one_by_one(ray, tasks, ray_engine.DEFAULT_LIMITS)}
    finally:
        if started:
            ray.shutdown()
    assert set(alone) == set(streamed) == {t.sha256 for t in tasks}
    for sha, r in alone.items():
        assert r.ok and r.ocr_text == streamed[sha].ocr_text and r.values == streamed[sha].values
        assert abs(r.visual - streamed[sha].visual).max() < 1e-4


def test_ray_actors_get_the_pools_memory_and_time_limits(tmp_path):
    """As the local pool: a file past the memory cap is `too_much_memory`, one past task_seconds is
    `analysis_timeout`, and the actor goes on with the next file."""
    _ray_or_skip()
    import hashlib

    import badinput

    from core.compute import CreativeTask
    from core.engines import ray_engine
    from core.limits import IngestLimits

    src = make_ads(tmp_path / "src", 1)
    good = next(src.glob("*.png"))
    big = tmp_path / "big.png"
    big.write_bytes(badinput._palette_png(12000, 12000))   # 144 MP: the RGB copies need ~1.3 GB
    tasks = [CreativeTask("big", str(big), "image", "big.png"),
             CreativeTask(hashlib.sha256(good.read_bytes()).hexdigest(), str(good), "image", good.name)]
    capped = IngestLimits(worker_memory_mb=1600, max_image_pixels=200_000_000, max_work_pixels=200_000_000)
    results = list(ray_engine.run_tasks(tasks, workers=1, limits=capped))
    assert results[0].error_code == "too_much_memory" and "big.png" in results[0].error_message
    assert results[1].ok
    hurried = IngestLimits(task_seconds=0.05)   # the models load before the clock; OCR alone takes longer
    results = list(ray_engine.run_tasks(tasks[1:], workers=1, limits=hurried))
    assert results[0].error_code == "analysis_timeout" and good.name in results[0].error_message
