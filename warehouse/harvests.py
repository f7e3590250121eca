"""OAI-PMH harvest state: the resumption token saved after every loaded page."""

from __future__ import annotations

import datetime as dt

import duckdb

from . import lake_locks


def oai_harvest(con: duckdb.DuckDBPyConnection, harvest_key: str) -> dict | None:
    """The saved state of one OAI-PMH harvest, or None."""
    found = con.execute("select * from oai_harvests where harvest_key = ?", [harvest_key]).pl()
    return found.row(0, named=True) if found.height else None


def oai_harvest_started(con: duckdb.DuckDBPyConnection, harvest_key: str, endpoint: str, metadata_prefix: str,
                        set_spec: str | None, from_date: dt.date | None, until_date: dt.date | None) -> None:
    """Start (or restart from the beginning) a harvest: no token, no pages yet."""
    # MERGE, not INSERT OR REPLACE: DuckLake has no key to replace by (warehouse/backends.py).
    with lake_locks.writer_section(con):
        lake_locks.retrying_conflicts(lambda: con.execute(
            """
            merge into oai_harvests as t
            using (
                select ?::varchar as harvest_key, ?::varchar as endpoint, ?::varchar as metadata_prefix,
                       ?::varchar as set_spec, ?::date as from_date, ?::date as until_date,
                       null::varchar as resumption_token, 0 as pages, 0::bigint as records,
                       null::bigint as complete_list_size, 'running' as status, now() as started_at, now() as updated_at
            ) as s
            on t.harvest_key = s.harvest_key
            when matched then update by name
            when not matched then insert by name
            """,
            [harvest_key, endpoint, metadata_prefix, set_spec, from_date, until_date],
        ))


def oai_harvest_advanced(con: duckdb.DuckDBPyConnection, harvest_key: str, token: str | None, records: int,
                         complete_list_size: int | None, status: str) -> None:
    """Save the token of the next page after a page was loaded (status 'completed' when none follows)."""
    with lake_locks.writer_section(con):
        lake_locks.retrying_conflicts(lambda: con.execute(
            """
            update oai_harvests set resumption_token = ?, pages = pages + 1, records = records + ?,
                complete_list_size = coalesce(?, complete_list_size), status = ?, updated_at = now()
            where harvest_key = ?
            """,
            [token, records, complete_list_size, status, harvest_key],
        ))
