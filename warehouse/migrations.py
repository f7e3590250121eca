"""Numbered schema migrations (warehouse/sql/NNN_*.sql), applied by set when a writer opens the warehouse."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from importlib import resources

import duckdb

from ..core.errors import WarehouseError
from ..transforms.tables import INTERNAL_SCHEMA
from .tables import apply_comments, use_internal_schema


def migrations() -> list[tuple[int, str, str]]:
    """Numbered schema migrations shipped with this version: (version, name, sql)."""
    found = []
    for entry in resources.files(__package__).joinpath("sql").iterdir():
        match = re.fullmatch(r"(\d{3})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    return sorted(found)


def _ledger(con: duckdb.DuckDBPyConnection, database: str | None = None) -> str | None:
    """Where schema_migrations is in `database` (default: the current one), qualified; None in a new warehouse.

    Migration 011 moved it from main into the internal schema; a warehouse made before 011 (or a
    test's old-schema warehouse) still has it in main.
    """
    if database is None:
        database = con.execute("select current_database()").fetchone()[0]
    schemas = {s for (s,) in con.execute(
        "select schema_name from duckdb_tables() where database_name = ? and table_name = 'schema_migrations'",
        [database],
    ).fetchall()}
    for schema in (INTERNAL_SCHEMA, "main"):
        if schema in schemas:
            return f'"{database.replace(chr(34), chr(34) * 2)}".{schema}.schema_migrations'
    return None


def schema_version(con: duckdb.DuckDBPyConnection, database: str | None = None) -> int:
    """The highest migration applied to the warehouse `database` (default: the current one; 0 for an empty one)."""
    ledger = _ledger(con, database)
    if ledger is None:
        return 0
    return con.execute(f"select coalesce(max(version), 0) from {ledger}").fetchone()[0]


def applied_versions(con: duckdb.DuckDBPyConnection, database: str | None = None) -> set[int]:
    """Versions of the migrations recorded in the warehouse `database` (default: the current one)."""
    ledger = _ledger(con, database)
    return {v for (v,) in con.execute(f"select version from {ledger}").fetchall()} if ledger else set()


def apply_migrations(
    con: duckdb.DuckDBPyConnection, up_to: int | None = None, translate: Callable[[str], str] | None = None
) -> list[int]:
    """Apply missing migrations in order, each in its own transaction; refuse a newer schema.

    `up_to` stops after that version (tests build old-schema warehouses with it). `translate`
    rewrites each migration's SQL for another backend (DuckLake: warehouse/backends.py). Then the
    internal schema goes on `con`'s search path (from 011 on), and with the whole schema in place
    the declared descriptions are applied as COMMENT ON (warehouse/tables.py).
    """
    translate = translate or (lambda sql: sql)
    if _ledger(con) is None:
        # A new warehouse starts its ledger where migrations 001-010 expect it; 011 moves it.
        con.execute(translate(
            "create table main.schema_migrations (version integer primary key, name varchar, applied_at timestamptz)"
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
            # Looked up after the migration ran: 011 moves the ledger in the same transaction.
            con.execute(f"insert into {_ledger(con)} values (?, ?, now())", [version, name])
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
    use_internal_schema(con)
    if up_to is None:
        apply_comments(con)
    return applied


def _file_path(con: duckdb.DuckDBPyConnection) -> str | None:
    """The DuckDB file behind the current database (None in memory or on DuckLake)."""
    row = con.execute(
        "select path from duckdb_databases() where database_name = current_database() and type = 'duckdb'"
    ).fetchone()
    return row[0] if row and row[0] else None
