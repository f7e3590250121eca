"""The table declarations (transforms/tables.py) against real DuckDB files: the migrations build exactly
the declared tables, the descriptions reach the database as comments, the derived schemas are the ones used."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import polars as pl
import pytest
from papertrends.transforms import tables
from papertrends.transforms.arxiv import ArxivExtracted, RECORD_SCHEMA, arxiv_rows_normalized
from papertrends.transforms.hf_listings import QUARANTINE_SCHEMA, daily_papers_extracted, listings_normalized
from papertrends.warehouse import backends, connection, loads, migrations
from papertrends.warehouse.tables import apply_comments, comment_statements, commentable, create_table_sql, live_columns

LATEST = max(v for v, _, _ in migrations.migrations())


def shape(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Per schema.table of the current database (besides DuckDB fts's own): columns (name, type, not null),
    primary key, unique columns."""
    found = {}
    for schema, table in con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = current_database() and schema_name <> 'fts_main_papers'"
    ).fetchall():
        constraints = con.execute(
            "select constraint_type, constraint_column_names from duckdb_constraints() "
            "where database_name = current_database() and schema_name = ? and table_name = ? "
            "and constraint_type in ('PRIMARY KEY', 'UNIQUE')",
            [schema, table],
        ).fetchall()
        found[f"{schema}.{table}"] = {
            "columns": live_columns(con, table, schema),
            "key": next((tuple(cols) for kind, cols in constraints if kind == "PRIMARY KEY"), ()),
            "unique": sorted(cols[0] for kind, cols in constraints if kind == "UNIQUE"),
        }
    return found


def declared_shape() -> dict[str, dict]:
    """The same, of a database built from the declarations' own DDL."""
    con = duckdb.connect()
    con.execute("create sequence run_id_sequence")
    con.execute(f"create schema {tables.INTERNAL_SCHEMA}")
    for table in tables.TABLES:
        con.execute(create_table_sql(table))
    return shape(con)


# A new warehouse, and one of every earlier schema version upgraded by a writer's open.
@pytest.mark.parametrize("start", range(LATEST), ids=lambda v: "new" if v == 0 else f"from-{v:03d}")
def test_the_migrations_build_exactly_the_declared_tables(tmp_path, start):
    path = tmp_path / "warehouse.duckdb"
    if start:
        con = duckdb.connect(str(path))
        migrations.apply_migrations(con, up_to=start)
        con.close()
    con = connection.open_writer(path)
    try:
        live = shape(con)
    finally:
        con.close()
    declared = declared_shape()
    assert sorted(live) == sorted(declared), "tables the migrations make but nobody declared, or the reverse"
    for name in declared:
        assert live[name] == declared[name], name


def test_every_declared_type_has_its_polars_type_and_unknown_types_are_refused():
    for table in tables.TABLES:
        for column in table.columns:
            assert isinstance(column.polars, pl.DataType), (table.name, column.name)
    assert tables.polars_dtype("struct(version varchar, created timestamptz)[]") == pl.List(
        pl.Struct({"version": pl.String(), "created": pl.Datetime("us", "UTC")})
    )
    with pytest.raises(ValueError, match="hugeint"):
        tables.polars_dtype("hugeint")


def comments_of(con) -> tuple[dict, dict, dict]:
    db = "database_name = current_database()"
    tables_ = {f"{s}.{t}": text for s, t, text in con.execute(
        f"select schema_name, table_name, comment from duckdb_tables() where {db}").fetchall()}
    views = dict(con.execute(f"select view_name, comment from duckdb_views() where not internal and {db}").fetchall())
    columns = {(f"{s}.{t}", c): text for s, t, c, text in con.execute(
        f"select schema_name, table_name, column_name, comment from duckdb_columns() where {db}"
    ).fetchall()}
    return tables_, views, columns


def assert_described(con) -> None:
    table_comments, view_comments, column_comments = comments_of(con)
    for table in tables.TABLES:
        assert table_comments[table.qualified] == table.description
        for column in table.columns:
            expected = column.description if commentable(table) else None
            assert column_comments[(table.qualified, column.name)] == expected, (table.name, column.name)
    for view, text in tables.VIEWS.items():
        assert view_comments[view] == text


