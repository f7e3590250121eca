"""`papertrends maintain` on a DuckLake (PostgreSQL catalog, moto S3): a SIGKILLed writer's orphaned files go, data stays.

A lake writer writes its Parquet files before it commits; killed in between, it leaves files no
snapshot refers to. `maintain` deletes them with DuckLake's own ducklake_delete_orphaned_files.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from papertrends.warehouse import backends, connection
from services import new_ducklake
from testsupport import write_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")
REPO = Path(__file__).resolve().parents[1]

# A lake writer that writes data files and is killed before it commits.
_KILLED_WRITER = """
import sys, time
from papertrends.warehouse import backends
lake = backends.DuckLake(catalog=sys.argv[1], data_path=sys.argv[2], s3_endpoint=sys.argv[3])
con = backends.open_writer_ducklake(lake)
con.execute("begin transaction")
con.execute("insert into papers by name select * replace ('killed.' || paper_id as paper_id) from papers")
con.execute("insert into listings by name select * replace ('killed.' || paper_id as paper_id) from listings")
print("written", flush=True)
time.sleep(600)
"""


def run(capsys, home: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv, "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def data_files(lake: backends.DuckLake) -> set[str]:
    """Every Parquet file under the lake's data path, listed on the S3 server itself."""
    con = duckdb.connect()
    try:
        backends.load_extensions(con, lake)
        backends._s3_secret(con, lake)
        return {f for (f,) in con.execute("select file from glob(?)", [lake.data_path + "**/*.parquet"]).fetchall()}
    finally:
        con.close()


def contents(home: Path) -> dict:
    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in ("papers", "listings", "term_counts")}
    finally:
        con.close()


def test_maintain_deletes_a_killed_writers_orphaned_files_and_keeps_the_data(tmp_path, postgres_server, s3_credentials, capsys):
    lake = new_ducklake(postgres_server, s3_credentials)
    home = tmp_path / "lakehome"
    home.mkdir()
    write_settings(home, warehouse=lake.url, ducklake_data_path=lake.data_path, s3_endpoint=lake.s3_endpoint)
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 5), seed=4), tmp_path / "files")
    assert run(capsys, home, "ingest", "files", str(tmp_path / "files"))[0] == 0
    before, files_before = contents(home), data_files(lake)

    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, lake.catalog, lake.data_path, lake.s3_endpoint],
                              cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "written", writer.stderr.read()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=60)
    orphans = data_files(lake) - files_before
    assert orphans, "the killed writer left no data file: nothing to test"
    assert contents(home) == before  # never committed: invisible

    # A dry run lists them and deletes nothing; the default grace spares files this young.
    code, out, err = run(capsys, home, "maintain", "--dry-run", "--grace", "0s")
    assert code == 0 and set(out.split()) == orphans and "would delete" in err, err
    assert data_files(lake) - files_before == orphans
    code, out, err = run(capsys, home, "maintain")
    assert code == 0 and out == "" and "deleted 0 orphaned" in err
    code, out, err = run(capsys, home, "maintain", "--grace", "0s")
    assert code == 0 and set(out.split()) == orphans and f"deleted {len(orphans)} orphaned" in err, err

    assert data_files(lake) == files_before
    assert contents(home) == before
    code, out, _ = run(capsys, home, "trend", "model", "--by", "month", "--format", "csv")
    assert code == 0 and "2025-01" in out
    # A later load works as ever.
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 6), dt.date(2025, 1, 7), seed=4), tmp_path / "more")
    assert run(capsys, home, "ingest", "files", str(tmp_path / "more"))[0] == 0
    assert len(contents(home)["listings"]) > len(before["listings"])


def test_maintain_explains_itself_on_a_file_and_refuses_a_bad_span(tmp_path, capsys):
    code, out, _ = run(capsys, tmp_path, "maintain")
    assert code == 0 and "nothing to do" in out
    code, _, err = run(capsys, tmp_path, "maintain", "--grace", "soon")
    assert code != 0 and "--grace 'soon'" in err and "Traceback" not in err
