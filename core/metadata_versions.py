"""Metadata for ads already in the library: a new version replaces the old, which is kept.

A CSV uploaded after its images (or a corrected CSV) names ads the library already holds. Their
metadata columns, attributes and document are updated in place (ad ids, taxonomy assignments and
boards stay), the text vector is cleared so the ingest re-embeds the new document, and the old
metadata goes to ``ad_metadata_versions`` (ad_id, version, fields, attributes, job_id, replaced_at).
"""
from __future__ import annotations

import json
from datetime import date

from .store import Library

AD_FIELDS = ("headline", "copy", "cta", "tags", "format", "placement", "campaign", "date", "end_date",
             "spend", "impressions", "clicks", "conversions", "revenue", "ctr")  # the ads table's metadata columns

VERSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS ad_metadata_versions (
    ad_id INTEGER NOT NULL, version INTEGER NOT NULL,   -- 1 = the first metadata the ad had
    fields JSON, attributes JSON, job_id INTEGER,       -- the job that REPLACED this version
    replaced_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (ad_id, version)
);
"""


def _norm(field: str, v):
    """One spelling per value, so stored and parsed metadata compare equal when they are."""
    if v is None or v == "" or (isinstance(v, float) and v != v):
        return None
    if field == "tags":
        return sorted(str(t) for t in v) or None
    if field in ("date", "end_date"):
        return v.isoformat() if isinstance(v, date) else str(v)
    if field in ("spend", "impressions", "clicks", "conversions", "revenue", "ctr"):
        return round(float(v), 9)
    return str(v)


def update_metadata(library: Library, job_id: int, planned: list[tuple[str, object]], document_for) -> int:
    """Apply changed metadata of existing ads; returns how many ads got a new version.

    ``planned``: (creative sha256, _PlannedAd) of ads already in the library whose upload carried
    metadata; ``document_for(creative_id, fields)`` builds the ad document as the writer does.
    """
    if not planned:
        return 0
    library.execute(VERSIONS_SCHEMA)
    cols = ", ".join(f"a.{f}" for f in AD_FIELDS)
    updated = 0
    with library.transaction() as cur:
        for sha, ad in planned:
            row = cur.execute(f"SELECT a.id, a.creative_id, {cols} FROM ads a JOIN creatives c ON c.id = a.creative_id "
                              "WHERE a.file = ? AND c.sha256 = ? AND a.meta_key = ?", [ad.file, sha, ad.meta_key]).fetchone()
            if row is None:
                continue
            ad_id, creative_id, old = row[0], row[1], dict(zip(AD_FIELDS, row[2:]))
            old_attrs = dict(cur.execute("SELECT key, value FROM attributes WHERE ad_id = ?", [ad_id]).fetchall())
            new_attrs = {k: str(v) for k, v in ad.attributes.items()}
            same = all(_norm(f, old.get(f)) == _norm(f, ad.fields.get(f)) for f in AD_FIELDS) and old_attrs == new_attrs
            if same:
                continue
            version = cur.execute("SELECT coalesce(max(version), 0) + 1 FROM ad_metadata_versions WHERE ad_id = ?",
                                  [ad_id]).fetchone()[0]
            cur.execute("INSERT INTO ad_metadata_versions (ad_id, version, fields, attributes, job_id) VALUES (?, ?, ?, ?, ?)",
                        [ad_id, version, json.dumps({f: _norm(f, v) for f, v in old.items()}),
                         json.dumps(old_attrs), job_id])
            values = [_value(f, ad.fields.get(f)) for f in AD_FIELDS]
            sets = ", ".join(f"{f} = ?" for f in AD_FIELDS)
            cur.execute(f"UPDATE ads SET {sets}, document = ?, text_vec = NULL WHERE id = ?",
                        [*values, document_for(creative_id, ad.fields), ad_id])
            cur.execute("DELETE FROM attributes WHERE ad_id = ?", [ad_id])
            if new_attrs:
                cur.executemany("INSERT INTO attributes (ad_id, key, value) VALUES (?, ?, ?)",
                                [[ad_id, k, v] for k, v in new_attrs.items()])
            updated += 1
    return updated


def _value(field: str, v):
    if field == "tags":
        return list(v) if v else []
    if v in ("", None):
        return None
    return v


def metadata_history(library: Library, ad_id: int) -> list[dict]:
    """Earlier metadata versions of one ad, oldest first (empty when it never changed)."""
    exists = library.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'ad_metadata_versions'")
    if not exists:
        return []
    rows = library.execute("SELECT version, fields, attributes, job_id, replaced_at FROM ad_metadata_versions "
                           "WHERE ad_id = ? ORDER BY version", [ad_id]).fetchall()
    return [{"version": v, "fields": json.loads(f), "attributes": json.loads(a), "replaced_by_job": j, "replaced_at": str(t)}
            for v, f, a, j, t in rows]
