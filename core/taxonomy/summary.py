"""The one-glance numbers of the current build (for `core.info` and the app's header)."""
from __future__ import annotations

from .persist import RUN_KIND


def taxonomy_info(library) -> dict:
    run = library.current_run(RUN_KIND)
    if run is None:
        return {"levels": 0, "clusters_by_level": [0, 0, 0], "outlier_share": 0.0, "build_id": None}
    key = run["key"]
    by_level = dict(library.execute("SELECT level, count(*) FROM nodes WHERE build_key = ? GROUP BY level", [key]).fetchall())
    share = library.scalar("SELECT avg(CASE WHEN is_outlier THEN 1.0 ELSE 0.0 END) FROM assignments WHERE build_key = ?", [key])
    counts = [int(by_level.get(lv, 0)) for lv in (1, 2, 3)]
    return {"levels": max((lv for lv in by_level if lv > 0), default=0), "clusters_by_level": counts,
            "outlier_share": round(float(share or 0.0), 4), "build_id": key}
