"""OAI-PMH harvest state: the resumption token saved after every loaded page."""

from __future__ import annotations

import datetime as dt

import duckdb


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
