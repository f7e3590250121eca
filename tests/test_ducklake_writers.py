"""Writer runs on a DuckLake (PostgreSQL catalog + moto S3): the same loads, ingests, enrich and backfill as on a file.

DuckLake has no keys, sequences, INSERT OR REPLACE, ON CONFLICT or RETURNING; the writers use MERGE
INTO and anti-join inserts instead, with run ids from the ledger, and hold a PostgreSQL advisory
lock around each merge (warehouse/lake_locks.py). Each test here compares against the embedded
file loaded the same way, or checks keys stay unique under concurrent and killed writers.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import json

import duckdb
import polars as pl
import pytest
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from papertrends.transforms.hf_listings import daily_papers_extracted, listings_normalized
from papertrends.warehouse import backends, connection, lake_locks, ledger, loads
from papertrends.warehouse.migrate import tables_differing
from services import new_ducklake
from test_export import build_warehouse
from testsupport import write_settings

REPO = Path(__file__).resolve().parents[1]
SINCE, UNTIL = dt.date(2025, 1, 1), dt.date(2025, 1, 31)
# The run ledger records when each run happened: compared by shape, not by value.
LEDGER_TABLES = {"runs", "run_checks", "run_stages", "run_warnings"}
# (table, key) of every table whose key the embedded file enforces and a DuckLake does not.
KEYS = {
    "papers": "paper_id", "listings": "source, list_date, paper_id", "quarantine": "item_key",
    "paper_sources": "paper_id, source", "upvote_history": "paper_id, seen_at, source", "runs": "run_id",
    "paper_details": "paper_id", "backfill_dates": "source, list_date", "term_words": "word_id",
    "term_papers": "paper_key", "term_index_pending": "paper_id",
}


def lake_home(root: Path, lake: backends.DuckLake, name: str = "lakehome", **extra) -> Path:
    """A data root whose settings choose `lake` as its warehouse (one per simulated machine)."""
    home = root / name
    home.mkdir(parents=True, exist_ok=True)
    write_settings(home, warehouse=lake.url, ducklake_data_path=lake.data_path, s3_endpoint=lake.s3_endpoint, **extra)
    return home


def lake_rows(home: Path, sql: str, params=None) -> list[tuple]:
    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def duplicate_keys(home: Path) -> dict[str, int]:
    """Tables holding a key more than once, with how many extra rows."""
    found = {}
    for table, key in KEYS.items():
        (extra,) = lake_rows(home, f"select count(*) - count(distinct ({key})) from {table}")[0:1][0]
        if extra:
            found[table] = extra
    return found


def data_tables_differing(a, b) -> dict:
    return {t: d for t, d in tables_differing(a, b).items() if t not in LEDGER_TABLES}


def load_lists_again(path: Path, seed: int, later: dt.timedelta) -> loads.LoadCounts:
    """The lists build_warehouse loaded, fetched again `later`: the same papers, newer fetch times."""
    listings = []
    for day, items in sorted(generate_daily_lists(SINCE, UNTIL, seed=seed).items()):
        origin = f"generated:{day}"
        extracted = daily_papers_extracted(json.dumps(items).encode(), origin=origin, raw_sha256="1" * 64)
        fetched_at = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(6), dt.timezone.utc) + later
        rows, _ = listings_normalized(extracted, source="hf_daily", list_date=dt.date.fromisoformat(day),
                                      fetched_at=fetched_at, origin=origin, raw_sha256="1" * 64)
        listings.append(rows)
    con = connection.open_writer(path)
    try:
        run_id = ledger.start_run(con, "test-load-again", {})
        counts = loads.load(con, pl.concat(listings), pl.DataFrame(), run_id)
        ledger.finish_run(con, run_id, "completed")
        return counts
    finally:
        con.close()


def test_loads_into_a_ducklake_give_the_rows_of_the_file(tmp_path, postgres_server, s3_credentials):
    """The real loads (listings, papers, quarantine, upvotes, paper_sources, term index): same rows, no duplicates.

    A second fetch of the same lists replaces every listing row (MERGE ... WHEN MATCHED) and adds
    upvote sightings; a third, identical to the second, changes nothing.
    """
    lake = new_ducklake(postgres_server, s3_credentials)
    home = lake_home(tmp_path, lake)
    embedded = tmp_path / "file" / "warehouse.duckdb"
    build_warehouse(embedded, SINCE, UNTIL, seed=8)
    build_warehouse(home / "warehouse.duckdb", SINCE, UNTIL, seed=8)
    counts = {}
    for name, path in (("file", embedded), ("lake", home / "warehouse.duckdb")):
        changed = load_lists_again(path, seed=8, later=dt.timedelta(hours=5))
        unchanged = load_lists_again(path, seed=8, later=dt.timedelta(hours=5))
        counts[name] = (changed, unchanged)
    assert counts["lake"] == counts["file"]
    changed, unchanged = counts["lake"]
    assert changed.listings_changed == changed.listings_in > 100 and changed.listings_new == 0
    assert unchanged.listings_changed == unchanged.listings_new == unchanged.papers_new == unchanged.papers_changed == 0
    assert data_tables_differing(embedded, lake) == {}
    assert duplicate_keys(home) == {}
    assert lake_rows(home, "select list(run_id order by run_id), list(distinct status) from runs") == [([1, 2, 3], ["completed"])]


def cli(capsys, home: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv, "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_writer_command_runs_on_a_ducklake(tmp_path, postgres_server, s3_credentials, prefect_harness, capsys):
    """ingest hf / files / arxiv (OAI and API --query), backfill, enrich on one lake: every item once, every run completed."""
    from papertrends.devkit.arxiv_stub_server import ArxivServer, generate_arxiv_papers
    from papertrends.devkit.hf_stub_server import DailyPapersServer

    lake = new_ducklake(postgres_server, s3_credentials)
    home = lake_home(tmp_path, lake, backoff_base=0.02, max_attempts=2, read_timeout=5.0, arxiv_page_size=10)
    lists = generate_daily_lists(dt.date(2025, 3, 1), dt.date(2025, 3, 4), seed=5)
    saved = generate_daily_lists(dt.date(2025, 3, 5), dt.date(2025, 3, 6), seed=6)
    write_daily_files(saved, tmp_path / "saved")
    with DailyPapersServer(lists) as server:
        assert cli(capsys, home, "ingest", "hf", "--date", "2025-03-01", "--base-url", server.base_url)[0] == 0
        code, out, err = cli(capsys, home, "backfill", "--since", "2025-03-02", "--until", "2025-03-04", "--base-url", server.base_url)
        assert code == 0, out + err
        code, out, err = cli(capsys, home, "backfill", "--since", "2025-03-02", "--until", "2025-03-04", "--base-url", server.base_url)
        assert code == 0 and "3 skipped" in out, out + err  # the backfill ledger (MERGE) says they are done
        code, out, err = cli(capsys, home, "enrich", "--missing", "--base-url", server.base_url)
        assert code == 0, out + err
    assert cli(capsys, home, "ingest", "files", str(tmp_path / "saved"))[0] == 0
    assert cli(capsys, home, "ingest", "files", str(tmp_path / "saved"))[0] == 0  # again: nothing new
    papers = generate_arxiv_papers(25, seed=4)
    with ArxivServer(papers, oai_page_size=10, deleted_every=7) as server:
        code, out, err = cli(capsys, home, "ingest", "arxiv", "--oai", "--base-url", server.oai_url)
        assert code == 0, out + err
    # The API's Atom pages (several, arxiv_page_size 10), twice: the second run adds nothing.
    api_papers = generate_arxiv_papers(23, seed=8)
    with ArxivServer(api_papers) as server:
        for _ in range(2):
            code, out, err = cli(capsys, home, "ingest", "arxiv", "--query", "all", "--base-url", server.api_url)
            assert code == 0, out + err
        assert len([r for r in server.requests if r["path"] == "/api/query"]) >= 6
    api_ids = sorted({p["id"] for p in api_papers})
    assert lake_rows(home, "select count(*) from papers where paper_id in (select unnest(?::varchar[]))", [api_ids]) == \
        [(len(api_ids),)]

    hf_items = sum(len(v) for v in lists.values()) + sum(len(v) for v in saved.values())
    assert lake_rows(home, "select count(*) from listings where source like 'hf_%'") == [(hf_items,)]
    deleted = {p["id"] for i, p in enumerate(papers) if (i + 1) % 7 == 0}
    assert lake_rows(home, "select count(*) from arxiv_deleted") == [(len(deleted),)]
    assert lake_rows(home, "select status, records from oai_harvests") == [("completed", 25)]
    assert lake_rows(home, "select count(*) from backfill_dates where status = 'done'") == [(3,)]
    hf_papers = lake_rows(home, "select count(*) from papers where paper_id not like 'title:%' and paper_id in "
                                "(select paper_id from listings where source like 'hf_%' and list_date <= '2025-03-04')")[0][0]
    assert lake_rows(home, "select count(*) from paper_details")[0][0] == hf_papers > 0
    assert duplicate_keys(home) == {}
    runs = lake_rows(home, "select run_id, flow, status from runs order by run_id")
    assert [r[0] for r in runs] == list(range(1, len(runs) + 1)) and len(runs) == 9
    assert {r[2] for r in runs} == {"completed"}, runs
    # The term index followed every load: trend answers from it.
    code, out, _ = cli(capsys, home, "trend", "model", "--by", "month", "--format", "csv")
    assert code == 0 and "2025-03" in out


def test_a_commit_conflict_is_retried(tmp_path, postgres_server, s3_credentials):
    """Two transactions changing one row of a lake: the second commit conflicts, and is run again."""
    lake = new_ducklake(postgres_server, s3_credentials)
    first, second = backends.open_writer_ducklake(lake), backends.open_writer_ducklake(lake)
    attempts = []

    def mark_stale_racing() -> None:
        attempts.append(1)
        second.execute("begin transaction")
        second.execute("update search_index_state set papers_behind = coalesce(papers_behind, 0) + 1")
        if len(attempts) == 1:  # another writer commits the same row in between
            first.execute("update search_index_state set papers_behind = coalesce(papers_behind, 0) + 10")
        second.execute("commit")

    try:
        lake_locks.retrying_conflicts(mark_stale_racing)
        assert len(attempts) == 2
        assert second.execute("select papers_behind from search_index_state").fetchone()[0] == 11
    finally:
        first.close()
        second.close()


def child_env() -> dict:
    from prefect.settings import get_current_settings

    return {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url), "PREFECT_LOGGING_LEVEL": "WARNING"}


def ingest_files_process(home: Path, folder: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "papertrends.cli.main", "--home", str(home), "ingest", "files", str(folder)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_two_machines_load_one_ducklake_at_once_while_a_reader_queries(tmp_path, postgres_server, s3_credentials, prefect_harness):
    """Two writer processes (own data roots, as two machines) load overlapping inputs concurrently; exact counts."""
    lake = new_ducklake(postgres_server, s3_credentials)
    lists = generate_daily_lists(dt.date(2025, 4, 1), dt.date(2025, 4, 12), seed=9)
    days = sorted(lists)
    # Machine A saw days 1-8, machine B days 5-12: days 5-8 reach the lake twice, identical.
    write_daily_files({d: lists[d] for d in days[:8]}, tmp_path / "a-files")
    write_daily_files({d: lists[d] for d in days[4:]}, tmp_path / "b-files")
    homes = [lake_home(tmp_path, lake, "machine-a"), lake_home(tmp_path, lake, "machine-b")]
    # The lake exists before the race, so the reader has tables to query from its first moment.
    backends.open_writer_ducklake(lake).close()
    reader_errors, reads, done = [], [], threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                con = connection.open_reader(homes[0] / "warehouse.duckdb")
                try:
                    reads.append(con.execute("select count(*), count(distinct (source, list_date, paper_id)) from listings").fetchone())
                finally:
                    con.close()
            except Exception as error:  # noqa: BLE001 - any reader error fails the test below
                reader_errors.append(repr(error))
            time.sleep(0.05)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    env = child_env()
    children = [ingest_files_process(home, tmp_path / folder, env) for home, folder in zip(homes, ("a-files", "b-files"))]
    outputs = [child.communicate(timeout=300) for child in children]
    done.set()
    thread.join(timeout=30)
    assert [c.returncode for c in children] == [0, 0], outputs
    assert reader_errors == []
    assert reads and all(total == distinct for total, distinct in reads)  # no reader ever saw a duplicate
    expected = sum(len(lists[d]) for d in days)
    assert lake_rows(homes[0], "select count(*) from listings") == [(expected,)]
    papers = len({item["paper"]["id"] for d in days for item in lists[d]})
    assert lake_rows(homes[0], "select count(*) from papers") == [(papers,)]
    assert duplicate_keys(homes[0]) == {}
    assert lake_rows(homes[0], "select count(*), count(distinct run_id), list(distinct status) from runs") == [(2, 2, ["completed"])]
    # The term index counts every paper once.
    assert lake_rows(homes[0], "select sum(papers) from term_counts where word_id = 0") == [(papers,)]


def test_a_writer_killed_mid_load_leaves_the_lake_consistent_and_a_rerun_completes_it(
        tmp_path, postgres_server, s3_credentials, prefect_harness):
    lake = new_ducklake(postgres_server, s3_credentials)
    lists = generate_daily_lists(dt.date(2025, 5, 1), dt.date(2025, 5, 10), seed=12)
    write_daily_files(lists, tmp_path / "files")
    home = lake_home(tmp_path, lake)
    backends.open_writer_ducklake(lake).close()
    child = ingest_files_process(home, tmp_path / "files", child_env())
    # Kill it once its run is in the ledger and its lake files are written: it is loading.
    deadline = time.monotonic() + 120
    killed = False
    while child.poll() is None and time.monotonic() < deadline:
        if len(list((home / "lake").rglob("*.parquet"))) >= 1 and lake_rows(home, "select count(*) from runs")[0][0]:
            time.sleep(0.3)
            child.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.05)
    child.communicate(timeout=60)
    assert killed and child.returncode == -signal.SIGKILL
    # Consistent: every table readable, no key twice, no run half-recorded as completed.
    assert duplicate_keys(home) == {}
    assert lake_rows(home, "select status from runs") == [("running",)]
    # The merge lock died with the process: a rerun neither waits nor loads anything twice.
    rerun = ingest_files_process(home, tmp_path / "files", child_env())
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out + err
    expected = sum(len(v) for v in lists.values())
    assert lake_rows(home, "select count(*) from listings") == [(expected,)]
    assert duplicate_keys(home) == {}
    assert lake_rows(home, "select status from runs order by run_id") == [("interrupted",), ("completed",)]
    assert lake_rows(home, "select sum(papers) from term_counts where word_id = 0") == \
        lake_rows(home, "select count(*) from papers")
