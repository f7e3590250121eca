"""Resumable backfills: fetch a range of list dates concurrently, load each as it lands, keep a ledger.

    backfill_hf(since="2024-01-01", until="2024-12-31")

Each date is one task run (declared retries, cached once the day is closed). Dates are loaded
into the warehouse one by one as their fetches finish, and the outcome is written to the
backfill ledger (warehouse table `backfill_dates`) only after the load commits. So a run that is
killed or interrupted resumes where it stopped: dates loaded after they closed are skipped, a
date that failed keeps its reason and can be retried alone (`retry_failed=True`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prefect import flow, task
from prefect.futures import as_completed
from prefect.runtime import flow_run

from ..core import interrupts
from ..core.dates import date_range
from ..core.reports import ArxivRunReport, RunReport
from ..core.settings import DEFAULT_SETTLED_DAYS, Settings, is_settled, load_settings
from ..sources.hf import fetch_list, list_request
from ..sources.raw_archive import utc_now
from ..warehouse import backfill_ledger, connection
from .arxiv import harvest_arxiv_oai
from .ingest import load_warehouse, normalize_to_lake
from .runs import begin_writer_run, end_writer_run, run_logger

SOURCE_HF = "hf_daily"
# A daily list still gains papers for a day or so after its date; two days on it no longer changes.



class Listener:
    """Hears a backfill's progress (the CLI's progress bar); the default hears nothing."""

    def planned(self, total: int) -> None:
        """The number of dates the run covers, skipped ones included."""

    def finished(self, list_date: str, outcome: str, detail: str) -> None:
        """One date finished: outcome is done | skipped | failed."""


_listeners: list[Listener] = []


def is_closed(list_date: str, today: dt.date | None = None, settled_days: int = DEFAULT_SETTLED_DAYS) -> bool:
    """True when the date's list is settled (settings.settled_days, the one rule): its list is final."""
    return is_settled(dt.date.fromisoformat(list_date), today or utc_now().date(), settled_days)


def closed_day_cache_key(context, parameters: dict) -> str | None:
    """Cache key of a closed day's fetch (data root + API + page size + date); open days: no caching."""
    settings: Settings = parameters["settings"]
    list_date: str = parameters["list_date"]
    if not is_closed(list_date, settled_days=settings.settled_days):
        return None
    # The data root is part of the key: the cached value is paths inside that root's raw archive.
    identity = f"{settings.raw_dir.resolve()}|{settings.hf_base_url.rstrip('/')}|{settings.page_limit}|{list_date}"
    return "papertrends-hf-day-" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


@task(
    name="fetch-list-date",
    retries=2,
    retry_delay_seconds=[10, 60],
    cache_key_fn=closed_day_cache_key,
    persist_result=True,
)
def fetch_list_date(settings: Settings, list_date: str) -> list[str]:
    """Fetch every page of one date (always revalidated) and land each response; retried as a whole date."""
    log = run_logger()
    outcome = fetch_list(settings, list_request("date", list_date), refresh=True, log=log.warning)
    for problem in outcome.problems:
        log.warning(problem)
    log.info(f"{list_date}: {len(outcome.landed)} page(s), {outcome.requests} request(s), "
             f"{outcome.from_archive} from the archive, {outcome.not_modified} not modified")
    return outcome.landed


@dataclass
class BackfillReport:
    """What one backfill did per date, and the run's counts."""

    source: str
    first: str | None
    last: str | None
    run: RunReport
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    flow_run_id: str | None = None  # where its logs and artifacts are, in the Prefect API

    def outcomes(self) -> list[dict]:
        """One row per date: list_date, outcome, reason (for failed dates), in date order."""
        rows = [{"list_date": d, "outcome": "done", "reason": ""} for d in self.done]
        rows += [{"list_date": d, "outcome": "skipped", "reason": "loaded after it closed"} for d in self.skipped]
        rows += [{"list_date": d, "outcome": "failed", "reason": r} for d, r in self.failed.items()]
        return sorted(rows, key=lambda row: row["list_date"])

    def summary(self) -> str:
        """The closing lines: dates done, skipped and failed with reasons, then the run's counts."""
        total = len(self.done) + len(self.skipped) + len(self.failed)
        span = f"{self.first}..{self.last}" if self.first else "no dates"
        lines = [
            f"backfill {self.source} {span}: {total} date(s): {len(self.done)} done, "
            f"{len(self.skipped)} skipped (loaded after they closed), {len(self.failed)} failed"
        ]
        lines += [f"failed {day}: {reason}" for day, reason in sorted(self.failed.items())]
        if self.failed:
            lines.append("retry only the failed dates with: papertrends backfill --retry-failed")
        lines += self.run.summary().splitlines()[:2]  # its counts; the failures are listed above
        return "\n".join(lines)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Tell `listener` about every backfill run inside the block (progress bars)."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def _tell(list_date: str, outcome: str, detail: str) -> None:
    for listener in list(_listeners):
        listener.finished(list_date, outcome, detail)


