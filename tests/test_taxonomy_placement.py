"""Placement after a build and id carry-over on rebuild: a real DuckDB library with planted families
(synthetic vectors), real builds, real text model; and one real ingest into a copy of the sample."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import core
from core.store import Library
from core.taxonomy import build_taxonomy, load_tree, rename_node
from core.taxonomy.carry import carry_ids
from core.taxonomy.placement import UNPLACED_ID, placements
from core.taxonomy.synthetic import SyntheticSpec, write_synthetic_library
from core.taxonomy.tree import ClusterTree, Node

SPEC = SyntheticSpec(n_ads=220, n_families=4, subs_per_family=2, visual_dim=256, seed=11)
HELD_SHARE = 0.10


def _hold_out(lib, ad_ids) -> pd.DataFrame:
    ids = ", ".join(str(int(a)) for a in ad_ids)
    rows = lib.query_df(f"SELECT * FROM ads WHERE id IN ({ids})")
    lib.execute(f"DELETE FROM ads WHERE id IN ({ids})")
    return rows


def _put_back(lib, rows: pd.DataFrame) -> None:
    lib.con.register("_back", rows)
    lib.execute("INSERT INTO ads SELECT * FROM _back")
    lib.con.unregister("_back")


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """Build on 90% of a planted library, rename a family, add the other 10% back and place them."""
    lib = Library(tmp_path_factory.mktemp("placement") / "lib")
    truth = write_synthetic_library(lib, SPEC)
    rng = np.random.default_rng(0)
    held = np.sort(rng.choice(truth["ad_id"].to_numpy(), int(SPEC.n_ads * HELD_SHARE), replace=False))
    rows = _hold_out(lib, held)
    before = build_taxonomy(lib, seed=0)
    fam = before.at_level(1)[0].id
    rename_node(lib, fam, "Strategist's own name")
    before = load_tree(lib)
    _put_back(lib, rows)
    drift_before = core.taxonomy_drift(lib)
    report = core.place_ads(lib)
    after = load_tree(lib)
    yield {"lib": lib, "truth": truth, "held": held, "before": before, "after": after, "report": report,
           "renamed": fam, "drift_before": drift_before}
    lib.close()


def test_placement_keeps_ninety_percent_of_assignments_and_every_id_and_name(grown):
    before, after = grown["before"], grown["after"]
    a0 = before.assignments().set_index("ad_id")
    a1 = after.assignments().set_index("ad_id")
    kept = (a1.loc[a0.index, "leaf_id"] == a0["leaf_id"]).mean()
    assert kept >= 0.90
    assert after.build_key == before.build_key, "placing is no rebuild"
    for nid, node in before.nodes.items():
        assert after.nodes[nid].label == node.label
    assert after.nodes[grown["renamed"]].label == "Strategist's own name"
    # every added ad is in the stored tree that every reader loads, with a fit score
    assert set(grown["held"]) <= set(a1.index) and len(a1) == SPEC.n_ads
    p = placements(grown["lib"])
    assert sorted(p["ad_id"]) == sorted(grown["held"].tolist())
    assert p["fit"].between(0, 1).all()
    assert grown["report"]["considered"] == len(grown["held"])
    # node sizes follow the placed ads
    assert after.root.size == SPEC.n_ads
    assert sum(n.size for n in after.at_level(1)) == SPEC.n_ads


def test_placed_ads_land_in_their_planted_family(grown):
    after, truth = grown["after"], grown["truth"].set_index("ad_id")
    a = after.assignments().set_index("ad_id")
    built = a.drop(index=grown["held"])
    # the planted family each built family mostly holds
    fam_truth = truth.loc[built.index, "family"].groupby(built["family_id"]).agg(lambda s: s.mode().iloc[0])
    held = a.loc[grown["held"]]
    placed = held[held["leaf_id"] != UNPLACED_ID]
    assert len(placed) >= 0.9 * len(held), "ads like the build's own fit it"
    right = (placed["family_id"].map(fam_truth) == truth.loc[placed.index, "family"]).mean()
    assert right >= 0.9
    # where the build gives every ad a leaf of its own, a placed ad that is no variant gets one too
    if all(after.nodes[leaf].level == 3 for leaf in built["leaf_id"]):
        how = placements(grown["lib"]).set_index("ad_id")["how"]
        for ad_id in placed.index[how.loc[placed.index] == "nearest"]:
            leaf = after.nodes[after.leaf_of(ad_id)]
            assert leaf.level == 3 and leaf.size == 1 and leaf.label and "variants" not in leaf.label


def test_drift_says_what_arrived_since_the_build(grown):
    d0 = grown["drift_before"]
    n_held = len(grown["held"])
    assert d0["pending"] == n_held and d0["total_ads"] == SPEC.n_ads
    d = core.taxonomy_drift(grown["lib"])
    assert d["build_key"] == grown["before"].build_key
    assert d["pending"] == 0 and d["placed"] + d["unplaced"] == n_held and d["built_ads"] == SPEC.n_ads - n_held
    assert d["new_share"] == pytest.approx(n_held / SPEC.n_ads, abs=1e-3)
    assert d["rebuild_suggested"] is False


def test_an_alien_ad_is_new_not_yet_placed(grown, tmp_path):
    path = tmp_path / "alien"
    grown["lib"].con.execute("CHECKPOINT")
    shutil.copytree(grown["lib"].path, path)
    lib = Library(path)
    rng = np.random.default_rng(5)
    base = lib.query_df("SELECT * FROM creatives ORDER BY id LIMIT 1")
    cid = int(lib.execute("SELECT max(id) FROM creatives").fetchall()[0][0]) + 1
    base["id"], base["sha256"], base["media_path"] = cid, "alien" * 12, "media/synth/alien.png"
    v = rng.standard_normal(len(base["visual"].iloc[0])).astype(np.float32)
    base["visual"] = [(v / np.linalg.norm(v)).astype(float).tolist()]
    base["phash"], base["ocr_text"], base["layout_words"], base["color_words"] = 12345, "", "portrait, illustration", "green"
    lib.con.register("_c", base)
    lib.execute("INSERT INTO creatives SELECT * FROM _c")
    ad = lib.query_df("SELECT * FROM ads ORDER BY id LIMIT 1")
    t = rng.standard_normal(len(ad["text_vec"].iloc[0])).astype(np.float32)
    ad["id"], ad["file"], ad["creative_id"] = int(lib.execute("SELECT max(id) FROM ads").fetchall()[0][0]) + 1, "synthetic/alien.png", cid
    ad["meta_key"] = "alien"
    ad["copy"], ad["document"], ad["tags"], ad["text_vec"] = "zebra quantum", "zebra quantum", [["zebra"]], [(t / np.linalg.norm(t)).astype(float).tolist()]
    lib.con.register("_a", ad)
    lib.execute("INSERT INTO ads SELECT * FROM _a")
    report = core.place_ads(lib)
    tree = load_tree(lib)
    alien = int(ad["id"].iloc[0])
    assert report["unplaced"] == 1 and tree.leaf_of(alien) == UNPLACED_ID
    assert tree.nodes[UNPLACED_ID].label == "New, not yet placed" and tree.members(UNPLACED_ID) == [alien]
    assert tree.nodes[UNPLACED_ID].representatives == [alien]
    assert "New, not yet placed" in tree.to_text()
    d = core.taxonomy_drift(lib)
    assert d["unplaced"] == 1
    # a rebuild places it for real: the marker node is gone
    rebuilt = build_taxonomy(lib, seed=0)
    assert UNPLACED_ID not in rebuilt.nodes and rebuilt.leaf_of(alien) != UNPLACED_ID
    lib.close()


def test_rebuild_keeps_ids_where_members_agree_and_the_users_name(grown, tmp_path):
    path = tmp_path / "rebuild"
    grown["lib"].con.execute("CHECKPOINT")
    shutil.copytree(grown["lib"].path, path)
    lib = Library(path)
    placed = load_tree(lib)
    rebuilt = build_taxonomy(lib, seed=0)
    a0 = placed.assignments().set_index("ad_id")
    a1 = rebuilt.assignments().set_index("ad_id")
    assert (a1.loc[a0.index, "family_id"] == a0["family_id"]).mean() >= 0.9
    assert rebuilt.metrics["edits"]["ids"]["carried"] >= len(rebuilt.at_level(1))
    fam = grown["renamed"]
    assert rebuilt.nodes[fam].label == "Strategist's own name"
    assert core.taxonomy_drift(lib)["new_share"] == 0.0
    lib.close()


def _tree(families: dict[str, list[int]]) -> ClusterTree:
    nodes = {"root": Node("root", None, 0)}
    rows = []
    for fid, ads in families.items():
        nodes[fid] = Node(fid, "root", 1, size=len(ads))
        rows += [(a, fid, fid) for a in ads]
    a = pd.DataFrame(rows, columns=["ad_id", "family_id", "leaf_id"])
    a["node_path"], a["is_outlier"], a["x"], a["y"] = "", False, 0.0, 0.0
    return ClusterTree(nodes, a)


def test_carry_ids_matches_by_members_and_never_reuses_an_old_id():
    previous = _tree({"f1": [1, 2, 3, 4], "f2": [5, 6, 7, 8], "f3": [9, 10]})
    # the same groups come out in another order, one grew, and one is new
    fresh = _tree({"f1": [5, 6, 7, 8, 20], "f2": [1, 2, 3], "f3": [11, 12, 13]})
    out, report = carry_ids(fresh, previous)
    assert out.leaf_of(5) == "f2" and out.leaf_of(20) == "f2" and out.leaf_of(1) == "f1"
    assert out.leaf_of(11) == "f4", "an unmatched group gets an id no previous family had"
    assert report == {"carried": 2, "fresh": 1}
    same, _ = carry_ids(previous, previous)
    assert same is previous


def test_ingest_after_a_build_places_instead_of_rebuilding(sample_library, tmp_path):
    from core.demo import generate_sample

    path = tmp_path / "lib"
    sample_library.con.execute("CHECKPOINT")
    shutil.copytree(sample_library.path, path)
    lib = core.open_library(path)
    key = lib.current_run("taxonomy")["key"]
    ads_before = lib.counts()["ads"]
    src = generate_sample(tmp_path / "more", seed=1, n_images=12, with_videos=False)
    core.ingest_source(lib, src, build=True)
    added = lib.counts()["ads"] - ads_before
    assert added > 0
    assert lib.current_run("taxonomy")["key"] == key, "no re-clustering after an upload"
    tree = load_tree(lib)
    assert len(tree.assignments()) == lib.counts()["ads"]
    d = core.taxonomy_drift(lib)
    assert d["placed"] + d["unplaced"] == added and d["pending"] == 0
    assert d["placed"] >= 0.5 * added, "sample ads of another seed are the same families"
    lib.close()
