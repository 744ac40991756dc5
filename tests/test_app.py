"""The Streamlit app, page by page, with streamlit.testing.v1.AppTest against a real library
(the session's generated sample library; no mocked engine).

CTE_DATA_DIR points the app at the test's data folder; the facade reads it at import, so the
test also points the already-imported `core` module there (the app looks it up at each run).
"""
from __future__ import annotations

import io
import json
import os
import re
import tomllib
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import core  # noqa: E402
from core import views  # noqa: E402
from core.limits import DEFAULT_LIMITS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGES = ["pages/library.py", "pages/taxonomy.py", "pages/map.py", "pages/search.py", "pages/benchmark.py", "pages/export.py"]
K_SELECTION = "map_selection"   # pages._common.K.MAP_SELECTION (pages/ is not imported by the tests)


@contextmanager
def data_dir(path: Path, **env):
    """Point the app at `path` (env var for fresh imports + the facade's module attributes)."""
    saved = {k: getattr(core, k) for k in ("DATA_DIR", "DEFAULT_LIBRARY", "SAMPLE_LIBRARY")}
    saved_env = {k: os.environ.get(k) for k in ["CTE_DATA_DIR", *env]}
    os.environ["CTE_DATA_DIR"] = str(path)
    os.environ.update({k: str(v) for k, v in env.items()})
    core.DATA_DIR, core.DEFAULT_LIBRARY, core.SAMPLE_LIBRARY = path, path / "default", path / "sample"
    try:
        yield path
    finally:
        for k, v in saved.items():
            setattr(core, k, v)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_app(lib_name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lib"] = lib_name
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def texts(at: AppTest) -> str:
    """All the text on the page (markdown, captions, alerts, headers) as one string."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def app_lib(sample_library):
    """The session's sample library, seen by the app as library 'lib' of its data folder."""
    with data_dir(sample_library.path.parent):
        yield sample_library


def test_config_matches_engine_limits():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == DEFAULT_LIMITS.upload_mb
    assert cfg["server"]["headless"] is True
    assert cfg["browser"]["gatherUsageStats"] is False
    assert "theme" in cfg


def test_layering():
    """core/ never imports streamlit; pages never touch DuckDB or FAISS directly."""
    for f in (ROOT / "core").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+streamlit", f.read_text(), re.M), f
    for f in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        src = f.read_text()
        assert not re.search(r"^\s*(import|from)\s+(duckdb|faiss)", src, re.M), f
        assert ".execute(" not in src and "query_df(" not in src, f


def test_every_page_renders(app_lib):
    at = ok(make_app(app_lib.path.name).run())
    assert at.sidebar.selectbox(key="lib").value == app_lib.path.name
    nav_titles = {"Library", "Taxonomy", "Map", "Search", "Benchmark", "Export"}
    for page in PAGES:
        ok(at.switch_page(page).run())
        assert at.title and at.title[0].value in nav_titles, page


def test_library_page_stats_and_report(app_lib):
    at = ok(make_app(app_lib.path.name).run())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Ads"] == f"{app_lib.counts()['ads']:,}"
    assert int(metrics["Families"]) > 0
    # the sample's own ingest shows up as an upload report with the ads it added
    assert at.selectbox(key="report_job").options
    assert any(t.label.startswith("Added (") for t in at.tabs)


def test_taxonomy_overview_drill_and_node_card(app_lib):
    at = ok(make_app(app_lib.path.name).run())
    ok(at.switch_page("pages/taxonomy.py").run())
    assert any(e.type == "plotly_chart" for e in at.main.children.values() if hasattr(e, "type")) or \
        "Overview" in [x.label for x in at.expander]
    fam_buttons = [b for b in at.button if b.key and b.key.startswith("child-")]
    assert fam_buttons, "no family cards"
    fam_id = fam_buttons[0].key.removeprefix("child-")
    ok(fam_buttons[0].click().run())
    assert at.query_params["node"] == [fam_id] or at.query_params["node"] == fam_id
    tree = core.load_tree(app_lib)
    node = tree.nodes[fam_id]
    assert at.subheader[0].value == node.label
    page_text = texts(at)
    assert "Representative ads" in page_text and "All ads in this node" in page_text
    assert re.search(r"Ads 1–\d+ of [\d,]+", page_text) or "All of this node's ads are shown above" in page_text
    assert any(b.key == "crumb-root" for b in at.button)       # breadcrumbs
    # drill one level further: sub-cluster → breadcrumbs show the family
    sub = [b for b in at.button if b.key and b.key.startswith("child-")]
    if sub:
        ok(sub[0].click().run())
        assert any(b.key == f"crumb-{fam_id}" for b in at.button)
        ok(at.button(key=f"crumb-{fam_id}").click().run())
        assert at.subheader[0].value == node.label
    ok(at.button(key="crumb-root").click().run())
    assert "node" not in at.query_params


def test_ad_detail_dialog(app_lib):
    at = ok(make_app(app_lib.path.name).run())
    ok(at.switch_page("pages/taxonomy.py").run())
    fam = next(b for b in at.button if b.key and b.key.startswith("child-"))
    ok(fam.click().run())
    open_btn = next(b for b in at.button if b.key and "-open-" in b.key)
    ad_id = int(open_btn.key.rsplit("-", 1)[1])
    ok(open_btn.click().run())
    d = views.ad_detail(app_lib, ad_id, k=0)
    page_text = texts(at)
    assert Path(d["file"]).name in page_text
    assert "In the taxonomy:" in page_text
    assert {t.label for t in at.tabs} >= {"Text in the creative", "Objects & colours", "Similar ads"}
    # neighbours come from the visual FAISS index and open in the same dialog
    nb = [b for b in at.button if b.key and b.key.startswith(f"nb-{ad_id}-open-")]
    assert nb, "no similar ads listed"
    other = int(nb[0].key.rsplit("-", 1)[1])
    ok(nb[0].click().run())
    assert Path(views.ad_detail(app_lib, other, k=0)["file"]).name in texts(at)
    # "Open its node" jumps to the ad's node on the Taxonomy page
    ok(at.button(key=f"ad-node-{other}").click().run())
    leaf = views.ad_tree_path(app_lib, other)[-1]["id"]
    assert at.query_params.get("node") in (leaf, [leaf])


def test_map_colouring_and_selection(app_lib):
    at = ok(make_app(app_lib.path.name).run())
    ok(at.switch_page("pages/map.py").run())
    sb = at.selectbox(key="map_color")
    assert {"Family", "Sub-cluster", "Micro-pattern", "Kind (image/video)", "Spend"} <= set(sb.options)
    for opt in ("micro_pattern", "kind", "spend", "family"):   # tree levels, an attribute, a metric
        ok(sb.set_value(opt).run())
        assert at.selectbox(key="map_color").value == opt
        sb = at.selectbox(key="map_color")
    assert "Select ads with the box or lasso" in texts(at)
    # a box selection stores the chosen ads (the chart's on_select callback); here: one family's ads
    pts = views.map_points(app_lib)
    fam = pts["family_id"].value_counts().index[0]
    chosen = pts.loc[pts["family_id"] == fam, "ad_id"].tolist()
    at.session_state[K_SELECTION] = chosen
    ok(at.run())
    page_text = texts(at)
    assert f"{len(chosen):,} selected ads" in page_text
    traits = [df for df in at.dataframe if "trait" in df.value.columns]
    assert traits and "family" in set(traits[0].value["what"]), "the selection's family should be a shared trait"
    assert any(b.key and b.key.startswith("map-sel-open-") for b in at.button)
    ok(at.button(key="map-clear").click().run())
    assert "Select ads with the box or lasso" in texts(at)


def test_search_verdict_nodes_and_hits(app_lib):
    at = ok(make_app(app_lib.path.name).run())
    ok(at.switch_page("pages/search.py").run())
    at.text_input(key="search_query").set_value("")
    ok(at.button(key="FormSubmitter:search-Search").click().run())
    assert "Type what you are looking for" in texts(at)
    at.text_input(key="search_query").set_value("discount offer coffee")
    ok(at.button(key="FormSubmitter:search-Search").click().run())
    page_text = texts(at)
    assert "Reuse" in page_text or "Generate" in page_text
    assert "Matching patterns" in page_text
    hits = [b for b in at.button if b.key and b.key.startswith("hits-open-")]
    assert hits
    assert any(b.key.startswith("hit-node-") for b in at.button if b.key)
    # a filter that is not KEY=VALUE gets a friendly message, not a traceback
    at.text_input(key="search_query").set_value("coffee")
    at.text_input[1].set_value("nonsense")
    ok(at.button(key="FormSubmitter:search-Search").click().run())
    assert any("Filter problem" in e.value for e in at.error)
    # filters that match nothing: a friendly 'no results'
    at.text_input[1].set_value("campaign=__no_such_campaign__")
    ok(at.button(key="FormSubmitter:search-Search").click().run())
    assert "No results" in texts(at)


def test_benchmark_self_test_and_runs(app_lib):
    at = ok(make_app(app_lib.path.name).run())
    ok(at.switch_page("pages/benchmark.py").run())
    assert "Build runs" in texts(at)
    runs = [df for df in at.dataframe if "key" in df.value.columns]
    assert runs and (runs[0].value["kind"] == "taxonomy").any()
    at.slider(key="bench_n").set_value(5)
    ok(at.button(key="bench_self").click().run(timeout=240))
    table = next(df.value for df in at.dataframe if "style" in df.value.columns)
    assert "all" in set(table["style"]) and len(table) > 1
    assert 0.0 <= float(table.loc[table["style"] == "all", "recall@5"].iloc[0]) <= 1.0
    # an uploaded query file: targets are the library's own files
    ads = app_lib.query_df("SELECT file, headline FROM ads WHERE headline IS NOT NULL ORDER BY id LIMIT 3")
    lines = [json.dumps({"query": h, "targets": [f], "style": "remembered_text"}) for f, h in zip(ads["file"], ads["headline"])]
    at.file_uploader(key="bench_file").set_value(("mine.jsonl", "\n".join(lines).encode(), "application/json"))
    ok(at.run())
    ok(at.button(key="bench_jsonl").click().run(timeout=240))
    table = next(df.value for df in at.dataframe if "style" in df.value.columns)
    assert set(table["style"]) == {"all", "remembered_text"} and int(table.loc[table["style"] == "all", "n"].iloc[0]) == 3
    # a broken query file is refused with a reason
    at.file_uploader(key="bench_file").set_value(("q.jsonl", b'{"query": "x"}\n', "application/json"))
    ok(at.run())
    ok(at.button(key="bench_jsonl").click().run())
    assert any("no 'query' and 'targets'" in e.value for e in at.error)


def test_export_downloads_and_brief(app_lib):
    at = ok(make_app(app_lib.path.name).run())
    ok(at.switch_page("pages/export.py").run())
    keys = {b.key for b in at.download_button}
    assert {"dl-assign-csv", "dl-assign-json", "dl-tax-csv", "dl-tax-json", "dl-brief"} <= keys
    assert any(m.value.startswith("# ") for m in at.markdown), "the brief preview is missing"
    tax = json.loads(views.export_bytes(app_lib, "taxonomy", "json"))
    assert tax["families"] and "children" in tax["families"][0]
    csv = views.export_bytes(app_lib, "assignments", "csv").decode()
    assert csv.splitlines()[0].startswith("ad_id,file") and "family_label" in csv.splitlines()[0]
    assert len(csv.splitlines()) == app_lib.counts()["ads"] + 1 or len(csv.splitlines()) > app_lib.counts()["ads"]
    fam = tax["families"][0]["id"]
    brief = views.node_brief(app_lib, fam)
    assert brief.startswith(f"# {tax['families'][0]['label']}") and "Representative ads" in brief


# -- uploads into a new library ----------------------------------------------------------------------------

def _zip_of_sample(tmp: Path, n_images: int = 8) -> bytes:
    from core.demo import generate_sample

    src = generate_sample(tmp / "src", seed=7, n_images=n_images, with_videos=False)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(Path(src).rglob("*")):
            if p.is_file() and p.suffix.lower() in (".jpg", ".png", ".csv"):
                zf.write(p, p.relative_to(src).as_posix())
        zf.writestr("notes/readme.txt", "not an ad")        # skipped: unsupported type
        zf.writestr("images/broken.jpg", b"\xff\xd8 not really a jpeg")  # skipped: cannot be decoded
    return buf.getvalue()


def test_upload_bad_files_are_refused_kindly(app_lib):
    at = ok(make_app(app_lib.path.name).run())
    submit = "FormSubmitter:upload-Ingest"
    ok(at.button(key=submit).click().run())
    assert any("Choose a .zip" in e.value for e in at.error)
    at.file_uploader(key="upload_zip").set_value(("ads.zip", b"", "application/zip"))
    ok(at.button(key=submit).click().run())
    assert any("is empty" in e.value for e in at.error)
    at.file_uploader(key="upload_zip").set_value(("ads.zip", b"this is not a zip at all", "application/zip"))
    ok(at.button(key=submit).click().run())
    assert any("not a valid zip" in e.value for e in at.error)
    assert views.job_progress(app_lib) is None, "a refused upload must not start a job"


def test_new_library_upload_runs_in_background(app_lib, tmp_path):
    at = ok(make_app(app_lib.path.name).run())
    at.text_input(key="new_library_name").set_value("client uploads")
    ok(at.button(key="FormSubmitter:new_library-Create").click().run())
    assert at.sidebar.selectbox(key="lib").value == "client-uploads"
    new_path = Path(core.DATA_DIR) / "client-uploads"
    assert (new_path / "library.duckdb").exists()
    assert "This library is empty" in texts(at)
    ok(at.switch_page("pages/taxonomy.py").run())
    assert "no ads yet" in texts(at)                       # friendly: nothing to show yet
    ok(at.switch_page("pages/library.py").run())

    at.file_uploader(key="upload_zip").set_value(("spring.zip", _zip_of_sample(tmp_path), "application/zip"))
    ok(at.button(key="FormSubmitter:upload-Ingest").click().run())
    job = views.background_job(new_path)
    assert job is not None, "the ingest did not start"
    # while it runs (or right after), the page shows the job; it lives in the jobs table, so a fresh
    # session (a browser refresh) finds it too
    fresh = ok(make_app("client-uploads").run())
    assert fresh.progress and "Ingesting upload" in texts(fresh), "a new session should find the running job"
    assert job.wait(timeout=300), "the ingest did not finish in time"
    assert job.error is None, job.error
    ok(at.run())
    ok(fresh.run())
    page_text = texts(at)
    assert "Upload report" in page_text
    added = next(t for t in at.tabs if t.label.startswith("Added ("))
    assert int(re.search(r"\((\d+)\)", added.label).group(1)) >= 8
    skipped = next(t for t in at.tabs if t.label.startswith("Skipped ("))
    assert int(re.search(r"\((\d+)\)", skipped.label).group(1)) >= 2
    reasons = next(t.value for t in at.table if "reason" in t.value.columns)
    assert "unsupported_type" in set(reasons["reason"])
    assert any("Taxonomy rebuilt" in s.value for s in at.success)
    # the new library has its own taxonomy now; the user's edits go through core.taxonomy
    ok(at.switch_page("pages/taxonomy.py").run())
    lib = core.open_library(new_path)
    families = [n.id for n in core.load_tree(lib).at_level(1)]
    assert len(families) >= 2 and all(any(b.key == f"child-{f}" for b in at.button) for f in families)
    first, second = families[0], families[1]
    ok(at.button(key=f"child-{first}").click().run())
    at.text_input(key=f"rename-{first}").set_value("Spring offers")
    ok(at.button(key=f"do-rename-{first}").click().run())
    assert at.subheader[0].value == "Spring offers" and core.load_tree(lib).nodes[first].label == "Spring offers"
    ok(at.multiselect(key=f"merge-{first}").set_value([second]).run())
    ok(at.button(key=f"do-merge-{first}").click().run())
    tree = core.load_tree(lib)
    assert second not in tree.nodes and len(tree.at_level(1)) == len(families) - 1
    ok(at.button(key=f"do-split-{first}").click().run())   # 2 parts; shows the families again
    assert not at.error, at.error[0].value
    assert len(core.load_tree(lib).at_level(1)) == len(families)
    assert "node" not in at.query_params


def test_first_run_builds_the_sample_library(tmp_path):
    from core.demo import generate_sample

    # make_demo reuses a sample source it finds in place: seed one without videos (they cost most of
    # the sample's ingest), so that this test builds a small sample through the app's own path
    generate_sample(tmp_path / "data" / "sample" / "uploads" / "sample-seed0", seed=0, n_images=6, with_videos=False)
    with data_dir(tmp_path / "data", CTE_SAMPLE_IMAGES=6):
        at = ok(AppTest.from_file(APP, default_timeout=120).run())
        assert "Welcome" in texts(at)
        assert at.progress, "the sample build shows a progress bar"
        job = views.background_job(core.SAMPLE_LIBRARY)
        assert job is not None and job.kind == "sample"
        assert job.wait(timeout=300) and job.error is None, job.error
        ok(at.run())
        assert at.title[0].value == "Library"
        assert at.sidebar.selectbox(key="lib").value == "sample"
        assert int(next(m.value for m in at.metric if m.label == "Ads").replace(",", "")) >= 6
