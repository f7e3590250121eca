"""Ingest commands: quiet by default, and one shared local Prefect server across commands
(`papertrends server start|stop`) instead of a temporary server per command (issue 15.12)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from papertrends.cli import prefect_server
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files

REPO = Path(__file__).resolve().parents[1]


def flow_run_count(url: str) -> int:
    request = urllib.request.Request(f"{url}/flow_runs/count", data=b"{}", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def test_ingest_is_quiet_and_uses_the_shared_server(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 3), seed=5), tmp_path / "files")
    assert main(["server", "start"]) == 0
    state = prefect_server.running()
    try:
        assert state is not None and state["url"].startswith("http://127.0.0.1:")
        assert "Prefect server started at" in capsys.readouterr().out
        assert main(["server", "start"]) == 0 and "already running" in capsys.readouterr().out
        env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_LOGGING_LEVEL", "PREFECT_API_URL")}
        result = subprocess.run(
            [sys.executable, "-m", "papertrends.cli.main", "--home", str(tmp_path / "data"), "ingest", "files",
             str(tmp_path / "files")],
            capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert "INFO" not in result.stderr and "Starting temporary server" not in result.stderr, result.stderr
        assert "items in =" in result.stdout
        assert flow_run_count(state["url"]) >= 1  # the run went to the shared server
    finally:
        assert main(["server", "stop"]) == 0
    assert "stopped the Prefect server" in capsys.readouterr().out
    assert prefect_server.running() is None and not prefect_server._alive(state["pid"])
    assert main(["server", "status"]) == 0 and "not running" in capsys.readouterr().out


def test_use_shared_server_ignores_a_stale_state_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    (tmp_path / prefect_server.STATE_FILE).write_text(json.dumps({"pid": 999999, "url": "http://127.0.0.1:9/api"}))
    assert prefect_server.use_shared_server() is None and "PREFECT_API_URL" not in os.environ
    assert prefect_server.stop() is not None and not (tmp_path / prefect_server.STATE_FILE).exists()


def test_a_busy_writer_lock_is_one_line_without_a_traceback(tmp_path):
    """Issue 15.20: an expected failure printed Prefect's traceback."""
    import fcntl

    home = tmp_path / "data"
    home.mkdir()
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 1), seed=5), tmp_path / "files")
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_LOGGING_LEVEL", "PREFECT_API_URL")}
    env |= {"PAPERTRENDS_WRITER_WAIT": "1", "PREFECT_HOME": str(tmp_path / "prefect")}
    with open(home / "writer.lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # another writer holds the lock
        result = subprocess.run(
            [sys.executable, "-m", "papertrends.cli.main", "--home", str(home), "ingest", "files", str(tmp_path / "files")],
            capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
        )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("papertrends: error: "), result.stderr
    assert "Traceback" not in result.stderr
