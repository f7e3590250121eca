"""`papertrends rebuild` when the warehouse is a DuckLake (PostgreSQL catalog, moto S3 data).

The rebuild is made from raw/ in an embedded file, then copied into the lake in one snapshot under
the lake's merge lock (flows/rebuild.py); it never leaves less than it found.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from papertrends.warehouse import backends, connection
from services import new_ducklake
from testsupport import write_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def lake_home(tmp_path: Path, lake: backends.DuckLake) -> Path:
    home = tmp_path / "lakehome"
    home.mkdir()
    write_settings(home, warehouse=lake.url, ducklake_data_path=lake.data_path, s3_endpoint=lake.s3_endpoint)
    return home


def rows(home: Path, sql: str) -> list[tuple]:
    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def contents(home: Path) -> dict:
    return {
        "papers": rows(home, "select * from papers order by paper_id"),
        "listings": rows(home, "select * from listings order by all"),
        "quarantine": rows(home, "select * exclude (first_run_id) from quarantine order by all"),
        "term_counts": rows(home, "select word, sum(papers) from term_counts join term_words using (word_id) "
                                  "group by word having sum(papers) <> 0 order by all"),
    }


def run(capsys, home: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv, "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def test_rebuild_on_a_ducklake_replaces_its_data_in_one_snapshot(tmp_path, postgres_server, s3_credentials, capsys):
    lake = new_ducklake(postgres_server, s3_credentials)
    home = lake_home(tmp_path, lake)
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 6), seed=3), tmp_path / "files")
    (tmp_path / "files" / "2025-01-07.json").write_text("[1, 2]")  # a quarantined file
    assert run(capsys, home, "ingest", "files", str(tmp_path / "files"))[0] == 0
    assert run(capsys, home, "search", "--refresh-index")[0] == 0
    before = contents(home)
    assert before["quarantine"] and before["listings"]
    (snapshot_before,), = rows(home, "select id from lake.current_snapshot()")

    code, out, err = run(capsys, home, "rebuild")
    assert code == 0, err
    assert "rebuild-from-raw" in out
    assert contents(home) == before
    assert not (home / "warehouse.rebuild.duckdb").exists() and not (home / "lake.rebuild").exists()
    assert not (home / "warehouse.duckdb").exists()  # the lake stays the warehouse: no file appears
    runs = rows(home, "select run_id, flow, status from runs order by run_id")
    assert runs == [(1, "ingest-files", "completed"), (2, "rebuild-from-raw", "completed")]
    assert rows(home, "select count(*) from run_checks where run_id = 2 and passed")[0][0] > 0
    # The previous state is still there by time travel; the search index was rebuilt in the lake.
    code, out, _ = run(capsys, home, "sql", "select count(*) as n from papers", "--as-of", str(snapshot_before), "--format", "csv")
    assert code == 0 and out.split()[1] == str(len(before["papers"]))
    code, out, err = run(capsys, home, "search", "model", "--format", "csv")
    assert code == 0 and "warning" not in err and out.count("\n") > 1

    # Rows the raw archive cannot give back (another machine's load): the rebuild refuses, lake untouched.
    con = connection.open_writer(home / "warehouse.duckdb")
    try:
        con.execute("insert into papers by name select * replace ('9999.' || paper_id as paper_id) "
                    "from papers order by paper_id limit 1")
    finally:
        con.close()
    grown = contents(home)
    code, out, err = run(capsys, home, "rebuild")
    assert code != 0 and "rebuild refused" in err, err
    assert "Traceback" not in err
    assert contents(home) == grown
    assert not (home / "warehouse.rebuild.duckdb").exists() and not (home / "lake.rebuild").exists()
    assert rows(home, "select status from runs where run_id = 3") == [("failed",)]
