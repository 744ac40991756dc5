"""The view layer (core.views) read directly, Datasette style: many small tests over one real store —
the session's sample library (real DuckDB, real FAISS, a real build), read only."""
from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest

import core
from core import views
from core.export import taxonomy_json
from core.filters import AdFilters
from core.taxonomy.tree import PATH_SEP


@pytest.fixture(scope="module")
def lib(sample_library):
    """The shared sample library; the module checks at the end that no view wrote to it."""
    before = views.data_version(sample_library)
    yield sample_library
    assert views.data_version(sample_library) == before, "a view changed the shared library"


@pytest.fixture(scope="module")
def nodes(lib):
    return views.nodes_frame(lib)


@pytest.fixture(scope="module")
def tree(lib):
    return core.load_tree(lib)


def _ad_ids(lib, kind: str) -> list[int]:
    return [r[0] for r in lib.execute(
        "SELECT a.id FROM ads a JOIN creatives c ON c.id = a.creative_id WHERE c.kind = ? ORDER BY a.id", [kind]).fetchall()]


# -- library ----------------------------------------------------------------------------------------------

def test_stats_add_up(lib):
    s = views.library_stats(lib)
    kinds = dict(lib.execute("SELECT kind, count(*) FROM creatives GROUP BY kind").fetchall())
    assert s["ads"] == lib.scalar("SELECT count(*) FROM ads") and s["images"] == kinds["image"] and s["videos"] == kinds["video"]
    tax = s["taxonomy"]
    assert tax["build_key"] == core.current_build_key(lib)
    assert tax["families"] == len(core.load_tree(lib).at_level(1)) > 1


def test_data_version_is_stable_between_reads(lib):
    assert views.data_version(lib) == views.data_version(lib)
    assert core.current_build_key(lib) in views.data_version(lib)


@pytest.mark.parametrize("key", ["format", "placement", "campaign", "tag", "kinds"])
def test_filter_options_are_values_of_the_library(lib, key):
    opts = views.filter_options(lib)[key]
    assert opts, key
    column = {"tag": "unnest(tags)", "kinds": None}.get(key, key)
    if column is None:
        have = {r[0] for r in lib.execute("SELECT DISTINCT kind FROM creatives").fetchall()}
    else:
        have = {r[0] for r in lib.execute(f"SELECT DISTINCT {column} FROM ads").fetchall()}
    assert set(opts) <= have


def test_filter_families_are_the_current_families(lib, tree):
    assert views.filter_options(lib)["families"] == {n.id: n.label for n in sorted(tree.at_level(1), key=lambda n: -n.size)}


def test_attribute_values_cover_the_ads_that_have_them(lib):
    for key in views.attribute_keys(lib):
        values = views.attribute_values(lib, key)
        assert len(values) == lib.scalar("SELECT count(*) FROM attributes WHERE key = ?", [key]) > 0


# -- jobs --------------------------------------------------------------------------------------------------

def test_the_sample_ingest_is_a_finished_job_with_a_report(lib):
    jobs = views.jobs(lib)
    assert jobs and all(j["status"] != "running" for j in jobs) and views.job_progress(lib) is None
    ingest = next(j for j in jobs if j["kind"] in ("sample", "ingest"))
    report = views.job_report(lib, ingest["id"])
    assert len(report["added"]) == report["counts"]["ads_added"] == lib.scalar("SELECT count(*) FROM ads WHERE job_id = ?", [ingest["id"]])
    with pytest.raises(KeyError):
        views.job_report(lib, 10**6)


def test_build_runs_list_the_current_build(lib):
    runs = views.build_runs(lib)
    current = runs[runs["current"]]
    assert core.current_build_key(lib) in set(current["key"])


# -- taxonomy reads ----------------------------------------------------------------------------------------

def test_nodes_frame_is_the_tree(nodes, tree):
    assert set(nodes.index) == set(tree.nodes)
    assert list(nodes.index) == sorted(tree.nodes, key=lambda i: (tree.nodes[i].level, i))
    for nid in nodes.index:
        assert nodes.loc[nid, "path"] == tree.path(nid) and nodes.loc[nid, "chain"] == tree.chain(nid)


