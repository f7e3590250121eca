"""The HTTP client against a real local server: Retry-After forms, stalls, giving up clearly."""

import email.utils
import time

import httpx
import pytest
from papertrends.core.settings import load_settings
from papertrends.devkit.hf_stub_server import DailyPapersServer, ScriptedResponse
from papertrends.sources import http

DAY = "2025-01-02"
ITEMS = {DAY: []}


def settings(tmp_path, **overrides):
    # A read timeout long enough for a busy CI machine, short enough for the stall test below.
    values = {"backoff_base": 0.01, "max_attempts": 3, "max_retry_wait": 3.0, "read_timeout": 2.0, **overrides}
    return load_settings(tmp_path, **values)


def test_retry_after_in_seconds_and_as_an_http_date():
    now = time.time()
    assert http.retry_after_seconds("7") == 7.0
    assert http.retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert http.retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert http.retry_after_seconds("soon") is None and http.retry_after_seconds(None) is None


def test_backoff_grows_and_is_capped():
    waits = [http.backoff_seconds(n, base=1.0, cap=5.0) for n in (1, 2, 3, 10)]
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0 and 2.0 <= waits[2] <= 4.0 and waits[3] <= 5.0


def test_a_retry_after_date_is_honoured_and_capped(tmp_path):
    slept = []
    with DailyPapersServer(ITEMS) as server, http.make_client(settings(tmp_path)) as client:
        later = email.utils.formatdate(time.time() + 3600, usegmt=True)
        server.script(DAY, 0, [ScriptedResponse(503, b"busy", {"Retry-After": later})])
        fetched = http.get(client, f"{server.base_url}/api/daily_papers", {"date": DAY}, settings(tmp_path), sleep=slept.append)
    assert fetched.status == 200 and fetched.attempts == 2
    assert slept == [3.0]  # an hour asked for, the configured cap used


def test_a_stalled_read_times_out_and_is_retried(tmp_path):
    with DailyPapersServer(ITEMS) as server, http.make_client(settings(tmp_path)) as client:
        server.script(DAY, 0, [ScriptedResponse(200, b"[]", delay=5.0)])
        fetched = http.get(client, f"{server.base_url}/api/daily_papers", {"date": DAY}, settings(tmp_path))
    assert (fetched.status, fetched.body, fetched.attempts) == (200, b"[]", 2)


def test_giving_up_names_the_url_and_the_last_problem(tmp_path):
    with DailyPapersServer(ITEMS) as server, http.make_client(settings(tmp_path)) as client:
        server.script(DAY, 0, [ScriptedResponse(502, b"bad gateway")] * 3)
        base_url = server.base_url
        with pytest.raises(http.FetchError) as error:
            http.get(client, f"{server.base_url}/api/daily_papers", {"date": DAY}, settings(tmp_path), sleep=lambda s: None)
    assert str(error.value) == f"GET {base_url}/api/daily_papers?date={DAY} failed after 3 tries: HTTP 502"


def test_a_refused_connection_is_retried_then_reported(tmp_path):
    with DailyPapersServer(ITEMS) as server:
        url = f"{server.base_url}/api/daily_papers"
    with http.make_client(settings(tmp_path)) as client, pytest.raises(http.FetchError, match="ConnectError"):
        http.get(client, url, {"date": DAY}, settings(tmp_path), sleep=lambda s: None)


def test_client_errors_are_returned_not_retried(tmp_path):
    with DailyPapersServer(ITEMS) as server, http.make_client(settings(tmp_path)) as client:
        fetched = http.get(client, f"{server.base_url}/api/daily_papers", {"date": "bad"}, settings(tmp_path))
        assert (fetched.status, fetched.attempts, len(server.requests)) == (400, 1, 1)
    assert isinstance(client, httpx.Client)


def test_a_trickling_server_meets_the_request_deadline(tmp_path):
    """Issue 15.15: headers, then one byte every 0.5 s, held a fetch forever (each byte beat the read timeout)."""
    fast = settings(tmp_path, read_timeout=5.0, request_deadline=2.0, max_attempts=5)
    with DailyPapersServer(ITEMS) as server, http.make_client(fast) as client:
        server.script(DAY, 0, [ScriptedResponse(200, b"[" + b" " * 1000 + b"]", trickle=0.5)])
        started = time.monotonic()
        with pytest.raises(http.DeadlineExceeded, match="timed out"):
            http.get(client, f"{server.base_url}/api/daily_papers", {"date": DAY}, fast)
        took = time.monotonic() - started
        tries = len(server.requests)
    assert took < 2.0 + 3.0 and tries == 1  # the deadline covers every try: none is started after it


def test_an_answer_over_the_cap_is_spooled_whole_and_never_held(tmp_path):
    """Issue 15.17: the body past max_response_bytes goes to a file under raw/, every byte kept."""
    capped = settings(tmp_path, max_response_bytes=1000)
    body = b"[" + b"0," * 5000 + b"0]"
    with DailyPapersServer(ITEMS) as server, http.make_client(capped) as client:
        server.script(DAY, 0, [ScriptedResponse(200, body)])
        fetched = http.get(client, f"{server.base_url}/api/daily_papers", {"date": DAY}, capped)
    assert fetched.body == b"" and fetched.size == len(body)
    assert fetched.spool.parent == capped.raw_dir and fetched.spool.read_bytes() == body
    assert "larger than max_response_bytes" in fetched.oversize_problem


@pytest.mark.parametrize("token_host, sent", [
    ("huggingface.co", False),      # another host, plain http: never
    ("127.0.0.1", False),           # the host, but not over https
    ("http://127.0.0.1", True),     # the user allowed plain http to it
    ("", False),                    # empty: nowhere
])
def test_hf_token_goes_only_to_the_configured_host_over_https(tmp_path, monkeypatch, token_host, sent):
    """Issue 15.23: HF_TOKEN was sent to any --base-url host, plain http included."""
    monkeypatch.setenv("HF_TOKEN", "hf_secret_for_this_test")
    configured = settings(tmp_path, hf_token_host=token_host)
    with DailyPapersServer(ITEMS) as server, http.make_client(configured) as client:
        http.get(client, server.base_url + "/api/daily_papers", {"date": DAY}, configured)
        (request,) = server.requests
    assert ("authorization" in request["headers"]) is sent
    assert http.token_allowed(httpx.URL("https://huggingface.co/api/daily_papers"), "huggingface.co")
    assert not http.token_allowed(httpx.URL("https://huggingface.co.evil.example/api"), "huggingface.co")
