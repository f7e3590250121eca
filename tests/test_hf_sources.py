"""Hugging Face sources end to end over the real local server: each fault played for real, and
what ends up in raw, the Parquet lake, the warehouse and quarantine asserted for each.
"""

import datetime as dt
import email.utils
import json
import logging
import time

import polars as pl
import pytest
from papertrends.devkit.hf_stub_server import (
    DailyPapersServer,
    ScriptedResponse,
    html_instead_of_json,
    truncated_json,
)
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.flows.hf import ingest_hf_lists
from papertrends.flows.ingest import ingest_hf_daily
from testsupport import warehouse_rows as rows
from testsupport import write_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2025-03-03"      # a Monday, long settled
SUNDAY = "2025-03-09"


def settings_file(home, **extra):
    """Short waits so fault tests stay quick; Retry-After is still honoured up to the cap."""
    values = {"backoff_base": 0.05, "max_attempts": 3, "max_retry_wait": 2.5, "read_timeout": 5.0, **extra}
    write_settings(home, **values)


def one_day(count: int, date: str = DAY, seed: int = 1) -> dict[str, list[dict]]:
    day = dt.date.fromisoformat(date)
    lists = generate_daily_lists(day, day, seed=seed, papers_per_day=(count, count))
    return {date: lists[date][:count]}


def raw_bodies(home):
    return sorted(p for p in (home / "raw").rglob("*") if p.is_file() and not p.name.endswith(".meta.json"))


def sidecar(body):
    return json.loads(body.with_name(body.name + ".meta.json").read_text())


def lake(home, table):
    files = list((home / "lake" / table).rglob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal") if files else pl.DataFrame()


# --- retried faults: only the final answer is data ---------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param([ScriptedResponse(429, b'{"error":"rate limited"}', {"Retry-After": "DATE"})], id="429-retry-after-date"),
        pytest.param([ScriptedResponse(500, b"oops"), ScriptedResponse(502, b"bad gateway"),
                      ScriptedResponse(503, b"down")], id="500-502-503"),
        pytest.param([ScriptedResponse(200, b"[]", delay=3.0)], id="stalled-read"),
        pytest.param([ScriptedResponse(200, json.dumps(one_day(5)[DAY]).encode(), close_after=300)], id="closed-mid-body"),
    ],
)
def test_retried_faults_end_with_the_good_answer_only(home, fault):
    settings_file(home, max_attempts=4, read_timeout=1.0)
    if fault[0].headers.get("Retry-After") == "DATE":
        # An hour ahead: honoured, and capped at max_retry_wait (2.5 s).
        fault[0].headers["Retry-After"] = email.utils.formatdate(time.time() + 3600, usegmt=True)
    with DailyPapersServer(one_day(5)) as server:
        server.script(DAY, 0, fault)
        report = ingest_hf_lists([DAY], base_url=server.base_url, home=str(home))
        times = [r["at"] for r in server.requests]
    assert len(times) == len(fault) + 1 and not report.failures
    if "Retry-After" in fault[0].headers:
        assert times[1] - times[0] >= 2.4  # the HTTP-date Retry-After was waited for, up to the cap
    (body,) = raw_bodies(home)  # failed tries are never landed
    assert (sidecar(body)["status"], sidecar(body)["attempts"]) == (200, len(fault) + 1)
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (5, 5, 0)
    assert lake(home, "listings").height == 5 and lake(home, "quarantine").height == 0
    assert rows(home, "select count(*) from listings") == [(5,)]
    assert rows(home, "select count(*) from quarantine") == [(0,)]
    assert rows(home, "select count(*) from upvote_history where source = 'hf_daily'") == [(5,)]


# --- classified answers: kept in raw, quarantined, never parsed as data -------------------------


@pytest.mark.parametrize(
    "answer, reason",
    [
        (truncated_json(one_day(5)[DAY]), "truncated JSON"),
        (html_instead_of_json(), "HTML where JSON was expected"),
        (ScriptedResponse(200, b'{"error": "Invalid date"}'), "JSON error object: 'Invalid date'"),
        (ScriptedResponse(200, b"[]"), "empty list for a past weekday"),
    ],
    ids=["truncated-json", "html-for-json", "json-error-object", "empty-weekday"],
)
def test_bad_answers_are_classified_and_quarantined(home, answer, reason):
    settings_file(home)
    with DailyPapersServer(one_day(5)) as server:
        server.script(DAY, 0, [answer])
        report = ingest_hf_lists([DAY], base_url=server.base_url, home=str(home))
    (body,) = raw_bodies(home)
    assert body.read_bytes() == answer.body  # the bytes are kept as they came
    assert sidecar(body)["problem"].startswith(reason)
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (1, 0, 1)
    assert report.status == "failed" and any(reason in w for w in report.warnings)
    assert lake(home, "listings").height == 0
    assert lake(home, "quarantine")["reason"].to_list()[0].startswith(reason)
    assert rows(home, "select count(*) from listings") == [(0,)]
    assert rows(home, "select reason like ? from quarantine", [reason + "%"]) == [(True,)]