def test_mixed_marks_the_pools_of_leftovers(nodes, tree):
    assert nodes["mixed"].dtype == bool
    assert {i for i in nodes.index if nodes.loc[i, "mixed"]} == {n.id for n in tree.nodes.values() if n.mixed}


def test_paths_use_one_separator(nodes):
    deep = nodes[nodes["level"] >= 2]
    assert len(deep) and all(PATH_SEP in p and " > " not in p for p in deep["path"])


@pytest.mark.parametrize("level", [1, 2, 3])
def test_descendants_are_the_members_subtree(nodes, tree, level):
    some = nodes[nodes["level"] == level]["id"].tolist()[:3]
    assert some, f"the sample has no level-{level} node"
    for nid in some:
        assert set(views.descendants(nodes, nid)) == {nid} | {n.id for n in tree.descendants(nid)}


def test_children_of_the_root_are_the_families_biggest_first(nodes, tree):
    kids = views.children(nodes, views.root_id(nodes))
    assert set(kids["id"]) == {n.id for n in tree.at_level(1)}
    assert list(kids["size"]) == sorted(kids["size"], reverse=True)


@pytest.mark.parametrize("rank", [0, 1, -1])
def test_node_card_of_a_family(lib, nodes, tree, rank):
    fam = views.children(nodes, None)["id"].tolist()[rank]
    card = views.node_card(lib, fam, nodes=nodes)
    assert (card["id"], card["level_name"], card["size"]) == (fam, "family", tree.nodes[fam].size)
    assert [c["id"] for c in card["children"]] == views.children(nodes, fam)["id"].tolist()
    assert set(card["representatives"]["ad_id"]) <= set(tree.members(fam))


def test_node_card_refuses_unknown_nodes(lib, nodes):
    with pytest.raises(KeyError):
        views.node_card(lib, "f999", nodes=nodes)


@pytest.mark.parametrize("kind", ["image", "video"])
def test_an_ads_path_ends_at_its_leaf(lib, tree, kind):
    ad = _ad_ids(lib, kind)[0]
    path = views.ad_tree_path(lib, ad)
    assert [p["id"] for p in path] == tree.chain(tree.leaf_of(ad))


def test_tree_chart_values_hold_their_children(nodes):
    frame = views.tree_chart_frame(None, nodes=nodes)
    value = dict(zip(frame["id"], frame["value"]))
    for parent, group in frame[frame["parent"] != ""].groupby("parent"):
        assert value[parent] >= group["value"].sum() - 1e-9
    assert set(views.chart_metrics(frame)) <= set(frame.columns) and "size" in views.chart_metrics(frame)


