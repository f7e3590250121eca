"""`papertrends backfill` against a real HTTP server on 127.0.0.1, Prefect's harness and real files.

A failing day is recorded with its reason and retried alone; done days are skipped; a killed
backfill resumes where it stopped; closed days' fetches are cached, open days' are not.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from papertrends.cli.main import main
from papertrends.core.settings import load_settings
from papertrends.devkit.hf_stub_server import DailyPapersServer, ScriptedResponse
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.core.settings import DEFAULT_SETTLED_DAYS
from papertrends.flows.backfill import dates_planned, fetch_list_date, is_closed
from testsupport import warehouse_rows as rows
from testsupport import write_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

REPO = Path(__file__).resolve().parents[1]
SINCE, UNTIL = dt.date(2025, 3, 1), dt.date(2025, 3, 6)
BROKEN = "2025-03-03"


def fast_settings(home, **extra):
    """Short waits: 2 tries per request, 1 retry per date (so 4 requests before a date fails)."""
    values = {"backoff_base": 0.02, "max_attempts": 2, "max_retry_wait": 1.0, "read_timeout": 5.0,
              "backfill_retries": 1, "backfill_retry_delay": 0.05, **extra}
    write_settings(home, **values)


def ledger(home):
    return {str(d): (status, reason) for d, status, reason in rows(home, "select list_date, status, reason from backfill_dates")}


def dates_requested(server, start=0):
    return sorted({r["query"]["date"] for r in server.requests[start:]})


def assert_artifacts_of_last_run(*expected_rows):
    """The last backfill flow run carries its summary (markdown) and its per-date table."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["papertrends-backfill-hf", "papertrends-backfill-dates"])),
            sort=ArtifactSort.CREATED_DESC, limit=2,
        )
    by_key = {a.key: a for a in found}
    assert by_key["papertrends-backfill-hf"].flow_run_id == by_key["papertrends-backfill-dates"].flow_run_id
    assert "1 failed" in by_key["papertrends-backfill-hf"].data
    table = by_key["papertrends-backfill-dates"].data
    rows = json.loads(table) if isinstance(table, str) else table
    for row in expected_rows:
        assert any(row.items() <= got.items() for got in rows), row