def test_a_classified_answer_is_not_reused_as_cache_and_an_empty_sunday_is_fine(home):
    settings_file(home)
    lists = {**one_day(4), SUNDAY: []}
    with DailyPapersServer(lists) as server:
        server.script(DAY, 0, [html_instead_of_json()])
        ingest_hf_lists([DAY, SUNDAY], base_url=server.base_url, home=str(home))
        report = ingest_hf_lists([DAY, SUNDAY], base_url=server.base_url, home=str(home))
        asked = [(r["query"]["date"]) for r in server.requests]
    # DAY: HTML, then asked again on the second run (bad answers are no cache); SUNDAY: archived.
    assert sorted(asked) == [DAY, DAY, SUNDAY]
    assert report.items_loaded == 4
    assert rows(home, "select count(*) from listings") == [(4,)]
    assert rows(home, "select count(*) from quarantine") == [(1,)]  # the HTML answer, once


# --- paging, periods, ranks ---------------------------------------------------------------------


def test_weeks_months_and_trending_are_their_own_listing_kinds(home):
    settings_file(home)
    lists = generate_daily_lists(dt.date(2025, 3, 3), dt.date(2025, 3, 9), seed=4, papers_per_day=(12, 12))
    week_papers = len({i["paper"]["id"] for items in lists.values() for i in items})
    assert week_papers > 50  # so the week list takes two pages
    with DailyPapersServer(lists) as server:
        report = ingest_hf_lists([DAY], weeks=["2025-W10"], months=["2025-03"], trending=True,
                                 base_url=server.base_url, home=str(home))
        week_pages = [r["query"]["p"] for r in server.requests if "week" in r["query"]]
        trending_pages = [r["query"]["p"] for r in server.requests if r["query"].get("sort") == "trending"]
    assert week_pages == ["0", "1"] and not report.failures
    assert trending_pages == ["0", "1"]  # issue 15.9: trending is paged like every list
    by_source = dict(rows(home, "select source, count(*) from listings group by source"))
    assert by_source == {"hf_daily": len(lists[DAY]), "hf_weekly": week_papers, "hf_monthly": week_papers,
                         "hf_trending": week_papers}
    assert rows(home, "select distinct list_date, list_period from listings where source = 'hf_weekly'") == [
        (dt.date(2025, 3, 3), "2025-W10")]
    assert rows(home, "select distinct list_date, list_period from listings where source = 'hf_monthly'") == [
        (dt.date(2025, 3, 1), "2025-03")]
    ranks = rows(home, "select rank, upvotes from listings where source = 'hf_trending' order by rank")
    assert [r for r, _ in ranks] == list(range(1, week_papers + 1))
    assert [u for _, u in ranks] == sorted((u for _, u in ranks), reverse=True)
    assert rows(home, "select count(*) from listings where rank is not null and source <> 'hf_trending'") == [(0,)]
    # A month list is dated the 1st, yet no paper counts as first listed then: only daily lists count.
    assert rows(home, "select min(first_list_date), count(*) from first_listings") == [(dt.date(2025, 3, 3), len(lists[DAY]))]
    lake_sources = lake(home, "listings").group_by("source").len().sort("source")
    assert lake_sources["len"].to_list() == [len(lists[DAY]), week_papers, week_papers, week_papers]  # daily, monthly, trending, weekly


# --- the raw archive as cache, conditional requests ----------------------------------------------


def test_a_settled_day_costs_no_network_and_refresh_revalidates_with_304(home):
    settings_file(home)
    with DailyPapersServer(one_day(51)) as server:
        ingest_hf_lists([DAY], base_url=server.base_url, home=str(home))
        assert len(server.requests) == 2
        second = ingest_hf_lists([DAY], base_url=server.base_url, home=str(home))
        assert len(server.requests) == 2  # archived: nothing asked
        raw_before = {p: p.read_bytes() for p in (home / "raw").rglob("*") if p.is_file()}
        third = ingest_hf_lists([DAY], refresh=True, base_url=server.base_url, home=str(home))
        revalidations = server.requests[2:]
    assert [r["headers"].get("if-none-match", "")[:1] for r in revalidations] == ['"', '"']
    assert all("if-modified-since" in r["headers"] for r in revalidations)
    assert {p: p.read_bytes() for p in (home / "raw").rglob("*") if p.is_file()} == raw_before  # 304: no landing
    for report in (second, third):
        assert (report.items_loaded, report.listings_new, report.listings_changed) == (51, 0, 0)
    # a cache hit is information, not a warning (issue 15.8)
    assert "2 page(s) from the archive" in second.notes[-1] and "2 not modified" in third.notes[-1]
    assert not any("from the archive" in w for w in second.warnings + third.warnings)
    assert rows(home, "select count(*) from listings") == [(51,)]
    assert rows(home, "select count(*) from upvote_history") == [(51,)]


