"""The ingestion flow end to end: a real HTTP server on 127.0.0.1, Prefect's harness, real files.

Each test asserts what ends up in the raw archive, the Parquet lake and the warehouse.
"""

import datetime as dt
import json

import polars as pl
import pytest
from papertrends.devkit.hf_stub_server import DailyPapersServer, ScriptedResponse
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.flows.hf import ingest_hf_lists
from testsupport import warehouse_rows, write_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2025-03-03"


def fast_retries(home, **extra):
    """Short waits so retry tests stay quick; Retry-After is still honoured up to the cap."""
    settings = {"backoff_base": 0.05, "max_attempts": 3, "max_retry_wait": 2.0, "read_timeout": 5.0, **extra}
    write_settings(home, **settings)


def one_day(count: int, date: str = DAY, seed: int = 1) -> dict[str, list[dict]]:
    """A list of exactly `count` generated items on `date`."""
    day = dt.date.fromisoformat(date)
    pool = [item for items in generate_daily_lists(day - dt.timedelta(days=30), day, seed=seed).values() for item in items]
    unique = list({item["paper"]["id"]: item for item in pool}.values())
    assert len(unique) >= count
    return {date: unique[:count]}


def raw_bodies(home):
    return sorted(p for p in (home / "raw").rglob("*.json") if not p.name.endswith(".meta.json"))


def test_a_day_over_two_pages_is_fully_loaded(home):
    fast_retries(home)
    lists = one_day(51)
    with DailyPapersServer(lists) as server:
        report = ingest_hf_lists([DAY], refresh=True, base_url=server.base_url, home=str(home))
        pages = [r["query"].get("p") for r in server.requests]
    assert pages == ["0", "1"]
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (51, 51, 0)
    assert len(raw_bodies(home)) == 2
    assert warehouse_rows(home, "select count(*), count(distinct paper_id), max(position) from listings") == [(51, 51, 50)]
    lake = pl.read_parquet(home / "lake" / "listings" / "**" / "*.parquet", hive_partitioning=True)
    assert lake.height == 51 and lake["list_month"].unique().to_list() == ["2025-03"]
    expected_ids = sorted(item["paper"]["id"] for item in lists[DAY])
    assert sorted(r[0] for r in warehouse_rows(home, "select paper_id from papers")) == expected_ids


def test_exactly_a_full_page_asks_for_the_next_one(home):
    fast_retries(home)
    with DailyPapersServer(one_day(50)) as server:
        report = ingest_hf_lists([DAY], refresh=True, base_url=server.base_url, home=str(home))
        assert [r["query"]["p"] for r in server.requests] == ["0", "1"]
    assert report.items_loaded == 50


def test_429_with_retry_after_then_500_are_retried(home):
    fast_retries(home)
    with DailyPapersServer(one_day(5)) as server:
        server.script(DAY, 0, [
            ScriptedResponse(429, b'{"error":"rate limited"}', {"Retry-After": "1"}),
            ScriptedResponse(500, b"oops"),
        ])
        report = ingest_hf_lists([DAY], refresh=True, base_url=server.base_url, home=str(home))
        times = [r["at"] for r in server.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.9  # Retry-After: 1 honoured
    assert report.items_loaded == 5 and not report.failures
    # Only the final answer is data: one landing, five listings, nothing quarantined.
    assert len(raw_bodies(home)) == 1
    meta = json.loads((raw_bodies(home)[0].parent / (raw_bodies(home)[0].name + ".meta.json")).read_text())
    assert (meta["status"], meta["attempts"]) == (200, 3)
    assert warehouse_rows(home, "select count(*) from quarantine") == [(0,)]


def test_a_date_that_keeps_failing_is_reported_and_the_rest_loads(home):
    fast_retries(home)
    other = "2025-03-04"
    lists = {**one_day(3), **one_day(4, date=other, seed=2)}
    with DailyPapersServer(lists) as server:
        server.script(DAY, 0, [ScriptedResponse(503, b"down")] * 3)
        report = ingest_hf_lists([DAY, other], refresh=True, base_url=server.base_url, home=str(home))
    assert report.status == "partial"
    assert len(report.failures) == 1 and report.failures[0].startswith(f"hf_daily {DAY}: GET ") and "HTTP 503" in report.failures[0]
    assert report.items_loaded == 4
    assert warehouse_rows(home, "select status, items_loaded from runs") == [("partial", 4)]


def test_a_bad_request_is_quarantined_not_parsed(home):
    fast_retries(home)
    with DailyPapersServer({}) as server:
        report = ingest_hf_lists(["2025-13-45"], refresh=True, base_url=server.base_url, home=str(home))
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (1, 0, 1)
    reason, = warehouse_rows(home, "select reason from quarantine")[0]
    assert reason.startswith("HTTP 400:")


def test_running_the_same_ingestion_twice_changes_nothing(home):
    fast_retries(home)
    lists = generate_daily_lists(dt.date(2025, 3, 1), dt.date(2025, 3, 7), seed=3)
    dates = sorted(lists)
    snapshot = "select * exclude (observed_at) from papers order by paper_id"
    with DailyPapersServer(lists) as server:
        first = ingest_hf_lists(dates, refresh=True, base_url=server.base_url, home=str(home))
        papers, listings = warehouse_rows(home, snapshot), warehouse_rows(home, "select * from listings order by all")
        raw_before = {p: p.read_bytes() for p in (home / "raw").rglob("*") if p.is_file()}
        lake_before = sorted((home / "lake").rglob("*.parquet"))
        second = ingest_hf_lists(dates, refresh=True, base_url=server.base_url, home=str(home))
    assert first.listings_new == sum(len(v) for v in lists.values())
    assert (second.listings_new, second.listings_changed, second.papers_new, second.papers_changed) == (0, 0, 0, 0)
    assert warehouse_rows(home, snapshot) == papers
    assert warehouse_rows(home, "select * from listings order by all") == listings
    assert {p: p.read_bytes() for p in (home / "raw").rglob("*") if p.is_file()} == raw_before
    assert sorted((home / "lake").rglob("*.parquet")) == lake_before


def test_hf_token_is_sent_but_never_stored(home, monkeypatch):
    fast_retries(home, hf_token_host="http://127.0.0.1")  # the stub is plain http: allowed on purpose (issue 15.23)
    secret = "hf_secret_token_value_123"
    monkeypatch.setenv("HF_TOKEN", secret)
    with DailyPapersServer(one_day(2)) as server:
        ingest_hf_lists([DAY], refresh=True, base_url=server.base_url, home=str(home))
        assert server.requests[0]["headers"].get("authorization") == f"Bearer {secret}"
        assert server.requests[0]["headers"].get("user-agent", "").startswith("papertrends/")
    for path in home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
