"""Numbered schema migrations (warehouse/sql/NNN_*.sql), applied by set when a writer opens the warehouse."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from importlib import resources

import duckdb

from ..core.errors import WarehouseError
from .tables import apply_comments


def migrations() -> list[tuple[int, str, str]]:
    """Numbered schema migrations shipped with this version: (version, name, sql)."""
    found = []
    for entry in resources.files(__package__).joinpath("sql").iterdir():
        match = re.fullmatch(r"(\d{3})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    return sorted(found)


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


def apply_migrations(
    con: duckdb.DuckDBPyConnection, up_to: int | None = None, translate: Callable[[str], str] | None = None
) -> list[int]:
    """Apply missing migrations in order, each in its own transaction; refuse a newer schema.

    `up_to` stops after that version (tests build old-schema warehouses with it). `translate`
    rewrites each migration's SQL for another backend (DuckLake: warehouse/backends.py). With the
    whole schema in place, the declared descriptions are then applied as COMMENT ON (warehouse/tables.py).
    """
    translate = translate or (lambda sql: sql)
    con.execute(translate(
        "create table if not exists schema_migrations (version integer primary key, name varchar, applied_at timestamptz)"
    ))
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
            con.execute(translate(sql))
            con.execute("insert into schema_migrations values (?, ?, now())", [version, name])
            con.execute("commit")
        except Exception:
            # A failed commit (DuckLake refusing a change) has already ended the transaction.
            with contextlib.suppress(duckdb.TransactionException):
                con.execute("rollback")
            raise
        applied.append(version)
    if applied and _file_path(con):
        # DuckDB 1.5.5 cannot replay a write-ahead log holding an ALTER (or a column comment) of a
        # table with a sequence default (runs): the file would not open again. A writer run closes
        # without a checkpoint after a small load, so the schema change is checkpointed right here.
        con.execute("checkpoint")
    if up_to is None:
        apply_comments(con)
    return applied


def _file_path(con: duckdb.DuckDBPyConnection) -> str | None:
    """The DuckDB file behind the current database (None in memory or on DuckLake)."""
    row = con.execute(
        "select path from duckdb_databases() where database_name = current_database() and type = 'duckdb'"
    ).fetchone()
    return row[0] if row and row[0] else None
