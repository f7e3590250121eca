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
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows import http
from flows.ingest import RunReport, _logger, recorded_run
from flows.lake import write_parquet_once
from flows.raw_archive import SIDECAR_SUFFIX, RawRecord, land, utc_now, write_atomically
from flows.settings import Settings, load_settings
from transforms.arxiv import (
    METADATA_PREFIXES,
    ArxivExtracted,
    arxiv_listings,
    arxiv_papers,
    arxiv_row_schema,
    arxiv_rows_normalized,
    atom_feed_extracted,
    deleted_normalized,
    looks_like_snapshot_line,
    oai_page_extracted,
    snapshot_lines_extracted,
    whole_input_quarantined,
)
from transforms.hf_listings import QUARANTINE_SCHEMA
from warehouse import store

KIND_ARXIV_API = "arxiv_api"            # a response of /api/query
KIND_ARXIV_OAI = "arxiv_oai"            # a ListRecords page
KIND_ARXIV_SNAPSHOT = "arxiv_snapshot"  # the metadata snapshot (JSON Lines), landed whole
# Bump when arXiv normalization output changes, so lake files of older code are not reused.
ARXIV_NORMALIZER_VERSION = 1
MAX_PAGES = 100_000  # the full OAI list is ~3000 pages of 1000; more is a server loop
ATOM_ACCEPT = "application/atom+xml, application/xml;q=0.9"
HASH_CHUNK = 8 << 20
# DuckDB's buffer pool otherwise grows to 80% of RAM while a load scans a multi-million-row table.
DUCKDB_MEMORY_MB = 384


class Throttle:
    """At most one request per `interval` seconds (arXiv asks for one every 3 s, one connection)."""

    def __init__(self, interval: float):
        self.interval = interval
        self._last: float | None = None

    def wait(self) -> None:
        """Sleep until `interval` has passed since the previous request."""
        if self._last is not None:
            remaining = self._last + self.interval - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
        self._last = time.monotonic()

    def sleep(self, seconds: float) -> None:
        """A retry wait that is never shorter than the interval."""
        time.sleep(max(seconds, self.interval))
        self._last = time.monotonic()


@dataclass
class ArxivRunReport(RunReport):
    """A RunReport that also counts pages and OAI deleted records."""

    pages: int = 0
    deleted_marked: int = 0
    deleted_in: int = 0

    def summary(self) -> str:
        """The RunReport summary plus the arXiv-only counts."""
        lines = super().summary().splitlines()
        extra = f"arXiv: {self.pages} page(s) or batch(es)"
        if self.deleted_in:
            extra += f"; {self.deleted_in} deleted records ({self.deleted_marked} newly marked in arxiv_deleted)"
        return "\n".join(lines[:2] + [extra] + lines[2:])


# --- normalizing one landing -------------------------------------------------------------------


def _snippet(record: RawRecord) -> str:
    return " ".join(record.read()[:200].decode("utf-8", errors="replace").split())


def arxiv_extracted(record: RawRecord) -> ArxivExtracted:
    """Parse one API or OAI landing by its sidecar; an HTTP error answer is an error, not data."""
    meta, origin = record.meta, record.meta.get("url") or record.meta["path"]
    body, offset, status = record.read(), meta.get("position_offset", 0), meta.get("status")
    if meta["kind"] == KIND_ARXIV_API:
        extracted = atom_feed_extracted(body, origin=origin, raw_sha256=record.sha256, position_offset=offset)
    else:
        extracted = oai_page_extracted(body, origin=origin, raw_sha256=record.sha256, position_offset=offset)
    if status != 200 and extracted.error is None:
        message = f"HTTP {status}: {_snippet(record)}"
        extracted = whole_input_quarantined(message, body, origin, record.sha256, error=message)
    return extracted


def _lake_key(basis: str) -> str:
    return hashlib.sha256(f"{basis}|arxiv-v{ARXIV_NORMALIZER_VERSION}".encode("utf-8")).hexdigest()[:24]


