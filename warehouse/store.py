"""The DuckDB warehouse: schema migrations, transactional loads, the run ledger, read queries.

Every SQL statement the project runs lives here or in warehouse/sql/*.sql.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

from transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA
from transforms.papers import (
    PAPER_COLUMNS,
    listings_deduplicated,
    listings_merged,
    papers_from_listings,
    papers_merged,
    papers_typed,
    rows_new_or_changed,
)
from transforms.terms import Term
from transforms.hf_details import upvote_history_from_listings
from warehouse import term_index

PERIODS = ("day", "week", "month", "year")
LISTING_KEY = ["source", "list_date", "paper_id"]
LISTING_COLUMNS = [
    "source", "list_date", "paper_id", "position", "upvotes", "num_comments", "fetched_at", "origin", "raw_sha256",
    "list_period", "rank",  # migration 003
]
# Statement types a read-only command may run.
READ_STATEMENTS = {"SELECT", "EXPLAIN"}


class WarehouseError(RuntimeError):
    """A warehouse problem stated in one line for the user."""


def _sql(name: str) -> str:
    return resources.files("warehouse").joinpath("sql", name).read_text("utf-8")


def migrations() -> list[tuple[int, str, str]]:
    """Numbered schema migrations shipped with this version: (version, name, sql)."""
    found = []
    for entry in resources.files("warehouse").joinpath("sql").iterdir():
        match = re.fullmatch(r"(\d{3})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    return sorted(found)


def _configure(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("set TimeZone = 'UTC'")
    # DuckDB's progress bar would print into piped command output on long queries.
    con.execute("set enable_progress_bar = false")
    return con


def _locked_message(path: Path, error: Exception) -> str:
    from warehouse.locks import describe_holder, held_by

    holder = held_by(path.parent)
    who = f"{describe_holder(holder)} is writing" if holder is not None else "an ingest may be running"
    return f"warehouse {path} is in use by another process ({who}); try again shortly [{error}]"


# How long an open waits for another process's connection to close before giving up. Connections
# are short (a writer holds one only to start a run, load, or finish a run), so waiting beats failing.
DEFAULT_OPEN_WAIT_SECONDS = 30.0
_OPEN_RETRY_INTERVAL = 0.05


def _is_lock_conflict(error: duckdb.IOException) -> bool:
    return "lock" in str(error).lower()


def _connect_waiting(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Connect, retrying for up to `wait_seconds` while another process holds the file."""
    deadline = time.monotonic() + max(wait_seconds, 0.0)
    delay = _OPEN_RETRY_INTERVAL
    while True:
        try:
            return _configure(duckdb.connect(str(path), read_only=read_only))
        except duckdb.IOException as error:
            if not _is_lock_conflict(error) or time.monotonic() + delay > deadline:
                waited = f" (waited {wait_seconds:g}s)" if wait_seconds > 0 and _is_lock_conflict(error) else ""
                raise WarehouseError(_locked_message(path, error) + waited) from error
        time.sleep(delay)
        delay = min(delay * 2, 0.2)  # short: readers come and go fast, a writer must not starve


