"""Rebuild the lake and the warehouse from the raw archive alone, offline.

Everything is built beside the live copies (lake.rebuild/, warehouse.rebuild.duckdb) under the
writer lock, checked, and only then swapped in: the warehouse by one atomic rename, so a reader
sees either the old warehouse or the new one, never a half-built one. The old warehouse is kept
as warehouse.before-rebuild.duckdb. The run ledger is carried over, so history survives a rebuild.

When the warehouse is a DuckLake the rebuild is made the same way in the embedded file
warehouse.rebuild.duckdb, then copied into the lake in one transaction (one snapshot) under the
lake's merge lock: every data table's rows are replaced by the rebuilt ones, while the lake keeps
its own run ledger and harvest/backfill state. Inside that transaction, before anything is
replaced, the live lake is checked against the rebuild: any data table holding more rows, or any
paper or listing the rebuild lacks (rows another machine loaded from its own raw/), refuses the
swap. The previous state stays readable with --as-of until its snapshot is expired.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from prefect import flow

from ..core import errors
from ..core.reports import RunReport
from ..core.settings import Settings, load_settings
from ..pipeline import registry
from ..pipeline.details import details_normalized
from ..sources.raw_archive import iter_raw
from ..transforms import tables
from ..transforms.hf_details import search_hits, title_resolved
from ..warehouse import backends, connection, enrichment, lake_locks, ledger, term_index
from ..warehouse.checks import CheckContext
from . import runs
from .runs import run_logger

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
        _keep_backup(live)
    new_warehouse.replace(live)  # atomic: readers open the old file or the new one
    _swap_lake_dir(settings, new_lake)


def _swap_lake_dir(settings: Settings, new_lake: Path) -> None:
    """Put the rebuilt Parquet lake (lake.rebuild/) in place of the data root's lake/."""
    old_lake = settings.home / "lake.old"
    shutil.rmtree(old_lake, ignore_errors=True)
    if settings.lake_dir.exists():
        settings.lake_dir.rename(old_lake)
    new_lake.rename(settings.lake_dir)
    shutil.rmtree(old_lake, ignore_errors=True)


# Tables whose rows come from raw/ alone: a rebuild must hold at least as many of each as the
# live warehouse, or it is refused. (Run ledger, harvest and backfill state are carried over.)
DATA_TABLES = ("papers", "listings", "quarantine", "paper_sources", "first_listings", "upvote_history",
               "paper_details", "title_resolutions", "arxiv_deleted")
# State that raw/ cannot give back (where a harvest stopped, which dates a backfill finished).
CARRIED_TABLES = ("oai_harvests", "backfill_dates")


def table_counts(path: Path) -> dict[str, int]:
    """Rows per data table of the warehouse file at `path` (read-only)."""
    con = connection.open_reader(path)
    try:
        present = connection.table_names(con)
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in DATA_TABLES if t in present}
    finally:
        con.close()


def _carried_over(con, live: Path) -> None:
    """Copy the state raw/ cannot give back (harvest resume points, backfill outcomes) from the live warehouse."""
    quoted = str(live).replace("'", "''")  # ATTACH takes no parameters
    con.execute(f"attach '{quoted}' as live (read_only)")
    try:
        with connection.transaction(con):
            for table in CARRIED_TABLES:
                # Internal tables: in the live file's internal schema, which `live.<name>` (main) would miss.
                con.execute(f"insert into {table} by name select * from live.{tables.BY_NAME[table].qualified}")
    finally:
        con.execute("detach live")


