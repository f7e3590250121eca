"""`papertrends backfill --submit` on real parts: a Prefect server, a process work pool, two
`prefect worker start` processes, the HF stub server on 127.0.0.1 and a real warehouse file.

Every date is loaded exactly once whichever worker ran it, both workers run some of the flow
runs, and runs queue on the embedded file's writer lock instead of failing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from papertrends.cli import prefect_server
from papertrends.devkit.hf_stub_server import DailyPapersServer
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.flows.pool import DEPLOYMENT_NAME, WORKER_LABEL, chunked
from testsupport import warehouse_rows as rows
from testsupport import write_settings

REPO = Path(__file__).resolve().parents[1]
PREFECT = Path(sys.executable).parent / "prefect"
POOL = "papertrends-test"
SINCE, UNTIL = dt.date(2025, 4, 1), dt.date(2025, 4, 30)  # 30 dates, all closed
WORKERS = ("worker-a", "worker-b")
# The server on SQLite, on 2 busy cores: patient database waits, and none of the services that
# only schedules, automations and late or paused runs need.
SERVER_ENV = {"PREFECT_HOME": "", "PREFECT_SERVER_DATABASE_TIMEOUT": "60",
              "PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT": "30"} | {
    f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false"
    for name in ("SCHEDULER", "LATE_RUNS", "PAUSE_EXPIRATIONS", "CANCELLATION_CLEANUP", "REPOSSESSOR", "TRIGGERS",
                 "FOREMAN", "DB_VACUUM", "CLEANUP_RECONCILER")}


def api(url: str, path: str, body: dict | None = None):
    """One call of the Prefect REST API (POST with a JSON body, GET without)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # 127.0.0.1 only
        return json.loads(answer.read())


def child_env(url: str | None, prefect_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_LOGGING_LEVEL")}
    env |= {"PREFECT_HOME": str(prefect_home), "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    if url:
        env["PREFECT_API_URL"] = url
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real Prefect server (SQLite under a temporary PREFECT_HOME) on a free 127.0.0.1 port."""
    prefect_home = tmp_path_factory.mktemp("prefect-server")
    saved = {name: os.environ.get(name) for name in SERVER_ENV}
    # cli/prefect_server keeps its state file in PREFECT_HOME; the server inherits the rest.
    os.environ.update(SERVER_ENV | {"PREFECT_HOME": str(prefect_home)})
    try:
        state = prefect_server.start()
        yield {"url": state["url"], "home": prefect_home}
    finally:
        prefect_server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def workers(server):
    """A process work pool and two `prefect worker start` processes polling it (stopped at the end)."""
    env = child_env(server["url"], server["home"])
    created = subprocess.run([str(PREFECT), "work-pool", "create", POOL, "--type", "process"],
                             capture_output=True, text=True, env=env, timeout=180)
    assert created.returncode == 0, created.stdout + created.stderr
    processes = []
    try:
        for name in WORKERS:
            log = (server["home"] / f"{name}.log").open("wb")
            processes.append(subprocess.Popen(
                [str(PREFECT), "worker", "start", "--pool", POOL, "--name", name, "--limit", "2"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=server["home"], start_new_session=True,
            ))
        deadline = time.monotonic() + 120
        while True:  # both registered with the server before anything is submitted
            online = {w["name"] for w in api(server["url"], f"/work_pools/{POOL}/workers/filter", {})}
            if online >= set(WORKERS):
                break
            assert all(p.poll() is None for p in processes), "a worker exited at start: see its log"
            assert time.monotonic() < deadline, f"workers never registered: {online}"
            time.sleep(0.5)
        yield processes
    finally:
        for process in processes:  # each worker and the flow-run processes it started (its own session)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


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
