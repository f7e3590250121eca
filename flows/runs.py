"""What keeps a writer run safe and explainable: the writer lock around it, leftovers swept before
it, and its report (stages, checks, warnings) stored in the warehouse and published to Prefect.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import time
from pathlib import Path

from ..core import interrupts
from ..core.reports import RunReport
from ..core.settings import Settings
from ..warehouse import connection, ledger, locks

# write_atomically names its temporaries .<name>.<pid>.tmp; a crash can leave one behind.
_TEMPORARY = re.compile(r"^\..+\.\d+\.tmp$")
_run_locks: dict[int, locks.WriterLock] = {}


def swept_temporaries(home: Path) -> list[Path]:
    """Delete what a killed writer left: temporaries in raw/ and lake/, a half-built rebuild; returns them.

    Call only while holding the writer lock: then no live writer can own one of them.
    """
    removed = []
    # What a killed rebuild leaves beside the live copies (see flows/rebuild.py): never live data.
    for leftover in (Path(home) / "lake.rebuild", Path(home) / "lake.old"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
    for name in ("warehouse.rebuild.duckdb", "warehouse.rebuild.duckdb.wal"):
        if (Path(home) / name).exists():
            (Path(home) / name).unlink(missing_ok=True)
            removed.append(Path(home) / name)
    for folder in (Path(home) / "raw", Path(home) / "lake"):
        if not folder.is_dir():
            continue
        for path in folder.rglob("*.tmp"):
            if path.is_file() and _TEMPORARY.match(path.name):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def begin_writer_run(settings: Settings, flow_name: str, arguments: dict) -> int:
    """Take the writer lock, sweep leftovers, close runs a killed process left open, start a run.

    The lock is held until end_writer_run(run_id) (or this process ends).
    """
    lock = locks.acquire_writer(settings.home, settings.writer_wait, flow_name)
    try:
        removed = swept_temporaries(settings.home)
        con = connection.open_writer(settings.warehouse_path, settings.writer_wait)
        try:
            interrupted = ledger.close_interrupted_runs(con)
            run_id = ledger.start_run(con, flow_name, arguments)
            con.execute("pragma disable_checkpoint_on_shutdown")  # see end_writer_run
        finally:
            con.close()
    except BaseException:
        lock.release()
        raise
    if removed or interrupted:
        logging.getLogger("papertrends").warning(
            f"recovered from an interrupted run: {interrupted} run(s) marked interrupted, "
            f"{len(removed)} temporary file(s) removed"
        )
    _run_locks[run_id] = lock
    return run_id


def end_writer_run(settings: Settings, report) -> None:
    """Record how a run ended (counts, stages, warnings), then release its writer lock."""
    try:
        con = connection.open_writer(settings.warehouse_path, settings.writer_wait)
        try:
            message = "; ".join(report.failures + report.warnings)[:4000]
            ledger.finish_run(con, report.run_id, report.status, message, **report.counts())
            ledger.record_run_report(con, report.run_id, getattr(report, "stages", []), report.warnings)
            ledger.end_run(con, report.run_id)
            # The BM25 search index is not rebuilt here (a whole-corpus rebuild per run); loads count
            # what it is behind by, and `papertrends search --refresh-index` catches it up.
            # A few ledger rows do not warrant a checkpoint at close (it would rewrite the last row
            # group of papers a small load left in the WAL); DuckDB checkpoints past checkpoint_threshold.
            con.execute("pragma disable_checkpoint_on_shutdown")
        finally:
            con.close()
    finally:
        lock = _run_locks.pop(report.run_id, None)
        if lock is not None:
            lock.release()


def report_tables(settings: Settings, run_id: int) -> dict:
    """The stored report of one run (stages, checks, warnings), read back from the warehouse."""
    con = connection.open_reader(settings.warehouse_path, settings.reader_wait)
    try:
        return ledger.run_report(con, run_id)
    finally:
        con.close()


def publish_report_tables(settings: Settings, report, key_prefix: str) -> None:
    """Publish a run's stages and check results as a Prefect table artifact (a courtesy: never fails)."""
    from prefect.artifacts import create_table_artifact

    try:
        stored = report_tables(settings, report.run_id)
        rows = [{"kind": "stage", "name": s["stage"], "items": s["items"], "seconds": s["seconds"], "result": s["detail"]}
                for s in stored.get("stages", []).to_dicts()] if stored else []
        rows += [{"kind": "check", "name": c["check_name"], "items": c["offending"], "seconds": None,
                  "result": "passed" if c["passed"] else f"FAILED, e.g. {c['example']}"}
                 for c in stored.get("checks", []).to_dicts()] if stored else []
        create_table_artifact(table=rows, key=f"{key_prefix}-table", description=f"run {report.run_id}: stages and checks")
    except Exception as error:  # an artifact is a courtesy; its failure must not fail the run
        logging.getLogger("papertrends").warning(f"could not publish the run report table: {error}")


