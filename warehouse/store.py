"""The DuckDB warehouse: schema migrations, transactional loads, the run ledger, read queries.

Every SQL statement the project runs lives here or in warehouse/sql/*.sql.
"""

from __future__ import annotations

import datetime as dt
import json
import re
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

PERIODS = ("day", "week", "month", "year")
LISTING_KEY = ["source", "list_date", "paper_id"]
LISTING_COLUMNS = [
    "source", "list_date", "paper_id", "position", "upvotes", "num_comments", "fetched_at", "origin", "raw_sha256",
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
    return con


def _locked_message(path: Path, error: Exception) -> str:
    return f"warehouse {path} is in use by another process (an ingest may be running); try again shortly [{error}]"


def open_writer(path: Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse for writing, with every migration applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = _configure(duckdb.connect(str(path)))
    except duckdb.IOException as error:
        raise WarehouseError(_locked_message(path, error)) from error
    apply_migrations(con)
    return con


def open_reader(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only; never creates or changes a file."""
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `papertrends ingest ...` first (or set PAPERTRENDS_HOME)")
    try:
        con = _configure(duckdb.connect(str(path), read_only=True))
    except duckdb.IOException as error:
        raise WarehouseError(_locked_message(path, error)) from error
    version = schema_version(con)
    known = max(v for v, _, _ in migrations())
    if version != known:
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


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply missing migrations in order, each in its own transaction; refuse a newer schema."""
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
    applied = []
    for version, name, sql in known:
        if version <= current:
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
    papers: pl.DataFrame | None = None,
) -> LoadCounts:
    """Merge listing rows, their papers and quarantined items into the warehouse in one transaction.

    `papers` (PAPER_COLUMNS) are the paper observations when the source provides more than
    listing rows carry (arXiv); by default they are derived from the listings. Which source saw
    which paper, and when, is recorded in paper_sources. Loading the same rows again changes
    nothing: only new or changed rows are written.
    """
    listings = listings.cast(LISTING_SCHEMA)
    counts = LoadCounts(listings_in=listings.height, quarantined_in=quarantine.height)
    listing_schema = {c: LISTING_SCHEMA[c] for c in LISTING_COLUMNS}
    paper_schema = {c: dtype for c, dtype in papers_from_listings(listings.clear()).schema.items()}
    con.execute("begin transaction")
    try:
        incoming_listings = listings_deduplicated(listings.select(LISTING_COLUMNS))
        existing = _existing(con, "listings", LISTING_KEY, incoming_listings.select(LISTING_KEY), listing_schema)
        merged = listings_merged(existing, incoming_listings)
        to_write, counts.listings_new, counts.listings_changed = rows_new_or_changed(merged, existing, LISTING_KEY)
        if to_write.height:
            con.register("listings_to_write", to_write)
            con.execute("insert or replace into listings by name select * from listings_to_write")
            con.unregister("listings_to_write")

        incoming_papers = papers_from_listings(listings) if papers is None else papers_typed(papers)
        existing = _existing(con, "papers", ["paper_id"], incoming_papers.select("paper_id"), paper_schema)
        merged = papers_merged(existing, incoming_papers)
        to_write, counts.papers_new, counts.papers_changed = rows_new_or_changed(merged, existing, ["paper_id"])
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
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return counts


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
    }


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