def dates_planned(
    requested: list[str], done: set[str], failed: dict[str, str], *, refresh: bool, retry_failed: bool
) -> tuple[list[str], list[str]]:
    """(dates to fetch, dates skipped): failed ones only if retry_failed; done ones skipped unless refresh."""
    if retry_failed:
        requested = [d for d in requested if d in failed]
    if refresh:
        return list(requested), []
    return [d for d in requested if d not in done], [d for d in requested if d in done]


def requested_dates(since: str | None, until: str | None, failed: dict[str, str]) -> list[str]:
    """The dates a backfill covers: since..until (until defaults to today UTC), or every failed date."""
    if since is None:
        if until is not None:
            raise ValueError("--until needs --since")
        return sorted(failed)
    last = dt.date.fromisoformat(until) if until else utc_now().date()
    return date_range(dt.date.fromisoformat(since), last)


def _record(settings: Settings, list_date: str, status: str, run_id: int, **values) -> None:
    con = connection.open_writer(settings.warehouse_path)
    try:
        backfill_ledger.record(con, SOURCE_HF, list_date, status, run_id=run_id, **values)
    finally:
        con.close()


def _load_date(settings: Settings, report: RunReport, landed: list[str]) -> dict:
    """Normalize and load one date's landings, adding its counts to the run report."""
    normalized = normalize_to_lake(settings, landed)
    report.inputs += len(landed)
    report.items_in += normalized["items_in"]
    report.items_loaded += normalized["loaded"]
    report.items_quarantined += normalized["quarantined"]
    report.warnings += normalized["warnings"]
    if normalized["files"]:
        loaded = load_warehouse(settings, normalized["files"], report.run_id)
        report.listings_new += loaded["listings_new"]
        report.listings_changed += loaded["listings_changed"]
        report.papers_new += loaded["papers_new"]
        report.papers_changed += loaded["papers_changed"]
    return normalized