# -- ads ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("per_page", [7, 24])
def test_ads_page_pages_through_the_library(lib, per_page):
    total, first = views.ads_page(lib, page=1, per_page=per_page)
    assert total == lib.scalar("SELECT count(*) FROM ads") and len(first) == per_page
    last_page = -(-total // per_page)
    _, last = views.ads_page(lib, page=last_page + 5, per_page=per_page)      # past the end: the last page
    assert len(last) == total - (last_page - 1) * per_page


def test_a_nodes_page_holds_its_members(lib, nodes, tree):
    fam = views.children(nodes, None)["id"].iloc[0]
    total, page = views.ads_page(lib, node_id=fam, per_page=500)
    assert total == len(tree.members(fam)) and set(page["ad_id"]) == set(tree.members(fam))
    reps = page["ad_id"].tolist()[:2]
    total_ex, _ = views.ads_page(lib, node_id=fam, per_page=500, exclude=reps)
    assert total_ex == total - 2


def test_ads_by_ids_keeps_the_order_given(lib):
    ids = _ad_ids(lib, "image")[:5][::-1]
    grid = views.ads_by_ids(lib, ids)
    assert grid["ad_id"].tolist() == ids and grid["thumb"].notna().all()


@pytest.mark.parametrize("kind", ["image", "video"])
def test_ad_detail(lib, kind):
    ad = _ad_ids(lib, kind)[0]
    d = views.ad_detail(lib, ad, k=4)
    assert d["kind"] == kind and d["document"] == lib.scalar("SELECT document FROM ads WHERE id = ?", [ad])
    assert set(d["signals"]) >= {"ocr", "labels", "colours", "layout"}
    assert d["signals"]["layout"] == [w for w in d["layout_words"].split(", ") if w]
    assert 0 < len(d["neighbours"]) <= 4 and ad not in {n["ad_id"] for n in d["neighbours"]}
    scores = [n["score"] for n in d["neighbours"]]
    assert scores == sorted(scores, reverse=True)
    if kind == "video":
        assert d["duration_s"] > 0


def test_ad_detail_of_a_missing_ad(lib):
    with pytest.raises(KeyError):
        views.ad_detail(lib, 10**6, k=0)


# -- map ---------------------------------------------------------------------------------------------------

def test_map_points_one_per_placed_ad_with_its_family(lib, tree):
    pts = views.map_points(lib)
    assert len(pts) == len(tree.assignments().dropna(subset=["x"]))
    fam_label = {n.id: n.label for n in tree.at_level(1)}
    for r in pts.head(20).itertuples():
        assert r.family == fam_label[tree.family_of(r.ad_id)]


def test_a_familys_ads_share_their_family(lib, nodes, tree):
    fam = views.children(nodes, None)["id"].iloc[0]
    traits = views.shared_traits(lib, tree.members(fam))
    row = traits[(traits["what"] == "family") & (traits["trait"] == tree.nodes[fam].label)]
    assert len(row) == 1 and row["in_selection"].iloc[0] == 1.0 and row["lift"].iloc[0] > 1
    assert views.shared_traits(lib, []).empty


# -- exports -----------------------------------------------------------------------------------------------

def test_app_and_cli_json_are_one_shape(lib, tree):
    app = json.loads(views.export_bytes(lib, "taxonomy", "json"))
    assert app == json.loads(tree.to_json()) == json.loads(json.dumps(taxonomy_json(lib), default=str))
    assert [f["id"] for f in app["families"]] == [n.id for n in tree.children("root")]


def test_taxonomy_table_one_row_per_node(lib, tree):
    table = pd.read_csv(io.BytesIO(views.export_bytes(lib, "taxonomy", "csv")))
    assert len(table) == len(tree.nodes) - 1 and set(table["id"]) == set(tree.nodes) - {"root"}


def test_assignments_export_one_row_per_ad(lib):
    table = pd.read_csv(io.BytesIO(views.export_bytes(lib, "assignments", "csv")))
    assert len(table) == lib.scalar("SELECT count(*) FROM ads") and table["family_id"].notna().all()


@pytest.mark.parametrize("what,fmt", [("taxonomy", "xml"), ("nodes", "csv")])
def test_export_refuses_unknown_requests(lib, what, fmt):
    with pytest.raises(ValueError):
        views.export_bytes(lib, what, fmt)


def test_node_brief_names_the_node_and_its_evidence(lib, nodes):
    fam = views.children(nodes, None)["id"].iloc[0]
    brief = views.node_brief(lib, fam)
    assert brief.startswith("# ") and "## Evidence" in brief and "## Representative ads" in brief


# -- uploads -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,size,head,kind,problem", [
    ("ads.zip", 10, b"PK\x03\x04rest", "zip", None),
    ("ads.zip", 0, b"", "zip", "empty"),
    ("ads.rar", 10, b"Rar!", "zip", "not a .zip"),
    ("ads.zip", 10, b"GIF89a", "zip", "not a valid zip"),
    ("meta.csv", 10, b"file,headline\n", "csv", None),
    ("meta.csv", 10, b"\x00\x01binary", "csv", "CSV"),
])
def test_check_upload(name, size, head, kind, problem):
    said = views.check_upload(name, size, head, kind)
    assert (said is None) if problem is None else (problem in said)


