"""Prefect flows that ingest Hugging Face daily lists and saved files: fetch or land, normalize, load.

Each flow reads as its steps. Tasks hand each other paths and small summaries, never big
frames: raw landings are files, normalized rows are Parquet files in the lake.
"""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from ..core.dates import parsed_dates
from ..core.reports import RunReport
from ..core.settings import Settings, load_settings
from ..pipeline.lake import landings_normalized, read_lake_files
from ..sources import http
from ..sources.files import expanded_paths, files_landed
from ..sources.hf import fetch_list, list_request
from ..warehouse import connection, loads
from ..warehouse.checks import CheckContext
from .runs import recorded_run, run_logger


@task(name="fetch-daily-list", cache_policy=NO_CACHE)
def fetch_daily_list(settings: Settings, list_date: str, from_archive: bool = False) -> list[str]:
    """Fetch every page of one date's list and land each response; returns the body paths.

    Goes through sources/hf.py: per-host rate limit, conditional requests (a 304
    reuses the archived body), and answers classified before they can be parsed as data. Every
    page is asked again (conditionally) unless `from_archive`, which serves a settled date that
    is already archived without any request.
    """
    log = run_logger()
    outcome = fetch_list(settings, list_request("date", list_date), refresh=not from_archive, log=log.warning)
    for problem in outcome.problems:
        log.warning(problem)
    log.info(f"{list_date}: {len(outcome.landed)} page(s), {outcome.requests} request(s), "
             f"{outcome.from_archive} from the archive, {outcome.not_modified} not modified")
    return outcome.landed


@task(name="land-files", cache_policy=NO_CACHE)
def land_files(settings: Settings, paths: list[str], list_date: str | None) -> list[str]:
    """Copy each file into the raw archive (content-addressed), with what is needed to parse it."""
    return files_landed(settings.raw_dir, paths, list_date)


@task(name="normalize-to-lake", cache_policy=NO_CACHE)
def normalize_to_lake(settings: Settings, landed: list[str]) -> dict:
    """Normalize landings into lake Parquet; returns the files and per-input counts."""
    summary = landings_normalized(settings.lake_dir, landed)
    run_logger().info(
        f"normalized {len(landed)} input(s): {summary['items_in']} items = {summary['loaded']} rows + "
        f"{summary['quarantined']} quarantined"
    )
    return summary


@task(name="load-warehouse", cache_policy=NO_CACHE)
def load_warehouse(settings: Settings, files: list[str], run_id: int, checks: CheckContext | None = None) -> dict:
    """Load lake files into the warehouse in one transaction, data checks included; returns what changed."""
    listings, quarantine = read_lake_files(files)
    con = connection.open_writer(settings.warehouse_path, settings.writer_wait)
    try:
        counts = loads.load(con, listings, quarantine, run_id, checks=checks)
    finally:
        con.close()
    run_logger().info(
        f"loaded {counts.listings_in} listing rows ({counts.listings_new} new, {counts.listings_changed} changed), "
        f"{counts.papers_new} new papers, {counts.quarantine_new} new quarantine items"
    )
    return asdict(counts)


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


@flow(name="ingest-hf-daily", log_prints=False)
def ingest_hf_daily(dates: list[str], base_url: str | None = None, home: str | None = None) -> RunReport:
    """Fetch the Hugging Face daily lists for `dates` (every page), land raw, normalize, load.

    A date whose fetch still fails after retries is reported and skipped; the others load.
    `base_url` defaults to https://huggingface.co (or PAPERTRENDS_HF_BASE_URL).
    """
    settings = load_settings(home, hf_base_url=base_url)
    arguments = {"dates": dates, "base_url": settings.hf_base_url}
    with recorded_run(settings, "ingest-hf-daily", arguments) as report:
        landed: list[str] = []
        for list_date in dates:
            try:
                landed += fetch_daily_list(settings, list_date)
            except http.FetchError as error:
                report.failures.append(f"{list_date}: {error}")
        normalized_and_loaded(settings, report, landed, dates)
    return report


@flow(name="ingest-files", log_prints=False)
def ingest_files(
    paths: list[str], list_date: str | None = None, home: str | None = None, show_progress: bool = False
) -> RunReport:
    """Ingest saved daily-papers JSON files, saved papers pages (.txt) and arXiv metadata snapshots.

    The list date is `list_date` when given, else a YYYY-MM-DD file name, else each item's
    paper.submittedOnDailyAt. A text page needs `list_date` (it shows no year). A JSON Lines
    file of arXiv metadata records (arxiv-metadata-oai-snapshot.json) is recognised by its first
    line, streamed in batches (see flows/arxiv.py) and listed on each paper's v1 date;
    `show_progress` draws a progress bar for it on stderr.
    """
    settings = load_settings(home)
    with recorded_run(settings, "ingest-files", {"paths": paths, "list_date": list_date}) as report:
        # arXiv metadata snapshots (JSON Lines, several GB) are streamed in batches, never read whole.
        from ..sources.arxiv import is_arxiv_snapshot
        from .arxiv import snapshot_ingested

        expanded = expanded_paths(paths)
        snapshots = [p for p in expanded if p.is_file() and is_arxiv_snapshot(p)]
        others = [str(p) for p in expanded if p not in snapshots]
        landed = land_files(settings, others, list_date) if others else []
        normalized_and_loaded(settings, report, landed, [list_date] if list_date else None)
        for snapshot in snapshots:
            snapshot_ingested(settings, report, snapshot, show_progress)
        if snapshots and list_date:
            report.warnings.append("--date does not apply to arXiv snapshots: each paper is listed on its v1 date")
    return report