def _publish_backfill(result: BackfillReport) -> None:
    """Attach the closing summary (markdown) and every date's outcome (table) to the flow run."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    rows = "".join(f"| {day} | {reason.replace('|', '/')} |\n" for day, reason in sorted(result.failed.items()))
    body = "# papertrends backfill\n\n```\n" + result.summary() + "\n```\n"
    if rows:
        body += "\n| failed date | reason |\n|---|---|\n" + rows
    try:
        create_markdown_artifact(markdown=body, key="papertrends-backfill-hf", description="backfill summary")
        create_table_artifact(table=result.outcomes(), key="papertrends-backfill-dates", description="outcome per date")
    except Exception as error:  # an artifact is a courtesy; its failure must not fail the run
        run_logger().warning(f"could not publish the backfill artifact: {error}")


@flow(name="backfill-hf", log_prints=False)
def backfill_hf(
    since: str | None = None,
    until: str | None = None,
    home: str | None = None,
    base_url: str | None = None,
    refresh: bool = False,
    retry_failed: bool = False,
    writer_wait: float | None = None,
) -> BackfillReport:
    """Backfill Hugging Face daily lists from `since` to `until` (default today, UTC), resumably.

    Dates already loaded after they closed (ledger `backfill_dates`) are skipped unless
    `refresh`; `retry_failed` fetches only dates whose last attempt failed (all of them when
    `since` is not given). Fetches run concurrently on the flow's task runner (see
    `run_backfill`), each date retried `backfill_retries` times; each date is loaded as soon as
    it lands, then recorded done or failed with the reason. `writer_wait` overrides the setting
    of that name: flow runs submitted to a work pool (flows/pool.py) queue on the writer lock.
    """
    if since is None and until is not None:
        raise ValueError("--until needs --since")
    started = time.monotonic()
    log = run_logger()
    settings = load_settings(home, hf_base_url=base_url, writer_wait=writer_wait)
    arguments = {"since": since, "until": until, "base_url": settings.hf_base_url, "refresh": refresh, "retry_failed": retry_failed}
    # The ledger is read under the writer lock: a run that queued behind another (two workers'
    # flow runs on one data root) plans from what that one recorded, and skips the dates it did.
    run = RunReport(begin_writer_run(settings, "backfill-hf", arguments), "backfill-hf")
    try:
        con = connection.open_writer(settings.warehouse_path, settings.writer_wait)
        try:
            done_before = backfill_ledger.done_dates(con, SOURCE_HF)
            failed_before = backfill_ledger.failed_dates(con, SOURCE_HF)
        finally:
            con.close()
        requested = requested_dates(since, until, failed_before)
    except BaseException as error:
        run.failures.append(f"run stopped: {type(error).__name__}: {error}")
        end_writer_run(settings, run)
        raise
    to_fetch, skipped = dates_planned(requested, done_before, failed_before, refresh=refresh, retry_failed=retry_failed)
    result = BackfillReport(SOURCE_HF, requested[0] if requested else None, requested[-1] if requested else None, run)
    result.flow_run_id = str(flow_run.id) if flow_run.id else None
    log.info(f"backfill: {len(requested)} dates requested, {len(to_fetch)} to fetch, {len(skipped)} already done")
    for listener in list(_listeners):
        listener.planned(len(requested))
    for day in skipped:
        result.skipped.append(day)
        _tell(day, "skipped", "loaded after it closed")
    fetch = fetch_list_date.with_options(
        retries=settings.backfill_retries,
        retry_delay_seconds=settings.backfill_retry_delay,
        refresh_cache=refresh or None,
    )
    try:
        futures = {fetch.submit(settings, day): day for day in to_fetch}
        for future in as_completed(list(futures)):
            day = futures[future]
            closed = is_closed(day, settled_days=settings.settled_days)
            try:
                landed = future.result()
            except Exception as error:  # the date failed after every retry: record why, keep going
                reason = str(error) or type(error).__name__
                result.failed[day] = reason
                run.failures.append(f"{day}: {reason}")
                _record(settings, day, backfill_ledger.FAILED, run.run_id, closed=closed, reason=reason[:2000])
                log.warning(f"{day}: failed: {reason}")
                _tell(day, "failed", reason)
                continue
            normalized = _load_date(settings, run, landed)
            _record(
                settings, day, backfill_ledger.DONE, run.run_id,
                closed=closed, pages=len(landed), items=normalized["items_in"],
            )
            detail = f"{len(landed)} page(s), {normalized['items_in']} items, {normalized['quarantined']} quarantined"
            log.info(f"{day}: done: {detail}")
            result.done.append(day)
            _tell(day, "done", detail)
    except BaseException as error:  # interrupted or broken: the ledger holds every date finished so far
        run.interrupted = interrupts.is_interrupt(error)
        run.failures.append(f"run stopped: {type(error).__name__}" + (f": {error}" if str(error) else ""))
        raise
    finally:
        result.done.sort()
        run.seconds = time.monotonic() - started
        end_writer_run(settings, run)
        _publish_backfill(result)
    return result


@flow(name="backfill-arxiv", log_prints=False)
def backfill_arxiv(
    since: str,
    until: str | None = None,
    set_spec: str | None = None,
    home: str | None = None,
    base_url: str | None = None,
    refresh: bool = False,
) -> ArxivRunReport:
    """Backfill arXiv from `since` to `until` (default today, UTC): one OAI-PMH harvest of those datestamps.

    Resumable like every harvest: each page's resumption token is saved once the page is loaded,
    so running the same backfill again after an interruption continues where it stopped (unless
    `refresh`, which starts over). `set_spec` such as ``cs`` limits it to one arXiv set.
    """
    first = dt.date.fromisoformat(since)
    last = dt.date.fromisoformat(until) if until else utc_now().date()
    if last < first:
        raise ValueError(f"until {last} is before since {first}")
    return harvest_arxiv_oai("arXivRaw", set_spec, first, last, base_url=base_url, home=home, restart=refresh)


def run_backfill(workers: int | None = None, **parameters) -> BackfillReport:
    """Run `backfill_hf` with a thread pool of `workers` concurrent fetches (default: settings)."""
    from prefect.task_runners import ThreadPoolTaskRunner

    settings = load_settings(parameters.get("home"))
    count = workers or settings.backfill_workers
    if count < 1:
        raise ValueError(f"workers must be at least 1 (got {count})")
    return backfill_hf.with_options(task_runner=ThreadPoolTaskRunner(max_workers=count))(**parameters)


class _ProgressBar(Listener):
    """A rich progress bar on stderr, with one line per date that failed (or every date off a terminal)."""

    def __init__(self, progress):
        self.progress = progress
        self.bar = progress.add_task("backfill: starting", total=None)  # a temporary Prefect server may take seconds
        self.every_line = not progress.console.is_terminal

    def planned(self, total: int) -> None:
        self.progress.update(self.bar, total=total)

    def finished(self, list_date: str, outcome: str, detail: str) -> None:
        self.progress.update(self.bar, advance=1, description=f"backfill {list_date}")
        if outcome == "failed" or self.every_line:
            self.progress.console.print(f"{list_date} {outcome}: {detail}", markup=False, highlight=False, soft_wrap=True)


def run_with_progress(workers: int | None = None, **parameters) -> BackfillReport:
    """`run_backfill` with a progress bar on stderr (the CLI's `papertrends backfill`)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress, listening(_ProgressBar(progress)):
        return run_backfill(workers, **parameters)
