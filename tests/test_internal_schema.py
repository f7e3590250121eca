"""Internal tables out of the user's way: a `duckdb` user of warehouse.duckdb sees the data, the run
ledger, the views and the trend macros; the term index, work lists, resume state and the migrations
ledger live in their own schema (transforms/tables.py INTERNAL_SCHEMA), on real files and on DuckLake."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import polars as pl
import pytest
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.transforms import tables
from papertrends.transforms.hf_listings import daily_papers_extracted, listings_normalized
from papertrends.warehouse import backends, connection, ledger, loads, migrations
from papertrends.warehouse.migrate import migrate, tables_differing

SINCE, UNTIL = dt.date(2025, 1, 1), dt.date(2025, 2, 28)
INTERNAL = {t.name for t in tables.TABLES if t.internal}
USER_TABLES = {t.name for t in tables.TABLES if not t.internal}
BEFORE_MOVE = 10  # the last schema with every table in main
TERMS = ["scaling|tractable", "inference-time scaling", "tractab*"]


def generated_listings(seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Generated daily lists through the real normalizer: (listing rows, quarantine rows)."""
    listings, quarantine = [], []
    for day, items in sorted(generate_daily_lists(SINCE, UNTIL, seed=seed).items()):
        origin = f"generated:{day}"
        extracted = daily_papers_extracted(json.dumps(items).encode(), origin=origin, raw_sha256="0" * 64)
        rows, bad = listings_normalized(
            extracted, source="hf_daily", list_date=dt.date.fromisoformat(day),
            fetched_at=dt.datetime.combine(dt.date.fromisoformat(day), dt.time(6), dt.timezone.utc),
            origin=origin, raw_sha256="0" * 64,
        )
        listings.append(rows)
        quarantine.append(bad)
    return pl.concat(listings), pl.concat(quarantine)


def load_into(con: duckdb.DuckDBPyConnection) -> None:
    listings, quarantine = generated_listings()
    run_id = ledger.start_run(con, "test-load", {})
    loads.load(con, listings, quarantine, run_id)
    ledger.finish_run(con, run_id, "completed")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    home = tmp_path_factory.mktemp("internal") / "data"
    con = connection.open_writer(home / "warehouse.duckdb")
    try:
        load_into(con)
    finally:
        con.close()
    return home / "warehouse.duckdb"


def where_tables_are(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """table -> schema, for the tables of the current database (DuckDB fts's own schema left out)."""
    return dict((t, s) for s, t in con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = current_database() and schema_name <> 'fts_main_papers'"
    ).fetchall())


def test_a_plain_duckdb_session_lists_only_the_users_tables(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)  # as `duckdb data/warehouse.duckdb` opens it
    try:
        shown = {name for (name,) in con.execute("show tables").fetchall()}
        assert shown == USER_TABLES | set(tables.VIEWS)
        assert where_tables_are(con) == {t.name: t.schema for t in tables.TABLES}
        assert {t for t, s in where_tables_are(con).items() if s == tables.INTERNAL_SCHEMA} == INTERNAL >= {
            "term_words", "term_papers", "term_postings", "term_counts", "term_index_pending",
            "search_index_state", "schema_migrations", "oai_harvests", "backfill_dates"}
        # The run ledger and the quarantine are the user's: status reads them, so may anyone.
        assert {"runs", "run_checks", "run_stages", "run_warnings", "quarantine"} <= shown
        # Still there to debug, by their full name.
        assert con.execute(f"select count(*) from {tables.TERM_WORDS.qualified}").fetchone()[0] > 100
    finally:
        con.close()


