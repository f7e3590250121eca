"""One local Prefect server shared by every ingest command (`papertrends server start`).

Without PREFECT_API_URL, Prefect starts a temporary server for each command and stops it at the
end: about 10 s of every ingest on a busy machine. `papertrends server start` starts one server on
127.0.0.1 in the background (its own session, so a Ctrl-C in the terminal does not stop it) and
records its pid and URL in `$PREFECT_HOME/papertrends-server.json`; every later papertrends
command that runs a flow, with no PREFECT_API_URL of its own, uses it while it answers.
`papertrends server stop` stops exactly that process. Nothing starts a long-lived process
without being asked: a user who never runs `server start` keeps Prefect's temporary server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

STATE_FILE = "papertrends-server.json"


def prefect_home() -> Path:
    """Prefect's home folder (PREFECT_HOME, default ~/.prefect): its database and our state file."""
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def _state_path() -> Path:
    return prefect_home() / STATE_FILE


def _healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as answer:  # 127.0.0.1 only
            return answer.status == 200
    except OSError:
        return False


def running() -> dict | None:
    """The recorded server ({pid, url, log}) when it answers; None otherwise."""
    try:
        state = json.loads(_state_path().read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and _healthy(str(state.get("url", ""))) else None


def use_shared_server() -> str | None:
    """Point this process's flows at the shared server when one answers and no API is configured."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    state = running()
    if state is None:
        return None
    os.environ["PREFECT_API_URL"] = state["url"]
    return state["url"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(port: int | None = None, wait: float = 120.0) -> dict:
    """Start the shared server (or return the one running); raises RuntimeError if it never answers."""
    state = running()
    if state is not None:
        return state | {"already": True}
    import prefect

    home = prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log_path = home / "papertrends-server.log"
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "error", "--lifespan", "on"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True,
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited at start (status {process.returncode}); see {log_path}")
        if _healthy(url):
            state = {"pid": process.pid, "url": url, "log": str(log_path)}
            _state_path().write_text(json.dumps(state), encoding="utf-8")
            return state
        time.sleep(0.25)
    process.terminate()
    raise RuntimeError(f"the Prefect server did not answer within {wait:.0f} s; see {log_path}")


def stop(wait: float = 20.0) -> dict | None:
    """Stop the recorded server (by its pid only); returns its state, or None if none was recorded."""
    path = _state_path()
    try:
        state = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    pid = int(state.get("pid", 0))
    if pid > 0 and _healthy(str(state.get("url", ""))):  # the pid still belongs to our server
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return state


@contextlib.contextmanager
def serving(home: Path, environment: dict[str, str] | None = None):
    """A server with its state under `home` for the duration of a block (tests, benchmarks).

    PREFECT_HOME and `environment` are set for the block (the server inherits them) and restored
    after it, whatever happens; yields start()'s state ({"url": ..., "pid": ...}).
    """
    wanted = {**(environment or {}), "PREFECT_HOME": str(home)}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield start()
    finally:
        stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A stopped child of this process stays a zombie until reaped: reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True
