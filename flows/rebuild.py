"""Rebuild the lake and the warehouse from the raw archive alone, offline.

Everything is built beside the live copies (lake.rebuild/, warehouse.rebuild.duckdb) under the
writer lock, checked, and only then swapped in: the warehouse by one atomic rename, so a reader
sees either the old warehouse or the new one, never a half-built one. The old warehouse is kept
as warehouse.before-rebuild.duckdb. The run ledger is carried over, so history survives a rebuild.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from prefect import flow

from ..core import errors
from ..core.reports import RunReport
from ..core.settings import Settings, load_settings
from ..pipeline.lake import normalized_record, read_lake_files, write_lake
from ..sources.raw_archive import iter_raw
from ..warehouse import connection, ledger, loads, locks, term_index
from ..warehouse.checks import CheckContext
from . import runs
from .runs import publish_report, run_logger

REBUILD_LAKE = "lake.rebuild"
REBUILD_WAREHOUSE = "warehouse.rebuild.duckdb"
BACKUP_WAREHOUSE = "warehouse.before-rebuild.duckdb"


def _remove_duckdb_file(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _checkpointed(path: Path, wait_seconds: float) -> None:
    """Fold a warehouse's write-ahead log (left by a killed writer) into its file before it is moved."""
    if path.exists() and path.with_name(path.name + ".wal").exists():
        connection.open_writer(path, wait_seconds).close()


def _swap_in(settings: Settings, new_lake: Path, new_warehouse: Path) -> None:
    """Put the rebuilt warehouse and lake in place of the live ones."""
    live = settings.warehouse_path
    _checkpointed(live, settings.writer_wait)
    if live.exists():
        backup = live.with_name(BACKUP_WAREHOUSE)
        backup.unlink(missing_ok=True)
        backup.hardlink_to(live)
    new_warehouse.replace(live)  # atomic: readers open the old file or the new one
    old_lake = settings.home / "lake.old"
    shutil.rmtree(old_lake, ignore_errors=True)
    if settings.lake_dir.exists():
        settings.lake_dir.rename(old_lake)
    new_lake.rename(settings.lake_dir)
    shutil.rmtree(old_lake, ignore_errors=True)


@flow(name="rebuild-from-raw", log_prints=False)
def rebuild_from_raw(home: str | None = None) -> RunReport:
    """Re-create the Parquet lake and the DuckDB warehouse from raw/ alone, without the network.

    Every landing is normalized again into a fresh lake, loaded into a fresh warehouse with the
    data checks, and swapped in only when all of that succeeded. The run ledger (runs, their
    stages, checks and warnings) is carried over, with this run added; the previous warehouse
    stays as warehouse.before-rebuild.duckdb.
    """
    started = time.monotonic()
    settings = load_settings(home)
    if not settings.raw_dir.is_dir():
        raise errors.WarehouseError(f"no raw archive at {settings.raw_dir}: nothing to rebuild from")
    new_lake = settings.home / REBUILD_LAKE
    new_warehouse = settings.home / REBUILD_WAREHOUSE
    with locks.writer_lock(settings.home, settings.writer_wait, "rebuild"):
        runs.swept_temporaries(settings.home)
        shutil.rmtree(new_lake, ignore_errors=True)
        _remove_duckdb_file(new_warehouse)
        if settings.warehouse_path.exists():
            # Brings the live warehouse to this schema and folds in any write-ahead log, so its
            # run ledger can be carried over and the file moved safely.
            connection.open_writer(settings.warehouse_path, settings.writer_wait).close()
        con = connection.open_writer(new_warehouse, settings.writer_wait)
        try:
            if settings.warehouse_path.exists():
                ledger.copy_run_ledger(con, settings.warehouse_path)
            report = RunReport(ledger.start_run(con, "rebuild-from-raw", {"raw": str(settings.raw_dir)}), "rebuild-from-raw")
            files: list[str] = []
            for record in iter_raw(settings.raw_dir):
                normalized = normalized_record(record)
                files += [str(p) for p in write_lake(new_lake, record, normalized)]
                report.inputs += 1
                report.items_in += normalized.items_in
                report.items_loaded += normalized.listings.height
                report.items_quarantined += normalized.quarantine.height
                report.warnings += normalized.warnings
            since = report.stage("normalize", report.started, report.items_in, f"{report.inputs} raw input(s), {len(files)} lake file(s)")
            listings, quarantine = read_lake_files(files)
            counts = loads.load(con, listings, quarantine, report.run_id, checks=CheckContext(items_in=report.items_in))
            report.listings_new, report.listings_changed = counts.listings_new, counts.listings_changed
            report.papers_new, report.papers_changed = counts.papers_new, counts.papers_changed
            report.stage("load+checks", since, counts.listings_in + counts.quarantined_in,
                         f"{counts.listings_new} listings, {counts.papers_new} papers, {counts.quarantine_new} quarantine")
            report.seconds = time.monotonic() - started
            ledger.finish_run(con, report.run_id, report.status, "; ".join(report.warnings)[:4000], **report.counts())
            ledger.record_run_report(con, report.run_id, report.stages, report.warnings)
            term_index.rebuild_fts_if_stale(con)
        except BaseException:
            con.close()
            shutil.rmtree(new_lake, ignore_errors=True)
            _remove_duckdb_file(new_warehouse)
            raise
        # The new file must be complete on its own before it is moved (its write-ahead log would be
        # left behind): checkpoint explicitly, as a small load skips the checkpoint at close.
        con.execute("checkpoint")
        con.close()
        _swap_in(settings, new_lake, new_warehouse)
    run_logger().info(f"rebuilt from {report.inputs} raw input(s) in {report.seconds:.1f}s")
    publish_report(report, settings)
    return report
