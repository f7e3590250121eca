"""`papertrends migrate`: copy a warehouse, row for row, between the embedded file and a DuckLake.

The source is opened read-only and never changed. The target is made with this papertrends'
migrations (keys and sequence on a file; their DuckLake translation on a lake) and must hold no
data yet: a migration never merges into, or overwrites, a warehouse that has rows. Every table is
copied in one transaction (on DuckLake: one snapshot), then counted on both sides; a count that
differs rolls nothing back silently but fails loudly, naming the table.

Copied: every table of the schema main and of the internal schema (papertrends_internal: the term
index, resume state), each into the same schema of the target. Not copied: schema_migrations (the
target's own migrations fill it) and the BM25 search index (the fts_main_papers schema, derived
data): the target's search_index_state is marked stale so the next writer run rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..core.errors import WarehouseError
from . import backends, connection
from ..transforms.tables import INTERNAL_SCHEMA, SEARCH_INDEX_STATE
from .migrations import migrations, schema_version

SOURCE_ALIAS = "migrate_source"
# The schemas copied: the user's tables and papertrends' own bookkeeping.
COPIED_SCHEMAS = ("main", INTERNAL_SCHEMA)
# Filled by the target's own migrations, or derived: never copied row by row.
NOT_COPIED = {"schema_migrations"}
# One-row state tables the target's migrations create with a row: replaced, not appended to.
REPLACED = {"search_index_state"}


@dataclass
class MigrateReport:
    """What a migration copied: rows per table, and where from and to."""

    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    snapshot: int | None = None  # the DuckLake snapshot the copy committed (None for a file target)

    def summary(self) -> str:
        total = sum(self.rows.values())
        at = f" at snapshot {self.snapshot}" if self.snapshot is not None else ""
        return f"migrated {total} rows in {len(self.rows)} tables from {self.source} to {self.target}{at}"


def _describe(target: backends.DuckLake | Path) -> str:
    return target.describe() if isinstance(target, backends.DuckLake) else str(target)


def _open_target(target: backends.DuckLake | Path) -> duckdb.DuckDBPyConnection:
    if isinstance(target, backends.DuckLake):
        return backends.open_writer_ducklake(target)
    if target.exists():
        raise WarehouseError(f"{target} exists: migrate writes a new warehouse file only (move it away first)")
    return connection.open_writer(target)


def _attach_source(con: duckdb.DuckDBPyConnection, source: backends.DuckLake | Path) -> None:
    if isinstance(source, backends.DuckLake):
        backends.attach(con, source, alias=SOURCE_ALIAS, read_only=True)
        return
    if not Path(source).is_file():
        raise WarehouseError(f"no warehouse at {source}")
    quoted = str(source).replace("'", "''")  # ATTACH takes no parameters
    con.execute(f"attach '{quoted}' as {SOURCE_ALIAS} (read_only)")


def _base_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    """schema.table of every table of `catalog` in the copied schemas."""
    return [f"{schema}.{name}" for schema, name in con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ? and list_contains(?, schema_name) "
        "order by schema_name, table_name",
        [catalog, list(COPIED_SCHEMAS)],
    ).fetchall()]


def _bare(table: str) -> str:
    """'papertrends_internal.term_words' -> 'term_words' (the name a report and NOT_COPIED use)."""
    return table.split(".", 1)[1]


def _ref(catalog: str, table: str) -> str:
    schema, name = table.split(".", 1)
    return f'"{catalog}".{schema}."{name}"'


def migrate(source: backends.DuckLake | Path, target: backends.DuckLake | Path) -> MigrateReport:
    """Copy every table of `source` into the new, empty warehouse `target`; returns rows per table."""
    same = (source.resolve() == target.resolve()) if isinstance(source, Path) and isinstance(target, Path) else (
        isinstance(source, backends.DuckLake) and isinstance(target, backends.DuckLake) and source.catalog == target.catalog)
    if same:
        raise WarehouseError(f"source and target are the same warehouse ({_describe(source)})")
    report = MigrateReport(source=_describe(source), target=_describe(target))
    con = _open_target(target)
    try:
        target_catalog = con.execute("select current_database()").fetchone()[0]
        _attach_source(con, source)
        known = max(v for v, _, _ in migrations())
        found = schema_version(con, SOURCE_ALIAS)
        if found != known or schema_version(con) != known:
            raise WarehouseError(
                f"source has schema {found}, this papertrends knows {known}: "
                "open it with a writer of this version first (any ingest upgrades it)"
            )
        tables = [t for t in _base_tables(con, SOURCE_ALIAS) if _bare(t) not in NOT_COPIED]
        missing = sorted(set(tables) - set(_base_tables(con, target_catalog)))
        if missing:
            raise WarehouseError(f"target lacks tables {', '.join(missing)}: not made by this papertrends")
        occupied = [_bare(t) for t in tables if _bare(t) not in REPLACED
                    and con.execute(f"select count(*) from {_ref(target_catalog, t)}").fetchone()[0]]
        if occupied:
            raise WarehouseError(
                f"{report.target} already holds rows (in {', '.join(occupied)}): migrate only fills an empty warehouse"
            )
        con.execute("begin transaction")
        try:
            for table in tables:
                destination = _ref(target_catalog, table)
                if _bare(table) in REPLACED:
                    con.execute(f"delete from {destination}")
                con.execute(f"insert into {destination} by name select * from {_ref(SOURCE_ALIAS, table)}")
            # The search index is not copied: let the next writer run rebuild it.
            con.execute(f"update {_ref(target_catalog, SEARCH_INDEX_STATE.qualified)} set stale = true")
            if isinstance(target, Path):
                highest = con.execute(f'select coalesce(max(run_id), 0) from "{target_catalog}".main.runs').fetchone()[0]
                if highest:
                    # DuckDB sequences cannot be restarted in place; drawing values moves it on.
                    con.execute("select max(nextval('run_id_sequence')) from range(?)", [highest])
            con.execute("commit")
        except BaseException:
            try:
                con.execute("rollback")
            except duckdb.TransactionException:
                pass  # a failed commit has ended the transaction already
            raise
        for table in tables:
            copied, = con.execute(f"select count(*) from {_ref(target_catalog, table)}").fetchone()
            expected, = con.execute(f"select count(*) from {_ref(SOURCE_ALIAS, table)}").fetchone()
            if copied != expected:
                raise WarehouseError(f"{_bare(table)}: {expected} rows in the source but {copied} in the target")
            report.rows[_bare(table)] = copied
        if isinstance(target, backends.DuckLake):
            report.snapshot = backends.snapshot_of(con)
        con.execute(f"detach {SOURCE_ALIAS}")
    except duckdb.Error as error:
        raise WarehouseError(f"migrate failed: {str(error).splitlines()[0]}") from error
    finally:
        con.close()
    return report


def tables_differing(a: backends.DuckLake | Path, b: backends.DuckLake | Path) -> dict[str, tuple[int, int]]:
    """Tables whose rows differ between two warehouses (as multisets): {table: (only in a, only in b)}.

    Used by tests and by `migrate --check`; schema_migrations (applied_at differs by design) and
    search_index_state (derived) are left out.
    """
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        for alias, side in (("side_a", a), ("side_b", b)):
            if isinstance(side, backends.DuckLake):
                backends.attach(con, side, alias=alias, read_only=True)
            else:
                quoted = str(side).replace("'", "''")
                con.execute(f"attach '{quoted}' as {alias} (read_only)")
        tables = sorted(set(_base_tables(con, "side_a")) | set(_base_tables(con, "side_b")))
        differing = {}
        for table in tables:
            if _bare(table) in NOT_COPIED | REPLACED:
                continue
            left, right = _ref("side_a", table), _ref("side_b", table)
            only_a, = con.execute(f"select count(*) from (select * from {left} except all select * from {right})").fetchone()
            only_b, = con.execute(f"select count(*) from (select * from {right} except all select * from {left})").fetchone()
            if only_a or only_b:
                differing[_bare(table)] = (only_a, only_b)
        return differing
    finally:
        con.close()


def migrate_data_root(settings, to: str, data_path: str | None = None, s3_endpoint: str | None = None) -> MigrateReport:
    """`papertrends migrate --to URL`: copy the data root's warehouse (whichever backend it is on) to URL.

    URL is `ducklake:postgres:<conninfo>` (with `data_path`, default the ducklake_data_path setting)
    or the path of a new .duckdb file.
    """
    source = backends.ducklake_of(settings) or settings.warehouse_path
    target = backends.parse_target(
        to, data_path or settings.ducklake_data_path, s3_endpoint if s3_endpoint is not None else settings.s3_endpoint,
        settings.s3_region,
    )
    return migrate(source, target)
