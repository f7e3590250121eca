"""`papertrends backfill --submit` on real parts: a Prefect server, a process work pool, two
`prefect worker start` processes, the HF stub server on 127.0.0.1 and a real warehouse file.

Every date is loaded exactly once whichever worker ran it, both workers run some of the flow
runs, and runs queue on the embedded file's writer lock instead of failing.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from papertrends.cli import prefect_server
from papertrends.devkit.hf_stub_server import DailyPapersServer
from papertrends.devkit.prefect_workers import LEAN_SERVER_ENV, PrefectWorkers, api, child_env
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.devkit.services import S3Server
from papertrends.flows.pool import DEPLOYMENT_NAME, WORKER_LABEL, chunked
from testsupport import warehouse_rows as rows
from testsupport import write_settings

REPO = Path(__file__).resolve().parents[1]
POOL = "papertrends-test"
SINCE, UNTIL = dt.date(2025, 4, 1), dt.date(2025, 4, 30)  # 30 dates, all closed
WORKERS = ("worker-a", "worker-b")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real Prefect server (SQLite under a temporary PREFECT_HOME) on a free 127.0.0.1 port."""
    prefect_home = tmp_path_factory.mktemp("prefect-server")
    # cli/prefect_server keeps its state file in PREFECT_HOME; the server inherits the rest.
    with prefect_server.serving(prefect_home, LEAN_SERVER_ENV) as state:
        yield {"url": state["url"], "home": prefect_home}


@pytest.fixture(scope="module")
def workers(server):
    """A process work pool and two `prefect worker start` processes polling it (stopped at the end).

    The workers carry the test S3 server's keys (moto's, for 127.0.0.1 only) in their environment,
    as a deployment's workers carry the bucket's: the DuckLake test submits to the same workers.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", S3Server.access_key_id)
        patch.setenv("AWS_SECRET_ACCESS_KEY", S3Server.secret_access_key)
        with PrefectWorkers(server["url"], POOL, WORKERS, server["home"], limit=2) as started:
            yield started


def test_a_backfill_through_two_workers_loads_every_date_once(server, workers, tmp_path):
    home = tmp_path / "data"
    home.mkdir()
    write_settings(home, backoff_base=0.02, max_attempts=2, read_timeout=10.0, backfill_retry_delay=0.1)
    lists = generate_daily_lists(SINCE, UNTIL, seed=11)
    assert len(lists) == 30
    with DailyPapersServer(lists, default_limit=20) as stub:
        result = subprocess.run(
            [sys.executable, "-m", "papertrends.cli.main", "--home", str(home), "backfill", "--since", str(SINCE),
             "--until", str(UNTIL), "--base-url", stub.base_url, "--submit", "--pool", POOL, "--dates-per-run", "5"],
            capture_output=True, text=True, cwd=REPO, env=child_env(server["url"], server["home"]), timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        first_pages = Counter(r["query"]["date"] for r in stub.requests if r["query"].get("p", "0") == "0")
    assert "30 date(s) in 6 flow run(s)" in result.stdout and "30 done, 0 failed; ran on 2 worker(s)" in result.stdout

    # Every date fetched once and loaded once: ledger, listings and runs agree with the stub.
    assert first_pages == Counter({day: 1 for day in lists})
    assert rows(home, "select strftime(list_date, '%Y-%m-%d'), status from backfill_dates order by 1") == \
        [(day, "done") for day in sorted(lists)]
    assert rows(home, "select count(*), count(distinct (list_date, paper_id)) from listings") == \
        [(sum(map(len, lists.values())),) * 2]
    loaded = dict(rows(home, "select strftime(list_date, '%Y-%m-%d'), count(*) from listings group by 1"))
    assert loaded == {day: len(items) for day, items in lists.items() if items}
    assert rows(home, "select status, count(*) from runs where flow = 'backfill-hf' group by 1") == [("completed", 6)]

    # Who ran what: the label each worker gives the flow runs it picks up.
    deployment = api(server["url"], f"/deployments/name/backfill-hf/{DEPLOYMENT_NAME}")
    runs = api(server["url"], "/flow_runs/filter", {"deployments": {"id": {"any_": [deployment["id"]]}}})
    completed = [r for r in runs if r["state_type"] == "COMPLETED"]  # a crashed run is submitted again
    assert len(completed) == 6 and {r["state_type"] for r in runs} <= {"COMPLETED", "CRASHED"}
    ran = Counter(r["labels"].get(WORKER_LABEL) for r in completed)
    assert set(ran) == set(WORKERS), ran
    assert deployment["work_pool_name"] == POOL and deployment["entrypoint"] == "papertrends.flows.backfill.backfill_hf"


def test_a_backfill_submitted_to_the_workers_loads_a_ducklake_once(server, workers, postgres_server, s3_credentials, tmp_path):
    """The same workers load a DuckLake (PostgreSQL catalog, moto S3): every date once, no key twice."""
    from papertrends.warehouse import connection

    from services import new_ducklake

    lake = new_ducklake(postgres_server, s3_credentials)
    home = tmp_path / "lakehome"
    home.mkdir()
    write_settings(home, warehouse=lake.url, ducklake_data_path=lake.data_path, s3_endpoint=lake.s3_endpoint,
                   backoff_base=0.02, max_attempts=2, read_timeout=10.0, backfill_retry_delay=0.1)
    since, until = dt.date(2025, 5, 1), dt.date(2025, 5, 4)
    lists = generate_daily_lists(since, until, seed=13)
    with DailyPapersServer(lists, default_limit=20) as stub:
        result = subprocess.run(
            [sys.executable, "-m", "papertrends.cli.main", "--home", str(home), "backfill", "--since", str(since),
             "--until", str(until), "--base-url", stub.base_url, "--submit", "--pool", POOL, "--dates-per-run", "2"],
            capture_output=True, text=True, cwd=REPO, env=child_env(server["url"], server["home"]), timeout=600,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 date(s) in 2 flow run(s)" in result.stdout and "4 done, 0 failed" in result.stdout, result.stdout
    assert not (home / "warehouse.duckdb").exists()  # loaded into the lake, not a file
    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        assert con.execute("select strftime(list_date, '%Y-%m-%d'), status from backfill_dates order by 1").fetchall() == \
            [(day, "done") for day in sorted(lists)]
        assert con.execute("select count(*), count(distinct (list_date, paper_id)) from listings").fetchall() == \
            [(sum(map(len, lists.values())),) * 2]
        assert con.execute("select count(*) - count(distinct paper_id) from papers").fetchone()[0] == 0
        assert con.execute("select status, count(*) from runs where flow = 'backfill-hf' group by 1").fetchall() == \
            [("completed", 2)]
    finally:
        con.close()


def test_submit_without_a_prefect_server_is_one_line(tmp_path):
    home = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "papertrends.cli.main", "--home", str(home), "backfill", "--since", "2025-01-01",
         "--until", "2025-01-02", "--submit"],
        capture_output=True, text=True, cwd=REPO, env=child_env(None, tmp_path / "prefect"), timeout=150,
    )
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "--submit needs a Prefect server" in result.stderr, result.stderr
    assert not (home / "warehouse.duckdb").exists()


def test_dates_are_chunked_into_consecutive_runs():
    days = ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-05", "2025-01-06"]
    assert chunked(days, 2) == [["2025-01-01", "2025-01-02"], ["2025-01-03"], ["2025-01-05", "2025-01-06"]]
    assert chunked(days, 1) == [[d] for d in days]
    with pytest.raises(ValueError, match="at least 1"):
        chunked(days, 0)


HOLD_LOCK = """
import fcntl, sys, time
with open(sys.argv[1], "a+") as held:
    fcntl.flock(held.fileno(), fcntl.LOCK_EX)
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_submitted_run_queues_on_the_writer_lock(home, prefect_harness):
    """A run's writer_wait (pool_writer_wait for submitted runs) outlasts another writer's hold."""
    from papertrends.core.errors import WarehouseError
    from papertrends.flows.backfill import backfill_hf

    write_settings(home, writer_wait=0.5, backoff_base=0.02, max_attempts=2)
    lists = generate_daily_lists(SINCE, SINCE, seed=3)
    with DailyPapersServer(lists) as stub:
        def held_for(seconds: float) -> subprocess.Popen:
            holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(home / "writer.lock"), str(seconds)],
                                      stdout=subprocess.PIPE, text=True)
            assert holder.stdout.readline().strip() == "held"
            return holder

        holder = held_for(120)  # far longer than the setting's 0.5 s, however slow the flow is to start
        try:
            with pytest.raises(WarehouseError, match="writer_wait"):
                backfill_hf(since=str(SINCE), until=str(SINCE), home=str(home), base_url=stub.base_url)
        finally:
            holder.terminate()
            holder.wait(timeout=30)

        held_at = time.monotonic()
        holder = held_for(8)
        report = backfill_hf(since=str(SINCE), until=str(SINCE), home=str(home), base_url=stub.base_url, writer_wait=120)
        assert time.monotonic() - held_at >= 8  # it waited for the lock, then ran
        holder.wait(timeout=30)
    assert report.done == [str(SINCE)] and not report.failed


