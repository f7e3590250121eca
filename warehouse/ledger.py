"""The run ledger: runs, their stages, checks and warnings."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from . import lake_locks


def start_run(con: duckdb.DuckDBPyConnection, flow: str, arguments: dict) -> int:
    """Record a run as started; returns its run_id (the highest so far + 1).

    Run ids come from the ledger itself, not from a sequence or RETURNING (DuckLake has neither):
    the writer lock (file) or the lake's merge lock (DuckLake, lake_locks) makes "highest + 1"
    unique. On a DuckLake the run is also marked alive (lake_locks.hold_run) before it is visible
    as 'running', so close_interrupted_runs on another machine never takes it for a dead one.
    """
    def insert() -> int:
        con.execute("begin transaction")
        try:
            run_id = con.execute("select coalesce(max(run_id), 0) + 1 from runs").fetchone()[0]
            lake_locks.hold_run(con, run_id)
            con.execute(
                "insert into runs (run_id, flow, arguments, started_at, status) values (?, ?, ?, now(), 'running')",
                [run_id, flow, json.dumps(arguments, default=str, sort_keys=True)],
            )
            con.execute("commit")
        except BaseException:
            _rollback(con)
            raise
        return run_id

    with lake_locks.writer_section(con):
        return lake_locks.retrying_conflicts(insert)


def end_run(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """The run's process is done with it: on a DuckLake its liveness mark goes (nothing on a file)."""
    lake_locks.release_run(con, run_id)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("rollback")
    except duckdb.TransactionException:
        pass  # a failed commit (a DuckLake conflict) left nothing to roll back


def finish_run(con: duckdb.DuckDBPyConnection, run_id: int, status: str, message: str = "", **counts: int) -> None:
    """Record how a run ended, with its counts."""
    allowed = {
        "inputs", "items_in", "items_loaded", "items_quarantined",
        "listings_new", "listings_changed", "papers_new", "papers_changed",
    }
    unknown = set(counts) - allowed
    if unknown:
        raise ValueError(f"unknown run counts: {sorted(unknown)}")
    assignments = "".join(f", {name} = ?" for name in counts)
    with lake_locks.writer_section(con):
        lake_locks.retrying_conflicts(lambda: con.execute(
            f"update runs set finished_at = now(), status = ?, message = ?{assignments} where run_id = ?",
            [status, message, *counts.values(), run_id],
        ))


def close_interrupted_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Mark runs still 'running' whose process is gone as interrupted; returns how many.

    On the embedded file call it only while holding the writer lock: then every 'running' run is
    a dead one. On a DuckLake other machines' writers run at the same time: only runs nobody
    holds alive (lake_locks.run_is_alive) are closed.
    """
    with lake_locks.writer_section(con):
        running = [r for (r,) in con.execute("select run_id from runs where status = 'running'").fetchall()]
        dead = [r for r in running if not lake_locks.run_is_alive(con, r)]
        if dead:
            lake_locks.retrying_conflicts(lambda: con.execute(
                "update runs set status = 'interrupted', message = coalesce(message, '') || "
                "'the process ended before the run finished (killed or crashed); nothing it loaded was half-applied' "
                "where run_id in (select unnest(?::bigint[]))", [dead],
            ))
    return len(dead)


def record_run_report(
    con: duckdb.DuckDBPyConnection, run_id: int, stages: list[dict], warnings: list[str]
) -> None:
    """Store a run's stages (name, items, seconds, detail) and warnings, in one transaction."""
    def store() -> None:
        con.execute("begin transaction")
        try:
            con.execute("delete from run_stages where run_id = ?", [run_id])
            con.execute("delete from run_warnings where run_id = ?", [run_id])
            for order, stage in enumerate(stages):
                con.execute(
                    "insert into run_stages values (?, ?, ?, ?, ?, ?)",
                    [run_id, order, stage["stage"], stage.get("items"), stage.get("seconds"), stage.get("detail")],
                )
            for position, warning in enumerate(warnings):
                con.execute("insert into run_warnings values (?, ?, ?)", [run_id, position, warning[:4000]])
            con.execute("commit")
        except Exception:
            _rollback(con)
            raise

    with lake_locks.writer_section(con):
        lake_locks.retrying_conflicts(store)


RUN_LEDGER_TABLES = ("runs", "run_checks", "run_stages", "run_warnings")


def copy_run_ledger(con: duckdb.DuckDBPyConnection, source: Path) -> int:
    """Copy the run ledger of the warehouse at `source` (same schema) into `con`'s; returns runs copied.

    The run_id sequence is moved past the copied runs, so new runs keep numbering after them.
    """
    quoted = str(source).replace("'", "''")  # ATTACH takes no parameters: quote the path as a literal
    con.execute(f"attach '{quoted}' as previous (read_only)")
    try:
        con.execute("begin transaction")
        try:
            for table in RUN_LEDGER_TABLES:
                con.execute(f"insert into {table} by name select * from previous.{table}")
            copied, highest = con.execute("select count(*), coalesce(max(run_id), 0) from runs").fetchone()
            if highest:
                # DuckDB sequences cannot be restarted in place; drawing values moves it on.
                con.execute("select max(nextval('run_id_sequence')) from range(?)", [highest])
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.execute("detach previous")
    return copied


def run_report(con: duckdb.DuckDBPyConnection, run_id: int | None = None) -> dict:
    """One run's report (the latest when run_id is None): the run row, stages, checks, warnings."""
    if run_id is None:
        run_id = con.execute("select max(run_id) from runs").fetchone()[0]
    if run_id is None:
        return {}
    run = con.execute("select * from runs where run_id = ?", [run_id]).pl()
    stages = con.execute(
        "select stage, items, round(seconds, 3) as seconds, detail from run_stages where run_id = ? order by stage_order",
        [run_id],
    ).pl()
    checks = con.execute(
        "select check_name, passed, offending, example from run_checks where run_id = ? order by check_name", [run_id]
    ).pl()
    warnings = [w for (w,) in con.execute(
        "select warning from run_warnings where run_id = ? order by position", [run_id]
    ).fetchall()]
    return {"run": run.to_dicts()[0] if run.height else {}, "stages": stages, "checks": checks, "warnings": warnings}
