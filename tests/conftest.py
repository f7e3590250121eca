"""Shared fixtures: one Prefect test harness per session, real DuckDB files, real HTTP servers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Prefect reads these at import: keep its state out of the user's home, and stay offline.
_PREFECT_HOME = tempfile.mkdtemp(prefix="papertrends-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PAPERTRENDS_HOME", None)

import pytest  # noqa: E402

# Real PostgreSQL / S3 / DuckLake fixtures (tests/services.py), started once per session when used.
pytest_plugins = ["services"]

SHARED_SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API for the whole session (starting one takes seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def home(tmp_path) -> Path:
    """A fresh data root for one test."""
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture(scope="session")
def samples() -> Path:
    """The real third-party samples beside the repo; tests using them skip when absent."""
    if not SHARED_SAMPLES.is_dir():
        pytest.skip(f"real samples not found at {SHARED_SAMPLES} (they live in ../shared beside a checkout)")
    return SHARED_SAMPLES
