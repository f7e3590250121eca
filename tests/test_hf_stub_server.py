"""Tests for the local Daily Papers API server, over real HTTP with httpx."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import httpx
import pytest
from papertrends.devkit.hf_stub_server import DailyPapersServer, ScriptedResponse
from papertrends.devkit.sample_listings import generate_daily_lists

DATE = "2025-03-03"  # a Monday, so the generator honours the exact papers_per_day
REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def one_day(count: int) -> dict[str, list[dict]]:
    """Listings with exactly ``count`` papers on DATE."""
    day = dt.date.fromisoformat(DATE)
    lists = generate_daily_lists(day, day, seed=5, papers_per_day=(count, count))
    assert len(lists[DATE]) == count
    return lists


@pytest.fixture(scope="module")
def lists() -> dict[str, list[dict]]:
    return one_day(51)


@pytest.fixture()
def server(lists):
    with DailyPapersServer(lists) as running:
        yield running


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server.base_url, timeout=5) as http:
        yield http


def get_page(client: httpx.Client, **params) -> httpx.Response:
    """GET the daily papers endpoint."""
    return client.get("/api/daily_papers", params=params)


def test_pages_of_50_then_1_then_empty(client, lists):
    pages = [get_page(client, date=DATE, p=p, limit=50) for p in range(3)]
    assert [r.status_code for r in pages] == [200, 200, 200]
    assert pages[0].headers["content-type"] == "application/json; charset=utf-8"
    assert [len(r.json()) for r in pages] == [50, 1, 0]
    assert pages[0].json() + pages[1].json() == lists[DATE]


def test_default_page_and_limit(server, client):
    body = get_page(client, date=DATE).json()
    assert len(body) == 50 and body[0]["paper"]["id"] == server.lists[DATE][0]["paper"]["id"]


def test_body_is_utf8_json_without_ascii_escapes(client, lists):
    raw = get_page(client, date=DATE, limit=100).content
    assert raw == json.dumps(lists[DATE], ensure_ascii=False).encode("utf-8")


def test_limit_is_capped_at_100():
    with DailyPapersServer(one_day(150)) as server:
        response = httpx.get(f"{server.base_url}/api/daily_papers",
                             params={"date": DATE, "limit": 500})
    assert len(response.json()) == 100


def test_unknown_date_is_an_empty_list(client):
    response = get_page(client, date="2031-01-01")
    assert response.status_code == 200 and response.json() == []


@pytest.mark.parametrize("params", [{}, {"date": "2025-13-01"}, {"date": "yesterday"},
                                    {"date": "2025-3-3"}, {"date": DATE, "p": "x"},
                                    {"date": DATE, "limit": "0"}])
def test_bad_parameters_are_400_with_json_error(client, params):
    response = get_page(client, **params)
    assert response.status_code == 400
    assert "error" in response.json()


def test_unknown_path_is_404_json(client):
    response = client.get("/api/papers")
    assert response.status_code == 404 and "error" in response.json()


def test_scripted_429_then_normal_answer(server, client):
    server.script(DATE, 1, [ScriptedResponse(status=429, body=b'{"error":"slow down"}',
                                             headers={"Retry-After": "2"})])
    first, second = get_page(client, date=DATE, p=1), get_page(client, date=DATE, p=1)
    assert first.status_code == 429 and first.headers["retry-after"] == "2"
    assert first.json() == {"error": "slow down"}
    assert second.status_code == 200 and len(second.json()) == 1


def test_scripts_are_per_date_and_page(server, client):
    server.script(DATE, 0, [ScriptedResponse(status=503), ScriptedResponse(status=502)])
    assert get_page(client, date=DATE, p=1).status_code == 200  # other page untouched
    statuses = [get_page(client, date=DATE).status_code for _ in range(3)]
    assert statuses == [503, 502, 200]


def test_scripted_delay_times_out_a_client_and_stop_is_prompt(lists):
    server = DailyPapersServer(lists).start()
    server.script(DATE, 0, [ScriptedResponse(delay=30)])
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{server.base_url}/api/daily_papers", params={"date": DATE}, timeout=0.1)
    began = time.monotonic()
    server.stop()
    assert time.monotonic() - began < 2


def test_request_log_records_path_query_and_headers(server, client):
    get_page(client, date=DATE, p=1, limit=10)
    client.get("/nowhere", headers={"User-Agent": "papertrends-test"})
    first, second = server.requests
    assert first["path"] == "/api/daily_papers"
    assert first["query"] == {"date": DATE, "p": "1", "limit": "10"}
    assert first["headers"]["host"].startswith("127.0.0.1:")
    assert second["path"] == "/nowhere" and second["headers"]["user-agent"] == "papertrends-test"
    assert first["at"] <= second["at"]


def test_stop_closes_pooled_keep_alive_connections(lists):
    server = DailyPapersServer(lists).start()
    with httpx.Client(base_url=server.base_url, timeout=2) as http:
        assert get_page(http, date=DATE).status_code == 200  # leaves a pooled connection
        began = time.monotonic()
        server.stop()
        assert time.monotonic() - began < 2
        with pytest.raises(httpx.TransportError):
            get_page(http, date=DATE)


def test_module_entry_point_serves_generated_data():
    process = subprocess.Popen(
        [sys.executable, "-m", "papertrends.devkit.hf_stub_server", "--since", "2025-01-06",
         "--until", "2025-01-10", "--seed", "7", "--port", "0"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        expected = generate_daily_lists(dt.date(2025, 1, 6), dt.date(2025, 1, 10), seed=7)
        response = httpx.get(f"{base_url}/api/daily_papers",
                             params={"date": "2025-01-08", "limit": 100}, timeout=5)
        assert response.json() == expected["2025-01-08"]
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