def arxiv_lake_written(lake_dir: Path, key: str, rows: pl.DataFrame, quarantine: pl.DataFrame, deleted: pl.DataFrame) -> list[Path]:
    """Write one input's arXiv rows (by v1 month), quarantine and deleted records once; returns the files."""
    written = []
    months = rows.with_columns(v1_month=pl.col("list_date").dt.strftime("%Y-%m"))
    for (month,), part in months.group_by("v1_month", maintain_order=True):
        written.append(write_parquet_once(part.drop("v1_month"), lake_dir / "arxiv" / f"v1_month={month}" / f"{key}.parquet"))
    if quarantine.height:
        written.append(write_parquet_once(quarantine, lake_dir / "quarantine" / f"{key}.parquet"))
    if deleted.height:
        written.append(write_parquet_once(deleted, lake_dir / "arxiv_deleted" / f"{key}.parquet"))
    return written


def read_arxiv_lake_files(files: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """arXiv rows, quarantine rows and deleted records held in the given lake files."""
    def part(folder: str, schema: dict) -> pl.DataFrame:
        chosen = [f for f in files if f"/{folder}/" in Path(f).as_posix()]
        return pl.concat([pl.read_parquet(f) for f in chosen]).cast(schema) if chosen else pl.DataFrame(schema=schema)

    deleted_schema = {"paper_id": pl.String(), "datestamp": pl.Date(), "first_seen_at": pl.Datetime("us", "UTC"),
                      "origin": pl.String(), "raw_sha256": pl.String()}
    return part("arxiv", arxiv_row_schema()), part("quarantine", QUARANTINE_SCHEMA), part("arxiv_deleted", deleted_schema)


def _loaded_into_warehouse(settings: Settings, rows: pl.DataFrame, quarantine: pl.DataFrame, deleted: pl.DataFrame, run_id: int) -> dict:
    """Load arXiv rows (as listings + papers), quarantine and deleted records; returns the counts."""
    con = store.open_writer(settings.warehouse_path)
    try:
        store.limit_memory(con, DUCKDB_MEMORY_MB)
        counts = asdict(store.load(con, arxiv_listings(rows), quarantine, run_id, papers=arxiv_papers(rows)))
        counts["deleted_new"] = store.mark_arxiv_deleted(con, deleted)
    finally:
        con.close()
    return counts


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


# --- tasks -------------------------------------------------------------------------------------


@task(name="fetch-arxiv-page", cache_policy=NO_CACHE)
def fetch_arxiv_page(settings: Settings, throttle: Throttle, url: str, params: dict, folder: str, stem: str, meta: dict) -> str:
    """GET one arXiv page politely (retries on 503 honour Retry-After) and land it; returns its path."""
    log = _logger()
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
    })
    return str(record.path)


@task(name="normalize-arxiv-page", cache_policy=NO_CACHE)
def normalize_arxiv_page(settings: Settings, landed: str) -> dict:
    """Normalize one landed API/OAI page into the lake; returns its files, counts and paging facts."""
    body = Path(landed)
    record = RawRecord(body, json.loads(body.with_name(body.name + SIDECAR_SUFFIX).read_text("utf-8")))
    extracted = arxiv_extracted(record)
    origin = record.meta.get("url") or record.meta["path"]
    rows, quarantine = arxiv_rows_normalized(extracted, fetched_at=record.fetched_at, origin=origin, raw_sha256=record.sha256)
    deleted = deleted_normalized(extracted.deleted, fetched_at=record.fetched_at, origin=origin, raw_sha256=record.sha256)
    if rows.height + quarantine.height + deleted.height != extracted.items_in:
        raise AssertionError(f"{origin}: {extracted.items_in} items in but {rows.height} + {quarantine.height} + {deleted.height} out")
    files = arxiv_lake_written(settings.lake_dir, _lake_key(record.meta["path"]), rows, quarantine, deleted)
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
    return _loaded_into_warehouse(settings, rows, quarantine, deleted, run_id)


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


# --- API queries -------------------------------------------------------------------------------


def search_query(query: str, since: dt.date | None, until: dt.date | None) -> str:
    """The API search_query: `query`, restricted to a submission window when one is given."""
    if since is None and until is None:
        return query
    low = (since or dt.date(1991, 1, 1)).strftime("%Y%m%d") + "0000"
    high = (until or dt.date(9999, 12, 31)).strftime("%Y%m%d") + "2359"
    return f"({query}) AND submittedDate:[{low} TO {high}]"


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


