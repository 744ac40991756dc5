"""UI read models: what the Streamlit pages show that the facade does not already give.

Plain functions over a `Library` that return dicts and DataFrames (no Streamlit here, so the CLI,
tests and benches call them too), one module per area:

- `library`  library stats, the data version keying cached reads, attributes, filter options
- `runner`   background jobs (upload → ingest → build, sample, rebuild) in threads of this process
- `runs`     job rows and run records as pages show them (recent jobs, the running one, reports)
- `uploads`  checks and storage for uploaded zips, CSVs and benchmark files
- `grid`     ad tiles (few fields, media paths checked)
- `taxonomy` the current build's nodes, node cards, an ad's path, chart frames
- `ads`      paged grids, one ad's detail, visual neighbours
- `map`      map points and what a selection shares
- `edits`    rename / merge / split dispatch

Exports (tables, JSON, briefs) live in `core.export`; this package re-exports them for the pages.
"""
from __future__ import annotations

from ..export import export_bytes, node_brief, taxonomy_json, taxonomy_table
from .ads import ad_detail, ads_page, neighbour_index, neighbours
from .base import LEVEL_NAMES, METRICS, PERF_KEYS, NoTaxonomy, current_build_key, not_available
from .edits import edit_node
from .grid import ads_by_ids
from .library import attribute_keys, attribute_values, data_version, filter_options, library_stats
from .map import map_points, shared_traits
from .runner import (BUILD_SOURCE, INGEST_STAGES, SEARCH_STAGE, STAGE_LABELS, BackgroundJob, JobBusy, background_job, start_build,
                     start_ingest, start_refresh, start_sample)
from .runs import build_runs, job, job_progress, job_report, jobs
from .taxonomy import (ad_tree_path, chart_metrics, children, descendants, node_card, nodes_frame, root_id, tags_frame,
                       tree_chart_frame)
from .uploads import check_upload, check_zip_contents, read_jsonl_queries, save_upload

__all__ = [
    "LEVEL_NAMES", "METRICS", "PERF_KEYS", "BUILD_SOURCE", "INGEST_STAGES", "SEARCH_STAGE", "STAGE_LABELS", "BackgroundJob", "JobBusy",
    "NoTaxonomy", "not_available", "current_build_key", "data_version", "library_stats", "attribute_keys",
    "attribute_values", "filter_options", "background_job", "start_build", "start_ingest", "start_refresh", "start_sample", "jobs", "job",
    "job_progress", "job_report", "build_runs", "check_upload", "check_zip_contents", "read_jsonl_queries", "save_upload",
    "ads_by_ids", "ads_page", "ad_detail", "neighbour_index", "neighbours", "nodes_frame", "root_id", "children",
    "descendants", "node_card", "tags_frame", "ad_tree_path", "tree_chart_frame", "chart_metrics", "map_points",
    "shared_traits", "edit_node", "export_bytes", "node_brief", "taxonomy_json", "taxonomy_table",
]
