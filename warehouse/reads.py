"""Read queries: the basic trend, one read-only statement, the warehouse status."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from ..core.errors import WarehouseError
from ..transforms.query import PERIODS, Query, as_query, check_period  # noqa: F401 - PERIODS re-exported
from ..transforms.terms import Term
from .backends import snapshot_of
from .connection import sql_text, table_names
from .ledger import run_report
from .migrations import schema_version


# Statement types a read-only command may run.
READ_STATEMENTS = {"SELECT", "EXPLAIN"}


def trend(
    con: duckdb.DuckDBPyConnection,
    terms: list[Query | Term | str],
    by: str = "month",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> pl.DataFrame:
    """One row per (period with papers, term): matches, total papers first listed in the period, share.

    A full scan of the search texts (the reference the term index is tested against); `terms`
    are queries (strings or parsed), each matching when any of its alternatives does.
    """
    check_period(by)
    queries = [as_query(t) for t in terms]
    parameters = {
        "terms": [{"term_order": i, "term": q.text, "needles": list(q.needles)} for i, q in enumerate(queries)],
        "by": by,
        "since": since,
        "until": until,
    }
    return con.execute(sql_text("trend.sql"), parameters).pl()


def read_only_query(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pl.DataFrame:
    """Run one read-only statement (SELECT, DESCRIBE, SHOW, EXPLAIN); refuse anything that writes.

    `params` binds named parameters ($name) of the statement.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as error:
        raise WarehouseError(f"SQL does not parse: {error}") from error
    if len(statements) != 1:
        raise WarehouseError(f"give exactly one SQL statement (got {len(statements)})")
    kind = statements[0].type.name
    if kind not in READ_STATEMENTS:
        # Name the statement as the user wrote it: DuckDB files INSTALL under LOAD, for example.
        words = statements[0].query.split()
        raise WarehouseError(f"refused: {(words[0].upper() if words else kind)} would change something; "
                             "`papertrends sql` only reads")
    try:
        return con.execute(sql, params).pl() if params else con.execute(sql).pl()
    except duckdb.Error as error:
        raise WarehouseError(str(error).splitlines()[0]) from error


def run_quarantine_reasons(con: duckdb.DuckDBPyConnection, run_id: int) -> list[tuple[str, int]]:
    """Each distinct reason a run quarantined items for (first seen in that run), with its count."""
    return con.execute(
        "select reason, count(*) as items from quarantine where first_run_id = ? group by reason "
        "order by items desc, reason", [run_id],
    ).fetchall()


def papers_with_categories(con: duckdb.DuckDBPyConnection) -> bool:
    """True when any paper carries arXiv categories (Hugging Face papers carry none)."""
    return con.execute("select exists (select 1 from papers where len(categories) > 0)").fetchone()[0]


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
        "search_index": _search_index_line(con),
        "snapshot": snapshot_of(con),  # the DuckLake snapshot read; None on the embedded file
        "last_run_stages": report.get("stages", pl.DataFrame()),
        "last_run_checks": report.get("checks", pl.DataFrame()),
        "last_run_warnings": report.get("warnings", []),
    }


def _search_index_line(con: duckdb.DuckDBPyConnection) -> str | None:
    """Whether `search` is current with the warehouse, and if not by how much (None before migration 006)."""
    from .term_index import search_lag

    try:
        return search_lag(con).describe()
    except duckdb.Error:
        return None
