"""The export as a Prefect flow, so exports can be scheduled like ingestion.

The flow wraps the same library function the `papertrends export` command calls
(warehouse.export.export_dataset); the command itself never imports Prefect.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from ..core.settings import load_settings
from ..warehouse.export import DEFAULT_ROWS_PER_FILE, ExportRequest, export_dataset


@task(name="write-export", cache_policy=NO_CACHE)
def write_export(warehouse_path: str, request: ExportRequest, protected: list[str]) -> dict:
    """Write the dataset and its manifest; returns a small summary (never the rows)."""
    result = export_dataset(Path(warehouse_path), request, protected=[Path(p) for p in protected])
    return {"out": str(result.out), "rows": result.rows, "files": len(result.files), "summary": result.summary()}


@flow(name="export-dataset", log_prints=False)
def export_dataset_flow(
    out: str,
    table: str | None = "papers",
    query: str | None = None,
    terms: list[str] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str | None = None,
    category: str | None = None,
    by: str = "month",
    format: str = "parquet",
    partition_by: list[str] | None = None,
    rows_per_file: int = DEFAULT_ROWS_PER_FILE,
    force: bool = False,
    home: str | None = None,
) -> dict:
    """Export papers, listings, trends or a read-only query from the warehouse to `out`.

    Arguments mean what the `papertrends export` options of the same names mean. A scheduled
    export usually passes `force=True`, so each run replaces the previous dataset atomically.
    Returns {out, rows, files, summary}.
    """
    settings = load_settings(home)
    request = ExportRequest(
        out=Path(out), table=None if query else table, query=query, terms=tuple(terms or ()), since=since,
        until=until, source=source, category=category, by=by, format=format,
        partition_by=tuple(partition_by or ()), rows_per_file=rows_per_file, force=force,
    )
    protected = [str(settings.warehouse_path), str(settings.raw_dir), str(settings.lake_dir)]
    return write_export(str(settings.warehouse_path), request, protected)
