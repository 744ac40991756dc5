"""The default taxonomy of the real ads in ../shared/ads (skips without them): shape rules, kinds kept
apart, leaves per micro-pattern, and families against the local proxy truth of advertiser lines
(bench/taxonomy_quality.py) above a floor the old rule (smallest k near the best silhouette) fails.
The ads arrive in two uploads (90%, then 10%), so placement and the rebuild's id carry-over are
checked on real ads too."""
from __future__ import annotations

import csv
import dataclasses
import importlib.util
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _quality():
    spec = importlib.util.spec_from_file_location("taxonomy_quality", ROOT / "bench" / "taxonomy_quality.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_real_ad_goes_in(real_ingest, shared_ads):
    """Every metadata row of the real sets is an ad; a file that failed would silently shrink every
    figure below (a CI run once counted 156 of the 190 IRA ads)."""
    rows = 0
    for path in sorted(shared_ads.glob("*/metadata.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            rows += sum(1 for _ in csv.DictReader(f))
    for summary in real_ingest["summaries"]:
        assert not summary.errors, summary.errors[:5]
    assert real_ingest["lib"].query_df("SELECT count(*) AS n FROM ads")["n"][0] == rows


def test_a_second_upload_keeps_every_id_name_and_assignment(real_ingest):
    """Measured: the 46 later ads: 39 placed, 7 'new, not yet placed'; every earlier ad where it was."""
    from core.taxonomy.placement import UNPLACED_ID

    built, placed = real_ingest["built"], real_ingest["placed"]
    for nid, node in built.nodes.items():
        assert placed.nodes[nid].label == node.label
    a0 = built.assignments().set_index("ad_id")
    a1 = placed.assignments().set_index("ad_id")
    assert (a1.loc[a0.index, "leaf_id"] == a0["leaf_id"]).all()
    new = a1.drop(a0.index)
    assert len(new) >= 0.09 * len(a1)
    assert (new["leaf_id"] != UNPLACED_ID).mean() >= 0.7, "most later ads find a family of the build"
    assert not real_ingest["drift"]["rebuild_suggested"], real_ingest["drift"]


def test_a_rebuild_keeps_ids_where_members_agree(real_ingest):
    """Measured: 93% of the earlier ads keep their family id (ARI 0.94), 35 of 38 family ids carried;
    the rebuild puts 77% of the placed ads in the family placement chose."""
    from core.taxonomy import load_tree
    from core.taxonomy.placement import UNPLACED_ID

    built, placed, rebuilt = real_ingest["built"], real_ingest["placed"], load_tree(real_ingest["lib"])
    a0 = built.assignments().set_index("ad_id")
    a2 = rebuilt.assignments().set_index("ad_id")
    assert (a2.loc[a0.index, "family_id"] == a0["family_id"]).mean() >= 0.85
    kept = {n for n, node in built.nodes.items() if node.level == 1} & set(rebuilt.nodes)
    assert len(kept) >= 0.8 * len(built.at_level(1))
    p = placed.assignments().set_index("ad_id").drop(a0.index)
    p = p[p["leaf_id"] != UNPLACED_ID]
    assert (a2.loc[p.index, "family_id"] == p["family_id"]).mean() >= 0.6


def _ingest_report(library) -> str:
    per_set = library.query_df("SELECT split_part(file, '/', 1) AS set, count(*) AS ads FROM ads GROUP BY 1 ORDER BY 1")
    errors = library.query_df("SELECT * FROM errors")
    return f"{dict(zip(per_set['set'], per_set['ads']))}, {len(errors)} error rows: {errors.head(5).to_dict('records')}"


@pytest.fixture(scope="module")
def tree(real_library):
    from core.taxonomy import load_tree

    return load_tree(real_library)


@pytest.fixture(scope="module")
def ads(real_library):
    return real_library.query_df("SELECT a.id AS ad_id, a.file, c.width, c.height, c.kind FROM ads a "
                                 "JOIN creatives c ON c.id = a.creative_id ORDER BY a.id")


def test_nodes_have_a_browsable_number_of_children(tree):
    from core.taxonomy.tree import ROOT_ID

    families = tree.children(ROOT_ID)
    assert 8 <= len(families) <= 60, "a root of lines: more than a handful, about a page of cards"
    for node in tree.nodes.values():
        if node.level in (1, 2):
            kids = tree.children(node.id)
            clusters = [c for c in kids if c.level < 3]
            assert len(clusters) == 0 or 2 <= len(clusters) <= 15, (node.id, len(clusters))
            assert len(kids) <= 15, (node.id, len(kids), "micro-patterns count as children: 59 of them are not browsable")


def test_no_family_takes_over_the_library(tree):
    n = tree.root.size
    assert max(f.size for f in tree.at_level(1)) <= 0.4 * n
    assert set(tree.metrics["mixed_families"]) <= {f.id for f in tree.at_level(1)}


def test_strip_banners_and_posts_never_share_a_family(tree, ads):
    a = tree.assignments().merge(ads, on="ad_id")
    aspect = a["width"] / a["height"]
    a["strip"] = (aspect >= 3) | (aspect <= 1 / 3)
    mixed_kinds = a.groupby("family_id")["strip"].nunique()
    assert (mixed_kinds == 1).all(), mixed_kinds[mixed_kinds > 1]


def test_groups_of_feed_captures_are_named_social_posts(real_library, tree):
    # 22 real ads are captures of Facebook / Instagram posts (all 22 checked by eye); a group of them said
    # "text cards" or "photos" before
    caps = set(real_library.query_df("SELECT a.id FROM ads a JOIN creatives c ON c.id = a.creative_id "
                                     "WHERE c.composition_words LIKE '%social media screenshot%'")["id"])
    assert len(caps) >= 15
    named = 0
    for node in tree.nodes.values():
        if node.level == 0 or (node.level == 3 and node.size > 1):   # a micro-pattern of several ads: "… variants"
            continue
        members = set(tree.members(node.id))
        share = len(members & caps) / max(len(members), 1)
        if share >= 0.5:
            assert "social post" in node.label.lower(), (node.id, node.label, share)
            named += 1
        elif share == 0:
            assert "social post" not in node.label.lower(), (node.id, node.label)
    assert named >= 3


def test_every_leaf_is_one_micro_pattern(real_library, tree):
    from core.taxonomy.build import prepare

    prep = prepare(real_library)
    a = tree.assignments().set_index("ad_id").loc[prep.corpus.ad_ids]
    assert adjusted_rand_score(prep.units.of_ad, a["leaf_id"]) == 1.0
    assert a["leaf_id"].nunique() == len(prep.units.weight)


@pytest.mark.parametrize("subset,floor", [(None, 0.5), ("ira_facebook_ads", 0.8), ("bd2k_click_here_banners", 0.33)])
def test_families_follow_advertiser_lines(real_library, subset, floor):
    """Proxy truth: IRA landing pages, banner languages, one line per persuasion example. Measured:
    all 461 ads 0.56 (old rule 0.16), IRA alone 0.87 (old rule 0.07; 0.745 before the landing page
    weighed, line_keys.py: the floor fails without it), banners alone 0.37 (old rule 0.01). Random 70%
    subsets of IRA give 0.86-0.88, one ad per distinct image 0.74."""
    from core.taxonomy.build import prepare
    from core.taxonomy.hierarchy import build_hierarchy
    from core.taxonomy.methods import get_method

    q = _quality()
    ids = real_library.query_df("SELECT id, file FROM ads ORDER BY id")
    keep = None if subset is None else ids["id"][ids["file"].str.startswith(subset + "/")].to_numpy()
    prep = prepare(real_library, ad_ids=keep)
    truth = q.real_truth(prep.corpus.frame["file"].tolist())
    auto = get_method("auto")
    new = build_hierarchy(prep.units, prep.corpus.ad_ids, auto, 0).tree.assignments()["family_id"]
    old = build_hierarchy(prep.units, prep.corpus.ad_ids, dataclasses.replace(auto, lines=None), 0).tree.assignments()["family_id"]
    got = adjusted_rand_score(truth, new)
    assert got >= floor, f"{got:.3f} on {len(truth)} ads in {len(set(truth))} lines; ingest: {_ingest_report(real_library)}"
    assert adjusted_rand_score(truth, old) < floor, "the floor separates the old rule from the new one"


def test_same_input_same_families(real_library, tree):
    from core.taxonomy.build import prepare
    from core.taxonomy.hierarchy import build_hierarchy
    from core.taxonomy.methods import get_method

    prep = prepare(real_library)
    again = build_hierarchy(prep.units, prep.corpus.ad_ids, get_method("auto"), 0).tree.assignments()
    stored = tree.assignments().set_index("ad_id").loc[prep.corpus.ad_ids]
    assert adjusted_rand_score(again["family_id"], stored["family_id"]) == 1.0


def test_the_taxonomy_page_folds_the_mixed_groups_below_the_lines(real_library, tree, monkeypatch):
    """51 families at the root of the real ads, 20-odd of them pools of leftovers: the page shows the
    lines as cards and folds the mixed groups into one expander below them."""
    from streamlit.testing.v1 import AppTest

    mixed = {f"child-{f.id}" for f in tree.at_level(1) if f.mixed}
    lines = {f"child-{f.id}" for f in tree.at_level(1) if not f.mixed}
    assert mixed and lines, "the real ads have both"
    monkeypatch.setenv("CTE_DATA_DIR", str(real_library.path.parent))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.query_params["lib"] = real_library.path.name
    at.run()
    at.switch_page("pages/taxonomy.py").run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    folded = [e for e in at.expander if "mixed groups" in e.label]
    assert len(folded) == 1 and folded[0].label.startswith(f"{len(mixed)} mixed groups")
    inside = {b.key for b in folded[0].button}
    assert inside == mixed
    assert {b.key for b in at.button if b.key and b.key.startswith("child-")} - inside == lines
