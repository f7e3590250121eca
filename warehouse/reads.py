"""Read queries: the basic trend, one read-only statement, the warehouse status."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from ..core.errors import WarehouseError
from ..transforms.terms import Term
from .backends import snapshot_of
from .connection import sql_text, table_names
from .ledger import run_report
from .migrations import schema_version

PERIODS = ("day", "week", "month", "year")


# Statement types a read-only command may run.
READ_STATEMENTS = {"SELECT", "EXPLAIN"}


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
    return con.execute(sql_text("trend.sql"), parameters).pl()


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
    report = run_report(con) if "run_stages" in table_names(con) else {}
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
        "snapshot": snapshot_of(con),  # the DuckLake snapshot read; None on the embedded file
        "last_run_stages": report.get("stages", pl.DataFrame()),
        "last_run_checks": report.get("checks", pl.DataFrame()),
        "last_run_warnings": report.get("warnings", []),
    }
