"""Prefect flows that ingest arXiv: API queries, OAI-PMH harvests and the metadata snapshot.

Each arXiv observation of a paper becomes a row in `papers` (merged with what other sources
said, see transforms/papers.py) and a `listings` row with source 'arxiv' listed on its v1 date,
and widens the paper's `paper_sources` row. API and OAI pages are fetched politely (one request
the per-host limiter allows: settings.rate_limits, arxiv.org=3 s), landed raw, normalized to the lake and loaded page by
page, so a harvest stopped at any page keeps what it loaded and resumes from its saved token.
The snapshot is streamed in batches of `snapshot_batch_lines` lines with bounded memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from ..core.reports import ArxivRunReport, RunReport
from ..core.settings import Settings, load_settings
from ..pipeline import registry
from ..sources import http
from ..sources.arxiv import ATOM_ACCEPT, MAX_PAGES, harvest_key, search_query
from ..sources.files import file_landed
from ..sources.kinds import KIND_ARXIV_API, KIND_ARXIV_OAI, KIND_ARXIV_SNAPSHOT
from ..sources.raw_archive import RawRecord, land
from ..transforms.arxiv import METADATA_PREFIXES
from ..warehouse import connection, harvests
from .runs import FETCH_TASK_RETRIES, recorded_run, run_logger


def _add_counts(report: ArxivRunReport, summary: dict, loaded: dict | None) -> None:
    report.inputs += summary.get("inputs", 1)
    report.pages += 1
    report.items_in += summary["items_in"]
    report.items_loaded += summary["loaded"] + summary["deleted"]
    report.items_quarantined += summary["quarantined"]
    report.deleted_in += summary["deleted"]
    if loaded:
        report.listings_new += loaded["listings_new"]
        report.listings_changed += loaded["listings_changed"]
        report.papers_new += loaded["papers_new"]
        report.papers_changed += loaded["papers_changed"]
        report.deleted_marked += loaded["deleted_new"]


@task(name="fetch-arxiv-page", cache_policy=NO_CACHE, **FETCH_TASK_RETRIES)
def fetch_arxiv_page(settings: Settings, url: str, params: dict, folder: str, stem: str, meta: dict) -> str:
    """GET one arXiv page and land it; returns its path.

    Politeness is the per-host limiter of sources/http.py (settings.rate_limits, arxiv.org=3 by
    default): every try, retries included, waits its host's turn; a 503 honours Retry-After.
    """
    log = run_logger()
    with http.make_client(settings, accept=ATOM_ACCEPT, send_hf_token=False) as client:
        fetched = http.get(client, url, params, settings, log=log.warning)
    record = land(settings.raw_dir, folder, stem, ".xml", fetched.body, {
        **meta,
        "url": fetched.url,
        "status": fetched.status,
        "headers": fetched.headers,
        "fetched_at": fetched.fetched_at,
        "attempts": fetched.attempts,
        **({"problem": fetched.oversize_problem} if fetched.spool else {}),
    }, spool=fetched.spool)
    return str(record.path)


@task(name="normalize-arxiv-page", cache_policy=NO_CACHE)
def normalize_arxiv_page(settings: Settings, landed: str) -> dict:
    """Normalize one landed API/OAI page into the lake (through the registry); returns files, counts, paging facts."""
    summary = registry.landings_normalized(settings.lake_dir, [landed])
    facts = summary["facts"][0]
    deleted = sum(1 for f in summary["files"] if "/arxiv_deleted/" in Path(f).as_posix())
    return {**facts, "files": summary["files"], "items_in": summary["items_in"],
            "loaded": summary["loaded"] - facts["deleted"], "quarantined": summary["quarantined"],
            "deleted": facts["deleted"], "deleted_files": deleted}


@task(name="load-arxiv-page", cache_policy=NO_CACHE)
def load_arxiv_page(settings: Settings, files: list[str], run_id: int) -> dict:
    """Load one page's lake files into the warehouse; returns what changed."""
    return registry.warehouse_loaded(settings, files, run_id)


def _page(settings: Settings, report: ArxivRunReport, landed: str) -> dict:
    """Normalize and load one landed page, adding its counts to the report."""
    summary = normalize_arxiv_page(settings, landed)
    loaded = load_arxiv_page(settings, summary["files"], report.run_id) if summary["files"] else None
    _add_counts(report, summary, loaded)
    return summary


def _run(flow_name: str, settings: Settings, arguments: dict, body) -> ArxivRunReport:
    """Open a run in the ledger, run `body(report)`, always close the run and publish its report."""
    with recorded_run(settings, flow_name, arguments, ArxivRunReport) as report:
        body(report)
    return report


