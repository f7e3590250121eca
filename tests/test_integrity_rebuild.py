"""`papertrends rebuild`: lake and warehouse re-created from raw/ alone, offline, same contents."""

import datetime as dt
import shutil
import socket

import duckdb
import pytest
from papertrends.cli.main import main
from papertrends.devkit.hf_stub_server import DailyPapersServer
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from papertrends.warehouse import checks, connection
from papertrends.warehouse.ledger import RUN_LEDGER_TABLES

pytestmark = pytest.mark.usefixtures("prefect_harness")


def contents(home):
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return {
            "papers": con.execute("select * from papers order by paper_id").fetchall(),
            "listings": con.execute("select * from listings order by all").fetchall(),
            "quarantine": con.execute("select * exclude (first_run_id) from quarantine order by all").fetchall(),
        }
    finally:
        con.close()


def ledger(home):
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in RUN_LEDGER_TABLES}
    finally:
        con.close()


def lake(home):
    """The lake's distinct rows per table (file names depend on how landings were batched; rows do not)."""
    tables = {}
    for path in sorted((home / "lake").rglob("*.parquet")):
        table = path.relative_to(home / "lake").parts[0]
        frame = duckdb.sql(f"select * from read_parquet('{path}', hive_partitioning = false)").fetchall()
        tables.setdefault(table, set()).update(repr(row) for row in frame)
    return {table: sorted(rows) for table, rows in tables.items()}


def loopback_only(monkeypatch):
    """From now on, a connection to anything but 127.0.0.1 (Prefect's test API) fails the test."""
    connect = socket.socket.connect

    def checked(sock, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"rebuild tried to reach {address}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", checked)


def test_rebuild_recreates_lake_and_warehouse_from_raw_alone(tmp_path, capsys, monkeypatch):
    home = tmp_path / "data"
    # Two sources and several runs: API pages from a local server, saved files, a bad file.
    api_lists = generate_daily_lists(dt.date(2025, 3, 1), dt.date(2025, 3, 5), seed=2)
    with DailyPapersServer(api_lists) as server:
        assert main(["--home", str(home), "ingest", "hf", "--since", "2025-03-01", "--until", "2025-03-05",
                     "--base-url", server.base_url]) == 0
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 10), seed=3), tmp_path / "files")
    (tmp_path / "files" / "2025-01-11.json").write_text("[1, 2]")
    assert main(["--home", str(home), "ingest", "files", str(tmp_path / "files")]) == 0
    before, lake_before = contents(home), lake(home)
    assert before["quarantine"] and before["listings"]
    ledger_before = ledger(home)

    # Offline from here on, and with the lake gone: raw/ is all there is.
    shutil.rmtree(home / "lake")
    (home / "lake" / "listings").mkdir(parents=True)
    (home / "lake" / "listings" / "stray.parquet").write_bytes(b"not from raw")
    capsys.readouterr()
    loopback_only(monkeypatch)
    monkeypatch.setenv("PAPERTRENDS_HF_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    assert main(["--home", str(home), "rebuild"]) == 0
    out = capsys.readouterr().out
    assert "rebuild-from-raw" in out and "quarantined" in out

    assert contents(home) == before
    assert lake(home) == lake_before
    assert (home / "warehouse.before-rebuild.duckdb").exists()
    assert not (home / "lake.rebuild").exists() and not (home / "warehouse.rebuild.duckdb").exists()
    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        (run_id, flow, status, items_in, loaded, quarantined), = con.execute(
            "select run_id, flow, status, items_in, items_loaded, items_quarantined from runs where run_id = 3"
        ).fetchall()
        assert (flow, status) == ("rebuild-from-raw", "completed")
        assert items_in == loaded + quarantined == len(before["listings"]) + len(before["quarantine"])
        assert con.execute("select count(*) from run_checks where passed and run_id = 3").fetchone() == (5,)
    finally:
        con.close()
    # The history of runs survives the rebuild, and later runs number on after it.
    after = ledger(home)
    for table, rows in ledger_before.items():
        assert [r for r in after[table] if r[0] != 3] == rows, table
    assert main(["--home", str(home), "ingest", "files", str(tmp_path / "files")]) == 0
    assert [r[0] for r in ledger(home)["runs"]] == [1, 2, 3, 4]


def test_a_rebuild_whose_checks_fail_leaves_the_live_lake_and_warehouse_alone(tmp_path, capsys, monkeypatch):
    home = tmp_path / "data"
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 3), seed=3), tmp_path / "files")
    assert main(["--home", str(home), "ingest", "files", str(tmp_path / "files")]) == 0
    before, lake_before = contents(home), lake(home)
    # A stricter check than the data meets (as a newer release might ship) fails the rebuilt load.
    shipped = checks.declared_checks()
    strict = checks.Check("no_papers_at_all", "for this test: any paper offends", "select paper_id from papers")
    monkeypatch.setattr(checks, "declared_checks", lambda: [*shipped, strict])
    capsys.readouterr()
    assert main(["--home", str(home), "rebuild"]) == 1
    assert "data checks failed, load rolled back: no_papers_at_all" in capsys.readouterr().err.splitlines()[-1]
    assert contents(home) == before and lake(home) == lake_before
    assert not (home / "lake.rebuild").exists() and not (home / "warehouse.rebuild.duckdb").exists()


def test_a_failed_rebuild_is_recorded_in_the_ledger_and_published_like_every_writer_run(tmp_path, capsys, monkeypatch):
    # Rebuild runs through runs.recorded_run like every other writer: a rebuild that fails is a failed
    # run in the live ledger (`status` names it) and publishes its report; the data stay as they were.
    from tests.test_integrity_reports import artifacts

    home = tmp_path / "data"
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 2), seed=5), tmp_path / "files")
    assert main(["--home", str(home), "ingest", "files", str(tmp_path / "files")]) == 0
    before = contents(home)
    shipped = checks.declared_checks()
    strict = checks.Check("no_papers_at_all", "for this test: any paper offends", "select paper_id from papers")
    monkeypatch.setattr(checks, "declared_checks", lambda: [*shipped, strict])
    published_before = len(artifacts("papertrends-run-rebuild-from-raw"))
    assert main(["--home", str(home), "rebuild"]) == 1
    assert contents(home) == before
    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        flow, status, message = con.execute("select flow, status, message from runs where run_id = 2").fetchone()
    finally:
        con.close()
    assert (flow, status) == ("rebuild-from-raw", "failed") and "no_papers_at_all" in message
    published = artifacts("papertrends-run-rebuild-from-raw")
    assert len(published) == published_before + 1 and "no_papers_at_all" in published[0].data
    assert not (home / "lake.rebuild").exists() and not (home / "warehouse.rebuild.duckdb").exists()
