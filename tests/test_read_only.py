"""Read-only is a property of the reader connection: no statement form writes or reaches a local file."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from papertrends.core.errors import WarehouseError
from papertrends.transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA
from papertrends.warehouse import analytics, connection, loads, reads, term_index

REPO = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc


@pytest.fixture
def warehouse(home) -> Path:
    """A real warehouse with a few papers, its term index and its BM25 index."""
    rows = []
    for i, (title, day) in enumerate([("Scaling laws for tractable models", 10), ("Inference-time scaling", 11),
                                      ("Tractable circuits", 12)]):
        row = {name: None for name in LISTING_SCHEMA}
        list_date = dt.date(2025, 1, day)
        row.update(source="hf_daily", list_date=list_date, paper_id=f"2501.0000{i}", position=0, title=title,
                   abstract=f"{title} abstract", authors=["A"], upvotes=i,
                   fetched_at=dt.datetime.combine(list_date, dt.time(6), UTC), origin="t.json", raw_sha256="sha")
        rows.append(row)
    path = home / "warehouse.duckdb"
    con = connection.open_writer(path)
    loads.load(con, pl.DataFrame(rows, schema=LISTING_SCHEMA), pl.DataFrame(schema=QUARANTINE_SCHEMA), run_id=1)
    term_index.rebuild_fts(con)
    con.close()
    return path


ESCAPES = [
    "EXPLAIN ANALYZE COPY (select paper_id from papers) TO '{root}/lake/injected.csv'",
    "select * from read_csv('/etc/passwd')",
    "select * from read_text('/etc/passwd')",
    "select * from glob('/etc/*')",
    "select * from read_blob('/etc/hostname')",
    "select * from read_parquet('{root}/lake/*.parquet')",
]


@pytest.mark.parametrize("statement", ESCAPES)
def test_no_statement_reads_or_writes_local_files(warehouse, statement):
    root = warehouse.parent
    (root / "lake").mkdir(exist_ok=True)
    before = sorted(p for p in root.rglob("*"))
    con = connection.open_reader(warehouse)
    try:
        with pytest.raises(WarehouseError, match="disabled by configuration"):
            reads.read_only_query(con, statement.format(root=root))
    finally:
        con.close()
    assert sorted(p for p in root.rglob("*")) == before


@pytest.mark.parametrize("statement", [
    "set enable_external_access = true", "reset enable_external_access", "set lock_configuration = false",
    "set autoload_known_extensions = true",
])
def test_the_configuration_cannot_be_unlocked(warehouse, statement):
    con = connection.open_reader(warehouse)
    try:
        with pytest.raises(Exception, match="configuration has been locked"):
            con.execute(statement)
        assert con.execute("select current_setting('enable_external_access')").fetchone() == (False,)
    finally:
        con.close()


def test_macros_term_index_and_bm25_search_still_work(warehouse):
    con = connection.open_reader(warehouse)
    try:
        trend = analytics.trend(con, [analytics.parse_query("scaling")], by="year")
        assert trend.select("matches", "total").row(0) == (2, 3)
        found = analytics.search(con, "tractable")
        assert set(found["paper_id"]) == {"2501.00000", "2501.00002"}
    finally:
        con.close()


def test_the_sql_command_refuses_copy_through_explain_analyze(warehouse):
    root = warehouse.parent
    (root / "lake").mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "papertrends.cli.main", "--home", str(root), "sql",
         f"EXPLAIN ANALYZE COPY (select paper_id from papers) TO '{root}/lake/injected.csv'"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ}, timeout=60,
    )
    assert result.returncode != 0
    assert "disabled by configuration" in result.stderr and "Traceback" not in result.stderr
    assert not (root / "lake" / "injected.csv").exists()
