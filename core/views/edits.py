"""The user's edits of the current taxonomy (rename / merge / split), dispatched to core.taxonomy."""
from __future__ import annotations

from .. import taxonomy as tx


def edit_node(library, action: str, node_id: str, **kw):
    """rename: kw label; merge: kw others (node ids merged into node_id); split: kw k (parts, default 2)."""
    if action == "rename":
        return tx.rename_node(library, node_id, kw["label"])
    if action == "merge":
        return tx.merge_nodes(library, [node_id, *kw["others"]])
    if action == "split":
        return tx.split_node(library, node_id, kw.get("k", 2))
    raise ValueError(f"unknown edit {action!r}; valid: rename, merge, split")
