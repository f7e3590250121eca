"""Prefect flows that ingest Hugging Face daily papers: fetch or land, normalize, load.

Each flow reads as its steps. Tasks hand each other paths and small summaries, never big
frames: raw landings are files, normalized rows are Parquet files in the lake.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows import http, integrity
from flows.lake import (
    KIND_HF_DAILY_FILE,
    KIND_HF_HTML,
    KIND_HF_PAPERS_TEXT,
    KIND_UNREADABLE,
    normalized_record,
    write_lake,
)
from flows.raw_archive import RawRecord, land, utc_now
from flows.settings import Settings, load_settings
from warehouse import store
from warehouse.checks import CheckContext

FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
INGESTIBLE_SUFFIXES = {".json": KIND_HF_DAILY_FILE, ".txt": KIND_HF_PAPERS_TEXT}
INGESTIBLE_SUFFIXES.update({".html": KIND_HF_HTML, ".htm": KIND_HF_HTML})  # pages saved from a browser (issue 3)


def _logger():
    """The Prefect run logger inside a run, a plain logger outside one (task.fn() in tests)."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("papertrends")


@dataclass
class RunReport:
    """What one ingestion run did, stage by stage."""

    run_id: int
    flow: str
    inputs: int = 0
    items_in: int = 0
    items_loaded: int = 0
    items_quarantined: int = 0
    listings_new: int = 0
    listings_changed: int = 0
    papers_new: int = 0
    papers_changed: int = 0
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stages: list[dict] = field(default_factory=list)  # {stage, items, seconds, detail}, in order
    started: float = field(default_factory=time.monotonic)

    def stage(self, name: str, since: float, items: int | None = None, detail: str | None = None) -> float:
        """Record a finished stage that began at monotonic time `since`; returns now."""
        now = time.monotonic()
        self.stages.append({"stage": name, "items": items, "seconds": now - since, "detail": detail})
        return now

    @property
    def status(self) -> str:
        if self.items_loaded == 0 and (self.failures or self.items_quarantined):
            return "failed"
        return "partial" if self.failures else "completed"

    def counts(self) -> dict[str, int]:
        names = (
            "inputs", "items_in", "items_loaded", "items_quarantined",
            "listings_new", "listings_changed", "papers_new", "papers_changed",
        )
        return {name: getattr(self, name) for name in names}

    def summary(self) -> str:
        """A few lines for people: counts per stage, then failures and warnings."""
        lines = [
            f"run {self.run_id} ({self.flow}) {self.status} in {self.seconds:.1f}s: "
            f"{self.inputs} inputs, {self.items_in} items in = {self.items_loaded} loaded + "
            f"{self.items_quarantined} quarantined",
            f"warehouse: {self.listings_new} new listings, {self.listings_changed} changed; "
            f"{self.papers_new} new papers, {self.papers_changed} changed",
        ]
        lines += [f"failed: {f}" for f in self.failures]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@task(name="fetch-daily-list", cache_policy=NO_CACHE)
def fetch_daily_list(settings: Settings, list_date: str, from_archive: bool = False) -> list[str]:
    """Fetch every page of one date's list and land each response; returns the body paths.

    Goes through flows/hf_sources.py (issue 3): per-host rate limit, conditional requests (a 304
    reuses the archived body), and answers classified before they can be parsed as data. Every
    page is asked again (conditionally) unless `from_archive`, which serves a settled date that
    is already archived without any request.
    """
    from flows.hf_sources import fetch_list, list_request

    log = _logger()
    outcome = fetch_list(settings, list_request("date", list_date), refresh=not from_archive, log=log.warning)
    for problem in outcome.problems:
        log.warning(problem)
    log.info(f"{list_date}: {len(outcome.landed)} page(s), {outcome.requests} request(s), "
             f"{outcome.from_archive} from the archive, {outcome.not_modified} not modified")
    return outcome.landed


def _expand_paths(paths: list[str]) -> list[Path]:
    """Files named, and the ingestible files inside folders named, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INGESTIBLE_SUFFIXES)
        else:
            found.append(path)
    return found


@task(name="land-files", cache_policy=NO_CACHE)
def land_files(settings: Settings, paths: list[str], list_date: str | None) -> list[str]:
    """Copy each file into the raw archive (content-addressed), with what is needed to parse it."""
    landed = []
    for path in _expand_paths(paths):
        kind = INGESTIBLE_SUFFIXES.get(path.suffix.lower())
        named_date = FILE_DATE.fullmatch(path.stem)
        file_date = list_date or (named_date.group(1) if named_date else None)
        meta = {"original_path": str(path.resolve()), "list_date": file_date, "landed_at": utc_now().isoformat()}
        try:
            body = path.read_bytes()
        except OSError as error:
            body, kind = b"", KIND_UNREADABLE
            meta["reason"] = f"cannot read file: {error.strerror or error}"
        if kind is None:
            kind = KIND_UNREADABLE
            meta["reason"] = f"unsupported file type {path.suffix or '(none)'}: expected .json, .txt or .html"
        meta["kind"] = kind
        meta["fetched_at"] = meta["landed_at"]
        folder = f"files/{file_date or 'undated'}"
        record = land(settings.raw_dir, folder, path.stem[:80] or "file", path.suffix[:10], body, meta)
        landed.append(str(record.path))
    return landed


@task(name="normalize-to-lake", cache_policy=NO_CACHE)
def normalize_to_lake(settings: Settings, landed: list[str]) -> dict:
    """Normalize landings into lake Parquet; returns the files and per-input counts."""
    from flows.raw_archive import SIDECAR_SUFFIX

    files, items_in, loaded, quarantined, warnings = [], 0, 0, 0, []
    for body_path in landed:
        body = Path(body_path)
        sidecar = body.with_name(body.name + SIDECAR_SUFFIX)
        record = RawRecord(body, json.loads(sidecar.read_text("utf-8")))
        normalized = normalized_record(record)
        files += [str(p) for p in write_lake(settings.lake_dir, record, normalized)]
        items_in += normalized.items_in
        loaded += normalized.listings.height
        quarantined += normalized.quarantine.height
        warnings += normalized.warnings
    _logger().info(f"normalized {len(landed)} input(s): {items_in} items = {loaded} rows + {quarantined} quarantined")
    return {"files": files, "items_in": items_in, "loaded": loaded, "quarantined": quarantined, "warnings": warnings}


def read_lake_files(files: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Listing rows and quarantine rows held in the given lake files."""
    listing_files = [f for f in files if "/listings/" in Path(f).as_posix()]
    quarantine_files = [f for f in files if "/quarantine/" in Path(f).as_posix()]
    from transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA

    listings = pl.concat([pl.read_parquet(f) for f in listing_files]) if listing_files else pl.DataFrame(schema=LISTING_SCHEMA)
    quarantine = (
        pl.concat([pl.read_parquet(f) for f in quarantine_files]) if quarantine_files else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    )
    return listings, quarantine


