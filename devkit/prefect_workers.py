"""Real Prefect workers for tests and benchmarks: a process work pool and `prefect worker start` processes.

    with PrefectWorkers(api_url, "papertrends", ["worker-a", "worker-b"], prefect_home) as workers:
        ...  # both are registered with the server and poll the pool

Each worker runs in its own session (so stopping it stops the flow-run processes it started) and
is stopped by its own pid only. `child_env` is the environment both the workers and a submitting
`papertrends` process get: the server's URL, a private PREFECT_HOME, polling every second.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PREFECT = Path(sys.executable).parent / "prefect"
# For a Prefect server on SQLite on a few busy cores: patient database waits, and none of the
# services that only schedules, automations and late or paused runs need.
LEAN_SERVER_ENV = {"PREFECT_SERVER_DATABASE_TIMEOUT": "60", "PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT": "30"} | {
    f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false"
    for name in ("SCHEDULER", "LATE_RUNS", "PAUSE_EXPIRATIONS", "CANCELLATION_CLEANUP", "REPOSSESSOR", "TRIGGERS",
                 "FOREMAN", "DB_VACUUM", "CLEANUP_RECONCILER")}


def child_env(api_url: str | None, prefect_home: Path) -> dict:
    """This process's environment for a Prefect child: the given API (or none), a private home, quick polling."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_LOGGING_LEVEL")}
    env |= {"PREFECT_HOME": str(prefect_home), "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # a SQLite server on busy cores answers 503 for a while: clients keep asking (backing off)
            "PREFECT_CLIENT_MAX_RETRIES": "10"}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def api(url: str, path: str, body: dict | None = None):
    """One call of the Prefect REST API on 127.0.0.1 (POST with a JSON body, GET without)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


class PrefectWorkers:
    """A process work pool (created if missing) and one `prefect worker start` per name, registered before use."""

    def __init__(self, api_url: str, pool: str, names: list[str], prefect_home: Path, limit: int = 2,
                 start_timeout: float = 180.0):
        self.api_url, self.pool, self.names = api_url, pool, list(names)
        self.prefect_home, self.limit, self.start_timeout = Path(prefect_home), limit, start_timeout
        self.processes: list[subprocess.Popen] = []

    def start(self) -> "PrefectWorkers":
        env = child_env(self.api_url, self.prefect_home)
        pools = {p["name"] for p in api(self.api_url, "/work_pools/filter", {})}
        if self.pool not in pools:
            created = subprocess.run([str(PREFECT), "work-pool", "create", self.pool, "--type", "process"],
                                     capture_output=True, text=True, env=env, timeout=self.start_timeout)
            if created.returncode != 0:
                raise RuntimeError(f"prefect work-pool create failed: {created.stdout}{created.stderr}")
        try:
            for name in self.names:
                with (self.prefect_home / f"{name}.log").open("ab") as log:
                    self.processes.append(subprocess.Popen(
                        [str(PREFECT), "worker", "start", "--pool", self.pool, "--name", name, "--limit", str(self.limit)],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=self.prefect_home,
                        start_new_session=True,
                    ))
            deadline = time.monotonic() + self.start_timeout
            while not set(self.names) <= self.registered():
                if any(p.poll() is not None for p in self.processes):
                    raise RuntimeError(f"a worker exited at start: see its log in {self.prefect_home}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"workers {self.names} did not register within {self.start_timeout:.0f} s")
                time.sleep(0.5)
        except BaseException:
            self.stop()
            raise
        return self

    def registered(self) -> set[str]:
        """Names of the workers the server knows for the pool."""
        return {w["name"] for w in api(self.api_url, f"/work_pools/{self.pool}/workers/filter", {})}

    def stop(self) -> None:
        """SIGTERM each worker's session (the worker and its flow-run processes), SIGKILL after 30 s."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes = []

    def __enter__(self) -> "PrefectWorkers":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
