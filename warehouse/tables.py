"""The table declarations (transforms/tables.py) in SQL: their DDL, their COMMENT ON, the columns a database has.

The migrations build a warehouse; `apply_comments` then gives every declared table, view and
column its description (COMMENT ON, only where the stored comment differs), so a `duckdb` user
reads them in duckdb_tables().comment, duckdb_views().comment and duckdb_columns().comment. It runs
when a writer opens the warehouse, after the migrations (warehouse/migrations.py), on the embedded
file and on DuckLake alike: DuckLake 1.5.5 stores table, view and column comments in its catalog.
The columns of `runs` are left uncommented, see `commentable`.
"""

from __future__ import annotations

import duckdb

from ..transforms.tables import TABLES, VIEWS, Table


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(table: Table, name: str | None = None) -> str:
    """CREATE TABLE for a declaration: columns, types, not null, defaults, key and unique columns."""
    columns = []
    for c in table.columns:
        text = f"{_ident(c.name)} {c.type}"
        if c.not_null:
            text += " not null"
        if c.default is not None and "nextval" not in c.default:
            text += f" default {c.default}"
        if c.name in table.unique:
            text += " unique"
        columns.append(text)
    if table.key:
        columns.append(f"primary key ({', '.join(_ident(k) for k in table.key)})")
    return f"create table {_ident(name or table.name)} (\n    " + ",\n    ".join(columns) + "\n)"


def live_columns(con: duckdb.DuckDBPyConnection, table: str, schema: str = "main") -> list[tuple[str, str, bool]]:
    """(column, DuckDB type, not null) of a table in the current database, in column order."""
    return [(name, kind, not nullable) for name, kind, nullable in con.execute(
        "select column_name, data_type, is_nullable from duckdb_columns() "
        "where database_name = current_database() and schema_name = ? and table_name = ? order by column_index",
        [schema, table],
    ).fetchall()]


def commentable(table: Table) -> bool:
    """Whether a table's columns get their descriptions as comments in the database (docs/schema.md has them all).

    Not the columns of a table with a column whose default draws from a sequence (runs, run_id):
    DuckDB 1.5.5 cannot replay a write-ahead log holding a comment on any column of such a table
    ("GetDefaultDatabase with no default database set"), and a small load closes without a
    checkpoint, so the next open of the file would fail. The table's own comment replays fine.
    """
    return not any(c.default and "nextval" in c.default for c in table.columns)


def comment_statements(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The COMMENT ON statements that would bring this database's comments to the declarations' text."""
    tables = dict(con.execute(
        "select table_name, coalesce(comment, '') from duckdb_tables() "
        "where database_name = current_database() and schema_name = 'main'"
    ).fetchall())
    views = dict(con.execute(
        "select view_name, coalesce(comment, '') from duckdb_views() "
        "where database_name = current_database() and schema_name = 'main' and not internal"
    ).fetchall())
    columns = {(t, c): text for t, c, text in con.execute(
        "select table_name, column_name, coalesce(comment, '') from duckdb_columns() "
        "where database_name = current_database() and schema_name = 'main'"
    ).fetchall()}
    statements = []
    for table in TABLES:
        if table.name not in tables:
            continue  # an older schema (tests build them with up_to): described once migrated
        if tables[table.name] != table.description:
            statements.append(f"comment on table {_ident(table.name)} is {_literal(table.description)}")
        for c in table.columns if commentable(table) else ():
            if columns.get((table.name, c.name), c.description) != c.description:
                statements.append(f"comment on column {_ident(table.name)}.{_ident(c.name)} is {_literal(c.description)}")
    for view, description in VIEWS.items():
        if view in views and views[view] != description:
            statements.append(f"comment on view {_ident(view)} is {_literal(description)}")
    return statements


def apply_comments(con: duckdb.DuckDBPyConnection) -> int:
    """Give every declared table, column and view its description (in one transaction); returns statements run."""
    statements = comment_statements(con)
    if not statements:
        return 0
    con.execute("begin transaction")
    try:
        for statement in statements:
            con.execute(statement)
        con.execute("commit")
    except BaseException:
        try:
            con.execute("rollback")
        except duckdb.TransactionException:
            pass  # a failed commit has ended the transaction already
        raise
    return len(statements)
