"""Writers on one DuckLake from many machines: a PostgreSQL advisory lock around every merge, run liveness.

The embedded warehouse has one writer at a time (the file lock, warehouse/locks.py). A DuckLake
takes writers from any machine that sees its catalog, and DuckLake 1.5.5 has no keys: two
transactions that each insert the same new paper both commit (checked: no conflict is raised),
and run ids, term word ids and paper keys are "highest + 1". So every writer's merge, from the
reads that plan it to its commit and index catch-up, runs inside `writer_section(con)`: an
advisory lock in the catalog's own PostgreSQL, taken on a real libpq session (psycopg) that this
process keeps open. PostgreSQL drops a session's advisory locks when the session ends, however
the process ended (a SIGKILLed writer never leaves a stale lock). Fetching, landing and
normalizing run outside the section, concurrently on every machine.

The same session holds one more lock per running run (`hold_run`): a run still 'running' in the
ledger whose lock is free belongs to a process that died, so `run_is_alive` tells a live writer on
another machine from a killed one (ledger.close_interrupted_runs).

On the embedded file every function here is a no-op: the file lock already serializes writers.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref

import duckdb

from ..core.errors import WarehouseError

# Advisory lock keys: (namespace, key) pairs, namespaces chosen to be papertrends' own.
_MERGE_NAMESPACE = 0x5054_4D47  # "PTMG": the one merge section per lake
_RUN_NAMESPACE = 0x5054_524E    # "PTRN": one key per running run_id
# How long a writer waits for another machine's merge before giving up (a merge of one batch is seconds).
DEFAULT_WAIT_SECONDS = 600.0
_POLL_SECONDS = 0.05

# Connection -> libpq conninfo of its DuckLake's catalog (set by backends.open_ducklake).
_catalog_of: "weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, str]" = weakref.WeakKeyDictionary()
_sessions: dict[str, "_Session"] = {}
_sessions_guard = threading.Lock()


class LakeBusy(WarehouseError):
    """Another writer kept the lake's merge section longer than we were willing to wait."""


def register(con: duckdb.DuckDBPyConnection, catalog: str) -> None:
    """Note that `con` writes the DuckLake whose catalog is `catalog` (a 'postgres:<conninfo>' string)."""
    if catalog.startswith("postgres:"):
        _catalog_of[con] = catalog.removeprefix("postgres:")


class _Session:
    """This process's libpq session to one catalog: holds the merge lock (re-entrant) and run locks."""

    def __init__(self, conninfo: str):
        import psycopg

        try:
            self.pg = psycopg.connect(conninfo, autocommit=True, application_name="papertrends-writer")
        except psycopg.Error as error:
            raise WarehouseError(f"cannot reach the DuckLake catalog for its writer lock: {str(error).strip().splitlines()[0]}") from error
        self.depth = 0
        self.guard = threading.RLock()
        self.runs: set[int] = set()

    def _try(self, namespace: int, key: int) -> bool:
        return bool(self.pg.execute("select pg_try_advisory_lock(%s, %s)", [namespace, key]).fetchone()[0])

    def _unlock(self, namespace: int, key: int) -> None:
        self.pg.execute("select pg_advisory_unlock(%s, %s)", [namespace, key])

    def acquire_merge(self, wait_seconds: float) -> None:
        self.guard.acquire()
        if self.depth:
            self.depth += 1
            return
        deadline = time.monotonic() + wait_seconds
        while not self._try(_MERGE_NAMESPACE, 0):
            if time.monotonic() >= deadline:
                self.guard.release()
                raise LakeBusy(f"another writer held the DuckLake's merge lock for over {wait_seconds:g}s; try again later")
            time.sleep(_POLL_SECONDS)
        self.depth = 1

    def release_merge(self) -> None:
        try:
            self.depth -= 1
            if self.depth == 0:
                self._unlock(_MERGE_NAMESPACE, 0)
        finally:
            self.guard.release()


def _session(con: duckdb.DuckDBPyConnection) -> _Session | None:
    conninfo = _catalog_of.get(con)
    if conninfo is None:
        return None
    with _sessions_guard:
        session = _sessions.get(conninfo)
        if session is None or session.pg.closed:
            session = _sessions[conninfo] = _Session(conninfo)
        return session


def on_ducklake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `con` is a writer connection to a DuckLake (with a PostgreSQL catalog)."""
    return con in _catalog_of


@contextlib.contextmanager
def writer_section(con: duckdb.DuckDBPyConnection, wait_seconds: float = DEFAULT_WAIT_SECONDS):
    """Hold the lake's merge lock around a block of writes (re-entrant; nothing on an embedded file)."""
    session = _session(con)
    if session is None:
        yield
        return
    session.acquire_merge(wait_seconds)
    try:
        yield
    finally:
        session.release_merge()


# DuckLake reports a commit that overlaps another writer's as a TransactionException naming a conflict.
CONFLICT_ATTEMPTS = 5


def is_conflict(error: BaseException) -> bool:
    return isinstance(error, duckdb.TransactionException) and "conflict" in str(error).lower()


def retrying_conflicts(action, attempts: int = CONFLICT_ATTEMPTS):
    """Run `action()`; when its commit conflicts with another writer's (DuckLake), run it again.

    `action` must be a whole transaction that rolls itself back on failure. Writers hold the merge
    lock, so a conflict means a writer that does not (an older papertrends, `migrate`, a user's SQL).
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except duckdb.TransactionException as error:
            if not is_conflict(error) or attempt == attempts:
                raise
            time.sleep(0.1 * attempt)


def hold_run(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Mark run `run_id` alive for as long as this process's catalog session lives (or release_run)."""
    session = _session(con)
    if session is None:
        return
    with session.guard:
        if session._try(_RUN_NAMESPACE, int(run_id)):
            session.runs.add(int(run_id))


def release_run(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """The run ended: its liveness lock goes."""
    session = _session(con)
    if session is None or int(run_id) not in session.runs:
        return
    with session.guard:
        session.runs.discard(int(run_id))
        session._unlock(_RUN_NAMESPACE, int(run_id))


def run_is_alive(con: duckdb.DuckDBPyConnection, run_id: int) -> bool:
    """Whether some live process (on any machine) holds run `run_id`; on an embedded file, never (the file lock is ours)."""
    session = _session(con)
    if session is None:
        return False
    if int(run_id) in session.runs:
        return True
    with session.guard:
        if session._try(_RUN_NAMESPACE, int(run_id)):
            session._unlock(_RUN_NAMESPACE, int(run_id))
            return False
        return True
