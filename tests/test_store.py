"""The DuckDB warehouse on real files: migrations, idempotent transactional loads, read queries."""

import datetime as dt

import duckdb
import polars as pl
import pytest
from papertrends.core import errors
from papertrends.transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA
from papertrends.transforms.terms import parse_term
from papertrends.warehouse import connection, loads, migrations, reads

UTC = dt.timezone.utc


def listings(*rows):
    frame = []
    for paper_id, list_date, title, abstract, upvotes in rows:
        row = {name: None for name in LISTING_SCHEMA}
        row.update(
            source="hf_daily", list_date=list_date, paper_id=paper_id, position=0, title=title, abstract=abstract,
            authors=["A"], upvotes=upvotes, fetched_at=dt.datetime.combine(list_date, dt.time(6), UTC),
            origin="test", raw_sha256="sha",
        )
        frame.append(row)
    return pl.DataFrame(frame, schema=LISTING_SCHEMA)


NO_QUARANTINE = pl.DataFrame(schema=QUARANTINE_SCHEMA)
JAN, FEB = dt.date(2025, 1, 10), dt.date(2025, 2, 10)


@pytest.fixture
def con(tmp_path):
    writer = connection.open_writer(tmp_path / "warehouse.duckdb")
    yield writer
    writer.close()


def table_rows(con, table):
    return sorted(con.execute(f"select * exclude (observed_at) from {table}" if table == "papers" else f"select * from {table}").fetchall(), key=str)


def test_migrations_are_recorded_and_applied_once(con):
    assert migrations.schema_version(con) == max(v for v, _, _ in migrations.migrations())
    assert migrations.apply_migrations(con) == []


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "w.duckdb"
    con = connection.open_writer(path)
    con.execute("insert into schema_migrations values (999, 'future', now())")
    con.close()
    with pytest.raises(errors.WarehouseError, match="newer"):
        connection.open_writer(path)
    with pytest.raises(errors.WarehouseError, match="newer"):
        connection.open_reader(path)


def test_reader_never_creates_a_warehouse(tmp_path):
    with pytest.raises(errors.WarehouseError, match="no warehouse"):
        connection.open_reader(tmp_path / "missing.duckdb")
    assert not (tmp_path / "missing.duckdb").exists()


def test_loading_twice_changes_nothing(con):
    batch = listings(("2501.00001", JAN, "Scaling laws", "About scaling.", 3), ("2501.00002", JAN, "Other", None, 0))
    quarantine = pl.DataFrame(
        [{"origin": "o", "raw_sha256": "s", "position": 4, "reason": "bad", "raw_text": "x"}], schema=QUARANTINE_SCHEMA
    )
    first = loads.load(con, batch, quarantine, run_id=1)
    assert (first.listings_new, first.papers_new, first.quarantine_new) == (2, 2, 1)
    before = {t: table_rows(con, t) for t in ("papers", "listings", "quarantine")}
    second = loads.load(con, batch, quarantine, run_id=2)
    assert (second.listings_new, second.listings_changed, second.papers_new, second.papers_changed, second.quarantine_new) == (0, 0, 0, 0, 0)
    assert {t: table_rows(con, t) for t in ("papers", "listings", "quarantine")} == before


def test_a_newer_fetch_updates_upvotes_and_an_older_one_does_not(con):
    loads.load(con, listings(("2501.00001", JAN, "T", None, 3)), NO_QUARANTINE, 1)
    newer = listings(("2501.00001", JAN, "T", None, 9)).with_columns(fetched_at=pl.col("fetched_at") + dt.timedelta(days=1))
    counts = loads.load(con, newer, NO_QUARANTINE, 2)
    assert counts.listings_changed == 1
    loads.load(con, listings(("2501.00001", JAN, "T", None, 1)), NO_QUARANTINE, 3)
    assert con.execute("select upvotes from listings").fetchall() == [(9,)]