def _carried_over_from_lake(con, lake: backends.DuckLake) -> None:
    """The lake's run ledger and harvest/backfill state into the rebuilt file (ids kept, sequence moved past them)."""
    backends.attach(con, lake, alias="live", read_only=True)
    try:
        with connection.transaction(con):
            for table in (*ledger.RUN_LEDGER_TABLES, *CARRIED_TABLES):
                # Internal tables (the carried resume state) sit in the lake's internal schema.
                con.execute(f"insert into {table} by name select * from live.{tables.BY_NAME[table].qualified}")
            highest = con.execute("select coalesce(max(run_id), 0) from runs").fetchone()[0]
            if highest:
                # DuckDB sequences cannot be restarted in place; drawing values moves it on.
                con.execute("select max(nextval('run_id_sequence')) from range(?)", [highest])
    finally:
        con.execute("detach live")


# Rows of the live lake a rebuild must hold, by key: a rebuild lacking one would lose it.
_KEYED_TABLES = {"papers": "paper_id", "listings": "source, list_date, paper_id"}
# Never replaced by a rebuild: what raw/ cannot give back (kept as the lake has it), the schema
# ledger, and the search index (rebuilt in the lake afterwards).
_KEPT_IN_LAKE = {*ledger.RUN_LEDGER_TABLES, *CARRIED_TABLES, "schema_migrations", "search_index_state"}


def _lake_shortfall(con) -> list[str]:
    """What the live lake holds that the attached `rebuilt` file lacks: counts per data table, then keys."""
    present = {t for (t,) in con.execute("select table_name from duckdb_tables() where database_name = 'rebuilt'").fetchall()}
    short = []
    for table in DATA_TABLES:
        if table not in present:
            continue
        live, = con.execute(f"select count(*) from {table}").fetchone()
        new, = con.execute(f"select count(*) from rebuilt.{table}").fetchone()
        if new < live:
            short.append(f"{table} {new} < {live}")
    for table, key in _KEYED_TABLES.items():
        lacking, = con.execute(
            f"select count(*) from (select {key} from {table} except select {key} from rebuilt.{table})").fetchone()
        if lacking:
            short.append(f"{lacking} {table} row(s) of the lake not in the rebuild")
    return short


def _swap_into_lake(settings: Settings, new_warehouse: Path, run_id: int) -> int:
    """Replace the lake's data tables with the rebuilt file's in one snapshot; returns that snapshot.

    Under the lake's merge lock no other papertrends writer commits between the check and the
    swap. The rebuild run's own checks, stages and warnings (recorded in the file) join the
    lake's ledger. The BM25 index is marked stale, then rebuilt in the lake.
    """
    con = connection.open_writer(settings.warehouse_path, settings.writer_wait)
    try:
        quoted = str(new_warehouse).replace("'", "''")  # ATTACH takes no parameters
        con.execute(f"attach '{quoted}' as rebuilt (read_only)")
        tables = [(schema, table) for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'rebuilt' "
            "and schema_name <> ? order by all", [term_index.FTS_SCHEMA]).fetchall() if table not in _KEPT_IN_LAKE]

        def swap() -> None:
            con.execute("begin transaction")
            try:
                short = _lake_shortfall(con)
                if short:
                    raise errors.WarehouseError(
                        "rebuild refused: the rebuild from this data root's raw/ holds less than the DuckLake ("
                        + ", ".join(short) + "); the lake is unchanged. Rows another machine loaded from its own "
                        "raw/ cannot be rebuilt here")
                for schema, table in tables:
                    con.execute(f'delete from "{schema}"."{table}"')
                    con.execute(f'insert into "{schema}"."{table}" by name select * from rebuilt."{schema}"."{table}"')
                for table in ledger.RUN_LEDGER_TABLES[1:]:  # this run's rows; runs itself is the lake's
                    con.execute(f"insert into {table} by name (select * from rebuilt.{table} where run_id = $1 "
                                f"except all select * from {table} where run_id = $1)", [run_id])
                papers, = con.execute("select count(*) from papers").fetchone()
                con.execute("update search_index_state set stale = true, papers_behind = ?, "
                            "behind_since = coalesce(behind_since, now())", [papers])
                con.execute("commit")
            except BaseException:
                try:
                    con.execute("rollback")
                except Exception:
                    pass  # a failed commit (a DuckLake conflict) has ended the transaction
                raise

        with lake_locks.writer_section(con):
            lake_locks.retrying_conflicts(swap)
        snapshot = backends.snapshot_of(con)
        con.execute("detach rebuilt")
        term_index.rebuild_fts_if_stale(con)
        return snapshot
    finally:
        con.close()


