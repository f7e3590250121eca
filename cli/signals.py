"""Ctrl-C and SIGTERM for commands that run flows: stop within seconds, record the run as
interrupted, exit 130 (SIGINT) or 143 (SIGTERM), and leave no process behind.

Without PREFECT_API_URL, Prefect would start its temporary API server (uvicorn) as a child in
our process group: a terminal's Ctrl-C or `timeout`/`systemctl stop` then killed the server
first, and the flow spent minutes retrying to report to it ("unexpected ConnectError"); a
SIGKILL of the command left the server running. So the command starts that server itself, in
its own session (group signals do not reach it) and bound to our life with PR_SET_PDEATHSIG
(the kernel kills it when we die, even by SIGKILL), and stops it on the way out.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..core import interrupts
from .faults import disk_full_message

# Commands whose handlers run Prefect flows (the others never import Prefect).
# Commands (click command paths) that run Prefect flows: they get a Prefect API for their run.
FLOW_COMMANDS = {"papertrends ingest hf", "papertrends ingest files", "papertrends ingest arxiv",
                 "papertrends backfill", "papertrends rebuild", "papertrends enrich", "papertrends demo",
                 "papertrends serve"}
_PR_SET_PDEATHSIG = 1
# The URL of the temporary server this process started (None: the API is the user's, or none yet).
temporary_api_url: str | None = None


def _die_with_parent(parent: int) -> Callable[[], None]:
    def setup() -> None:  # runs in the child between fork and exec
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # not Linux: the parent still stops the server on every exit it survives
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return setup


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_temporary_server(timeout: float | None = None) -> subprocess.Popen | None:
    """Start Prefect's temporary API server the way Prefect does, but in its own session and tied
    to this process's life; point PREFECT_API_URL at it. None when an API is already configured
    (PREFECT_API_URL set) or Prefect is already imported (an in-process caller owns its API)."""
    if os.environ.get("PREFECT_API_URL") or "prefect" in sys.modules:
        return None
    spec = importlib.util.find_spec("prefect")
    if spec is None or spec.origin is None:
        return None
    port = _free_port()
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(spec.origin).parent.parent), "--factory",
         "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "error", "--lifespan", "on"],
        env=env, start_new_session=True, preexec_fn=_die_with_parent(os.getpid()),
        stdin=subprocess.DEVNULL,
    )
    limit = timeout or float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    deadline = time.monotonic() + limit
    url = f"http://127.0.0.1:{port}/api"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Prefect's temporary server exited with code {process.returncode} while starting")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Prefect's temporary server did not start within {limit:g}s")
            time.sleep(0.1)
    except BaseException:
        stop_server(process)
        raise
    os.environ["PREFECT_API_URL"] = url
    global temporary_api_url
    temporary_api_url = url  # `backfill --submit` refuses it: no worker could reach runs that die with us
    # Stopped at exit after Prefect's own exit handlers (registered later, so run earlier) have
    # flushed their logs and events to it: stopping it first would make them retry for minutes.
    atexit.register(stop_server, process)
    return process


def _drain_prefect_logs() -> None:
    """Send the run's queued log lines to the API before its server stops (else Prefect prints
    "Error logging to API" at exit, after the one-line error the user should see last)."""
    if "prefect.logging.handlers" not in sys.modules:
        return
    try:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
    except Exception:  # a courtesy: never let log shipping change the command's outcome
        pass


def stop_server(process: subprocess.Popen | None) -> None:
    """Stop a server started by start_temporary_server (terminate, then kill after 5 s)."""
    if process is None or process.poll() is not None:
        return
    _drain_prefect_logs()
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def guarded(run: Callable[[], int], command: str, hard_exit: bool) -> int:
    """Run one command with signal handling; returns its exit code.

    SIGINT and SIGTERM become exceptions in the main thread (flows record the run as interrupted)
    and a stop request for worker threads. `hard_exit` (a real command-line process, not an
    in-process caller such as a test) ends the process right after the interrupted run is
    recorded, without waiting for worker threads still blocked in a read.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    previous = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) if main_thread else None
    if main_thread:
        interrupts.install()
    server = None
    try:
        if command in FLOW_COMMANDS:
            # The shared server of `papertrends server start` when it answers, else one of our own
            # tied to this process (never an orphan after a kill).
            from .prefect_server import use_shared_server

            if use_shared_server() is None:
                server = start_temporary_server()
        return run()
    except BaseException as error:
        if not interrupts.is_interrupt(error):
            message = disk_full_message(error)
            if message is None:
                raise
            print(f"papertrends: error: {message}", file=sys.stderr, flush=True)
            return 1
        return _interrupted(error, server, hard_exit)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])
            interrupts.stop_requested.clear()


def _interrupted(error: BaseException, server, hard_exit: bool) -> int:
    """Say the command was interrupted; a real command-line process then ends at once."""
    code = interrupts.EXIT_SIGTERM if interrupts.is_sigterm(error) else interrupts.EXIT_SIGINT
    print(f"papertrends: interrupted ({'SIGTERM' if code == interrupts.EXIT_SIGTERM else 'Ctrl-C'}); "
          "a run in progress is recorded as interrupted", file=sys.stderr, flush=True)
    if hard_exit:
        stop_server(server)
        sys.stdout.flush()
        os._exit(code)  # worker threads may still sit in a socket read; nothing of theirs is committed
    return code