# --- OAI-PMH harvests --------------------------------------------------------------------------


def harvest_key(endpoint: str, metadata_prefix: str, set_spec: str | None, since: dt.date | None, until: dt.date | None) -> str:
    """Names one harvest: the same endpoint and arguments resume the same saved state."""
    basis = "|".join(str(x or "") for x in (endpoint, metadata_prefix, set_spec, since, until))
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:16]


def _with_warehouse(settings: Settings, action):
    con = store.open_writer(settings.warehouse_path)
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
        log = _logger()
        saved = _with_warehouse(settings, lambda con: store.oai_harvest(con, key))
        if saved and saved["status"] == "running" and saved["resumption_token"] and not restart:
            token, page_number, done = saved["resumption_token"], saved["pages"], saved["records"]
            report.warnings.append(f"resumed harvest {key} at page {page_number + 1} (token {token!r})")
            log.info(f"resuming OAI harvest {key} from token {token!r}")
        else:
            _with_warehouse(settings, lambda con: store.oai_harvest_started(con, key, endpoint, metadata_prefix, set_spec, since, until))
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
                    _with_warehouse(settings, lambda con: store.oai_harvest_started(
                        con, key, endpoint, metadata_prefix, set_spec, since, until))
                    report.failures.append("the saved resumption token expired; run again to restart this harvest")
                return
            token, page_number, done = page["resumption_token"], page_number + 1, done + page["entries"]
            status = "running" if token else "completed"
            _with_warehouse(settings, lambda con: store.oai_harvest_advanced(
                con, key, token, page["entries"], page["complete_list_size"], status))
            if not token:
                log.info(f"OAI harvest {key} complete: {done} records over {page_number} pages")
                return
        report.failures.append(f"stopped after {MAX_PAGES} pages: the server keeps sending tokens")

    return _run("harvest-arxiv-oai", settings, {**arguments, "restart": restart}, body)


# --- the metadata snapshot ---------------------------------------------------------------------


def is_arxiv_snapshot(path: Path) -> bool:
    """True for a JSON Lines file whose first non-blank line is an arXiv metadata record."""
    try:
        with path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    return looks_like_snapshot_line(line)
    except OSError:
        return False
    return False


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def land_large_file(raw_dir: Path, folder: str, source: Path, meta: dict) -> RawRecord:
    """Keep a (possibly multi-GB) file in the raw archive without reading it into memory.

    Content-addressed like every landing. A hard link when the raw archive is on the same
    filesystem (no copy of several GB; the bytes are re-hashed on every read, so an original
    edited in place is detected), else a streaming copy.
    """
    digest = _file_sha256(source)
    path = raw_dir / folder / f"{source.stem[:80] or 'file'}-{digest[:16]}{source.suffix[:10]}"
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.exists():
        return RawRecord(path, json.loads(sidecar.read_text("utf-8")))
    path.parent.mkdir(parents=True, exist_ok=True)
    landed_by = "existing"
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            os.link(source, temporary)
            landed_by = "hardlink"
        except OSError:  # another filesystem, or linking someone else's file is not allowed
            shutil.copyfile(source, temporary)
            landed_by = "copy"
        os.replace(temporary, path)
    full_meta = {**meta, "sha256": digest, "bytes": path.stat().st_size, "path": path.relative_to(raw_dir).as_posix(),
                 "landed_by": landed_by}
    full_meta.setdefault("fetched_at", utc_now().isoformat())
    write_atomically(sidecar, json.dumps(full_meta, indent=2, sort_keys=True).encode("utf-8"))
    return RawRecord(path, full_meta)


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
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

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
    record = RawRecord(body, json.loads(body.with_name(body.name + SIDECAR_SUFFIX).read_text("utf-8")))
    origin = record.meta.get("original_path") or record.meta["path"]
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
            arxiv_lake_written(settings.lake_dir, _lake_key(f"{record.meta['path']}|batch{number}"), rows, quarantine, empty_deleted)
            loaded = _loaded_into_warehouse(settings, rows, quarantine, empty_deleted, run_id)
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
    _logger().info(f"snapshot {origin}: {totals['items_in']} lines = {totals['loaded']} papers + {totals['quarantined']} quarantined")
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