def _loaded_lake_batch(con, lake_dir: Path, batch, report: RunReport) -> None:
    """Write one normalized batch into the new lake and merge it into the new warehouse."""
    files = registry.batch_written(lake_dir, batch)
    report.inputs += batch.inputs
    report.items_in += batch.items_in
    report.items_loaded += batch.loaded
    report.items_quarantined += batch.quarantined
    report.warnings += batch.warnings
    if files:
        counts = registry.lake_files_loaded(con, files, report.run_id, CheckContext(items_in=batch.items_in))
        report.listings_new += counts["listings_new"]
        report.listings_changed += counts["listings_changed"]
        report.papers_new += counts["papers_new"]
        report.papers_changed += counts["papers_changed"]


def _replayed_details(con, records: list, report: RunReport) -> int:
    """Detail answers merged again, oldest first (the newest answer per paper wins, as it did live)."""
    ordered = sorted(records, key=lambda r: (r.meta.get("fetched_at", ""), r.meta["path"]))
    for start in range(0, len(ordered), registry.DEFAULT_BATCH_INPUTS):
        papers, sightings, answers, problems = details_normalized([str(r.path) for r in ordered[start:start + registry.DEFAULT_BATCH_INPUTS]])
        enrichment.load_paper_details(con, papers, sightings, answers)
    report.inputs += len(records)
    return len(records)


def _replayed_titles(con, records: list, report: RunReport) -> int:
    """Title searches replayed as resolutions, oldest first, after every listing has loaded."""
    ordered = sorted(records, key=lambda r: (r.meta.get("fetched_at", ""), r.meta["path"]))
    replayed = 0
    for record in ordered:
        hits = search_hits(record.read()) if record.meta.get("status") == 200 else None
        if hits is None:
            continue  # the live run recorded nothing for a failed search either
        resolved_id, status = title_resolved(record.meta["title"], hits)
        enrichment.resolve_title(con, record.meta["synthetic_id"], record.meta["title"], resolved_id, status,
                                 record.sha256, resolved_at=record.fetched_at)
        replayed += 1
    report.inputs += len(records)
    return replayed


def _keep_backup(live: Path) -> None:
    """Keep the live warehouse as the backup, unless the backup there holds more (then it is kept aside)."""
    backup = live.with_name(BACKUP_WAREHOUSE)
    if backup.exists():
        kept, now = table_counts(backup), table_counts(live)
        if any(kept.get(t, 0) > now.get(t, 0) for t in kept):
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            backup.rename(backup.with_name(f"warehouse.before-rebuild.{stamp}.duckdb"))
    backup.unlink(missing_ok=True)
    backup.hardlink_to(live)


