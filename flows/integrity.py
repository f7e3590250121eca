"""What keeps a writer run safe and explainable: the writer lock around it, leftovers swept before
it, and its report (stages, checks, warnings) stored in the warehouse and published to Prefect.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from flows.settings import Settings
from warehouse import locks, store

# write_atomically names its temporaries .<name>.<pid>.tmp; a crash can leave one behind.
_TEMPORARY = re.compile(r"^\..+\.\d+\.tmp$")
_run_locks: dict[int, locks.WriterLock] = {}


def swept_temporaries(home: Path) -> list[Path]:
    """Delete temporaries a killed writer left in raw/ and lake/; returns what was deleted.

    Call only while holding the writer lock: then no live writer can own one of them.
    """
    removed = []
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
        con = store.open_writer(settings.warehouse_path, settings.writer_wait)
        try:
            interrupted = store.close_interrupted_runs(con)
            run_id = store.start_run(con, flow_name, arguments)
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
        con = store.open_writer(settings.warehouse_path, settings.writer_wait)
        try:
            message = "; ".join(report.failures + report.warnings)[:4000]
            store.finish_run(con, report.run_id, report.status, message, **report.counts())
            store.record_run_report(con, report.run_id, getattr(report, "stages", []), report.warnings)
            _rebuild_search_index(con)
        finally:
            con.close()
    finally:
        lock = _run_locks.pop(report.run_id, None)
        if lock is not None:
            lock.release()


def _rebuild_search_index(con) -> None:
    """Bring the BM25 index up to date once per run; a failure is logged, never fails the run."""
    from warehouse import term_index

    try:
        if term_index.rebuild_fts_if_stale(con):
            logging.getLogger("papertrends").info("search index rebuilt")
    except Exception as error:  # search is a convenience; the loaded data stands without it
        logging.getLogger("papertrends").warning(f"search index not rebuilt: {error}")


def report_tables(settings: Settings, run_id: int) -> dict:
    """The stored report of one run (stages, checks, warnings), read back from the warehouse."""
    con = store.open_reader(settings.warehouse_path, settings.reader_wait)
    try:
        return store.run_report(con, run_id)
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

