"""How two libraries' current taxonomies of the same ads differ: the groups and their names.

    python bench/compare_builds.py --before /tmp/lib_old_code --after /tmp/lib_new_code

For a change to naming or grouping, build the same ingest twice (the code before, the code after) and
compare. Ads are matched by file. Prints the family and leaf ARI between the two builds and, for every
node whose members are the same set in both, whether its name is the same (ids may differ: a rebuild
carries ids over from the build before it). The libraries are read, never written.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _build(path: str) -> tuple[dict, dict]:
    """(file → (family id, leaf id), frozenset of member files → node name) of the library's current build."""
    import core

    with core.open_library(path, read_only=True) as lib:
        tree = core.load_tree(lib)
        files = dict(lib.execute("SELECT id, file FROM ads").fetchall())
    a = tree.assignments()
    where = {files[int(r.ad_id)]: (r.family_id, r.leaf_id) for r in a.itertuples()}
    names = {frozenset(files[int(i)] for i in tree.members(n.id)): n.label for n in tree.nodes.values() if n.level > 0}
    return where, names


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    a = ap.parse_args(argv)
    from sklearn.metrics import adjusted_rand_score

    w1, n1 = _build(a.before)
    w2, n2 = _build(a.after)
    common = sorted(set(w1) & set(w2))
    same_groups = [m for m in n1 if m in n2]
    renamed = sorted((n1[m], n2[m]) for m in same_groups if n1[m] != n2[m])
    print(json.dumps({
        "ads": len(common), "families": [len({w1[f][0] for f in common}), len({w2[f][0] for f in common})],
        "family_ari": round(adjusted_rand_score([w1[f][0] for f in common], [w2[f][0] for f in common]), 4),
        "leaf_ari": round(adjusted_rand_score([w1[f][1] for f in common], [w2[f][1] for f in common]), 4),
        "nodes": [len(n1), len(n2)], "same_members": len(same_groups), "same_name": len(same_groups) - len(renamed),
        "renamed": renamed,
    }, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
