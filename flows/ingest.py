"""The steps every ingestion shares (normalize landings in batches, load), and `ingest files`.

Each flow reads as its steps. Tasks hand each other paths and small summaries, never big
frames: raw landings are files, normalized rows are Parquet files in the lake.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from ..core.dates import parsed_dates
from ..core.reports import RunReport
from ..core.settings import Settings, load_settings
from ..pipeline import registry
from ..sources.files import expanded_paths, files_landed, not_a_regular_file
from ..sources.kinds import KIND_UNREADABLE
from ..sources.raw_archive import RawRecord
from ..warehouse.checks import CheckContext
from .arxiv import snapshot_ingested
from .parallel import batch_results
from .runs import recorded_run, run_logger


@task(name="land-files", cache_policy=NO_CACHE)
def land_files(settings: Settings, paths: list[str], list_date: str | None) -> list[str]:
    """Land saved files of every known kind (content-addressed); returns the landings' body paths.

    Files inside folders that are not a known kind are skipped; use saved_files_landed to learn which.
    """
    return saved_files_landed(settings, paths, list_date)["landed"]


def saved_files_landed(settings: Settings, paths: list[str], list_date: str | None) -> dict:
    """Recognise (by content, through the registry) and land saved files; name every file skipped and why.

    A file named on its own that is not a known kind is landed as unreadable, so it is
    quarantined with its reason; one found inside a folder is skipped and named in `skipped`.
    """
    taken, skipped = [], []
    for path, named in expanded_paths(paths):
        special = not_a_regular_file(path)  # never opened: a FIFO blocks forever, /dev/zero never ends
        kind, why = registry.recognised(path) if special is None else (None, special)
        if kind is None and not named:
            skipped.append(f"{path}: {why}")
            continue
        taken.append((path, kind.name if kind else KIND_UNREADABLE, list_date, why))
    # Landed in batches, each durable at one point (sources/files.py).
    landed = [str(record.path) for record in files_landed(settings.raw_dir, taken)]
    return {"landed": landed, "skipped": skipped}


@task(name="normalize-batch", cache_policy=NO_CACHE)
def normalize_batch(settings: Settings, landed: list[str]) -> dict:
    """Normalize one batch of landings into lake Parquet (a few files: one per table and month)."""
    return registry.landings_normalized(settings.lake_dir, landed, batch_inputs=max(len(landed), 1))


def normalize_to_lake(settings: Settings, landed: list[str], batch_inputs: int = registry.DEFAULT_BATCH_INPUTS) -> dict:
    """Normalize landings into lake Parquet in bounded batches: one Prefect task run per batch.

    Returns the files and the counts (items in = loaded + quarantined), summed over the batches.
    With the settings dask_address or dask_workers the batches run on Dask (flows/parallel.py).
    """
    summary = registry.empty_summary()
    batches = [landed[start:start + batch_inputs] for start in range(0, len(landed), batch_inputs)]
    for normalized in batch_results(normalize_batch, settings, batches):  # on Dask when the settings say so
        registry.summary_added(summary, normalized)
    run_logger().info(
        f"normalized {len(landed)} input(s): {summary['items_in']} items = {summary['loaded']} rows + "
        f"{summary['quarantined']} quarantined in {len(summary['files'])} lake file(s)"
    )
    return summary


@task(name="load-warehouse", cache_policy=NO_CACHE)
def load_warehouse(settings: Settings, files: list[str], run_id: int, checks: CheckContext | None = None) -> dict:
    """Load lake files into the warehouse with the data checks; returns what changed."""
    counts = registry.warehouse_loaded(settings, files, run_id, checks)
    run_logger().info(
        f"loaded {counts['listings_in']} listing rows ({counts['listings_new']} new, {counts['listings_changed']} changed), "
        f"{counts['papers_new']} new papers, {counts['quarantine_new']} new quarantine items"
    )
    return counts


def normalized_and_loaded(settings: Settings, report: RunReport, landed: list[str], dates: list[str] | None = None) -> RunReport:
    """The steps every ingestion shares once its inputs are landed."""
    report.inputs = len(landed)
    since = report.stage("land", report.started, len(landed), f"{len(landed)} raw input(s)")
    normalized = normalize_to_lake(settings, landed)
    report.items_in = normalized["items_in"]
    report.items_loaded = normalized["loaded"]
    report.items_quarantined = normalized["quarantined"]
    report.warnings += normalized["warnings"]
    since = report.stage(
        "normalize", since, normalized["items_in"],
        f"{normalized['loaded']} rows + {normalized['quarantined']} quarantined in {len(normalized['files'])} lake file(s)",
    )
    if normalized["files"]:
        requested = sorted(parsed_dates(dates or []))
        checks = CheckContext(
            since=requested[0] if requested else None,
            until=requested[-1] if requested else None,
            items_in=normalized["items_in"],
        )
        loaded = load_warehouse(settings, normalized["files"], report.run_id, checks)
        report.listings_new, report.listings_changed = loaded["listings_new"], loaded["listings_changed"]
        report.papers_new, report.papers_changed = loaded["papers_new"], loaded["papers_changed"]
        report.stage(
            "load+checks", since, loaded["listings_in"] + loaded["quarantined_in"],
            f"{report.listings_new} new / {report.listings_changed} changed listings, "
            f"{report.papers_new} new / {report.papers_changed} changed papers, {loaded['quarantine_new']} new quarantine",
        )
    return report


@flow(name="ingest-files", log_prints=False)
def ingest_files(
    paths: list[str], list_date: str | None = None, home: str | None = None, show_progress: bool = False
) -> RunReport:
    """Ingest saved files of every raw kind: HF daily JSON, papers pages (HTML, text), arXiv API and
    OAI-PMH pages, and arXiv metadata snapshots (JSON Lines, under any name).

    Each file's kind is recognised by its content (pipeline/registry.py). The list date of HF
    files is `list_date` when given, else a YYYY-MM-DD file name, else each item's
    paper.submittedOnDailyAt; a text page needs `list_date` (it shows no year). A snapshot is
    streamed in batches and listed on each paper's v1 date; `show_progress` draws a progress bar
    for it on stderr. Files inside folders that are no known kind are skipped and named in the
    report's warnings.
    """
    settings = load_settings(home)
    with recorded_run(settings, "ingest-files", {"paths": paths, "list_date": list_date}) as report:
        found = saved_files_landed(settings, paths, list_date)
        report.warnings += [f"skipped {line}" for line in found["skipped"]]
        records = [RawRecord.at(Path(p)) for p in found["landed"]]
        groups = registry.split_by_load(records)
        lake_inputs = [str(r.path) for r in groups["lake"] + groups["unknown"]]
        normalized_and_loaded(settings, report, lake_inputs, [list_date] if list_date else None)
        for record in groups["stream"]:
            snapshot_ingested(settings, report, str(record.path), show_progress)
        if groups["stream"] and list_date:
            report.warnings.append("--date does not apply to arXiv snapshots: each paper is listed on its v1 date")
    return report
