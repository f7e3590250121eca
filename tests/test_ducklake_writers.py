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
from papertrends.core.errors import WarehouseError
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
