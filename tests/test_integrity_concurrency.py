"""One writer at a time, readers alongside: real processes contending for a real warehouse file."""

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from papertrends.cli.main import main
from papertrends.core import errors
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from papertrends.warehouse import connection, reads

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def child_env(prefect_harness):
    """Environment for child processes: the session's Prefect API, so no child starts its own server."""
    from prefect.settings import get_current_settings

    return {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url), "PREFECT_LOGGING_LEVEL": "WARNING"}


def daily_files(folder: Path, since: dt.date, until: dt.date, seed: int) -> int:
    lists = generate_daily_lists(since, until, seed=seed)
    write_daily_files(lists, folder)
    return sum(len(items) for items in lists.values())


def ingest_process(home: Path, folder: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "papertrends.cli.main", "--home", str(home), "ingest", "files", str(folder)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def holding_process(code: str, *args: str) -> subprocess.Popen:
    """A child that runs `code`, prints 'ready', and keeps what it holds until its stdin closes."""
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout.readline().strip() == "ready"
    return child


def release_after(child: subprocess.Popen, seconds: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), child.stdin.close()), daemon=True)
    thread.start()
    return thread


HOLD_WRITER_LOCK = (
    "import sys; from pathlib import Path; from papertrends.warehouse.locks import acquire_writer; "
    "lock = acquire_writer(Path(sys.argv[1]), 0, 'ingest-files'); print('ready', flush=True); sys.stdin.read()"
)
# A writer in the middle of a load: rows inserted, transaction not yet committed.
HALF_LOADED_WRITER = (
    "import sys; from pathlib import Path; from papertrends.warehouse import connection; "
    "con = connection.open_writer(Path(sys.argv[1])); con.execute('begin transaction'); "
    "con.execute(\"insert into quarantine select 'k' || i, 'o', 's', i, 'r', null, 1 from range(500) t(i)\"); "
    "print('ready', flush=True); sys.stdin.read(); con.execute('commit'); con.close()"
)


def test_two_ingests_take_turns_while_readers_keep_reading_whole_loads_only(tmp_path, child_env):
    home = tmp_path / "data"
    first = daily_files(tmp_path / "a", dt.date(2025, 1, 1), dt.date(2025, 1, 15), seed=1)
    second = daily_files(tmp_path / "b", dt.date(2025, 3, 1), dt.date(2025, 3, 15), seed=2)
    children = [ingest_process(home, tmp_path / "a", child_env), ingest_process(home, tmp_path / "b", child_env)]
    seen, reads_during = set(), 0
    while any(child.poll() is None for child in children):
        try:
            con = connection.open_reader(home / "warehouse.duckdb", wait_seconds=60)
        except errors.WarehouseError as error:
            assert "no warehouse" in str(error) or "schema" in str(error)  # not created or not migrated yet
            time.sleep(0.02)
            continue
        try:
            seen.add(con.execute("select count(*) from listings").fetchone()[0])
            reads.status(con)
        finally:
            con.close()
        reads_during += any(child.poll() is None for child in children)
        time.sleep(0.05)
    outcomes = [(child.returncode, child.stderr.read()) for child in children]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    assert reads_during > 0
    assert seen <= {0, first, second, first + second}, f"a reader saw a partial load: {sorted(seen)}"

    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        assert con.execute("select count(*) from listings").fetchone() == (first + second,)
        runs = con.execute("select status, started_at, finished_at from runs order by started_at").fetchall()
    finally:
        con.close()
    assert [r[0] for r in runs] == ["completed", "completed"]
    assert runs[0][2] <= runs[1][1], "the second run started before the first one finished"


def test_a_second_writer_waits_then_fails_naming_the_holder(tmp_path, capsys, prefect_harness):
    home = tmp_path / "data"
    home.mkdir()
    daily_files(tmp_path / "files", dt.date(2025, 1, 1), dt.date(2025, 1, 3), seed=3)
    (home / "papertrends.toml").write_text("writer_wait = 0.5\n")
    holder = holding_process(HOLD_WRITER_LOCK, str(home))
    try:
        code = main(["--home", str(home), "ingest", "files", str(tmp_path / "files")])
        err = capsys.readouterr().err.splitlines()[-1]
        assert code == 1
        assert f"is being written by pid {holder.pid} (`" in err and "ingest-files) since 20" in err
        assert "waited 0.5s" in err
        assert not (home / "warehouse.duckdb").exists()  # the waiting writer touched nothing
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert main(["--home", str(home), "ingest", "files", str(tmp_path / "files")]) == 0


def test_a_second_writer_that_waits_long_enough_goes_ahead(tmp_path, prefect_harness):
    home = tmp_path / "data"
    home.mkdir()
    items = daily_files(tmp_path / "files", dt.date(2025, 1, 1), dt.date(2025, 1, 3), seed=3)
    (home / "papertrends.toml").write_text("writer_wait = 60\n")
    holder = holding_process(HOLD_WRITER_LOCK, str(home))
    release_after(holder, 1.0)
    assert main(["--home", str(home), "ingest", "files", str(tmp_path / "files")]) == 0
    assert holder.wait(timeout=30) == 0  # it held the lock until released, and we still got through
    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        assert con.execute("select count(*) from listings").fetchone() == (items,)
    finally:
        con.close()


def test_a_reader_during_a_write_waits_and_sees_only_the_committed_state(tmp_path, capsys):
    path = tmp_path / "data" / "warehouse.duckdb"
    connection.open_writer(path).close()
    writer = holding_process(HALF_LOADED_WRITER, str(path))
    try:
        # A reader unwilling to wait gets a clear one-line answer, not a traceback.
        (path.parent / "papertrends.toml").write_text("reader_wait = 0.2\n")
        assert main(["--home", str(path.parent), "sql", "select count(*) as n from quarantine", "--format", "csv"]) == 1
        assert "in use by another process" in capsys.readouterr().err
        # A reader that waits gets the state after the commit: all 500 rows, never a part of them.
        (path.parent / "papertrends.toml").write_text("reader_wait = 60\n")
        release_after(writer, 1.0)
        assert main(["--home", str(path.parent), "sql", "select count(*) as n from quarantine", "--format", "csv"]) == 0
        assert capsys.readouterr().out.splitlines() == ["n", "500"]
    finally:
        if not writer.stdin.closed:
            writer.stdin.close()
        assert writer.wait(timeout=30) == 0


def test_a_reader_that_gives_up_names_the_writer_holding_the_lock(tmp_path, capsys):
    home = tmp_path / "data"
    connection.open_writer(home / "warehouse.duckdb").close()
    holder = holding_process(HOLD_WRITER_LOCK, str(home))
    writer = holding_process(HALF_LOADED_WRITER, str(home / "warehouse.duckdb"))
    try:
        (home / "papertrends.toml").write_text("reader_wait = 0.2\n")
        assert main(["--home", str(home), "status"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"(pid {holder.pid} (`" in err and "is writing)" in err
    finally:
        for child in (writer, holder):
            child.stdin.close()
            child.wait(timeout=30)
