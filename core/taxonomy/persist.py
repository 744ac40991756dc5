"""Writing a tree under its build key (one transaction) and reading it back."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa

from ..store import BUMP_TREE_REVISION, json_cell, registered
from .tree import ASSIGNMENT_COLUMNS, ClusterTree, Node, id_sort_key, json_default

RUN_KIND = "taxonomy"
NODE_COLUMNS = ["build_key", "id", "parent_id", "level", "label", "keywords", "description", "tags", "representatives",
                "rep_strategy", "rep_trace", "fidelity", "size", "x", "y", "perf", "text_centroid", "label_vec"]


# what json.dumps(v, ensure_ascii=False, default=json_default) builds per call, built once
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=json_default)


def _json(v) -> str:
    return _ENCODER.encode(v)


def _num(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def node_frame(tree: ClusterTree, build_key: str) -> pd.DataFrame:
    rows = []
    for nid in sorted(tree.nodes, key=id_sort_key):
        n = tree.nodes[nid]
        rows.append({
            "build_key": build_key, "id": n.id, "parent_id": n.parent_id, "level": int(n.level), "label": n.label,
            "keywords": _json(n.keywords), "description": n.description, "tags": _json(n.tags),
            "representatives": _json(n.representatives), "rep_strategy": n.rep_strategy, "rep_trace": _json(n.rep_trace),
            "fidelity": _num(n.fidelity), "size": int(n.size), "x": _num(n.x), "y": _num(n.y), "perf": _json(n.perf),
            "text_centroid": _arr(n.text_centroid), "label_vec": _arr(n.label_vec)})
    return pd.DataFrame(rows, columns=NODE_COLUMNS)


def node_table(tree: ClusterTree, build_key: str) -> pa.Table:
    """node_frame's rows as an Arrow table, built column by column: the vectors go in as list<float>
    arrays over one buffer (pandas cells of numpy arrays were converted one by one), the numbers as
    nulls where node_frame has NaN (DuckDB reads both as NULL)."""
    nodes = [tree.nodes[nid] for nid in sorted(tree.nodes, key=id_sort_key)]
    col = {
        "build_key": pa.array([build_key] * len(nodes), pa.string()),
        "id": pa.array([n.id for n in nodes], pa.string()),
        "parent_id": pa.array([n.parent_id for n in nodes], pa.string()),
        "level": pa.array([int(n.level) for n in nodes], pa.int64()),
        "label": pa.array([n.label for n in nodes], pa.string()),
        "keywords": pa.array([_json(n.keywords) for n in nodes], pa.string()),
        "description": pa.array([n.description for n in nodes], pa.string()),
        "tags": pa.array([_json(n.tags) for n in nodes], pa.string()),
        "representatives": pa.array([_json(n.representatives) for n in nodes], pa.string()),
        "rep_strategy": pa.array([n.rep_strategy for n in nodes], pa.string()),
        "rep_trace": pa.array([_json(n.rep_trace) for n in nodes], pa.string()),
        "fidelity": pa.array([_num(n.fidelity) for n in nodes], pa.float64()),
        "size": pa.array([int(n.size) for n in nodes], pa.int64()),
        "x": pa.array([_num(n.x) for n in nodes], pa.float64()),
        "y": pa.array([_num(n.y) for n in nodes], pa.float64()),
        "perf": pa.array([_json(n.perf) for n in nodes], pa.string()),
        "text_centroid": _vectors([n.text_centroid for n in nodes]),
        "label_vec": _vectors([n.label_vec for n in nodes]),
    }
    return pa.table([col[c] for c in NODE_COLUMNS], names=NODE_COLUMNS)


def _vectors(vecs: list) -> pa.Array:
    """list<float32> with a null where a node has no vector (as _arr gives float32 for node_frame)."""
    arrs = [None if v is None else np.asarray(v, dtype=np.float32).ravel() for v in vecs]
    lengths = np.array([0 if a is None else len(a) for a in arrs], dtype=np.int32)
    offsets = np.zeros(len(arrs) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    present = [a for a in arrs if a is not None]
    values = np.concatenate(present) if present else np.zeros(0, np.float32)
    mask = np.array([a is None for a in arrs], dtype=bool)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.float32()), mask=pa.array(mask))


def write_tree(library, tree: ClusterTree, build_key: str, replace: bool = False) -> None:
    """Nodes and assignments of one build in one transaction (`replace` rewrites an edited build)."""
    nodes = node_table(tree, build_key)
    a = tree.assignments()
    a.insert(0, "build_key", build_key)
    a = a[["build_key"] + ASSIGNMENT_COLUMNS]
    with library.transaction() as cur:
        if replace:
            cur.execute("DELETE FROM nodes WHERE build_key = ?", [build_key])
            cur.execute("DELETE FROM assignments WHERE build_key = ?", [build_key])
        with registered(cur, "_tx_nodes", nodes), registered(cur, "_tx_assign", a):
            cur.execute(f"""INSERT INTO nodes ({', '.join(NODE_COLUMNS)})
                SELECT build_key, id, parent_id, level, label, keywords::JSON, description, tags::JSON, representatives::JSON,
                       rep_strategy, rep_trace::JSON, fidelity, size, x, y, perf::JSON,
                       text_centroid::FLOAT[], label_vec::FLOAT[] FROM _tx_nodes""")
            cur.execute(f"INSERT INTO assignments (build_key, {', '.join(ASSIGNMENT_COLUMNS)}) SELECT * FROM _tx_assign")
        # an edit rewrites a build under its own key: readers that cache a tree (search) key on this too
        cur.execute(BUMP_TREE_REVISION)


class NoTaxonomy(LookupError):
    """The library has no taxonomy build yet (or not the one asked for)."""

    def __init__(self, message: str = "No taxonomy yet: build one from the Library page (or `python -m core build`)."):
        super().__init__(message)


def current_build_key(library) -> str | None:
    """The key of the library's current taxonomy build, None before the first build."""
    run = library.current_run(RUN_KIND)
    return run["key"] if run else None


