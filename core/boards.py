"""Boards: named selections of ads a person collects while browsing ("ideas for the spring brief").

Stored in the library's own DuckDB file, in a `boards` table created on first use (one row per ad
on a board), so a board travels with the library and survives restarts. Exports of a board (HTML
page, zip with images) live in `core.briefs`.
"""
from __future__ import annotations

import re

import pandas as pd

_DDL = """CREATE TABLE IF NOT EXISTS boards (
    name VARCHAR NOT NULL, ad_id INTEGER NOT NULL, added_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (name, ad_id))"""
MAX_NAME = 80


def _ensure(library) -> bool:
    """Create the table when missing; False when the library is read-only and has none."""
    try:
        library.execute(_DDL)
        return True
    except Exception:  # noqa: BLE001 - a read-only library without boards simply has none
        return bool(library.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'boards'"))


def clean_name(name: str) -> str:
    """A board name as stored: trimmed, inner whitespace collapsed, at most 80 characters; ValueError when empty."""
    out = re.sub(r"\s+", " ", str(name or "")).strip()[:MAX_NAME]
    if not out:
        raise ValueError("Give the board a name.")
    return out


def board_names(library) -> list[str]:
    """Every board, the most recently added-to first."""
    if not _ensure(library):
        return []
    return [r[0] for r in library.execute("SELECT name FROM boards GROUP BY name ORDER BY max(added_at) DESC, name").fetchall()]


def board_summary(library) -> pd.DataFrame:
    """name, ads, last added — one row per board."""
    if not _ensure(library):
        return pd.DataFrame(columns=["name", "ads", "updated"])
    return library.query_df("SELECT name, count(*) AS ads, max(added_at) AS updated FROM boards GROUP BY name "
                            "ORDER BY updated DESC, name")


def board_ad_ids(library, name: str) -> list[int]:
    """The board's ads in the order they were added (ads deleted from the library are left out)."""
    if not _ensure(library):
        return []
    rows = library.execute("SELECT b.ad_id FROM boards b JOIN ads a ON a.id = b.ad_id WHERE b.name = ? "
                           "ORDER BY b.added_at, b.ad_id", [name]).fetchall()
    return [int(r[0]) for r in rows]


def add_to_board(library, name: str, ad_ids) -> int:
    """Put ads on a board (created when new); returns how many were not on it yet."""
    name = clean_name(name)
    ids = sorted({int(i) for i in ad_ids})
    if not ids:
        return 0
    _ensure(library)
    with library.transaction() as con:
        before = con.execute("SELECT count(*) FROM boards WHERE name = ?", [name]).fetchone()[0]
        con.execute("INSERT INTO boards (name, ad_id) SELECT ?, id FROM ads WHERE id IN (SELECT unnest(?::INTEGER[])) "
                    "ON CONFLICT DO NOTHING", [name, ids])
        after = con.execute("SELECT count(*) FROM boards WHERE name = ?", [name]).fetchone()[0]
    return int(after - before)


def remove_from_board(library, name: str, ad_ids) -> None:
    ids = [int(i) for i in ad_ids]
    if ids and _ensure(library):
        library.execute("DELETE FROM boards WHERE name = ? AND ad_id IN (SELECT unnest(?::INTEGER[]))", [name, ids])


def delete_board(library, name: str) -> None:
    if _ensure(library):
        library.execute("DELETE FROM boards WHERE name = ?", [name])