@task(name="load-warehouse", cache_policy=NO_CACHE)
def load_warehouse(settings: Settings, files: list[str], run_id: int, checks: CheckContext | None = None) -> dict:
    """Load lake files into the warehouse in one transaction, data checks included; returns what changed."""
    listings, quarantine = read_lake_files(files)
    con = store.open_writer(settings.warehouse_path, settings.writer_wait)
    try:
        counts = store.load(con, listings, quarantine, run_id, checks=checks)
    finally:
        con.close()
    _logger().info(
        f"loaded {counts.listings_in} listing rows ({counts.listings_new} new, {counts.listings_changed} changed), "
        f"{counts.papers_new} new papers, {counts.quarantine_new} new quarantine items"
    )
    return asdict(counts)


def _begin_run(settings: Settings, flow_name: str, arguments: dict) -> int:
    # Takes the writer lock for the whole run; _end_run releases it.
    return integrity.begin_writer_run(settings, flow_name, arguments)


def _end_run(settings: Settings, report: RunReport) -> None:
    integrity.end_writer_run(settings, report)


def _publish(report: RunReport, settings: Settings | None = None) -> None:
    """Attach the run report to the Prefect flow run: a markdown summary and a table of stages and checks."""
    from prefect.artifacts import create_markdown_artifact

    body = "# papertrends run report\n\n```\n" + report.summary() + "\n```\n"
    try:
        create_markdown_artifact(markdown=body, key=f"papertrends-run-{report.flow}", description="ingestion run report")
    except Exception as error:  # an artifact is a courtesy; its failure must not fail the run
        _logger().warning(f"could not publish the run report artifact: {error}")
    if settings is not None:
        integrity.publish_report_tables(settings, report, f"papertrends-run-{report.flow}")


@contextlib.contextmanager
def recorded_run(settings: Settings, flow_name: str, arguments: dict, report_type: type = None):
    """A run in the ledger around a flow's body: yields its report; always closes and publishes it.

    Takes the writer lock (via _begin_run); on an exception the run is recorded as failed with
    the reason and the exception goes on; either way the report is written and published.
    """
    started = time.monotonic()
    report = (report_type or RunReport)(_begin_run(settings, flow_name, arguments), flow_name)
    try:
        yield report
    except Exception as error:
        report.failures.append(f"run stopped: {error}")
        report.items_loaded = 0
        raise
    finally:
        report.seconds = time.monotonic() - started
        _end_run(settings, report)
        _publish(report, settings)


def _normalize_and_load(settings: Settings, report: RunReport, landed: list[str], dates: list[str] | None = None) -> RunReport:
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
        requested = sorted(_parsed_dates(dates or []))
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


def _parsed_dates(dates: list[str]) -> list[dt.date]:
    """The requested dates that are dates (a malformed one is quarantined by its HTTP 400, not here)."""
    parsed = []
    for text in dates:
        try:
            parsed.append(dt.date.fromisoformat(text))
        except ValueError:
            pass
    return parsed


def date_range(since: dt.date, until: dt.date) -> list[str]:
    """Every date from since to until inclusive, as YYYY-MM-DD."""
    if until < since:
        raise ValueError(f"--until {until} is before --since {since}")
    return [(since + dt.timedelta(days=n)).isoformat() for n in range((until - since).days + 1)]


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
        _normalize_and_load(settings, report, landed, dates)
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
        from flows.arxiv import is_arxiv_snapshot, snapshot_ingested

        expanded = _expand_paths(paths)
        snapshots = [p for p in expanded if p.is_file() and is_arxiv_snapshot(p)]
        others = [str(p) for p in expanded if p not in snapshots]
        landed = land_files(settings, others, list_date) if others else []
        _normalize_and_load(settings, report, landed, [list_date] if list_date else None)
        for snapshot in snapshots:
            snapshot_ingested(settings, report, snapshot, show_progress)
        if snapshots and list_date:
            report.warnings.append("--date does not apply to arXiv snapshots: each paper is listed on its v1 date")
    return report