def test_the_trend_macros_answer_in_a_plain_duckdb_session_as_papertrends_does(warehouse, capsys):
    home = str(warehouse.parent)
    assert main(["trend", *TERMS, "--by", "month", "--format", "json", "--home", home]) == 0
    from_cli = json.loads(capsys.readouterr().out)
    assert main(["trend", "scaling", "--source", "hf", "--min-upvotes", "2", "--format", "json", "--home", home]) == 0
    filtered_cli = json.loads(capsys.readouterr().out)
    assert main(["papers", "--term", "inference-time scaling", "--period", "2025-02", "--format", "json", "--home", home]) == 0
    papers_cli = json.loads(capsys.readouterr().out)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("select current_setting('search_path')").fetchone()[0] == ""  # nothing of ours on it
        plain = con.execute("select * from trend(?::varchar[], 'month')", [TERMS]).pl().to_dicts()
        filtered = con.execute("select * from trend('scaling', source := 'hf', min_upvotes := 2)").pl().to_dicts()
        papers = con.execute(
            "select paper_id from matching_papers('inference-time scaling', since := '2025-02-01', until := '2025-02-28')"
        ).fetchall()
    finally:
        con.close()
    assert plain == from_cli and any(row["matches"] for row in plain)
    assert filtered == filtered_cli and any(row["matches"] for row in filtered)
    assert sorted(p for (p,) in papers) == sorted(row["paper_id"] for row in papers_cli) and papers