def test_unsettled_lists_are_asked_again_conditionally(home):
    settings_file(home)
    with DailyPapersServer(one_day(3)) as server:
        ingest_hf_lists(trending=True, base_url=server.base_url, home=str(home))
        server.lists[DAY][0]["paper"]["upvotes"] += 100  # the list changes between runs
        ingest_hf_lists(trending=True, base_url=server.base_url, home=str(home))
        ingest_hf_lists(trending=True, base_url=server.base_url, home=str(home))
        statuses = [r["headers"].get("if-none-match") is not None for r in server.requests]
    assert statuses == [False, True, True]
    assert len(raw_bodies(home)) == 2  # first answer, changed answer; the third was a 304
    top = rows(home, "select count(*), max(upvotes) from upvote_history where source = 'hf_trending'")
    assert top[0][0] == 6


# --- the HTTP client: rate limit, token hygiene -------------------------------------------------


def test_concurrent_lists_share_the_per_host_rate_limit(home):
    settings_file(home, rate_limits="127.0.0.1=0.3")
    lists = generate_daily_lists(dt.date(2025, 3, 3), dt.date(2025, 3, 6), seed=2)
    with DailyPapersServer(lists) as server:
        report = ingest_hf_lists(sorted(lists), base_url=server.base_url, home=str(home))
        times = sorted(r["at"] for r in server.requests)
    assert len(times) == 4 and report.items_loaded == sum(len(v) for v in lists.values())
    # Four concurrent tasks, one slot per 0.3 s: the last request cannot start before 0.9 s
    # (arrival times jitter a little either way, hence the slack; a lower bound only).
    assert times[-1] - times[0] >= 0.8, times


def test_hf_token_is_in_no_file_and_no_log_line(home, monkeypatch):
    settings_file(home, hf_token_host="http://127.0.0.1")  # the stub is plain http: allowed on purpose
    secret = "hf_SECRET_token_for_the_test_987"
    monkeypatch.setenv("HF_TOKEN", secret)
    lines = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: lines.append(record.getMessage())
    loggers = [logging.getLogger(n) for n in ("prefect", "papertrends", "httpx", "httpcore")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        with DailyPapersServer(one_day(3)) as server:
            server.script(DAY, 0, [ScriptedResponse(503, b"busy")])
            ingest_hf_lists([DAY], trending=True, base_url=server.base_url, home=str(home))
            from papertrends.flows.hf import enrich_hf

            enrich_hf([one_day(3)[DAY][0]["paper"]["id"]], base_url=server.base_url, home=str(home))
            assert all(r["headers"]["authorization"] == f"Bearer {secret}" for r in server.requests)
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
    assert lines and not [line for line in lines if secret in line]
    for path in home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_the_daily_flow_goes_through_the_same_client_and_always_revalidates(home):
    settings_file(home)
    with DailyPapersServer(one_day(2)) as server:
        server.script(DAY, 0, [html_instead_of_json()])
        reports = [ingest_hf_daily([DAY], base_url=server.base_url, home=str(home)) for _ in range(3)]
        conditional = ["if-none-match" in r["headers"] for r in server.requests]
    assert [(r.items_loaded, r.items_quarantined) for r in reports] == [(0, 1), (2, 0), (2, 0)]
    # The HTML answer is no cache (unconditional retry); the good answer is revalidated: 304, no landing.
    assert conditional == [False, False, True]
    assert len(raw_bodies(home)) == 2
    assert rows(home, "select reason from quarantine")[0][0].startswith("HTML where JSON was expected")


def test_the_ingest_command_serves_a_settled_day_from_the_archive(home, capsys):
    from papertrends.cli.main import main

    settings_file(home)
    with DailyPapersServer(one_day(3)) as server:
        codes = [main(["--home", str(home), "ingest", "hf", "--date", DAY, "--base-url", server.base_url]) for _ in range(2)]
        assert len(server.requests) == 1
        assert main(["--home", str(home), "ingest", "hf", "--date", DAY, "--refresh", "--base-url", server.base_url]) == 0
        assert server.requests[-1]["headers"].get("if-none-match")
    out = capsys.readouterr().out
    assert codes == [0, 0] and "note: 0 request(s); 1 page(s) from the archive" in out and "1 not modified" in out
    assert "warning:" not in out
    assert rows(home, "select flow, items_loaded from runs order by run_id") == [("ingest-hf-lists", 3)] * 3