@flow(name="rebuild-from-raw", log_prints=False)
def rebuild_from_raw(home: str | None = None) -> RunReport:
    """Re-create the Parquet lake and the DuckDB warehouse from raw/ alone, without the network.

    Every landing is dispatched through the raw-kind registry: lists and arXiv pages are
    normalized in batches into a fresh lake and merged batch by batch; snapshots are streamed;
    paper details and title searches are replayed last, oldest first. The result is swapped in
    only when all of that succeeded and it holds at least as many rows in every data table as
    the live warehouse; otherwise the live warehouse stays and the rebuild fails. The run ledger
    (and harvest/backfill state) is carried over, with this run added; the previous warehouse
    stays as warehouse.before-rebuild.duckdb (a backup holding more is never overwritten).
    Like every writer, it runs as a recorded_run: the run starts in the live ledger (a failed or
    refused rebuild is a failed run there), is carried into the new warehouse with the rest of the
    ledger, and is finished and published in whichever warehouse is live when it ends.
    """
    settings = load_settings(home)
    lake = backends.ducklake_of(settings)
    if not settings.raw_dir.is_dir():
        raise errors.WarehouseError(f"no raw archive at {settings.raw_dir}: nothing to rebuild from")
    new_lake = settings.home / REBUILD_LAKE
    new_warehouse = settings.home / REBUILD_WAREHOUSE
    live = settings.warehouse_path
    with runs.recorded_run(settings, "rebuild-from-raw", {"raw": "raw/"}) as report:
        # recorded_run has brought the live warehouse to this schema and started this run in it;
        # closing it here folds in its write-ahead log, so its run ledger (this run included) can be
        # carried over and the file moved safely.
        connection.open_writer(live, settings.writer_wait).close()
        con = connection.open_writer(new_warehouse, settings.writer_wait)
        try:
            registry.bounded(con, settings.home)
            if lake is None:
                ledger.copy_run_ledger(con, live)
                _carried_over(con, live)
            else:
                _carried_over_from_lake(con, lake)
            groups = registry.split_by_load(iter_raw(settings.raw_dir))
            batches = 0
            # One batch in memory at a time: normalized, written, merged, dropped.
            for batch in registry.lake_batches(groups["lake"]):
                _loaded_lake_batch(con, new_lake, batch, report)
                batches += 1
            if groups["unknown"]:
                _loaded_lake_batch(con, new_lake, registry.unknown_kind_batch(groups["unknown"]), report)
            for record in groups["stream"]:
                for batch in registry.stream_batches(record, settings.snapshot_batch_lines):
                    _loaded_lake_batch(con, new_lake, batch, report)
            since = report.stage("normalize+load", report.started, report.items_in,
                                 f"{report.inputs} raw input(s), {batches} list batch(es), {len(groups['stream'])} snapshot(s)")
            details = _replayed_details(con, groups["details"], report)
            titles = _replayed_titles(con, groups["titles"], report)
            report.stage("details+titles", since, details + titles,
                         f"{details} detail answer(s), {titles} title search(es) replayed")
            con.close()
            con = None
            if live.exists() or lake is not None:
                before, after = table_counts(live), table_counts(new_warehouse)
                smaller = [f"{t} {after.get(t, 0)} < {n}" for t, n in before.items() if after.get(t, 0) < n]
                if smaller:
                    raise errors.WarehouseError(
                        "rebuild refused: the rebuilt warehouse holds less than the live one (" + ", ".join(smaller)
                        + "); the live warehouse is unchanged. Is part of raw/ missing, or of a kind this papertrends cannot read?")
            con = connection.open_writer(new_warehouse, settings.writer_wait)
            if lake is None:
                term_index.rebuild_fts_if_stale(con)  # on a lake: built in the lake after the swap
        except BaseException:
            if con is not None:
                con.close()
            shutil.rmtree(new_lake, ignore_errors=True)
            _remove_duckdb_file(new_warehouse)
            raise
        # The new file must be complete on its own before it is moved (its write-ahead log would be
        # left behind): checkpoint explicitly, as a small load skips the checkpoint at close.
        con.execute("checkpoint")
        con.close()
        if lake is None:
            _swap_in(settings, new_lake, new_warehouse)
        else:
            try:
                snapshot = _swap_into_lake(settings, new_warehouse, report.run_id)
            except BaseException:
                shutil.rmtree(new_lake, ignore_errors=True)
                raise
            finally:
                _remove_duckdb_file(new_warehouse)
            _swap_lake_dir(settings, new_lake)
            run_logger().info(f"rebuilt data committed to {lake.describe()} as snapshot {snapshot}")
        # recorded_run now finishes this run (copied over, still running) in the swapped-in warehouse.
    run_logger().info(f"rebuilt from {report.inputs} raw input(s) in {report.seconds:.1f}s")
    return report
