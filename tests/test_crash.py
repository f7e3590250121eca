"""Crash safety: a real `papertrends ingest files` process killed with SIGKILL at many moments.

Each time, what is left must be consistent (every visible Parquet file complete, the warehouse
either without the load or with all of it), and the next run must finish with exactly the state
of an uninterrupted run. The kill moments are chosen by watching the data root, so they fall in
the same phases on a fast or a slow machine: landing raw files, writing
the lake, loading the warehouse, finishing the run.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from papertrends.core import errors
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from papertrends.flows.ingest import ingest_files
from papertrends.warehouse import connection

REPO = Path(__file__).resolve().parents[1]
DAYS = (dt.date(2025, 1, 1), dt.date(2025, 1, 24))


def sidecars(home: Path) -> int:
    return sum(1 for _ in (home / "raw").rglob("*.meta.json")) if (home / "raw").is_dir() else 0


def raw_temporaries(home: Path) -> bool:
    return (home / "raw").is_dir() and any(p.name.endswith(".tmp") for p in (home / "raw").rglob(".*"))


def lake_files(home: Path) -> int:
    return sum(1 for _ in (home / "lake").rglob("*.parquet")) if (home / "lake").is_dir() else 0


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Generated daily files plus one file that is not a list (quarantined), and their count."""
    folder = tmp_path_factory.mktemp("crash") / "files"
    write_daily_files(generate_daily_lists(*DAYS, seed=9), folder)
    (folder / "2025-01-25.json").write_text('{"error": "not a list"}')
    return folder, len(list(folder.iterdir()))


def warehouse_state(home: Path) -> dict:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return {
            # Every column: times come from the saved files (their modification time), not from the run.
            "papers": con.execute("select * from papers order by paper_id").fetchall(),
            "listings": con.execute("select * from listings order by all").fetchall(),
            # first_run_id is a run number: the killed run took one.
            "quarantine": con.execute("select * exclude (first_run_id) from quarantine order by all").fetchall(),
        }
    finally:
        con.close()


def files_under(home: Path, folder: str) -> list[str]:
    return sorted(p.relative_to(home / folder).as_posix() for p in (home / folder).rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def uninterrupted(inputs, tmp_path_factory, prefect_harness):
    """The state an uninterrupted run leaves."""
    home = tmp_path_factory.mktemp("reference") / "data"
    report = ingest_files([str(inputs[0])], home=str(home))
    counts = (report.inputs, report.items_in, report.items_loaded, report.items_quarantined)
    return {"warehouse": warehouse_state(home), "lake": files_under(home, "lake"), "raw": files_under(home, "raw"), "counts": counts}


@pytest.fixture(scope="module")
def child_env(prefect_harness):
    """The session's Prefect API for the children, so none starts a server of its own."""
    from prefect.settings import get_current_settings

    return {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url), "PREFECT_LOGGING_LEVEL": "ERROR"}


class Moment:
    """When to kill: the first poll at which `ready(home, seconds since the lake was complete)` holds."""

    def __init__(self, name, ready):
        self.name, self.ready = name, ready


def lake_complete_for(seconds):
    return lambda home, total, since_lake: since_lake is not None and since_lake >= seconds


