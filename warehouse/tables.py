"""The table declarations (transforms/tables.py) in SQL: their DDL, their COMMENT ON, the columns a database has.

The migrations build a warehouse; `apply_comments` then gives every declared table, view and
column its description (COMMENT ON, only where the stored comment differs), so a `duckdb` user
reads them in duckdb_tables().comment, duckdb_views().comment and duckdb_columns().comment. It runs
when a writer opens the warehouse, after the migrations (warehouse/migrations.py), on the embedded
file and on DuckLake alike: DuckLake 1.5.5 stores table, view and column comments in its catalog.
The columns of `runs` are left uncommented, see `commentable`.

Internal tables live in the schema INTERNAL_SCHEMA (transforms/tables.py); `use_internal_schema`
puts it on a connection's search path, which every papertrends connection does (connection.py,
backends.py), so papertrends' own SQL names all tables unqualified.
"""

from __future__ import annotations

import duckdb

from ..transforms.tables import INTERNAL_SCHEMA, TABLES, VIEWS, Table


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def use_internal_schema(con: duckdb.DuckDBPyConnection) -> bool:
    """Put the internal schema after main on `con`'s search path: unqualified names find internal tables.

    Returns False (path unchanged) when the current database has no internal schema yet: a warehouse
    made before migration 011, which a reader then refuses as older. The path names schemas of the
    current database, so call it after USE (DuckLake). A search path is a setting of one connection:
    every papertrends connection sets its own (a locked configuration still allows it).
    Unqualified CREATE TABLE still creates in main: SQL that creates an internal table names its schema.
    """
    found = con.execute(
        "select count(*) from duckdb_schemas() where database_name = current_database() and schema_name = ?",
        [INTERNAL_SCHEMA],
    ).fetchone()[0]
    if not found:
        return False
    con.execute(f"set search_path = 'main,{INTERNAL_SCHEMA}'")
    return True


def create_table_sql(table: Table, name: str | None = None) -> str:
    """CREATE TABLE for a declaration: columns, types, not null, defaults, key and unique columns.

    Named `name`, else by its schema and name (`papertrends_internal.term_words`, `main.papers`).
    """
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
    target = _ident(name) if name else f"{_ident(table.schema)}.{_ident(table.name)}"
    return f"create table {target} (\n    " + ",\n    ".join(columns) + "\n)"


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
    tables = {(schema, t): text for schema, t, text in con.execute(
        "select schema_name, table_name, coalesce(comment, '') from duckdb_tables() "
        "where database_name = current_database()"
    ).fetchall()}
    views = dict(con.execute(
        "select view_name, coalesce(comment, '') from duckdb_views() "
        "where database_name = current_database() and schema_name = 'main' and not internal"
    ).fetchall())
    columns = {(schema, t, c): text for schema, t, c, text in con.execute(
        "select schema_name, table_name, column_name, coalesce(comment, '') from duckdb_columns() "
        "where database_name = current_database()"
    ).fetchall()}
    statements = []
    for table in TABLES:
        if (table.schema, table.name) not in tables:
            continue  # an older schema (tests build them with up_to): described once migrated
        name = f"{_ident(table.schema)}.{_ident(table.name)}"
        if tables[(table.schema, table.name)] != table.description:
            statements.append(f"comment on table {name} is {_literal(table.description)}")
        for c in table.columns if commentable(table) else ():
            if columns.get((table.schema, table.name, c.name), c.description) != c.description:
                statements.append(f"comment on column {name}.{_ident(c.name)} is {_literal(c.description)}")
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