def test_papertrends_sql_finds_the_internal_tables_by_their_bare_names(warehouse, capsys):
    sql = "select (select count(*) from term_words) as words, (select max(version) from schema_migrations) as version"
    assert main(["sql", sql, "--format", "json", "--home", str(warehouse.parent)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["words"] > 100 and row["version"] == max(v for v, _, _ in migrations.migrations())


# Internal tables a schema-010 warehouse already had (term_rising came with 012).
INTERNAL_AT_010 = INTERNAL - {"term_rising"}


def internal_rows(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, list]:
    return {t: con.execute(f"select * from {schema}.{t} order by all").fetchall() for t in sorted(INTERNAL_AT_010)}


# A warehouse as release 010 wrote it: one paper, its listing and index rows (positions as lists,
# the layout 013 changes), and a row in every other internal table.
SCHEMA_010_ROWS = (
    "insert into papers by name select '2501.00001' as paper_id, 'Scaling laws' as title, "
    "'Test time scaling.' as abstract, ' scaling laws | test time scaling ' as search_text, now() as observed_at",
    "insert into listings by name select 'hf_daily' as source, date '2025-01-10' as list_date, '2501.00001' as paper_id, "
    "3 as upvotes, now() as fetched_at, 'o' as origin, 'sha' as raw_sha256",
    "insert into term_words values (0, ''), (1, 'laws'), (2, 'scaling'), (3, 'test'), (4, 'time')",
    "insert into term_papers values (1, '2501.00001', date '2025-01-10', date '2025-01-10', null, 3)",
    "insert into term_postings values (1, 1, [1]), (2, 1, [0, 5]), (3, 1, [3]), (4, 1, [4])",
    "insert into term_counts select word_id, date '2025-01-10', 1 from range(5) as r(word_id)",
    "insert into term_index_pending values ('2501.00001')",
    "insert into backfill_dates values ('hf_daily', date '2025-01-10', 'done', true, 1, 5, null, 1, now())",
    "insert into oai_harvests (harvest_key, endpoint, metadata_prefix, status, started_at, updated_at) "
    "values ('k', 'http://127.0.0.1/oai', 'arXiv', 'running', now(), now())",
)
OLD_TERMS = ["scaling", "time scaling", "tes*", "laws test"]


def test_a_warehouse_of_schema_010_moves_its_internal_tables_with_every_row(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    try:
        assert migrations.apply_migrations(con, up_to=BEFORE_MOVE)[-1] == BEFORE_MOVE
        for statement in SCHEMA_010_ROWS:
            con.execute(statement)
        before = internal_rows(con, "main")
        trend_before = con.execute("select * from trend(?::varchar[], 'week')", [OLD_TERMS]).fetchall()
    finally:
        con.close()
    assert all(before.values()) and len(before["schema_migrations"]) == BEFORE_MOVE
    assert [row[2] for row in trend_before] == [1, 1, 1, 0]

    connection.open_writer(path).close()  # a writer's open upgrades the file
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert where_tables_are(con) == {t.name: t.schema for t in tables.TABLES}
        after = internal_rows(con, tables.INTERNAL_SCHEMA)
        # The ledger keeps its old rows (and their times) and records the later migrations.
        assert after.pop("schema_migrations")[:BEFORE_MOVE] == before.pop("schema_migrations")
        # Postings are one row per occurrence since 013; the same occurrences.
        assert after.pop("term_postings") == sorted((w, p, x) for w, p, xs in before.pop("term_postings") for x in xs)
        assert after == before
        assert con.execute("select * from trend(?::varchar[], 'week')", [OLD_TERMS]).fetchall() == trend_before
        assert migrations.schema_version(con) == max(v for v, _, _ in migrations.migrations())
    finally:
        con.close()
    # The next load indexes into the moved tables, not into new ones in main.
    con = connection.open_writer(path)
    try:
        load_into(con)
        assert where_tables_are(con) == {t.name: t.schema for t in tables.TABLES}
        assert con.execute("select count(*) from term_papers").fetchone()[0] == con.execute(
            "select count(*) from papers").fetchone()[0] > 100
    finally:
        con.close()


def test_an_older_warehouse_is_refused_by_a_reader_with_the_usual_message(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    migrations.apply_migrations(con, up_to=BEFORE_MOVE)
    con.close()
    from papertrends.core.errors import WarehouseError

    with pytest.raises(WarehouseError, match="older papertrends; run an ingest to upgrade it"):
        connection.open_reader(path)


def test_a_ducklake_keeps_the_internal_schema_and_migrate_copies_it_both_ways(warehouse, tmp_path):
    pytest.importorskip("duckdb_extension_ducklake", reason="the ducklake extra is not installed")
    lake = backends.DuckLake(catalog=str(tmp_path / "catalog.ducklake"), data_path=str(tmp_path / "files") + "/")
    there = migrate(warehouse, lake)
    assert there.rows["term_postings"] > 0 and there.rows["term_words"] > 0 and "schema_migrations" not in there.rows
    assert tables_differing(warehouse, lake) == {}
    con = backends.open_ducklake(lake, read_only=True)
    try:
        assert where_tables_are(con) == {t.name: t.schema for t in tables.TABLES}
        assert con.execute("select * from trend(?::varchar[], 'month')", [TERMS]).fetchall()
    finally:
        con.close()
    back = tmp_path / "back.duckdb"
    assert migrate(lake, back).rows == there.rows
    assert tables_differing(warehouse, back) == {}
    con = duckdb.connect(str(back), read_only=True)
    try:
        assert where_tables_are(con) == {t.name: t.schema for t in tables.TABLES}
    finally:
        con.close()


def test_a_ducklake_of_schema_010_moves_its_internal_tables_with_every_row(tmp_path):
    pytest.importorskip("duckdb_extension_ducklake", reason="the ducklake extra is not installed")
    lake = backends.DuckLake(catalog=str(tmp_path / "catalog.ducklake"), data_path=str(tmp_path / "files") + "/")
    con = backends.open_ducklake(lake, read_only=False)
    try:
        migrations.apply_migrations(con, up_to=BEFORE_MOVE, translate=lambda sql: backends.ducklake_ddl(sql, con))
        for statement in SCHEMA_010_ROWS:
            con.execute(statement)
        before = internal_rows(con, "main")
    finally:
        con.close()
    backends.open_writer_ducklake(lake).close()  # a writer's open upgrades the lake
    con = backends.open_ducklake(lake, read_only=True)
    try:
        assert where_tables_are(con) == {t.name: t.schema for t in tables.TABLES}
        after = internal_rows(con, tables.INTERNAL_SCHEMA)
        assert after.pop("schema_migrations")[:BEFORE_MOVE] == before.pop("schema_migrations")
        assert after.pop("term_postings") == sorted((w, p, x) for w, p, xs in before.pop("term_postings") for x in xs)
        assert after == before and all(after.values())
        assert con.execute("select * from trend(?::varchar[], 'week')", [OLD_TERMS]).fetchall()[0][2] == 1
    finally:
        con.close()