MOMENTS = [
    # Saved files land in batches (written to temporaries, synced, renamed): kill while a batch's
    # temporaries are there, or failing that once half the sidecars are.
    Moment("landing raw files", lambda home, total, since_lake: raw_temporaries(home) or sidecars(home) >= total // 2),
    Moment("writing the lake", lambda home, total, since_lake: lake_files(home) >= 1),
    Moment("lake complete, loading", lake_complete_for(0.0)),
    Moment("loading or finishing", lake_complete_for(0.5)),
    Moment("finishing the run", lake_complete_for(1.2)),
]


def killed_run(home: Path, folder: Path, total_inputs: int, moment: Moment, env: dict) -> str:
    """Start a real ingest, SIGKILL it at `moment`; returns what it had got to."""
    child = subprocess.Popen(
        [sys.executable, "-m", "papertrends.cli.main", "--home", str(home), "ingest", "files", str(folder)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    expected_lake = None
    lake_done_at = None
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        if lake_done_at is None and sidecars(home) == total_inputs:
            expected_lake = expected_lake or total_inputs - 1  # every daily file makes one listing file
            if lake_files(home) >= expected_lake:
                lake_done_at = time.monotonic()
        since_lake = None if lake_done_at is None else time.monotonic() - lake_done_at
        if moment.ready(home, total_inputs, since_lake):
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    child.wait(timeout=30)
    if child.returncode != -signal.SIGKILL:
        return "finished before the kill"
    return f"killed with {sidecars(home)} raw inputs landed and {lake_files(home)} lake files"


def assert_consistent_after_kill(home: Path, expected_listings: int) -> str:
    """What a killed run leaves is whole: readable Parquet only, a load fully there or not at all."""
    for path in (home / "lake").rglob("*.parquet") if (home / "lake").is_dir() else []:
        pl.read_parquet(path)  # a partial file would not parse
    if not (home / "warehouse.duckdb").exists():
        return "no warehouse yet"
    try:
        con = connection.open_reader(home / "warehouse.duckdb", wait_seconds=10)
    except errors.WarehouseError as error:
        # Killed between two migrations: a whole older schema, which the next writer upgrades.
        assert "older papertrends" in str(error), error
        return "warehouse between migrations"
    try:
        listings, = con.execute("select count(*) from listings").fetchone()
        assert listings in (0, expected_listings), f"half a load is visible: {listings} of {expected_listings}"
        runs = con.execute("select status from runs order by run_id").fetchall()
    finally:
        con.close()
    return f"warehouse with {listings} listings, runs {[s for (s,) in runs]}"


@pytest.mark.parametrize("moment", MOMENTS, ids=[m.name.replace(" ", "-") for m in MOMENTS])
def test_a_killed_ingest_recovers_to_exactly_the_uninterrupted_state(moment, inputs, uninterrupted, child_env, tmp_path):
    folder, total_inputs = inputs
    home = tmp_path / "data"
    expected = uninterrupted["warehouse"]

    reached = killed_run(home, folder, total_inputs, moment, child_env)
    reached += "; " + assert_consistent_after_kill(home, len(expected["listings"]))
    print(f"\n{moment.name}: {reached}")  # shown with -s: which phase the kill really hit

    report = ingest_files([str(folder)], home=str(home))  # the next run, as a user would start it
    assert report.status == "completed", (reached, report.summary())
    assert (report.inputs, report.items_in, report.items_loaded, report.items_quarantined) == uninterrupted["counts"]
    assert report.items_in == report.items_loaded + report.items_quarantined
    assert warehouse_state(home) == expected, reached
    assert files_under(home, "lake") == uninterrupted["lake"], reached
    assert files_under(home, "raw") == uninterrupted["raw"], reached  # no leftover temporaries either
    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        statuses = [s for (s,) in con.execute("select status from runs order by run_id").fetchall()]
    finally:
        con.close()
    # A run the kill cut short is marked interrupted, never left 'running'.
    assert statuses[-1] == "completed" and set(statuses[:-1]) <= {"interrupted", "completed"}, (reached, statuses)


def test_only_temporaries_of_atomic_writes_are_swept(tmp_path):
    from papertrends.flows.runs import swept_temporaries
    from papertrends.sources.raw_archive import write_atomically

    home = tmp_path / "data"
    write_atomically(home / "lake" / "listings" / "a.parquet", b"whole")
    leftovers = [home / "lake" / "listings" / ".b.parquet.4242.tmp", home / "raw" / "files" / ".x.json.meta.json.7.tmp"]
    keep = [home / "raw" / "files" / "notes.tmp", home / "raw" / "files" / "x-0123.json"]
    for path in leftovers + keep:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    assert sorted(swept_temporaries(home)) == sorted(leftovers)
    assert all(p.exists() for p in keep) and (home / "lake" / "listings" / "a.parquet").read_bytes() == b"whole"