def test_a_duckdb_user_reads_every_description_in_the_catalog(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    connection.open_writer(path).close()
    # As a user of the plain duckdb client would open the file.
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert_described(con)
        assert con.execute(
            "select comment from duckdb_columns() where table_name = 'listings' and column_name = 'rank'"
        ).fetchone() == (tables.LISTINGS.column("rank").description,)
    finally:
        con.close()


def test_a_warehouse_whose_comments_are_still_in_the_write_ahead_log_opens(tmp_path):
    # A new warehouse whose first load is small closes without a checkpoint: its migrations and
    # comments are replayed from the log by the next open. DuckDB 1.5.5 failed that replay with an
    # internal error when the log held a comment on runs.run_id (a column with a nextval default).
    path = tmp_path / "warehouse.duckdb"
    con = connection.open_writer(path)
    con.execute("pragma disable_checkpoint_on_shutdown")
    con.close()
    assert (tmp_path / "warehouse.duckdb.wal").exists()
    reader = connection.open_reader(path)
    try:
        assert reader.execute("select comment from duckdb_tables() where table_name = 'runs'").fetchone() == (
            tables.RUNS.description,)
    finally:
        reader.close()


def test_descriptions_are_applied_once_and_follow_the_declarations(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = connection.open_writer(path)
    try:
        assert comment_statements(con) == []  # nothing left to do: a writer open costs one catalog read
        con.execute("comment on column papers.title is 'stale text'")
        con.execute("comment on table listings is null")
        assert apply_comments(con) == 2
        assert_described(con)
    finally:
        con.close()


def test_an_upgraded_warehouse_gets_the_descriptions(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    migrations.apply_migrations(con, up_to=3)
    # An old schema is left undescribed until it is complete (its tables may lack declared columns).
    assert con.execute("select count(comment) from duckdb_tables()").fetchone() == (0,)
    con.close()
    con = connection.open_writer(path)
    try:
        assert_described(con)
    finally:
        con.close()


def test_a_ducklake_carries_the_descriptions(tmp_path):
    pytest.importorskip("duckdb_extension_ducklake", reason="the ducklake extra is not installed")
    lake = backends.DuckLake(catalog=str(tmp_path / "catalog.ducklake"), data_path=str(tmp_path / "files") + "/")
    con = backends.open_writer_ducklake(lake)
    con.close()
    con = backends.open_ducklake(lake, read_only=True)
    try:
        assert_described(con)
    finally:
        con.close()


def test_the_transforms_produce_the_declared_lake_schemas():
    body = (
        b'[{"paper": {"id": "2501.00001", "title": "Scaling", "summary": "About scaling.", "authors": [{"name": "A"}],'
        b' "publishedAt": "2025-01-09T00:00:00.000Z", "upvotes": 3}, "numComments": 1}]'
    )
    fetched = dt.datetime(2025, 1, 10, tzinfo=dt.timezone.utc)
    extracted = daily_papers_extracted(body, origin="o", raw_sha256="s")
    listings, quarantine = listings_normalized(extracted, source="hf_daily", list_date=dt.date(2025, 1, 10),
                                               fetched_at=fetched, origin="o", raw_sha256="s")
    assert listings.height == 1
    assert dict(listings.schema) == tables.LISTING_ROW_SCHEMA and list(listings.schema) == list(tables.LISTING_ROW_SCHEMA)
    assert dict(quarantine.schema) == tables.QUARANTINE_ROW_SCHEMA
    empty = ArxivExtracted(pl.DataFrame(schema=RECORD_SCHEMA), pl.DataFrame(schema=QUARANTINE_SCHEMA), 0)
    rows, _ = arxiv_rows_normalized(empty, fetched_at=fetched, origin="", raw_sha256="")
    assert list(rows.schema.items()) == list(tables.ARXIV_ROW_SCHEMA.items())


def test_the_load_column_lists_are_the_declared_columns():
    assert loads.LISTING_COLUMNS == tables.LISTINGS.names
    assert list(loads.LISTING_KEY) == list(tables.LISTINGS.key)
    assert set(loads.LAKE_TABLES) == set(tables.LAKE_TABLES)
    # Every lake column that a warehouse table also has is typed alike in both.
    for name, (schema, _) in tables.LAKE_TABLES.items():
        for column, dtype in schema.items():
            owners = [t for t in tables.TABLES if column in t.names and t.name in ("papers", "listings", name)]
            assert owners and all(t.column(column).polars == dtype for t in owners), (name, column)


def _not_null_columns(table: tables.Table) -> set[str]:
    return {c.name for c in table.columns if c.not_null}


def test_no_check_re_tests_what_the_schema_enforces():
    # A check that looks for nulls in a NOT NULL column, or for duplicate keys, can never fail.
    for table in tables.TABLES:
        for check in table.checks:
            sql = check.sql.lower()
            for column in _not_null_columns(table):
                assert not re.search(rf"\b{column}\s+is\s+null\b", sql), (check.name, column)
            if table.key:
                key = r"\s*,\s*".join(table.key)
                assert not re.search(rf"group\s+by\s+{key}\s+having\s+count", sql), check.name


def test_a_migration_that_alters_runs_leaves_a_warehouse_that_opens_again(tmp_path, monkeypatch):
    # DuckDB 1.5.5 cannot replay a write-ahead log holding an ALTER of runs (run_id draws from a
    # sequence); writer runs close without a checkpoint, so the migrations checkpoint themselves.
    path = tmp_path / "warehouse.duckdb"
    connection.open_writer(path).close()
    shipped = migrations.migrations()
    extra = (LATEST + 1, "runs_note", "alter table runs add column note varchar;")
    monkeypatch.setattr(migrations, "migrations", lambda: [*shipped, extra])
    con = connection.open_writer(path)
    con.execute("pragma disable_checkpoint_on_shutdown")  # as begin_writer_run leaves it
    con.close()
    reader = duckdb.connect(str(path), read_only=True)
    try:
        assert "note" in [c for c, _, _ in live_columns(reader, "runs")]
    finally:
        reader.close()