def run_logger():
    """The Prefect run logger inside a run, a plain logger outside one (task.fn() in tests)."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("papertrends")


def quarantine_reasons(settings: Settings, run_id: int, limit: int = 50) -> list[tuple[str, int, str]]:
    """(reason, items, an example origin) of the items this run quarantined first, most frequent first."""
    try:
        con = connection.open_reader(settings.warehouse_path, settings.reader_wait)
    except Exception:  # no warehouse (the run stopped before one existed): nothing to name
        return []
    try:
        return con.execute(
            "select reason, count(*), min(origin) from quarantine where first_run_id = ? "
            "group by reason order by count(*) desc, reason limit ?", [run_id, limit]
        ).fetchall()
    finally:
        con.close()


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")[:300]


def report_markdown(report, reasons: list[tuple[str, int, str]]) -> str:
    """The run report for people watching the Prefect UI: counts, what was quarantined and why, warnings."""
    body = "# papertrends run report\n\n```\n" + report.summary().splitlines()[0] + "\n"
    body += "\n".join(report.summary().splitlines()[1:2]) + "\n```\n"
    stages = getattr(report, "stages", [])
    if stages:
        body += "\n## Stages\n\n| stage | items | seconds | detail |\n|---|---:|---:|---|\n"
        body += "".join(f"| {s['stage']} | {s['items'] if s['items'] is not None else ''} | {s['seconds']:.2f} | "
                        f"{_cell(s['detail'] or '')} |\n" for s in stages)
    if reasons:
        body += "\n## Quarantined (new in this run)\n\n| reason | items | e.g. |\n|---|---:|---|\n"
        body += "".join(f"| {_cell(reason)} | {count} | {_cell(origin)} |\n" for reason, count, origin in reasons)
    if report.failures:
        body += "\n## Failures\n\n" + "".join(f"- {_cell(f)}\n" for f in report.failures)
    if report.warnings:
        body += "\n## Warnings\n\n" + "".join(f"- {_cell(w)}\n" for w in report.warnings)
    return body


def publish_report(report: RunReport, settings: Settings | None = None) -> None:
    """Attach the run report to the Prefect flow run: a markdown summary and a table of stages and checks."""
    from prefect.artifacts import create_markdown_artifact

    body = report_markdown(report, quarantine_reasons(settings, report.run_id) if settings is not None else [])
    try:
        create_markdown_artifact(markdown=body, key=f"papertrends-run-{report.flow}", description="ingestion run report")
    except Exception as error:  # an artifact is a courtesy; its failure must not fail the run
        run_logger().warning(f"could not publish the run report artifact: {error}")
    if settings is not None:
        publish_report_tables(settings, report, f"papertrends-run-{report.flow}")


@contextlib.contextmanager
def recorded_run(settings: Settings, flow_name: str, arguments: dict, report_type: type = None):
    """A run in the ledger around a flow's body: yields its report; always closes and publishes it.

    Takes the writer lock (via begin_writer_run); on an exception the run is recorded as failed with
    the reason and the exception goes on; either way the report is written and published.
    """
    started = time.monotonic()
    report = (report_type or RunReport)(begin_writer_run(settings, flow_name, arguments), flow_name)
    try:
        yield report
    except BaseException as error:
        if interrupts.is_interrupt(error):
            # Ctrl-C or SIGTERM: recorded as interrupted (not completed); what committed stays committed.
            report.interrupted = True
            report.failures.append(f"interrupted by {'SIGTERM' if interrupts.is_sigterm(error) else 'Ctrl-C'}")
        elif isinstance(error, Exception):
            report.failures.append(f"run stopped: {error}")
            report.items_loaded = 0
        raise
    finally:
        report.seconds = time.monotonic() - started
        end_writer_run(settings, report)
        publish_report(report, settings)


def retry_unexpected(task, task_run, state) -> bool:
    """Prefect retry condition of the fetch tasks: retry what the HTTP layer did not already retry.

    sources/http.py retries every request (429, 5xx, timeouts, connection errors, settings.max_attempts
    times, honouring Retry-After); a FetchError means those tries are spent, and retrying the task
    would multiply them. Anything else escaping a fetch (an OSError landing a body, a protocol error
    mid-body) gets the task's declared retries.
    """
    from ..sources.http import FetchError

    error = state.result(raise_on_failure=False)
    return isinstance(error, Exception) and not isinstance(error, FetchError)


# Declared on every task that fetches: retries for the unexpected, the HTTP layer for the expected.
FETCH_TASK_RETRIES = {"retries": 2, "retry_delay_seconds": 2, "retry_condition_fn": retry_unexpected}
