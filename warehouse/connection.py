"""Opening the warehouse: one writer connection or read-only readers, waiting while another process holds the file."""

from __future__ import annotations

import contextlib
import time
from importlib import resources
from pathlib import Path

import duckdb

from ..core.errors import WarehouseError
from . import backends
from .migrations import applied_versions, apply_migrations, migrations, schema_version
from .tables import use_internal_schema
from .term_index import load_fts


def sql_text(name: str) -> str:
    return resources.files(__package__).joinpath("sql", name).read_text("utf-8")


def _configure(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    # The internal tables (term index, migrations ledger, ...) live in their own schema; papertrends'
    # SQL names them unqualified. The search path belongs to this connection, so it is set on every one.
    use_internal_schema(con)
    # A second connection to a file this process already has open shares its database instance,
    # whose configuration a reader locked (_lock_down): settings already right are left alone.
    if _locked(con):
        return con
    con.execute("set TimeZone = 'UTC'")
    # DuckDB's progress bar would print into piped command output on long queries.
    con.execute("set enable_progress_bar = false")
    return con


def _locked(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("select current_setting('lock_configuration')").fetchone()[0])


def _locked_message(path: Path, error: Exception) -> str:
    from .locks import describe_holder, held_by

    holder = held_by(path.parent)
    who = f"{describe_holder(holder)} is writing" if holder is not None else "an ingest may be running"
    return f"warehouse {path} is in use by another process ({who}); try again shortly [{error}]"


# How long an open waits for another process's connection to close before giving up. Connections
# are short (a writer holds one only to start a run, load, or finish a run), so waiting beats failing.
DEFAULT_OPEN_WAIT_SECONDS = 30.0


_OPEN_RETRY_INTERVAL = 0.05


def _is_lock_conflict(error: duckdb.IOException) -> bool:
    return "lock" in str(error).lower()


# A reader never fetches or installs an extension behind the user's back; the one it needs (fts)
# is loaded from its wheel's file before the configuration is locked.
_READER_CONFIG = {"autoload_known_extensions": False, "autoinstall_known_extensions": False}


def _connect_waiting(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Connect, retrying for up to `wait_seconds` while another process holds the file."""
    deadline = time.monotonic() + max(wait_seconds, 0.0)
    delay = _OPEN_RETRY_INTERVAL
    config = _READER_CONFIG if read_only else {}
    while True:
        try:
            return _configure(duckdb.connect(str(path), read_only=read_only, config=dict(config)))
        except duckdb.IOException as error:
            if not _is_lock_conflict(error) or time.monotonic() + delay > deadline:
                waited = f" (waited {wait_seconds:g}s)" if wait_seconds > 0 and _is_lock_conflict(error) else ""
                raise WarehouseError(_locked_message(path, error) + waited) from error
        time.sleep(delay)
        delay = min(delay * 2, 0.2)  # short: readers come and go fast, a writer must not starve


def open_writer(path: Path, wait_seconds: float = DEFAULT_OPEN_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse for writing, with every migration applied.

    While another process has the file open, retries for up to `wait_seconds`. When the data
    root's settings choose DuckLake (warehouse/backends.py), opens that instead.
    """
    lake = backends.ducklake_for(path)
    if lake is not None:
        return backends.open_writer_ducklake(lake, writer_run=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect_waiting(path, read_only=False, wait_seconds=wait_seconds)
    try:
        apply_migrations(con)
    except Exception:
        con.close()
        raise
    return con


def _lock_down(con: duckdb.DuckDBPyConnection, memory_limit: str | None, temp_directory: Path | None) -> None:
    """Make the connection unable to touch anything but the warehouse, whatever SQL it is given.

    Read-only is a property of the connection, not of a statement filter: with external access off
    no statement (COPY, EXPLAIN ANALYZE COPY, read_csv, read_text, glob, ATTACH, INSTALL, LOAD) can
    read or write a local file, and with the configuration locked no statement can turn it back on.
    What readers need is set first: the fts extension (BM25 search) and the export's spill settings.
    """
    if _locked(con):  # another reader in this process locked the shared instance the same way
        if memory_limit is not None or temp_directory is not None:
            raise WarehouseError("a read-only warehouse connection is already open in this process; "
                                 "close it before opening one with its own memory limit or spill folder")
        return
    load_fts(con)
    if memory_limit is not None:
        con.execute(f"set memory_limit = '{memory_limit}'")
    if temp_directory is not None:
        con.execute("set temp_directory = '{}'".format(str(temp_directory).replace("'", "''")))
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")


def open_reader(
    path: Path,
    wait_seconds: float = DEFAULT_OPEN_WAIT_SECONDS,
    memory_limit: str | None = None,
    temp_directory: Path | None = None,
    as_of: str | int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only; never creates or changes a file, whatever SQL it then runs.

    While a writer holds the file (an ingest loading), retries for up to `wait_seconds`; a writer
    commits whole loads only, so whatever the reader then sees is a finished state. The connection
    has external access off and its configuration locked (see `_lock_down`): `memory_limit` and
    `temp_directory` (where DuckDB may spill) must therefore be given here, not set afterwards.

    On DuckLake (warehouse/backends.py) readers never wait, the lake is attached read-only, and
    `as_of` (a snapshot number or an ISO timestamp) reads an old snapshot.
    """
    lake = backends.ducklake_for(path)
    if lake is not None:
        con = backends.open_ducklake(lake, read_only=True, as_of=as_of)
        try:
            backends.lock_down_reader(con, memory_limit, temp_directory)
        except Exception:
            con.close()
            raise
        return _schema_checked(con, lake.describe())
    if as_of not in (None, ""):
        raise WarehouseError("--as-of needs the DuckLake backend: the embedded warehouse file keeps no snapshots")
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `papertrends ingest ...` first (or set PAPERTRENDS_HOME)")
    con = _connect_waiting(path, read_only=True, wait_seconds=wait_seconds)
    try:
        _lock_down(con, memory_limit, temp_directory)
    except Exception:
        con.close()
        raise
    return _schema_checked(con, path)


def _schema_checked(con: duckdb.DuckDBPyConnection, path) -> duckdb.DuckDBPyConnection:
    """`con` when its schema is the one this papertrends knows; else closed, with a clear error."""
    version = schema_version(con)
    known = max(v for v, _, _ in migrations())
    missing = {v for v, _, _ in migrations()} - applied_versions(con)
    if version != known or missing:
        con.close()
        newer = "a newer papertrends" if version > known else "an older papertrends; run an ingest to upgrade it"
        raise WarehouseError(f"warehouse {path} has schema {version}, this papertrends knows {known}: made by {newer}")
    return con


def limit_memory(con: duckdb.DuckDBPyConnection, megabytes: int) -> None:
    """Cap DuckDB's buffer pool for this connection (it spills beyond), so big loads stay bounded."""
    con.execute(f"set memory_limit = '{int(megabytes)}MB'")


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in con.execute("select table_name from information_schema.tables").fetchall()}


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """`with transaction(con): ...` commits when the block ends, rolls back (and re-raises) when it raises.

    A failed rollback (the transaction already aborted, a full disk) never hides the original error.
    """
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        try:
            con.execute("rollback")
        except duckdb.Error:
            pass
        raise
    con.execute("commit")
