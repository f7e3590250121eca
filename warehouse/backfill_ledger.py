"""The backfill ledger (migration 007): the last outcome of every (source, list date) a backfill touched.

A date is written `done` only after its rows are loaded, so a landing without a load (a run
killed in between) is never mistaken for a finished date.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from . import lake_locks

DONE, FAILED = "done", "failed"

# MERGE, not INSERT OR REPLACE: DuckLake has no key to replace by (warehouse/backends.py).
UPSERT = """
merge into backfill_dates as t
using (
    select ?::varchar as source, ?::date as list_date, ?::varchar as status, ?::boolean as closed, ?::integer as pages,
           ?::integer as items, ?::varchar as reason, ?::bigint as run_id, now() as updated_at
) as s
on t.source = s.source and t.list_date = s.list_date
when matched then update by name
when not matched then insert by name
"""

DATES_WITH_STATUS = """
select strftime(list_date, '%Y-%m-%d') as list_date, reason
from backfill_dates
where source = ? and status = ? and (not ? or closed)
order by list_date
"""


def record(
    con: duckdb.DuckDBPyConnection,
    source: str,
    list_date: str,
    status: str,
    *,
    closed: bool,
    run_id: int,
    pages: int | None = None,
    items: int | None = None,
    reason: str | None = None,
) -> None:
    """Write the outcome of one date, replacing the previous one."""
    with lake_locks.writer_section(con):
        lake_locks.retrying_conflicts(lambda: con.execute(
            UPSERT, [source, dt.date.fromisoformat(list_date), status, closed, pages, items, reason, run_id]))


def done_dates(con: duckdb.DuckDBPyConnection, source: str) -> set[str]:
    """Dates loaded after they closed: nothing more can appear on them."""
    return {row[0] for row in con.execute(DATES_WITH_STATUS, [source, DONE, True]).fetchall()}


def failed_dates(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    """Dates whose last attempt failed, with the reason."""
    return dict(con.execute(DATES_WITH_STATUS, [source, FAILED, False]).fetchall())


def outcomes(con: duckdb.DuckDBPyConnection, source: str, first: str, last: str) -> dict[str, tuple[str, str]]:
    """Each date's last outcome from `first` to `last`: {date: (status, reason or "")}."""
    rows = con.execute(
        "select strftime(list_date, '%Y-%m-%d'), status, coalesce(reason, '') from backfill_dates "
        "where source = ? and list_date between ? and ?",
        [source, dt.date.fromisoformat(first), dt.date.fromisoformat(last)],
    ).fetchall()
    return {day: (status, reason) for day, status, reason in rows}
