"""Ctrl-C, SIGTERM and SIGKILL of a real `papertrends` process (issue 15.14, 15.16).

The command runs as a child in its own process group with no PREFECT_API_URL, as a user runs it,
so it starts Prefect's temporary server; signals go to the whole group, as a terminal's Ctrl-C,
`timeout` or `systemctl stop` send them.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from papertrends.devkit.hf_stub_server import DailyPapersServer, ScriptedResponse
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files

REPO = Path(__file__).resolve().parents[1]


def children_of(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start(home: Path, *argv: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen([sys.executable, "-m", "papertrends.cli.main", "--home", str(home), *argv],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_running_run(home: Path, process: subprocess.Popen, timeout: float = 180) -> None:
    """Until the warehouse shows a run in progress (the command is inside its flow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
            try:
                if con.execute("select count(*) from runs where status = 'running'").fetchone()[0]:
                    return
            finally:
                con.close()
        except duckdb.Error:
            pass
        time.sleep(0.05)
    raise AssertionError("the command never started its run")


def statuses(home: Path) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("select flow, status from runs order by run_id").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def many_files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("signals") / "files"
    write_daily_files(generate_daily_lists(dt.date(2023, 1, 1), dt.date(2024, 12, 31), seed=3), folder)
    return folder


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_signal_to_the_group_stops_ingest_files_fast_and_records_it_interrupted(home, many_files, signum, code):
    process = start(home, "ingest", "files", str(many_files))
    wait_for_running_run(home, process)
    helpers = children_of(process.pid)
    os.killpg(process.pid, signum)
    sent = time.monotonic()
    _, err = process.communicate(timeout=120)
    took = time.monotonic() - sent
    assert process.returncode == code, err
    assert took < 30, f"took {took:.0f}s to stop"  # it took 223-229 s (issue 15.14)
    assert "interrupted" in err and "unexpected" not in err and "Traceback" not in err
    assert statuses(home) == [("ingest-files", "interrupted")]
    time.sleep(1)
    assert not [pid for pid in helpers if alive(pid)]


def test_sigkill_leaves_no_temporary_server_behind(home, many_files):
    """Issue 15.16: SIGKILL of an ingest left Prefect's temporary server (uvicorn) running."""
    process = start(home, "ingest", "files", str(many_files))
    wait_for_running_run(home, process)
    helpers = children_of(process.pid)
    assert helpers, "the temporary server should be a child of the command"
    process.kill()
    process.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [pid for pid in helpers if alive(pid)]:
        time.sleep(0.1)
    assert not [pid for pid in helpers if alive(pid)]


def test_ctrl_c_during_a_stalled_fetch_does_not_wait_out_the_retries(home):
    (home / "papertrends.toml").write_text("read_timeout = 20.0\nmax_attempts = 5\nbackoff_base = 5.0\n")
    day = "2025-03-03"
    with DailyPapersServer({day: []}) as server:
        server.script(day, 0, [ScriptedResponse(200, b"[]", delay=60)] * 5)
        process = start(home, "ingest", "hf", "--date", day, "--base-url", server.base_url)
        deadline = time.monotonic() + 180
        while not server.requests and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert server.requests, process.communicate()
        os.killpg(process.pid, signal.SIGINT)
        sent = time.monotonic()
        _, err = process.communicate(timeout=120)
        took = time.monotonic() - sent
    assert process.returncode == 130, err
    assert took < 30, f"took {took:.0f}s to stop"  # it waited out every retry (162 s)
    assert statuses(home)[-1][1] == "interrupted"