def test_check_zip_contents(tmp_path):
    empty, full, bad = tmp_path / "empty.zip", tmp_path / "full.zip", tmp_path / "bad.zip"
    zipfile.ZipFile(empty, "w").close()
    with zipfile.ZipFile(full, "w") as zf:
        zf.writestr("a.png", b"x")
    bad.write_bytes(b"PK\x03\x04 not really")
    assert "empty" in views.check_zip_contents(empty) and views.check_zip_contents(full) is None
    assert "could not be opened" in views.check_zip_contents(bad)


@pytest.mark.parametrize("text,n,problem", [
    ('{"query": "red sale", "targets": ["a.png"]}\n\n{"query": "b", "targets": []}\n', 2, None),
    ('{"query": "red sale"}\n', 0, "no 'query' and 'targets'"),
    ("not json\n", 0, "not valid JSON"),
    ("\n\n", 0, "no queries"),
])
def test_benchmark_files(text, n, problem):
    count, said = views.read_jsonl_queries(text.encode())
    assert count == n and ((said is None) if problem is None else (problem in said))


def test_save_upload_keeps_the_bytes_under_uploads(tmp_path):
    target = core.open_library(tmp_path / "lib")
    path = views.save_upload(target, "../../evil name.zip", io.BytesIO(b"PK\x03\x04data"))
    assert path.parent == target.path / "uploads" and path.read_bytes() == b"PK\x03\x04data" and ".." not in path.name
    target.close()


# -- edits and errors --------------------------------------------------------------------------------------

def test_edit_node_refuses_unknown_actions(lib):
    with pytest.raises(ValueError, match="unknown edit"):
        views.edit_node(lib, "recolour", "f1")


def test_no_taxonomy_is_said_in_words(tmp_path):
    empty = core.open_library(tmp_path / "lib")
    with pytest.raises(views.NoTaxonomy) as e:
        views.export_bytes(empty, "taxonomy", "json")
    assert views.not_available(e.value).startswith("No taxonomy yet") and views.not_available(ValueError("x")) is None
    assert views.nodes_frame(empty) is None and views.map_points(empty) is None
    empty.close()


# -- typed filters ------------------------------------------------------------------------------------------

def test_typed_filters_round_trip_the_cli_strings():
    import datetime as dt

    f = AdFilters.from_items(["tag=ugc", "tag=promo", "spend_min=100", "date_from=2026-05-01", "language=ja"])
    assert f == AdFilters(tags=("ugc", "promo"), spend_min=100.0, date_from=dt.date(2026, 5, 1), attributes={"language": ("ja",)})
    assert AdFilters.from_dict(f.to_dict()) == f and not AdFilters()
    with pytest.raises(ValueError):
        AdFilters.from_items(["spend_min=lots"])


def test_typed_filters_narrow_search_like_the_dict_they_stand_for(lib):
    fmt = views.filter_options(lib)["format"][0]
    typed = core.search_ads(lib, "sale", top_k=20, filters=AdFilters(formats=(fmt,), kinds=("image",)))
    plain = core.search_ads(lib, "sale", top_k=20, filters={"format": [fmt], "kind": ["image"]})
    ids = [a["ad_id"] for a in typed["ads"]]
    assert ids and ids == [a["ad_id"] for a in plain["ads"]]
    formats = dict(lib.execute("SELECT id, format FROM ads").fetchall())
    assert {formats[i].lower() for i in ids} == {fmt.lower()}


# -- typed build settings ------------------------------------------------------------------------------------

def test_build_config_defaults_are_the_builds_own():
    import inspect

    from core.config import BuildConfig
    from core.taxonomy import build_taxonomy

    params = inspect.signature(build_taxonomy).parameters
    for name, value in BuildConfig().kwargs().items():
        assert params[name].default == (value or None if name == "axes" else value), name


@pytest.mark.parametrize("bad", [dict(method="kmeans"), dict(outliers="drop-all"), dict(rep_strategy="random"),
                                 dict(min_spend=-1), dict(axes={"smell": 1.0})])
def test_build_config_refuses_wrong_settings(bad):
    from core.config import BuildConfig

    with pytest.raises(ValueError):
        BuildConfig(**bad)