@flow(name="ingest-arxiv-query", log_prints=False)
def ingest_arxiv_query(
    query: str,
    since: dt.date | None = None,
    until: dt.date | None = None,
    base_url: str | None = None,
    home: str | None = None,
    max_results: int | None = None,
) -> ArxivRunReport:
    """Page through an arXiv API query (e.g. ``cat:cs.LG``), landing, normalizing and loading each page.

    `since`/`until` restrict to v1 submission dates; `max_results` caps the entries fetched.
    Pages are `arxiv_page_size` entries, spaced by the per-host rate limit,
    sorted by submission date. An error feed (HTTP 400 with an "Error" entry) is quarantined
    and reported as a failure, never loaded as data.
    """
    settings = load_settings(home, arxiv_api_url=base_url)
    searched = search_query(query, since, until)
    folder = f"arxiv_api/{hashlib.sha256(searched.encode('utf-8')).hexdigest()[:12]}"

    def body(report: ArxivRunReport) -> None:
        start, size = 0, settings.arxiv_page_size
        for _ in range(MAX_PAGES):
            if max_results is not None:
                size = min(size, max_results - start)
            params = {"search_query": searched, "start": start, "max_results": size,
                      "sortBy": "submittedDate", "sortOrder": "ascending"}
            try:
                landed = fetch_arxiv_page(settings, settings.arxiv_api_url, params, folder,
                                          f"s{start:07d}-m{size}", {"kind": KIND_ARXIV_API, "query": searched, "position_offset": start})
            except http.FetchError as error:
                report.failures.append(f"arXiv API: {error}")
                return
            page = _page(settings, report, landed)
            if page["error"]:
                report.failures.append(f"arXiv API error: {page['error']}")
                return
            start += page["entries"]
            total = page["total_results"]
            if page["entries"] == 0 or (total is not None and start >= total) or (max_results is not None and start >= max_results):
                if page["entries"] == 0 and total is not None and start < total:
                    report.warnings.append(f"arXiv returned an empty page at {start} of {total}: stopped there")
                return

    return _run("ingest-arxiv-query", settings, {"query": searched, "max_results": max_results, "base_url": settings.arxiv_api_url}, body)


def _with_warehouse(settings: Settings, action):
    con = connection.open_writer(settings.warehouse_path)
    try:
        return action(con)
    finally:
        con.close()


@flow(name="harvest-arxiv-oai", log_prints=False)
def harvest_arxiv_oai(
    metadata_prefix: str = "arXivRaw",
    set_spec: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    base_url: str | None = None,
    home: str | None = None,
    restart: bool = False,
) -> ArxivRunReport:
    """Harvest arXiv over OAI-PMH (ListRecords), following resumption tokens; resumable.

    `metadata_prefix` is ``arXivRaw`` (every version with its date; the default) or ``arXiv``
    (v1's date only); `set_spec` such as ``cs``; `since`/`until` are the OAI from/until datestamps.
    After each page is loaded its resumption token is saved in `oai_harvests`; running the same
    harvest again after an interruption (even SIGKILL) continues from that token, unless
    `restart`. A 503 is retried after its Retry-After; deleted records go to `arxiv_deleted`.
    """
    if metadata_prefix not in METADATA_PREFIXES:
        raise ValueError(f"metadataPrefix must be one of {', '.join(METADATA_PREFIXES)}, not {metadata_prefix!r}")
    settings = load_settings(home, arxiv_oai_url=base_url)
    endpoint = settings.arxiv_oai_url
    key = harvest_key(endpoint, metadata_prefix, set_spec, since, until)
    arguments = {"metadata_prefix": metadata_prefix, "set": set_spec, "from": since, "until": until, "endpoint": endpoint}

    def body(report: ArxivRunReport) -> None:
        log = run_logger()
        saved = _with_warehouse(settings, lambda con: harvests.oai_harvest(con, key))
        if saved and saved["status"] == "running" and saved["resumption_token"] and not restart:
            token, page_number, done = saved["resumption_token"], saved["pages"], saved["records"]
            report.warnings.append(f"resumed harvest {key} at page {page_number + 1} (token {token!r})")
            log.info(f"resuming OAI harvest {key} from token {token!r}")
        else:
            _with_warehouse(settings, lambda con: harvests.oai_harvest_started(con, key, endpoint, metadata_prefix, set_spec, since, until))
            token, page_number, done = None, 0, 0
        for _ in range(MAX_PAGES):
            if token:
                params = {"verb": "ListRecords", "resumptionToken": token}
            else:
                params = {"verb": "ListRecords", "metadataPrefix": metadata_prefix}
                params.update({k: v for k, v in (("set", set_spec), ("from", since and since.isoformat()),
                                                  ("until", until and until.isoformat())) if v})
            meta = {"kind": KIND_ARXIV_OAI, "harvest_key": key, "page": page_number, "position_offset": done}
            try:
                landed = fetch_arxiv_page(settings, endpoint, params, f"arxiv_oai/{key}", f"p{page_number:05d}", meta)
            except http.FetchError as error:
                report.failures.append(f"OAI-PMH: {error} (run the same harvest again to resume)")
                return
            page = _page(settings, report, landed)
            if page["error"]:
                report.failures.append(page["error"])
                if "badResumptionToken" in page["error"]:
                    # An expired token cannot be resumed: the next run starts the harvest over.
                    _with_warehouse(settings, lambda con: harvests.oai_harvest_started(
                        con, key, endpoint, metadata_prefix, set_spec, since, until))
                    report.failures.append("the saved resumption token expired; run again to restart this harvest")
                return
            token, page_number, done = page["resumption_token"], page_number + 1, done + page["entries"]
            status = "running" if token else "completed"
            _with_warehouse(settings, lambda con: harvests.oai_harvest_advanced(
                con, key, token, page["entries"], page["complete_list_size"], status))
            if not token:
                log.info(f"OAI harvest {key} complete: {done} records over {page_number} pages")
                return
        report.failures.append(f"stopped after {MAX_PAGES} pages: the server keeps sending tokens")

    return _run("harvest-arxiv-oai", settings, {**arguments, "restart": restart}, body)


