"""Declared data checks on real DuckDB files: each one made to fail on purpose, the load rolled
back, the results kept per run; and through the real ingest flow, a failing check fails the run."""

import datetime as dt
import json

import duckdb
import polars as pl
import pytest
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from papertrends.transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA
from papertrends.warehouse import checks, connection, loads
from papertrends.warehouse.checks import CheckContext, ChecksFailed

UTC = dt.timezone.utc
JAN, FEB = dt.date(2025, 1, 10), dt.date(2025, 2, 10)
NO_QUARANTINE = pl.DataFrame(schema=QUARANTINE_SCHEMA)
REQUIRED = {
    "title_not_empty", "list_date_in_requested_range",
    "upvotes_not_negative", "listing_paper_exists", "items_accounted_for",
}


def listings(*rows):
    frame = []
    for paper_id, list_date, title, upvotes in rows:
        row = {name: None for name in LISTING_SCHEMA}
        row.update(
            source="hf_daily", list_date=list_date, paper_id=paper_id, position=0, title=title, abstract="About it.",
            authors=["A"], upvotes=upvotes, num_comments=0, fetched_at=dt.datetime.combine(list_date, dt.time(6), UTC),
            origin="test", raw_sha256="sha",
        )
        frame.append(row)
    return pl.DataFrame(frame, schema=LISTING_SCHEMA)


@pytest.fixture(params=["file", "ducklake"])
def con(request, tmp_path):
    """A writer on an embedded file, then on a DuckLake (PostgreSQL + S3): the checks behave alike."""
    if request.param == "ducklake":
        from services import new_ducklake
        from testsupport import write_settings

        lake = new_ducklake(request.getfixturevalue("postgres_server"), request.getfixturevalue("s3_credentials"))
        write_settings(tmp_path, warehouse=lake.url, ducklake_data_path=lake.data_path, s3_endpoint=lake.s3_endpoint)
    writer = connection.open_writer(tmp_path / "warehouse.duckdb")
    yield writer
    writer.close()


def snapshot(con):
    return {t: sorted(con.execute(f"select * from {t}").fetchall(), key=str) for t in ("papers", "listings", "quarantine")}


def stored_results(con, run_id):
    return {r.name: r for r in checks.results_of_run(con, run_id)}


def test_the_declared_checks_are_the_ones_asked_for_and_each_says_what_it_guards():
    declared = checks.declared_checks()
    assert {c.name for c in declared} == REQUIRED
    assert all(c.description and c.sql for c in declared)


def test_a_good_load_passes_every_check_and_stores_the_results(con):
    batch = listings(("2501.00001", JAN, "Scaling laws", 3), ("2501.00002", JAN, "Other", 0))
    loads.load(con, batch, NO_QUARANTINE, 1, checks=CheckContext(since=JAN, until=JAN, items_in=2))
    results = stored_results(con, 1)
    assert set(results) == REQUIRED and all(r.passed and r.offending == 0 for r in results.values())
    assert con.execute("select count(*) from listings").fetchone() == (2,)


def assert_fails_and_rolls_back(con, check_name, batch, context, quarantine=NO_QUARANTINE, corrupt=None):
    """Load `batch` after a good first load: `check_name` fails, nothing changes, the result is kept."""
    loads.load(con, listings(("2412.00009", JAN, "Already here", 1)), NO_QUARANTINE, 1, checks=CheckContext(items_in=1))
    if corrupt:
        corrupt(con)
    before = snapshot(con)
    with pytest.raises(ChecksFailed, match=check_name) as failure:
        loads.load(con, batch, quarantine, 2, checks=context)
    assert snapshot(con) == before
    results = stored_results(con, 2)
    failed = {name for name, r in results.items() if not r.passed}
    assert failed == {check_name}, failed
    assert results[check_name].offending >= 1 and results[check_name].example
    assert "rolled back" in str(failure.value)
    return results[check_name]


def test_an_empty_title_fails_title_not_empty(con):
    result = assert_fails_and_rolls_back(
        con, "title_not_empty", listings(("2501.00001", JAN, "   ", 1)), CheckContext(items_in=1)
    )
    assert json.loads(result.example)["paper_id"] == "2501.00001"