def test_a_crashed_run_is_submitted_again_twice_then_named(server, tmp_path):
    """Runs on a pool no worker polls, crashed through the API each time one is scheduled."""
    import threading

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from papertrends.core.settings import load_settings
    from papertrends.flows.pool import RESUBMITS, submit_backfill

    home = tmp_path / "data"
    home.mkdir()
    settings = load_settings(home, work_pool="papertrends-crash")
    crashed: list[str] = []
    done = threading.Event()

    def crash_each_scheduled_run() -> None:
        while not done.is_set():
            for run in api(server["url"], "/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
                                                                 "work_pools": {"name": {"any_": ["papertrends-crash"]}}}):
                api(server["url"], f"/flow_runs/{run['id']}/set_state",
                    {"state": {"type": "CRASHED", "message": "the machine went away"}, "force": True})
                crashed.append(run["id"])
            time.sleep(0.2)

    crasher = threading.Thread(target=crash_each_scheduled_run, daemon=True)
    notes: list[str] = []
    with temporary_settings({PREFECT_API_URL: server["url"]}):
        crasher.start()
        try:
            report = submit_backfill(settings, "2025-05-01", "2025-05-01", base_url="http://127.0.0.1:9",
                                     poll_seconds=0.2, on_note=notes.append)
        finally:
            done.set()
            crasher.join(timeout=10)
    assert len(set(crashed)) == RESUBMITS + 1
    assert sum("submitted it again" in note for note in notes) == RESUBMITS
    assert report.failed == {"2025-05-01": "flow run 'backfill-hf 2025-05-01' ended CRASHED: the machine went away"}
    assert "1 failed" in report.summary() and "--retry-failed --submit" in report.summary()