@task(name="land-snapshot", cache_policy=NO_CACHE)
def land_snapshot(settings: Settings, path: str) -> str:
    """Land the snapshot file in the raw archive (hard link or streaming copy); returns its raw path."""
    return str(file_landed(settings.raw_dir, Path(path), KIND_ARXIV_SNAPSHOT, None).path)


def _progress(enabled: bool):
    """A bytes-read progress bar on stderr (rich comes with Prefect)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[papers]} papers"),
        console=Console(stderr=True), disable=not enabled, transient=False,
    )


def snapshot_loaded(settings: Settings, lake_dir: Path, landed: str, run_id: int, show_progress: bool = False) -> dict:
    """Stream a landed snapshot in batches through the registry: write each batch's lake files, load them.

    Memory stays bounded by one batch (`snapshot_batch_lines` lines) whatever the file size.
    """
    record = RawRecord.at(Path(landed))
    origin = record.meta["path"]  # relative to the raw archive: exports carry no local path
    totals = {"inputs": 1, "items_in": 0, "loaded": 0, "quarantined": 0, "deleted": 0, "batches": 0,
              "listings_new": 0, "listings_changed": 0, "papers_new": 0, "papers_changed": 0, "deleted_new": 0,
              "warnings": [], "files": []}
    with _progress(show_progress) as progress:
        bar = progress.add_task(f"arXiv snapshot {Path(origin).name}", total=record.meta["bytes"], papers=0)
        for batch in registry.stream_batches(record, settings.snapshot_batch_lines):
            totals["warnings"] += batch.warnings
            files = [f for part in registry.batch_written(lake_dir, batch).values() for f in part]
            if not files:
                continue
            loaded = registry.warehouse_loaded(settings, files, run_id)
            totals["files"] += files
            totals["batches"] += 1
            totals["items_in"] += batch.items_in
            totals["loaded"] += batch.loaded
            totals["quarantined"] += batch.quarantined
            for name in ("listings_new", "listings_changed", "papers_new", "papers_changed"):
                totals[name] += loaded[name]
            progress.update(bar, advance=batch.bytes_read, papers=totals["loaded"])
    run_logger().info(f"snapshot {origin}: {totals['items_in']} lines = {totals['loaded']} papers + {totals['quarantined']} quarantined")
    return totals


@task(name="load-snapshot-batches", cache_policy=NO_CACHE)
def load_snapshot_batches(settings: Settings, landed: str, run_id: int, show_progress: bool = True) -> dict:
    """Stream the landed snapshot in batches: parse with Polars, write the lake, load; returns counts."""
    return snapshot_loaded(settings, settings.lake_dir, landed, run_id, show_progress)


def snapshot_ingested(settings: Settings, report: RunReport, landed: str, show_progress: bool = True) -> None:
    """Load one landed snapshot inside a running ingest-files flow, adding to its report."""
    totals = load_snapshot_batches(settings, landed, report.run_id, show_progress)
    report.inputs += 1
    report.items_in += totals["items_in"]
    report.items_loaded += totals["loaded"]
    report.items_quarantined += totals["quarantined"]
    for name in ("listings_new", "listings_changed", "papers_new", "papers_changed"):
        setattr(report, name, getattr(report, name) + totals[name])
    report.warnings += totals["warnings"]