def backfill(capsys, home, *argv):
    code = main(["--home", str(home), "backfill", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def lists():
    return generate_daily_lists(SINCE, UNTIL, seed=5)


def test_a_failing_day_is_recorded_then_retried_alone(home, lists, capsys):
    fast_settings(home)
    all_dates = sorted(lists)
    with DailyPapersServer(lists) as server:
        server.script(BROKEN, 0, [ScriptedResponse(503, b"down")] * 4)  # every try of both task attempts
        code, out, err = backfill(capsys, home, "--since", str(SINCE), "--until", str(UNTIL), "--base-url", server.base_url)
        assert code == 1
        assert f"6 date(s): 5 done, 0 skipped (loaded after they closed), 1 failed" in out
        assert f"failed {BROKEN}: GET " in out and "HTTP 503" in out
        assert "papertrends backfill --retry-failed" in out
        assert f"{BROKEN} failed: " in err  # the per-date line beside the progress bar
        broken_requests = [r for r in server.requests if r["query"]["date"] == BROKEN]
        assert len(broken_requests) == 4  # 2 tries per request x (1 + 1 retry of the date)
        state = ledger(home)
        assert {d for d, (status, _) in state.items() if status == "done"} == set(all_dates) - {BROKEN}
        assert state[BROKEN][0] == "failed" and "HTTP 503" in state[BROKEN][1]
        loaded_dates = {str(d) for (d,) in rows(home, "select distinct list_date from listings")}
        assert loaded_dates == {d for d in all_dates if d != BROKEN and lists[d]}

        assert_artifacts_of_last_run(
            {"list_date": BROKEN, "outcome": "failed"}, {"list_date": "2025-03-01", "outcome": "done"},
        )

        seen = len(server.requests)
        code, out, err = backfill(capsys, home, "--retry-failed", "--base-url", server.base_url)
        assert code == 0, out + err
        assert dates_requested(server, seen) == [BROKEN]  # the failed date alone
        assert "1 date(s): 1 done, 0 skipped (loaded after they closed), 0 failed" in out
    assert {status for status, _ in ledger(home).values()} == {"done"} and len(ledger(home)) == 6
    expected = sum(len(items) for items in lists.values())
    assert rows(home, "select count(*) from listings") == [(expected,)]
    # the run ledger has both runs, the first partial
    assert rows(home, "select flow, status from runs order by run_id") == [("backfill-hf", "partial"), ("backfill-hf", "completed")]


def test_done_days_are_skipped_and_refresh_fetches_them_again(home, lists, capsys):
    fast_settings(home)
    with DailyPapersServer(lists) as server:
        assert backfill(capsys, home, "--since", str(SINCE), "--until", str(UNTIL), "--base-url", server.base_url)[0] == 0
        listings = rows(home, "select * from listings order by all")
        seen = len(server.requests)
        code, out, _ = backfill(capsys, home, "--since", str(SINCE), "--until", str(UNTIL), "--base-url", server.base_url)
        assert code == 0 and len(server.requests) == seen  # nothing fetched
        assert "6 date(s): 0 done, 6 skipped" in out
        code, out, _ = backfill(capsys, home, "--since", "2025-03-05", "--until", str(UNTIL), "--base-url", server.base_url,
                                "--refresh", "--workers", "1")
        assert code == 0 and dates_requested(server, seen) == ["2025-03-05", "2025-03-06"]
        assert "2 date(s): 2 done, 0 skipped" in out
    assert rows(home, "select * from listings order by all") == listings  # same bytes: no row changed


def test_an_open_day_is_fetched_again_and_never_cached(home, capsys):
    fast_settings(home)
    today = dt.datetime.now(dt.timezone.utc).date()
    days = {(today - dt.timedelta(days=1)).isoformat(): [], today.isoformat(): []}
    with DailyPapersServer(days) as server:
        for _ in range(2):
            code, out, _ = backfill(capsys, home, "--since", min(days), "--base-url", server.base_url)
            assert code == 0 and "2 date(s): 2 done, 0 skipped" in out
        assert len(server.requests) == 4  # both open days asked twice: no skip, no task cache
    assert rows(home, "select bool_or(closed) from backfill_dates") == [(False,)]


def test_a_closed_days_fetch_is_cached_and_an_open_days_is_not(home):
    from prefect import flow

    fast_settings(home)
    settings = load_settings(home)
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    closed = "2025-03-04"

    @flow
    def fetch_twice(base_url: str) -> list[list[str]]:
        local = load_settings(home, hf_base_url=base_url)
        return [fetch_list_date(local, day) for day in (closed, closed, today, today)]

    with DailyPapersServer({closed: [], today: []}) as server:
        results = fetch_twice(server.base_url)
        asked = [r["query"]["date"] for r in server.requests]
    assert asked.count(closed) == 1 and asked.count(today) == 2
    assert results[0] == results[1] and all(Path(p).exists() for p in results[0])
    assert settings.raw_dir in Path(results[0][0]).parents


def test_a_killed_backfill_resumes_where_it_stopped(home, lists, capsys):
    """A real `papertrends backfill` process is killed mid-run; the rerun skips the dates it finished."""
    from prefect.settings import PREFECT_API_URL

    # The hang must outlast the read timeout: with fast_settings' 5 s, a loaded machine let the
    # fetch thread time out, retry and fetch the last dates (cached) before the kill.
    fast_settings(home, read_timeout=120.0)
    hang = "2025-03-04"
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONUNBUFFERED": "1"}
    with DailyPapersServer(lists) as server:
        server.script(hang, 0, [ScriptedResponse(200, b"[]", delay=60)])  # the process is killed while it waits
        command = [sys.executable, "-m", "papertrends.cli.main", "--home", str(home), "backfill", "--since", str(SINCE),
                   "--until", str(UNTIL), "--base-url", server.base_url, "--workers", "1"]
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        finished = []
        try:
            for line in process.stderr:  # off a terminal, every finished date is one line
                if " done: " in line:
                    finished.append(line.split()[0])
                if finished == ["2025-03-01", "2025-03-02", "2025-03-03"]:
                    break
            deadline = time.monotonic() + 30
            while hang not in dates_requested(server) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert hang in dates_requested(server)
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        assert set(ledger(home)) == {"2025-03-01", "2025-03-02", "2025-03-03"}

        seen = len(server.requests)
        code, out, _ = backfill(capsys, home, "--since", str(SINCE), "--until", str(UNTIL), "--base-url", server.base_url)
        assert code == 0, out
        assert dates_requested(server, seen) == ["2025-03-04", "2025-03-05", "2025-03-06"], out
        assert "6 date(s): 3 done, 3 skipped" in out
    assert rows(home, "select count(*) from listings") == [(sum(len(items) for items in lists.values()),)]
    # the killed run never finished; its row says so
    assert [status for (status,) in rows(home, "select status from runs order by run_id")] == ["interrupted", "completed"]


def test_usage_errors(home, capsys):
    code, _, err = backfill(capsys, home)
    assert code == 1 and "give --since DATE" in err
    code, _, err = backfill(capsys, home, "--source", "arxiv")  # (arXiv backfills exist now: issue 15.3)
    assert code == 1 and "give --since DATE" in err
    code, _, err = backfill(capsys, home, "--since", "2025-03-02", "--until", "2025-03-01", "--source", "arxiv")
    assert code == 1 and "is before --since" in err
    code, _, err = backfill(capsys, home, "--since", "2025-03-02", "--until", "2025-03-01")
    assert code == 1 and "is before --since" in err


def test_dates_planned():
    requested = ["2025-01-01", "2025-01-02", "2025-01-03"]
    done, failed = {"2025-01-01"}, {"2025-01-03": "HTTP 503"}
    assert dates_planned(requested, done, failed, refresh=False, retry_failed=False) == (requested[1:], requested[:1])
    assert dates_planned(requested, done, failed, refresh=True, retry_failed=False) == (requested, [])
    assert dates_planned(requested, done, failed, refresh=False, retry_failed=True) == (["2025-01-03"], [])


def test_a_day_closes_two_days_later():
    today = dt.date(2025, 3, 10)
    assert DEFAULT_SETTLED_DAYS == 2  # the one "settled" rule (settings.settled_days)
    assert is_closed("2025-03-08", today) and not is_closed("2025-03-09", today) and not is_closed("2025-03-10", today)
    assert is_closed("2025-03-09", today, settled_days=1) and not is_closed("2025-03-08", today, settled_days=3)


def test_backfill_source_arxiv_harvests_the_range_and_resumes(home, capsys):
    """Issue 15.3: `backfill --source arxiv` was offered but answered "not available yet"."""
    from papertrends.devkit.arxiv_stub_server import ArxivServer, generate_arxiv_papers

    write_settings(home, backoff_base=0.02, max_attempts=2)
    papers = generate_arxiv_papers(15, seed=9)
    with ArxivServer(papers, oai_page_size=10) as server:
        code = main(["--home", str(home), "backfill", "--source", "arxiv", "--since", "2025-03-01",
                     "--until", "2025-03-06", "--set", "cs", "--base-url", server.oai_url])
        first = server.requests[0]["query"]
    out, err = capsys.readouterr()
    assert code == 0, err
    assert first == {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "set": "cs", "from": "2025-03-01",
                     "until": "2025-03-06"}
    in_cs = {p["id"] for p in papers if "cs" in {c.split(".")[0] for c in p["categories"].split()}}
    assert 0 < len(in_cs) < 15
    assert {r[0] for r in rows(home, "select paper_id from papers")} == in_cs
    assert rows(home, "select status, records from oai_harvests") == [("completed", len(in_cs))]
    assert main(["--home", str(home), "backfill", "--source", "arxiv", "--retry-failed"]) == 1
    assert "--since" in capsys.readouterr().err