def read_tree(library, build_key: str | None = None) -> ClusterTree | None:
    run = None
    if build_key is None:
        run = library.current_run(RUN_KIND)
        if run is None:
            return None
        build_key = run["key"]
    else:
        row = library.execute("SELECT key, config, metrics FROM runs WHERE key = ? AND kind = ?", [build_key, RUN_KIND]).fetchone()
        if row is not None:
            run = {"key": row[0], "config": json_cell(row[1], {}), "metrics": json_cell(row[2], {})}
    rows = library.execute(f"SELECT {', '.join(NODE_COLUMNS[1:])} FROM nodes WHERE build_key = ?", [build_key]).fetchall()
    if not rows:
        return None
    nodes = {}
    for r in rows:
        d = dict(zip(NODE_COLUMNS[1:], r))
        nodes[d["id"]] = Node(
            id=d["id"], parent_id=d["parent_id"], level=int(d["level"]), size=int(d["size"] or 0), label=d["label"] or "",
            keywords=json_cell(d["keywords"], []), description=d["description"] or "", tags=json_cell(d["tags"], []),
            representatives=json_cell(d["representatives"], []), rep_strategy=d["rep_strategy"] or "",
            rep_trace=json_cell(d["rep_trace"], []), fidelity=_nan(d["fidelity"]), x=_nan(d["x"]), y=_nan(d["y"]),
            perf=json_cell(d["perf"], {}), text_centroid=_arr(d["text_centroid"]), label_vec=_arr(d["label_vec"]))
    mixed = ((run or {}).get("metrics") or {}).get("mixed_families")
    if mixed is not None:        # the families named Mixed (pools of leftovers, catch-alls), as the build recorded them
        mixed = set(mixed)
        for node in nodes.values():
            if node.level == 1:
                node.mixed = node.id in mixed
    assignments = library.query_df(
        f"SELECT {', '.join(ASSIGNMENT_COLUMNS)} FROM assignments WHERE build_key = ? ORDER BY ad_id", [build_key])
    assignments["is_outlier"] = assignments["is_outlier"].fillna(False).astype(bool)
    return ClusterTree(nodes, assignments, build_key, (run or {}).get("config"), (run or {}).get("metrics"))


def _nan(v) -> float:
    return float("nan") if v is None else float(v)


def _arr(v):
    return None if v is None else np.asarray(v, dtype=np.float32)