def open_writer(path: Path, wait_seconds: float = DEFAULT_OPEN_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse for writing, with every migration applied.

    While another process has the file open, retries for up to `wait_seconds`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect_waiting(path, read_only=False, wait_seconds=wait_seconds)
    try:
        apply_migrations(con)
    except Exception:
        con.close()
        raise
    return con


def open_reader(path: Path, wait_seconds: float = DEFAULT_OPEN_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only; never creates or changes a file.

    While a writer holds the file (an ingest loading), retries for up to `wait_seconds`; a writer
    commits whole loads only, so whatever the reader then sees is a finished state.
    """
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `papertrends ingest ...` first (or set PAPERTRENDS_HOME)")
    con = _connect_waiting(path, read_only=True, wait_seconds=wait_seconds)
    version = schema_version(con)
    known = max(v for v, _, _ in migrations())
    missing = {v for v, _, _ in migrations()} - applied_versions(con)
    if version != known or missing:
        con.close()
        newer = "a newer papertrends" if version > known else "an older papertrends; run an ingest to upgrade it"
        raise WarehouseError(f"warehouse {path} has schema {version}, this papertrends knows {known}: made by {newer}")
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration applied to this warehouse (0 for an empty one)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_name = 'schema_migrations'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("select coalesce(max(version), 0) from schema_migrations").fetchone()[0]


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    """Versions of the migrations recorded in this warehouse."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_name = 'schema_migrations'"
    ).fetchone()[0]
    return {v for (v,) in con.execute("select version from schema_migrations").fetchall()} if exists else set()


def apply_migrations(con: duckdb.DuckDBPyConnection, up_to: int | None = None) -> list[int]:
    """Apply missing migrations in order, each in its own transaction; refuse a newer schema.

    `up_to` stops after that version (tests build old-schema warehouses with it).
    """
    con.execute(
        "create table if not exists schema_migrations (version integer primary key, name varchar, applied_at timestamptz)"
    )
    current = schema_version(con)
    known = migrations()
    if known and current > known[-1][0]:
        raise WarehouseError(
            f"warehouse has schema {current} but this papertrends knows only up to {known[-1][0]}: "
            "it was made by a newer version; upgrade papertrends"
        )
    # Set-based, not "above the current version": a migration numbered below one already applied
    # (branches merged in another order) still gets applied.
    done = applied_versions(con)
    applied = []
    for version, name, sql in known:
        if version in done or (up_to is not None and version > up_to):
            continue
        con.execute("begin transaction")
        try:
            con.execute(sql)
            con.execute("insert into schema_migrations values (?, ?, now())", [version, name])
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        applied.append(version)
    return applied


@dataclass
class LoadCounts:
    """What one load changed."""

    listings_in: int = 0
    listings_new: int = 0
    listings_changed: int = 0
    papers_new: int = 0
    papers_changed: int = 0
    quarantined_in: int = 0
    quarantine_new: int = 0
    upvote_sightings_new: int = 0  # migration 003

    def add(self, other: "LoadCounts") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def _existing(con, table: str, key: list[str], keys: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """Rows of `table` whose key is among `keys`, typed like `schema`."""
    con.register("wanted_keys", keys.unique())
    on = " and ".join(f"t.{k} = w.{k}" for k in key)
    # Look at the key columns first: when none match (a first load) the wide rows are never scanned.
    present = con.execute(f"select count(*) from {table} as t semi join wanted_keys as w on {on}").fetchone()[0]
    frame = con.execute(f"select t.* from {table} as t semi join wanted_keys as w on {on}").pl() if present else pl.DataFrame()
    con.unregister("wanted_keys")
    return frame.select(list(schema)).cast(schema) if frame.height else pl.DataFrame(schema=schema)


def load(
    con: duckdb.DuckDBPyConnection,
    listings: pl.DataFrame,
    quarantine: pl.DataFrame,
    run_id: int,
    checks=None,
    papers: pl.DataFrame | None = None,
) -> LoadCounts:
    """Merge listing rows, their papers and quarantined items into the warehouse in one transaction.

    `papers` (PAPER_COLUMNS) are the paper observations when the source provides more than
    listing rows carry (arXiv); by default they are derived from the listings. Which source saw
    which paper, and when, is recorded in paper_sources. Loading the same rows again changes
    nothing: only new or changed rows are written. With `checks` (a warehouse.checks.CheckContext)
    the declared data checks run inside the transaction; their results are stored under `run_id`,
    and if any fails the load is rolled back and ChecksFailed is raised.
    """
    # Sources that predate a listing column (arXiv rows have no list_period or rank) get typed nulls.
    absent = [pl.lit(None, dtype).alias(name) for name, dtype in LISTING_SCHEMA.items() if name not in listings.columns]
    listings = listings.with_columns(absent).cast(LISTING_SCHEMA)
    counts = LoadCounts(listings_in=listings.height, quarantined_in=quarantine.height)
    listing_schema = {c: LISTING_SCHEMA[c] for c in LISTING_COLUMNS}
    paper_schema = {c: dtype for c, dtype in papers_from_listings(listings.clear()).schema.items()}
    con.execute("begin transaction")
    try:
        listings = _titles_resolved(con, listings)  # issue 3: a resolved title: id loads as its arXiv id
        incoming_listings = listings_deduplicated(listings.select(LISTING_COLUMNS))
        existing = _existing(con, "listings", LISTING_KEY, incoming_listings.select(LISTING_KEY), listing_schema)
        merged = listings_merged(existing, incoming_listings)
        to_write, counts.listings_new, counts.listings_changed = rows_new_or_changed(merged, existing, LISTING_KEY)
        touched_paper_ids = [to_write["paper_id"]]  # for the term index: first list dates may move
        if to_write.height:
            con.register("listings_to_write", to_write)
            con.execute("insert or replace into listings by name select * from listings_to_write")
            con.unregister("listings_to_write")

        incoming_papers = papers_from_listings(listings) if papers is None else papers_typed(papers)
        existing = _existing(con, "papers", ["paper_id"], incoming_papers.select("paper_id"), paper_schema)
        merged = papers_merged(existing, incoming_papers)
        to_write, counts.papers_new, counts.papers_changed = rows_new_or_changed(merged, existing, ["paper_id"])
        touched_paper_ids.append(to_write["paper_id"])
        if to_write.height:
            con.register("papers_to_write", to_write)
            con.execute("insert or replace into papers by name select * from papers_to_write")
            con.unregister("papers_to_write")

        if listings.height:
            _record_paper_sources(con, listings)

        if quarantine.height:
            keyed = quarantine.cast(QUARANTINE_SCHEMA).with_columns(
                item_key=pl.concat_str(
                    [pl.col("origin"), pl.col("raw_sha256"), pl.col("position").cast(pl.String).fill_null("*")],
                    separator="|",
                ),
                first_run_id=pl.lit(run_id, pl.Int64),
            ).unique("item_key", keep="first", maintain_order=True)
            before = con.execute("select count(*) from quarantine").fetchone()[0]
            con.register("quarantine_to_write", keyed)
            con.execute("insert or ignore into quarantine by name select * from quarantine_to_write")
            con.unregister("quarantine_to_write")
            counts.quarantine_new = con.execute("select count(*) from quarantine").fetchone()[0] - before
        counts.upvote_sightings_new = record_upvotes(con, upvote_history_from_listings(listings))
        term_index.refresh(con, pl.concat(touched_paper_ids))
        if checks is not None:
            _check_batch(con, listings, quarantine, run_id, checks)
        con.execute("commit")
    except Exception as error:
        con.execute("rollback")
        results = getattr(error, "results", None)
        if checks is not None and results is not None:
            # The load is gone; what the checks found is kept, so the run can explain itself.
            from warehouse.checks import record_results

            record_results(con, run_id, results)
        raise
    return counts


def _check_batch(con, listings: pl.DataFrame, quarantine: pl.DataFrame, run_id: int, context) -> None:
    """Run the declared checks on the merged state and this batch; raise ChecksFailed on any failure."""
    from warehouse.checks import ChecksFailed, record_results, run_checks

    con.register("batch_listings", listings)
    con.register("batch_quarantine", quarantine.cast(QUARANTINE_SCHEMA))
    try:
        results = run_checks(con, context)
    finally:
        con.unregister("batch_listings")
        con.unregister("batch_quarantine")
    if not all(r.passed for r in results):
        raise ChecksFailed(results)
    record_results(con, run_id, results)


PAPER_SOURCES_UPSERT = """
insert into paper_sources as t
select paper_id, source, min(fetched_at) as first_seen_at, max(fetched_at) as last_seen_at
from paper_sources_seen
group by paper_id, source
on conflict (paper_id, source) do update set
    first_seen_at = least(t.first_seen_at, excluded.first_seen_at),
    last_seen_at = greatest(t.last_seen_at, excluded.last_seen_at)
"""


def _record_paper_sources(con: duckdb.DuckDBPyConnection, listings: pl.DataFrame) -> None:
    """Widen each (paper, source)'s first/last seen times by these listing rows."""
    con.register("paper_sources_seen", listings.select("paper_id", "source", "fetched_at"))
    con.execute(PAPER_SOURCES_UPSERT)
    con.unregister("paper_sources_seen")


def start_run(con: duckdb.DuckDBPyConnection, flow: str, arguments: dict) -> int:
    """Record a run as started; returns its run_id."""
    return con.execute(
        "insert into runs (flow, arguments, started_at, status) values (?, ?, now(), 'running') returning run_id",
        [flow, json.dumps(arguments, default=str, sort_keys=True)],
    ).fetchone()[0]


def finish_run(con: duckdb.DuckDBPyConnection, run_id: int, status: str, message: str = "", **counts: int) -> None:
    """Record how a run ended, with its counts."""
    allowed = {
        "inputs", "items_in", "items_loaded", "items_quarantined",
        "listings_new", "listings_changed", "papers_new", "papers_changed",
    }
    unknown = set(counts) - allowed
    if unknown:
        raise ValueError(f"unknown run counts: {sorted(unknown)}")
    assignments = "".join(f", {name} = ?" for name in counts)
    con.execute(
        f"update runs set finished_at = now(), status = ?, message = ?{assignments} where run_id = ?",
        [status, message, *counts.values(), run_id],
    )


def close_interrupted_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Mark runs still 'running' as interrupted; call only while holding the writer lock."""
    interrupted = con.execute(
        "update runs set status = 'interrupted', message = coalesce(message, '') || "
        "'the process ended before the run finished (killed or crashed); nothing it loaded was half-applied' "
        "where status = 'running' returning run_id"
    ).fetchall()
    return len(interrupted)


def record_run_report(
    con: duckdb.DuckDBPyConnection, run_id: int, stages: list[dict], warnings: list[str]
) -> None:
    """Store a run's stages (name, items, seconds, detail) and warnings, in one transaction."""
    con.execute("begin transaction")
    try:
        con.execute("delete from run_stages where run_id = ?", [run_id])
        con.execute("delete from run_warnings where run_id = ?", [run_id])
        for order, stage in enumerate(stages):
            con.execute(
                "insert into run_stages values (?, ?, ?, ?, ?, ?)",
                [run_id, order, stage["stage"], stage.get("items"), stage.get("seconds"), stage.get("detail")],
            )
        for position, warning in enumerate(warnings):
            con.execute("insert into run_warnings values (?, ?, ?)", [run_id, position, warning[:4000]])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


RUN_LEDGER_TABLES = ("runs", "run_checks", "run_stages", "run_warnings")


def copy_run_ledger(con: duckdb.DuckDBPyConnection, source: Path) -> int:
    """Copy the run ledger of the warehouse at `source` (same schema) into `con`'s; returns runs copied.

    The run_id sequence is moved past the copied runs, so new runs keep numbering after them.
    """
    quoted = str(source).replace("'", "''")  # ATTACH takes no parameters: quote the path as a literal
    con.execute(f"attach '{quoted}' as previous (read_only)")
    try:
        con.execute("begin transaction")
        try:
            for table in RUN_LEDGER_TABLES:
                con.execute(f"insert into {table} by name select * from previous.{table}")
            copied, highest = con.execute("select count(*), coalesce(max(run_id), 0) from runs").fetchone()
            if highest:
                # DuckDB sequences cannot be restarted in place; drawing values moves it on.
                con.execute("select max(nextval('run_id_sequence')) from range(?)", [highest])
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.execute("detach previous")
    return copied


def run_report(con: duckdb.DuckDBPyConnection, run_id: int | None = None) -> dict:
    """One run's report (the latest when run_id is None): the run row, stages, checks, warnings."""
    if run_id is None:
        run_id = con.execute("select max(run_id) from runs").fetchone()[0]
    if run_id is None:
        return {}
    run = con.execute("select * from runs where run_id = ?", [run_id]).pl()
    stages = con.execute(
        "select stage, items, round(seconds, 3) as seconds, detail from run_stages where run_id = ? order by stage_order",
        [run_id],
    ).pl()
    checks = con.execute(
        "select check_name, passed, offending, example from run_checks where run_id = ? order by check_name", [run_id]
    ).pl()
    warnings = [w for (w,) in con.execute(
        "select warning from run_warnings where run_id = ? order by position", [run_id]
    ).fetchall()]
    return {"run": run.to_dicts()[0] if run.height else {}, "stages": stages, "checks": checks, "warnings": warnings}


def trend(
    con: duckdb.DuckDBPyConnection,
    terms: list[Term],
    by: str = "month",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> pl.DataFrame:
    """One row per (period, term): matches, total papers first listed in the period, share."""
    if by not in PERIODS:
        raise ValueError(f"--by must be one of {', '.join(PERIODS)}, not {by!r}")
    parameters = {
        "terms": [{"term_order": i, "term": t.text, "needle": t.needle} for i, t in enumerate(terms)],
        "by": by,
        "since": since,
        "until": until,
    }
    return con.execute(_sql("trend.sql"), parameters).pl()


def read_only_query(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    """Run one read-only statement (SELECT, DESCRIBE, SHOW, EXPLAIN); refuse anything that writes."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as error:
        raise WarehouseError(f"SQL does not parse: {error}") from error
    if len(statements) != 1:
        raise WarehouseError(f"give exactly one SQL statement (got {len(statements)})")
    kind = statements[0].type.name
    if kind not in READ_STATEMENTS:
        raise WarehouseError(f"refused: {kind} would change something; `papertrends sql` only reads")
    try:
        return con.execute(sql).pl()
    except duckdb.Error as error:
        raise WarehouseError(str(error).splitlines()[0]) from error


def status(con: duckdb.DuckDBPyConnection, recent: int = 5) -> dict:
    """What the warehouse holds: counts, list dates covered, quarantine, recent runs."""
    one = lambda sql: con.execute(sql).fetchone()  # noqa: E731 - tiny local helper
    papers, = one("select count(*) from papers")
    listings, list_dates, first, last = one(
        "select count(*), count(distinct list_date), min(list_date), max(list_date) from listings"
    )
    quarantined, = one("select count(*) from quarantine")
    by_source = con.execute(
        "select source, count(*) as listings, count(distinct list_date) as list_dates, "
        "min(list_date) as first, max(list_date) as last from listings group by source order by source"
    ).pl()
    reasons = con.execute(
        "select reason, count(*) as items from quarantine group by reason order by items desc, reason limit 10"
    ).pl()
    runs = con.execute(
        "select run_id, flow, status, strftime(started_at, '%Y-%m-%d %H:%M:%S') as started, "
        "printf('%.1f', epoch(finished_at - started_at)) as seconds, inputs, items_in, items_loaded, "
        "items_quarantined, listings_new, papers_new, message from runs order by run_id desc limit ?",
        [recent],
    ).pl()
    report = run_report(con) if "run_stages" in _tables(con) else {}
    return {
        "papers": papers,
        "listings": listings,
        "list_dates": list_dates,
        "first_list_date": first,
        "last_list_date": last,
        "quarantined": quarantined,
        "by_source": by_source,
        "quarantine_reasons": reasons,
        "recent_runs": runs,
        "schema_version": schema_version(con),
        "last_run_stages": report.get("stages", pl.DataFrame()),
        "last_run_checks": report.get("checks", pl.DataFrame()),
        "last_run_warnings": report.get("warnings", []),
    }


# --- issue 3: upvote history, paper details, title resolutions (tables of migration 003) ---


def _titles_resolved(con, listings: pl.DataFrame) -> pl.DataFrame:
    """Listing rows with synthetic title: ids already resolved replaced by their arXiv ids."""
    if not listings.height or not listings["paper_id"].str.starts_with("title:").any():
        return listings
    resolved = con.execute(
        "select synthetic_id, paper_id as resolved_id from title_resolutions where status = 'resolved'"
    ).pl()
    if not resolved.height:
        return listings
    return (
        listings.join(resolved, left_on="paper_id", right_on="synthetic_id", how="left")
        .with_columns(paper_id=pl.coalesce("resolved_id", "paper_id"))
        .drop("resolved_id")
    )


def record_upvotes(con: duckdb.DuckDBPyConnection, sightings: pl.DataFrame) -> int:
    """Insert upvote sightings (paper_id, seen_at, source, ...) once each; returns how many were new."""
    if not sightings.height:
        return 0
    before = con.execute("select count(*) from upvote_history").fetchone()[0]
    con.register("sightings_to_write", sightings)
    con.execute("insert or ignore into upvote_history by name select * from sightings_to_write")
    con.unregister("sightings_to_write")
    return con.execute("select count(*) from upvote_history").fetchone()[0] - before


def papers_missing_details(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> list[str]:
    """arXiv-identified papers never asked for details (a recorded 404 counts as asked)."""
    sql = (
        "select paper_id from papers where paper_id not like 'title:%' "
        "and paper_id not in (select paper_id from paper_details) order by paper_id"
    )
    rows = con.execute(sql + (f" limit {int(limit)}" if limit else "")).fetchall()
    return [r[0] for r in rows]


def load_paper_details(
    con: duckdb.DuckDBPyConnection, papers: pl.DataFrame, sightings: pl.DataFrame, answers: pl.DataFrame
) -> LoadCounts:
    """Merge detail papers rows, their upvote sightings and the per-paper answer ledger, in one transaction."""
    counts = LoadCounts()
    con.execute("begin transaction")
    try:
        if papers.height:
            paper_schema = dict(papers.select(PAPER_COLUMNS).schema)
            existing = _existing(con, "papers", ["paper_id"], papers.select("paper_id"), paper_schema)
            merged = papers_merged(existing, papers)
            to_write, counts.papers_new, counts.papers_changed = rows_new_or_changed(merged, existing, ["paper_id"])
            if to_write.height:
                con.register("papers_to_write", to_write)
                con.execute("insert or replace into papers by name select * from papers_to_write")
                con.unregister("papers_to_write")
                term_index.refresh(con, to_write["paper_id"])
        counts.upvote_sightings_new = record_upvotes(con, sightings)
        if answers.height:
            con.register("answers_to_write", answers)
            con.execute("insert or replace into paper_details by name select * from answers_to_write")
            con.unregister("answers_to_write")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return counts


def unresolved_titles(con: duckdb.DuckDBPyConnection, retry_not_found: bool = False) -> list[tuple[str, str]]:
    """(synthetic_id, title) of papers known only by title, skipping those already searched in vain."""
    skip = "" if retry_not_found else "and paper_id not in (select synthetic_id from title_resolutions)"
    return con.execute(
        f"select paper_id, title from papers where paper_id like 'title:%' {skip} order by paper_id"
    ).fetchall()


def resolve_title(
    con: duckdb.DuckDBPyConnection, synthetic_id: str, title: str, paper_id: str | None, status: str, raw_sha256: str | None
) -> None:
    """Record a title search; when resolved, fold the synthetic paper and its listings into the real id.

    Listing rows move to the real id unless that list already has the real paper (then the
    synthetic row is dropped: no duplicates); paper fields merge (newest non-null wins).
    """
    con.execute("begin transaction")
    try:
        con.execute(
            "insert or replace into title_resolutions values (?, ?, ?, ?, now(), ?)",
            [synthetic_id, title, paper_id, status, raw_sha256],
        )
        if paper_id:
            con.execute(
                "delete from listings as s where s.paper_id = ? and exists (select 1 from listings as r "
                "where r.paper_id = ? and r.source = s.source and r.list_date = s.list_date)",
                [synthetic_id, paper_id],
            )
            con.execute("update listings set paper_id = ? where paper_id = ?", [paper_id, synthetic_id])
            con.execute("update upvote_history set paper_id = ? where paper_id = ?", [paper_id, synthetic_id])
            both = con.execute(
                "select * from papers where paper_id in (?, ?)", [synthetic_id, paper_id]
            ).pl().with_columns(paper_id=pl.lit(paper_id))
            if both.height:
                both = both.select(PAPER_COLUMNS)
                merged = papers_merged(both.clear(), both)
                con.execute("delete from papers where paper_id in (?, ?)", [synthetic_id, paper_id])
                con.register("papers_to_write", merged)
                con.execute("insert into papers by name select * from papers_to_write")
                con.unregister("papers_to_write")
            term_index.refresh(con, pl.Series([synthetic_id, paper_id]))
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in con.execute("select table_name from information_schema.tables").fetchall()}


# --- arXiv: deleted records and OAI-PMH harvest state (migration 004) ---


def limit_memory(con: duckdb.DuckDBPyConnection, megabytes: int) -> None:
    """Cap DuckDB's buffer pool for this connection (it spills beyond), so big loads stay bounded."""
    con.execute(f"set memory_limit = '{int(megabytes)}MB'")

ARXIV_DELETED_INSERT = """
insert or ignore into arxiv_deleted by name
select paper_id, datestamp, first_seen_at, origin, raw_sha256 from arxiv_deleted_seen
"""


def mark_arxiv_deleted(con: duckdb.DuckDBPyConnection, deleted: pl.DataFrame) -> int:
    """Record OAI deleted records (first sighting kept); returns how many are new."""
    if not deleted.height:
        return 0
    before = con.execute("select count(*) from arxiv_deleted").fetchone()[0]
    con.register("arxiv_deleted_seen", deleted.unique("paper_id", keep="first", maintain_order=True))
    con.execute(ARXIV_DELETED_INSERT)
    con.unregister("arxiv_deleted_seen")
    return con.execute("select count(*) from arxiv_deleted").fetchone()[0] - before


def oai_harvest(con: duckdb.DuckDBPyConnection, harvest_key: str) -> dict | None:
    """The saved state of one OAI-PMH harvest, or None."""
    found = con.execute("select * from oai_harvests where harvest_key = ?", [harvest_key]).pl()
    return found.row(0, named=True) if found.height else None


def oai_harvest_started(con: duckdb.DuckDBPyConnection, harvest_key: str, endpoint: str, metadata_prefix: str,
                        set_spec: str | None, from_date: dt.date | None, until_date: dt.date | None) -> None:
    """Start (or restart from the beginning) a harvest: no token, no pages yet."""
    con.execute(
        """
        insert or replace into oai_harvests
            (harvest_key, endpoint, metadata_prefix, set_spec, from_date, until_date, resumption_token,
             pages, records, complete_list_size, status, started_at, updated_at)
        values (?, ?, ?, ?, ?, ?, null, 0, 0, null, 'running', now(), now())
        """,
        [harvest_key, endpoint, metadata_prefix, set_spec, from_date, until_date],
    )


def oai_harvest_advanced(con: duckdb.DuckDBPyConnection, harvest_key: str, token: str | None, records: int,
                         complete_list_size: int | None, status: str) -> None:
    """Save the token of the next page after a page was loaded (status 'completed' when none follows)."""
    con.execute(
        """
        update oai_harvests set resumption_token = ?, pages = pages + 1, records = records + ?,
            complete_list_size = coalesce(?, complete_list_size), status = ?, updated_at = now()
        where harvest_key = ?
        """,
        [token, records, complete_list_size, status, harvest_key],
    )