def test_a_listing_outside_the_requested_dates_fails_list_date_in_requested_range(con):
    batch = listings(("2501.00001", JAN, "In range", 1), ("2502.00001", FEB, "Out of range", 1))
    result = assert_fails_and_rolls_back(
        con, "list_date_in_requested_range", batch, CheckContext(since=JAN, until=JAN, items_in=2)
    )
    assert result.offending == 1 and json.loads(result.example)["list_date"] == str(FEB)


def test_negative_upvotes_fail_upvotes_not_negative(con):
    assert_fails_and_rolls_back(con, "upvotes_not_negative", listings(("2501.00001", JAN, "T", -4)), CheckContext(items_in=1))


def test_items_not_accounted_for_fail_items_accounted_for(con):
    quarantine = pl.DataFrame(
        [{"origin": "o", "raw_sha256": "s", "position": 1, "reason": "bad", "raw_text": "x"}], schema=QUARANTINE_SCHEMA
    )
    result = assert_fails_and_rolls_back(
        con, "items_accounted_for", listings(("2501.00001", JAN, "T", 1)), CheckContext(items_in=3), quarantine
    )
    assert json.loads(result.example) == {"items_in": 3, "items_loaded": 1, "items_quarantined": 1}


def test_an_orphan_listing_fails_listing_paper_exists(con):
    # A listing whose paper is missing (as a buggy writer or hand edit would leave it) blocks every
    # later load until it is repaired: the warehouse is never silently wrong.
    def orphan(connection):
        connection.execute(
            "insert into listings (source, list_date, paper_id, position, upvotes, num_comments, fetched_at, origin, raw_sha256) values ('hf_daily', ?, '2501.09999', 0, 1, 0, now(), 'hand edit', 'sha')", [JAN]
        )

    result = assert_fails_and_rolls_back(
        con, "listing_paper_exists", listings(("2501.00001", JAN, "T", 1)), CheckContext(items_in=1), corrupt=orphan
    )
    assert json.loads(result.example)["paper_id"] == "2501.09999"


def test_no_check_re_tests_what_the_schema_enforces(tmp_path):
    # unique_paper_id re-tested the papers primary key, so it could never fail; it is gone, and
    # the key itself refuses a duplicate.
    assert "unique_paper_id" not in {c.name for c in checks.declared_checks()}
    con = connection.open_writer(tmp_path / "w.duckdb")
    loads.load(con, listings(("2501.00001", JAN, "T", 1)), NO_QUARANTINE, 1)
    with pytest.raises(duckdb.ConstraintException):
        con.execute("insert into papers (paper_id, title, search_text, observed_at) values ('2501.00001', 'B', ' b | ', now())")
    con.close()


def test_a_check_naming_an_unknown_parameter_is_refused():
    check = checks.Check("odd", "uses a parameter nobody sets", "select 1 where $nope")
    with pytest.raises(ValueError, match="nope"):
        checks.run_check(duckdb.connect(":memory:"), check, CheckContext())


def test_a_failing_check_fails_the_ingest_run_loudly_and_keeps_the_previous_state(tmp_path, capsys, prefect_harness):
    home = tmp_path / "data"
    files = tmp_path / "files"
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 3), seed=4), files)
    con = connection.open_writer(home / "warehouse.duckdb")
    con.execute("insert into listings (source, list_date, paper_id, position, upvotes, num_comments, fetched_at, origin, raw_sha256) values ('hf_daily', ?, '2501.09999', 0, 1, 0, now(), 'hand edit', 'sha')", [JAN])
    con.close()

    code = main(["--home", str(home), "ingest", "files", str(files)])
    out, err = capsys.readouterr()
    assert code == 1
    # Prefect logs the failed task above it; the command's own verdict is its last line.
    assert err.splitlines()[-1].startswith("papertrends: error: data checks failed, load rolled back: listing_paper_exists")

    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        assert con.execute("select count(*), count(*) filter (origin = 'hand edit') from listings").fetchone() == (1, 1)
        assert con.execute("select count(*) from papers").fetchone() == (0,)
        status, message = con.execute("select status, message from runs").fetchone()
        assert status == "failed" and "listing_paper_exists" in message
        failed = con.execute("select check_name from run_checks where not passed").fetchall()
        assert failed == [("listing_paper_exists",)]
    finally:
        con.close()
    code = main(["--home", str(home), "status"])
    out, _ = capsys.readouterr()
    assert code == 0 and "last run: data checks" in out and "listing_paper_exists" in out