def test_a_failed_load_leaves_the_warehouse_as_it_was(con):
    loads.load(con, listings(("2501.00001", JAN, "T", None, 3)), NO_QUARANTINE, 1)
    before = {t: table_rows(con, t) for t in ("papers", "listings")}
    broken = listings(("2501.00002", JAN, None, None, 3))  # a paper without a title violates NOT NULL
    with pytest.raises(duckdb.ConstraintException):
        loads.load(con, broken, NO_QUARANTINE, 2)
    assert {t: table_rows(con, t) for t in ("papers", "listings")} == before


def test_trend_counts_papers_by_the_period_they_were_first_listed(con):
    loads.load(
        con,
        listings(
            ("2501.00001", JAN, "Scaling laws", None, 1),
            ("2501.00002", JAN, "Tractable circuits", "Not scaling-free.", 1),
            ("2501.00003", JAN, "Intractable", None, 1),
            ("2502.00001", FEB, "Upscaling", None, 1),
            ("2501.00001", FEB, "Scaling laws", None, 1),  # listed again: still counted in January only
        ),
        NO_QUARANTINE,
        1,
    )
    frame = reads.trend(con, [parse_term("scaling"), parse_term("tractable")], by="month")
    assert frame.rows() == [
        ("2025-01", "scaling", 2, 3, 2 / 3),
        ("2025-01", "tractable", 1, 3, 1 / 3),
        ("2025-02", "scaling", 0, 1, 0.0),
        ("2025-02", "tractable", 0, 1, 0.0),
    ]
    assert reads.trend(con, [parse_term("scaling")], by="year", since=FEB).rows() == [("2025", "scaling", 0, 1, 0.0)]
    assert reads.trend(con, [parse_term("scaling")], by="week").rows()[0][0] == "2025-W02"


def test_read_only_query_refuses_writes(con):
    for sql in ("delete from papers", "insert into runs (flow) values ('x')", "copy papers to 'x.csv'",
                "create table x (a int)", "attach 'other.duckdb'", "select 1; delete from papers"):
        with pytest.raises(errors.WarehouseError):
            reads.read_only_query(con, sql)
    assert reads.read_only_query(con, "select 42 as answer").rows() == [(42,)]


def test_a_migration_numbered_below_the_newest_applied_one_is_still_applied(tmp_path):
    path = tmp_path / "w.duckdb"
    con = connection.open_writer(path)
    newest = max(v for v, _, _ in migrations.migrations())
    con.execute("delete from schema_migrations where version = 1 + 1")  # as if 002 merged after the rest
    con.close()
    with pytest.raises(errors.WarehouseError, match="older papertrends"):
        connection.open_reader(path)
    con = duckdb.connect(str(path))
    try:
        con.execute("drop table if exists run_warnings")  # what 002 makes, so re-applying it works
        con.execute("drop table if exists run_stages")
        con.execute("drop table if exists run_checks")
        assert migrations.apply_migrations(con) == [2]
        assert migrations.applied_versions(con) == {v for v, _, _ in migrations.migrations()} and migrations.schema_version(con) == newest
    finally:
        con.close()


def test_rerank_lists_never_make_a_paper_first_listed_in_the_index_or_the_view(con):
    from papertrends.warehouse import analytics

    daily = listings(("2501.00001", JAN, "Scaling laws", None, 1))
    weekly = listings(("2501.00001", dt.date(2025, 1, 6), "Scaling laws", None, 5), ("2501.00002", JAN, "Scaling only weekly", None, 2))
    loads.load(con, pl.concat([daily, weekly.with_columns(source=pl.lit("hf_weekly"))]), NO_QUARANTINE, 1)
    reference = reads.trend(con, [parse_term("scaling")], by="day").rows()
    assert reference == [("2025-01-10", "scaling", 1, 1, 1.0)]
    indexed = analytics.trend(con, [analytics.parse_query("scaling")], by="day", since=JAN, until=JAN)
    assert indexed.select("period", "matches", "total").rows() == [("2025-01-10", 1, 1)]
