"""Helpers several test modules share: a settings file under a data root, read-only warehouse queries."""

from __future__ import annotations

from pathlib import Path

import duckdb


def write_settings(home: Path, **values) -> None:
    """Write `values` as the data root's papertrends.toml (flows read it through load_settings)."""
    (home / "papertrends.toml").write_text("".join(f"{k} = {v!r}\n" for k, v in values.items()))


def warehouse_rows(home: Path, sql: str, params=None) -> list[tuple]:
    """Rows of one query on the data root's warehouse, opened read-only and closed again.

    Bookkeeping tables (backfill_dates, oai_harvests, term_*) are found by their bare names, as in
    papertrends' own connections (their schema is on the search path).
    """
    from papertrends.warehouse.tables import use_internal_schema

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        use_internal_schema(con)
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
