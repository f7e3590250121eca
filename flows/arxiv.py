"""Prefect flows that ingest arXiv: API queries, OAI-PMH harvests and the metadata snapshot.

Each arXiv observation of a paper becomes a row in `papers` (merged with what other sources
said, see transforms/papers.py) and a `listings` row with source 'arxiv' listed on its v1 date,
and widens the paper's `paper_sources` row. API and OAI pages are fetched politely (one request
per `arxiv_request_interval` seconds), landed raw, normalized to the lake and loaded page by
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
from ..pipeline.arxiv import (
    arxiv_extracted,
    arxiv_lake_key,
    arxiv_lake_written,
    arxiv_loaded,
    read_arxiv_lake_files,
)
from ..sources import http
from ..sources.arxiv import ATOM_ACCEPT, MAX_PAGES, Throttle, harvest_key, land_large_file, search_query
from ..sources.kinds import KIND_ARXIV_API, KIND_ARXIV_OAI, KIND_ARXIV_SNAPSHOT
from ..sources.raw_archive import RawRecord, land, utc_now
from ..transforms.arxiv import (
    METADATA_PREFIXES,
    arxiv_rows_normalized,
    deleted_normalized,
    snapshot_lines_extracted,
)
from ..warehouse import connection, harvests
from .runs import recorded_run, run_logger


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


@task(name="fetch-arxiv-page", cache_policy=NO_CACHE)
def fetch_arxiv_page(settings: Settings, throttle: Throttle, url: str, params: dict, folder: str, stem: str, meta: dict) -> str:
    """GET one arXiv page politely (retries on 503 honour Retry-After) and land it; returns its path."""
    log = run_logger()
    throttle.wait()
    with http.make_client(settings, accept=ATOM_ACCEPT, send_hf_token=False) as client:
        fetched = http.get(client, url, params, settings, sleep=throttle.sleep, log=log.warning)
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
    """Normalize one landed API/OAI page into the lake; returns its files, counts and paging facts."""
    body = Path(landed)
    record = RawRecord.at(body)
    extracted = arxiv_extracted(record)
    origin = record.meta.get("url") or record.meta["path"]
    rows, quarantine = arxiv_rows_normalized(extracted, fetched_at=record.fetched_at, origin=origin, raw_sha256=record.sha256)
    deleted = deleted_normalized(extracted.deleted, fetched_at=record.fetched_at, origin=origin, raw_sha256=record.sha256)
    if rows.height + quarantine.height + deleted.height != extracted.items_in:
        raise AssertionError(f"{origin}: {extracted.items_in} items in but {rows.height} + {quarantine.height} + {deleted.height} out")
    files = arxiv_lake_written(settings.lake_dir, arxiv_lake_key(record.meta["path"]), rows, quarantine, deleted)
    return {
        "files": [str(f) for f in files],
        "items_in": extracted.items_in,
        "loaded": rows.height,
        "quarantined": quarantine.height,
        "deleted": deleted.height,
        "entries": extracted.records.height + extracted.deleted.height,
        "total_results": extracted.total_results,
        "resumption_token": extracted.resumption_token,
        "complete_list_size": extracted.complete_list_size,
        "error": extracted.error,
    }


@task(name="load-arxiv-page", cache_policy=NO_CACHE)
def load_arxiv_page(settings: Settings, files: list[str], run_id: int) -> dict:
    """Load one page's lake files into the warehouse; returns what changed."""
    rows, quarantine, deleted = read_arxiv_lake_files(files)
    return arxiv_loaded(settings, rows, quarantine, deleted, run_id)


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
    Pages are `arxiv_page_size` entries, one request per `arxiv_request_interval` seconds,
    sorted by submission date. An error feed (HTTP 400 with an "Error" entry) is quarantined
    and reported as a failure, never loaded as data.
    """
    settings = load_settings(home, arxiv_api_url=base_url)
    searched = search_query(query, since, until)
    folder = f"arxiv_api/{hashlib.sha256(searched.encode('utf-8')).hexdigest()[:12]}"

    def body(report: ArxivRunReport) -> None:
        throttle, start, size = Throttle(settings.arxiv_request_interval), 0, settings.arxiv_page_size
        for _ in range(MAX_PAGES):
            if max_results is not None:
                size = min(size, max_results - start)
            params = {"search_query": searched, "start": start, "max_results": size,
                      "sortBy": "submittedDate", "sortOrder": "ascending"}
            try:
                landed = fetch_arxiv_page(settings, throttle, settings.arxiv_api_url, params, folder,
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
        throttle = Throttle(settings.arxiv_request_interval)
        for _ in range(MAX_PAGES):
            if token:
                params = {"verb": "ListRecords", "resumptionToken": token}
            else:
                params = {"verb": "ListRecords", "metadataPrefix": metadata_prefix}
                params.update({k: v for k, v in (("set", set_spec), ("from", since and since.isoformat()),
                                                  ("until", until and until.isoformat())) if v})
            meta = {"kind": KIND_ARXIV_OAI, "harvest_key": key, "page": page_number, "position_offset": done}
            try:
                landed = fetch_arxiv_page(settings, throttle, endpoint, params, f"arxiv_oai/{key}", f"p{page_number:05d}", meta)
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
    source = Path(path)
    now = utc_now().isoformat()
    record = land_large_file(settings.raw_dir, "arxiv_snapshot", source, {
        "kind": KIND_ARXIV_SNAPSHOT, "original_path": str(source.resolve()), "landed_at": now, "fetched_at": now,
    })
    return str(record.path)


def _batches(handle, lines_per_batch: int, digest):
    """Lists of at most `lines_per_batch` lines, hashing every byte read."""
    batch: list[bytes] = []
    for line in handle:
        digest.update(line)
        batch.append(line)
        if len(batch) == lines_per_batch:
            yield batch
            batch = []
    if batch:
        yield batch


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


@task(name="load-snapshot-batches", cache_policy=NO_CACHE)
def load_snapshot_batches(settings: Settings, landed: str, run_id: int, show_progress: bool = True) -> dict:
    """Stream the landed snapshot in batches: parse with Polars, write the lake, load; returns counts.

    Memory stays bounded by one batch (`snapshot_batch_lines` lines) whatever the file size.
    """
    body = Path(landed)
    record = RawRecord.at(body)
    origin = record.meta["path"]  # relative to the raw archive: exports carry no local path
    totals = {"inputs": 1, "items_in": 0, "loaded": 0, "quarantined": 0, "deleted": 0, "batches": 0,
              "listings_new": 0, "listings_changed": 0, "papers_new": 0, "papers_changed": 0, "deleted_new": 0, "warnings": []}
    digest = hashlib.sha256()
    position = 0
    with body.open("rb") as handle, _progress(show_progress) as progress:
        bar = progress.add_task(f"arXiv snapshot {Path(origin).name}", total=record.meta["bytes"], papers=0)
        for number, lines in enumerate(_batches(handle, settings.snapshot_batch_lines, digest)):
            extracted = snapshot_lines_extracted(lines, first_position=position, origin=origin, raw_sha256=record.sha256)
            rows, quarantine = arxiv_rows_normalized(extracted, fetched_at=record.fetched_at, origin=origin, raw_sha256=record.sha256)
            if rows.height + quarantine.height != extracted.items_in:
                raise AssertionError(f"{origin} batch {number}: {extracted.items_in} in, {rows.height} + {quarantine.height} out")
            empty_deleted = deleted_normalized(extracted.deleted, fetched_at=record.fetched_at, origin=origin, raw_sha256=record.sha256)
            arxiv_lake_written(settings.lake_dir, arxiv_lake_key(f"{record.meta['path']}|batch{number}"), rows, quarantine, empty_deleted)
            loaded = arxiv_loaded(settings, rows, quarantine, empty_deleted, run_id)
            totals["batches"] += 1
            totals["items_in"] += extracted.items_in
            totals["loaded"] += rows.height
            totals["quarantined"] += quarantine.height
            for name in ("listings_new", "listings_changed", "papers_new", "papers_changed"):
                totals[name] += loaded[name]
            position += len(lines)
            progress.update(bar, advance=sum(len(line) for line in lines), papers=totals["loaded"])
            del extracted, rows, quarantine, lines
    if digest.hexdigest() != record.sha256:
        totals["warnings"].append(
            f"{body}: its bytes changed since they were landed (sha256 {digest.hexdigest()[:16]}, expected "
            f"{record.sha256[:16]}); was the original edited in place? Ingest it again to land the new bytes."
        )
    run_logger().info(f"snapshot {origin}: {totals['items_in']} lines = {totals['loaded']} papers + {totals['quarantined']} quarantined")
    return totals


def snapshot_ingested(settings: Settings, report: RunReport, path: Path, show_progress: bool = True) -> None:
    """Land and load one snapshot file inside a running ingest-files flow, adding to its report."""
    landed = land_snapshot(settings, str(path))
    totals = load_snapshot_batches(settings, landed, report.run_id, show_progress)
    report.inputs += 1
    report.items_in += totals["items_in"]
    report.items_loaded += totals["loaded"]
    report.items_quarantined += totals["quarantined"]
    for name in ("listings_new", "listings_changed", "papers_new", "papers_changed"):
        setattr(report, name, getattr(report, name) + totals[name])
    report.warnings += totals["warnings"]
