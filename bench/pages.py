"""Page-switch time of the Streamlit app on a 10k-ad library (target: warm switch ≤ 1 s per page), and the
map's thumbnail atlas at that size (sprite-sheet build once per taxonomy build, then a warm run; sheet and
deck payload sizes).

Builds a synthetic library by inserting rows directly through `Library` into a temp folder (ads,
creatives with thumbnails and visual vectors, attributes, and a fake taxonomy build in
nodes/assignments/runs), then drives the app with `streamlit.testing.v1.AppTest`: one warm-up
pass over every page, then N timed switches per page.

    python bench/pages.py [--ads 10000] [--repeat 3] [--keep DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# `python bench/pages.py` puts bench/ first on sys.path, where this file would shadow the app's pages/ package
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from app import PAGES as _APP_PAGES   # noqa: E402  (file, title, icon, url path): the pages app.py registers

PAGES = [f"pages/{file}.py" for file, *_ in _APP_PAGES if (ROOT / "pages" / f"{file}.py").exists()]
TARGET_S = 1.0
WORDS = ("summer sale bold discount coffee serum travel jacket app cat offer free shipping limited new launch "
         "review stars quote before after meme event tickets grid collage phone screen button shop now").split()
FAMILY_NAMES = ["Product close-up with discount", "Testimonial quote card", "Before / after split", "UGC caption bar",
                "Text-only offer", "Lifestyle with CTA button", "Event poster", "App screenshot in phone", "Grid collage",
                "Meme top/bottom text"]


def build_synthetic_library(path: str | Path, n_ads: int = 10_000, n_families: int = 10, seed: int = 0, dim: int = 32):
    """A library of n_ads ads with a 3-level taxonomy, written straight into the tables. Returns the Library."""
    from PIL import Image, ImageDraw

    import core
    from core.vectors import rebuild_indexes

    rng = np.random.default_rng(seed)
    lib = core.open_library(path)
    n_cre = int(n_ads * 0.92)
    # thumbnails: a small palette of real JPEGs shared by the creatives (like many ads of one template)
    thumbs = []
    for i in range(48):
        rel = f"thumbs/syn/{i:02d}.jpg"
        p = lib.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        img = Image.new("RGB", (192, 192), tuple(int(v) for v in rng.integers(40, 230, 3)))
        d = ImageDraw.Draw(img)
        d.rectangle([20, 120, 172, 170], fill=(255, 255, 255))
        d.text((30, 135), f"{WORDS[i % len(WORDS)].upper()} #{i}", fill=(0, 0, 0))
        img.save(p, quality=80)
        thumbs.append(rel)

    fam_of_cre = rng.integers(0, n_families, n_cre)
    centres = rng.normal(size=(n_families, dim)).astype(np.float32)
    vis = centres[fam_of_cre] + 0.6 * rng.normal(size=(n_cre, dim)).astype(np.float32)
    vis /= np.linalg.norm(vis, axis=1, keepdims=True)
    shas = [hashlib.sha256(f"{seed}-{i}".encode()).hexdigest() for i in range(n_cre)]
    thumb_of = [thumbs[(f * 5 + i) % len(thumbs)] for i, f in enumerate(fam_of_cre)]
    cre = pd.DataFrame({
        "id": np.arange(1, n_cre + 1), "sha256": shas, "kind": np.where(rng.random(n_cre) < 0.05, "video", "image"),
        "media_path": thumb_of, "thumb_path": thumb_of, "ext": ".jpg", "bytes": 20_000, "width": 1080, "height": 1080,
        "frames": 1, "phash": rng.integers(-2**62, 2**62, n_cre),
        "color_words": [", ".join(rng.choice(["red", "blue", "warm", "pastel", "dark", "bright"], 2, replace=False)) for _ in range(n_cre)],
        "ocr_text": [" ".join(rng.choice(WORDS, 5)) for _ in range(n_cre)], "text_area_share": rng.random(n_cre) * 0.4,
        "labels": [json.dumps([[str(rng.choice(["cup", "cat", "jacket", "phone", "bottle"])), 0.6]]) for _ in range(n_cre)],
        "layout_words": [str(rng.choice(["text-heavy", "portrait, photo", "square, graphic"])) for _ in range(n_cre)],
        "visual": list(vis), "visual_model": "synthetic",
    })
    lib.con.register("_cre", cre)
    lib.execute("""INSERT INTO creatives (id, sha256, kind, media_path, thumb_path, ext, bytes, width, height, frames, phash,
                   color_words, ocr_text, text_area_share, labels, layout_words, visual, visual_model)
                   SELECT id, sha256, kind, media_path, thumb_path, ext, bytes, width, height, frames, phash, color_words,
                   ocr_text, text_area_share, labels, layout_words, visual::FLOAT[], visual_model FROM _cre""")
    lib.con.unregister("_cre")

    cre_of_ad = np.concatenate([np.arange(1, n_cre + 1), rng.integers(1, n_cre + 1, n_ads - n_cre)])
    fam_of_ad = fam_of_cre[cre_of_ad - 1]
    dates = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 240, n_ads), unit="D")
    spend = np.round(rng.gamma(2.0, 150.0, n_ads), 2)
    imps = np.round(spend * rng.uniform(80, 200, n_ads))
    clicks = np.round(imps * rng.uniform(0.002, 0.03, n_ads))
    ads = pd.DataFrame({
        "id": np.arange(1, n_ads + 1), "file": [f"ads/{FAMILY_NAMES[f % 10].split()[0].lower()}_{i:05d}.jpg" for i, f in enumerate(fam_of_ad)],
        "creative_id": cre_of_ad, "source": "synthetic", "meta_key": "",
        "headline": [" ".join(rng.choice(WORDS, 3)).capitalize() for _ in range(n_ads)],
        "cta": rng.choice(["Shop now", "Learn more", "Sign up", "Get offer"], n_ads),
        "tags": [list(rng.choice(WORDS[:12], 2, replace=False)) for _ in range(n_ads)],
        "format": rng.choice(["square", "portrait", "story", "landscape"], n_ads),
        "placement": rng.choice(["feed", "stories", "reels", "display"], n_ads),
        "campaign": rng.choice([f"campaign-{i}" for i in range(12)], n_ads), "date": dates.date,
        "spend": spend, "impressions": imps, "clicks": clicks, "conversions": np.round(clicks * 0.05),
        "revenue": np.round(clicks * rng.uniform(0.5, 3.0, n_ads), 2), "ctr": clicks / np.maximum(imps, 1),
    })
    ads["document"] = ads["headline"] + ". " + ads["cta"] + ". tags: " + ads["tags"].map(", ".join)
    lib.con.register("_ads", ads)
    lib.execute("""INSERT INTO ads (id, file, creative_id, source, meta_key, headline, cta, tags, format, placement, campaign, date,
                   spend, impressions, clicks, conversions, revenue, ctr, document)
                   SELECT id, file, creative_id, source, meta_key, headline, cta, tags::VARCHAR[], format, placement, campaign, date,
                   spend, impressions, clicks, conversions, revenue, ctr, document FROM _ads""")
    lib.con.unregister("_ads")
    attrs = pd.DataFrame({"ad_id": np.arange(1, n_ads + 1), "key": "language", "value": rng.choice(["en", "ja", "es", "zh"], n_ads)})
    lib.con.register("_attrs", attrs)
    lib.execute("INSERT INTO attributes SELECT ad_id, key, value FROM _attrs")
    lib.con.unregister("_attrs")

    # fake taxonomy: families → 4 sub-clusters → 3 micro-patterns; ads placed around their family on a 2-D layout
    key = f"taxonomy-synthetic-{seed}"
    sub = rng.integers(0, 4, n_ads)
    micro = rng.integers(0, 3, n_ads)
    fam_xy = rng.uniform(-10, 10, (n_families, 2))
    xy = fam_xy[fam_of_ad] + np.c_[np.cos(sub * 1.57), np.sin(sub * 1.57)] * 2 + rng.normal(0, 0.7, (n_ads, 2))
    leaf = [f"f{f}.s{s}.m{m}" for f, s, m in zip(fam_of_ad, sub, micro)]
    outlier = rng.random(n_ads) < 0.03
    asg = pd.DataFrame({"build_key": key, "ad_id": ads["id"], "family_id": [f"f{f}" for f in fam_of_ad],
                        "leaf_id": leaf, "node_path": [l.replace(".", "/") for l in leaf], "is_outlier": outlier,
                        "x": xy[:, 0], "y": xy[:, 1]})
    node_rows = [{"id": "root", "parent_id": None, "level": 0, "label": "All ads", "size": n_ads}]
    ads["leaf"] = leaf
    ads["fam"] = asg["family_id"]
    ads["sub"] = [l.rsplit(".", 1)[0] for l in leaf]
    for col, level, parent in (("fam", 1, lambda n: "root"), ("sub", 2, lambda n: n.rsplit(".", 1)[0]),
                               ("leaf", 3, lambda n: n.rsplit(".", 1)[0])):
        for nid, g in ads.groupby(col):
            fam = int(nid.split(".")[0][1:])
            name = FAMILY_NAMES[fam % 10] if level == 1 else f"{FAMILY_NAMES[fam % 10].split()[0]} {nid.split('.', 1)[1]}"
            node_rows.append({
                "id": nid, "parent_id": parent(nid), "level": level, "label": name, "size": len(g),
                "keywords": json.dumps(list(rng.choice(WORDS, 4, replace=False))),
                "description": f"{len(g)} ads: {name.lower()} with {rng.choice(WORDS)} copy.",
                "tags": json.dumps([{"tag": str(t), "q": float(rng.uniform(1e-6, 0.04)), "share": float(rng.uniform(0.4, 0.9)),
                                     "lift": float(rng.uniform(1.5, 6))} for t in rng.choice(WORDS, 5, replace=False)]),
                "representatives": json.dumps([int(a) for a in g["id"].head(6)]), "rep_strategy": "medoid",
                "fidelity": float(rng.uniform(0.5, 0.95)), "x": float(xy[g.index, 0].mean()), "y": float(xy[g.index, 1].mean()),
                "perf": json.dumps({"spend": float(g["spend"].sum()), "ctr": float(g["clicks"].sum() / max(1, g["impressions"].sum())),
                                    "ads_with_perf": len(g)}),
            })
    nodes = pd.DataFrame(node_rows)
    nodes["build_key"] = key
    lib.con.register("_nodes", nodes)
    lib.execute("""INSERT INTO nodes (build_key, id, parent_id, level, label, keywords, description, tags, representatives, rep_strategy,
                   fidelity, size, x, y, perf) SELECT build_key, id, parent_id, level, label, keywords, description, tags,
                   representatives, rep_strategy, fidelity, size, x, y, perf FROM _nodes""")
    lib.con.unregister("_nodes")
    lib.con.register("_asg", asg)
    lib.execute("INSERT INTO assignments SELECT build_key, ad_id, family_id, leaf_id, node_path, is_outlier, x, y FROM _asg")
    lib.con.unregister("_asg")
    lib.record_run(key, "taxonomy", 1, {"method": "synthetic", "seed": seed},
                   {"families": n_families, "nodes": len(nodes) - 1, "outlier_share": float(outlier.mean())})
    lib.execute("INSERT INTO jobs (source, status, stage, total, done, pid, summary) VALUES ('synthetic', 'done', 'done', ?, ?, 0, ?)",
                [n_ads, n_ads, json.dumps({"files_seen": n_ads, "ads_added": n_ads, "creatives_added": n_cre, "already_present": 0,
                                           "duplicates": n_ads - n_cre, "seconds": 0.0, "skipped": [], "warnings": []})])
    rebuild_indexes(lib)
    return lib


def time_pages(data_dir: Path, library: str, repeat: int = 3) -> dict[str, list[float]]:
    os.environ["CTE_DATA_DIR"] = str(data_dir)
    import core

    core.DATA_DIR, core.DEFAULT_LIBRARY = data_dir, data_dir / library
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["lib"] = library
    at.run()
    cold: dict[str, float] = {}
    for page in PAGES:  # warm-up: imports, cached reads, the FAISS index (trends at 10k computes for minutes)
        t = time.perf_counter()
        at.switch_page(page).run(timeout=1200)
        cold[page] = time.perf_counter() - t
        print(f"  first visit {page}: {cold[page]:.1f} s", file=sys.stderr, flush=True)
        _check(at, page)
    times: dict[str, list[float]] = {p: [] for p in PAGES}
    for _ in range(repeat):
        for page in PAGES:
            t = time.perf_counter()
            at.switch_page(page).run()
            times[page].append(time.perf_counter() - t)
            _check(at, page)
    # drilling: a family's node card with its paged grid (the heaviest taxonomy view)
    at.switch_page("pages/taxonomy.py")
    at.query_params["node"] = "f0"
    times["pages/taxonomy.py (family f0)"] = []
    for _ in range(repeat):
        t = time.perf_counter()
        at.run()
        times["pages/taxonomy.py (family f0)"].append(time.perf_counter() - t)
        _check(at, "taxonomy f0")
    at.query_params.pop("node", None)
    # the map as pictures (not the default above 3,000 ads): first view builds the sprite sheet, then cached
    at.switch_page("pages/map.py").run()
    at.segmented_control(key="map_view").set_value("pictures")
    t = time.perf_counter()
    at.run(timeout=1200)
    cold["pages/map.py (pictures)"] = time.perf_counter() - t
    _check(at, "map pictures")
    times["pages/map.py (pictures)"] = []
    for _ in range(repeat):
        t = time.perf_counter()
        at.run()
        times["pages/map.py (pictures)"].append(time.perf_counter() - t)
        _check(at, "map pictures")
    deck = at.get("deck_gl_json_chart")
    payload = len(deck[0].proto.json) if deck else 0
    cap = next((c.value for c in at.caption if "drawn as pictures" in c.value), "")
    print(f"atlas: {cap} deck JSON {payload / 1e6:.1f} MB", file=sys.stderr)
    times["_atlas"] = {"payload_mb": payload / 1e6, "caption": cap}
    return times, cold


def atlas_fps(data_dir: Path, library: str, seconds: float = 6.0) -> dict:
    """Frames per second of the map's Pictures view while it is panned and zoomed, in Debian's chromium
    (headless, software WebGL: a floor, a laptop GPU does better), on a `streamlit run` of the app."""
    import socket
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "CTE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
                             "--server.headless", "true"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            t = time.perf_counter()
            pg.goto(f"http://127.0.0.1:{port}/map?lib={library}")
            pg.get_by_role("radio", name="Pictures").click(timeout=120_000)
            canvas = pg.locator("#deckgl-overlay, canvas").first
            canvas.wait_for(timeout=300_000)
            time.sleep(2.0)
            shown_s = time.perf_counter() - t
            box = canvas.bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            pg.evaluate("window.__frames = 0; (function f(){ window.__frames++; requestAnimationFrame(f); })()")
            start = pg.evaluate("window.__frames")
            t0 = time.perf_counter()
            pg.mouse.move(cx, cy)
            while time.perf_counter() - t0 < seconds:      # pan in circles, zoom in and out
                k = time.perf_counter() - t0
                pg.mouse.down()
                pg.mouse.move(cx + 120 * np.cos(k * 3), cy + 120 * np.sin(k * 3), steps=4)
                pg.mouse.up()
                pg.mouse.wheel(0, -120 if int(k) % 2 == 0 else 120)
            frames = pg.evaluate("window.__frames") - start
            browser.close()
        return {"fps": frames / (time.perf_counter() - t0), "first_view_s": shown_s}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _check(at, page: str) -> None:
    if at.exception:
        raise SystemExit(f"{page} raised: {at.exception[0].value}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ads", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="build the library in this folder and keep it (reused when it exists)")
    ap.add_argument("--browser", action="store_true", help="also measure the map's Pictures view in chromium (frames/s)")
    a = ap.parse_args(argv)
    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="cte-bench-pages-"))
    name = f"syn{a.ads}"
    try:
        t = time.perf_counter()
        if not (tmp / name / "library.duckdb").exists():
            build_synthetic_library(tmp / name, n_ads=a.ads).close()
            print(f"built a synthetic {a.ads:,}-ad library in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        fps = atlas_fps(tmp, name) if a.browser else None    # first: the AppTest below keeps the library open
        times, cold = time_pages(tmp, name, a.repeat)
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    atlas = times.pop("_atlas", {})
    print(f"page switch on a {a.ads:,}-ad library (AppTest; warm = median of {a.repeat} after a warm-up pass); target <= {TARGET_S:g} s")
    print(f"  {'page':<32} {'warm':>7} {'min':>6} {'max':>6}   first visit (cold caches)")
    worst = 0.0
    for page, ts in times.items():
        med = float(np.median(ts))
        worst = max(worst, med)
        first = f"{cold[page]:6.2f} s" if page in cold else ""
        print(f"  {page:<32} {med:5.2f} s {min(ts):6.2f} {max(ts):6.2f}   {first}")
    print(f"  {'slowest':<32} {worst:6.2f} s   {'OK' if worst <= TARGET_S else 'OVER TARGET'}")
    if atlas:
        print(f"  atlas: {atlas['caption']} Deck payload {atlas['payload_mb']:.1f} MB (one texture, one IconLayer draw call).")
    if fps:
        print(f"  atlas in chromium (headless, software WebGL): shown {fps['first_view_s']:.1f} s after opening the page, "
              f"{fps['fps']:.0f} frames/s while panning and zooming")
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
