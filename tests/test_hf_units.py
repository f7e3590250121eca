"""Pure pieces of the Hugging Face sources: classification, HTML props, details, title matching,
host rate limits, list requests, and the stub server's new routes over real HTTP."""

import datetime as dt
import html
import json
import threading

import httpx
import polars as pl
import pytest
from papertrends.devkit.hf_stub_server import DailyPapersServer, ScriptedResponse, papers_page_html
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.sources import http
from papertrends.sources.hf import list_request
from papertrends.transforms.hf_details import paper_detail_normalized, search_hits, title_resolved
from papertrends.transforms.hf_html import daily_papers_from_html
from papertrends.transforms.hf_listings import PageFormatError
from papertrends.transforms.hf_responses import is_past_weekday, list_body_problem

DAY = "2025-03-03"


@pytest.mark.parametrize(
    "body, first_page, suspicious, problem",
    [
        (b'[{"paper": {}}]', True, True, None),
        (b"[]", False, True, None),                      # an empty page after a full one ends a list
        (b"[]", True, False, None),                      # a Sunday, today, a week: may be empty
        (b"[]", True, True, "empty list for a past weekday"),
        (b'[{"paper": {"id": "25', True, True, "truncated JSON"),
        (b'[{"paper": 1}, ', True, True, "truncated JSON"),
        (b'[1, 2] x', True, True, "not valid JSON"),
        (b"  <!DOCTYPE html><html>", True, True, "HTML where JSON was expected"),
        (b'{"error": "Invalid date"}', True, True, "JSON error object: 'Invalid date'"),
        (b'{"papers": []}', True, True, "JSON is a dict, not a list of items"),
        (b'{"status": 200, "data": [{"paper": {}}]}', True, True, None),
        (b"", True, True, "empty body"),
        (b"\x80\x81[]", True, True, "not UTF-8 text"),  # (\xff\xfe is a UTF-16 BOM: decoded, issue 15.21)
    ],
)
def test_list_answers_are_classified(body, first_page, suspicious, problem):
    found = list_body_problem(body, first_page=first_page, empty_is_suspicious=suspicious)
    assert (found is None) if problem is None else found.startswith(problem), found


def test_past_weekdays_are_expected_to_have_papers():
    today = dt.date(2025, 3, 11)                                  # a Tuesday
    assert is_past_weekday(dt.date(2025, 3, 7), today)            # Friday
    assert not is_past_weekday(dt.date(2025, 3, 8), today)        # Saturday
    assert not is_past_weekday(dt.date(2025, 3, 10), today)       # yesterday may still be filling up
    assert not is_past_weekday(today, today)


def test_html_props_are_read_with_a_parser_and_changes_are_named():
    items = [{"paper": {"id": "2503.00001", "title": 'Quotes " & <tags> & ü'}}]
    page = papers_page_html(items, DAY).decode()
    assert "&quot;" in page and daily_papers_from_html(page) == items
    props = html.escape(json.dumps({"papers": items}), quote=True)
    with pytest.raises(PageFormatError, match="no dailyPapers list .*papers"):
        daily_papers_from_html(f'<div data-target="DailyPapers" data-props="{props}"></div>')
    with pytest.raises(PageFormatError, match="not valid JSON"):
        daily_papers_from_html('<div data-target="DailyPapers" data-props="{oops"></div>')
    with pytest.raises(PageFormatError, match="no data-props"):
        daily_papers_from_html('<div data-target="DailyPapers"></div>')


def test_a_detail_answer_becomes_one_papers_row_and_one_sighting():
    paper = {"id": "2503.00001", "title": "A\n  Title", "summary": "Words.", "upvotes": 12, "githubStars": 40,
             "organization": {"name": "acme"}, "authors": [{"name": "Ada"}], "withdrawnAt": "2025-04-01T00:00:00.000Z"}
    at = dt.datetime(2025, 3, 5, tzinfo=dt.timezone.utc)
    papers, seen, problem = paper_detail_normalized(json.dumps(paper).encode(), requested_id="2503.00001",
                                                    fetched_at=at, origin="http://x/api/papers/2503.00001", raw_sha256="ab")
    assert problem is None
    row = papers.row(0, named=True)
    assert (row["title"], row["github_stars"], row["organization"], row["authors"]) == ("A Title", 40, "acme", ["Ada"])
    assert row["withdrawn_at"] == dt.datetime(2025, 4, 1, tzinfo=dt.timezone.utc)
    assert seen.select("paper_id", "upvotes", "source").rows() == [("2503.00001", 12, "hf_paper")]
    _, _, problem = paper_detail_normalized(json.dumps(paper).encode(), requested_id="2503.00002",
                                            fetched_at=at, origin="o", raw_sha256="ab")
    assert problem == "answer is for paper '2503.00001', not 2503.00002"


def test_titles_resolve_only_on_the_same_words():
    hits = search_hits(json.dumps([
        {"paper": {"id": "2503.00001", "title": "Scaling  Test-Time\n Compute"}},
        {"paper": {"id": "2503.00002", "title": "Scaling Test-Time Compute, Revisited"}},
        "junk",
    ]).encode())
    assert len(hits) == 2
    assert title_resolved("scaling test time compute", hits) == ("2503.00001", "resolved")
    assert title_resolved("Something Else", hits) == (None, "not_found")
    assert title_resolved("x", hits + [{"id": "2503.00009", "title": "X"}, {"id": "2503.00010", "title": "x"}]) == (None, "ambiguous")
    assert search_hits(b'{"error": "x"}') is None


def test_rate_limit_setting_picks_the_most_specific_host():
    limits = "huggingface.co=1,arxiv.org=3,export.arxiv.org=4"
    assert http.host_interval(limits, "huggingface.co") == 1.0
    assert http.host_interval(limits, "arxiv.org") == 3.0 and http.host_interval(limits, "export.arxiv.org") == 4.0
    assert http.host_interval(limits, "127.0.0.1") == 0.0 and http.host_interval(limits, "nothuggingface.co") == 0.0
    with pytest.raises(ValueError, match="host=seconds"):
        http.host_interval("huggingface.co", "huggingface.co")


def test_the_host_rate_limiter_spaces_threads_on_one_clock():
    now = [100.0]
    waits = []
    limiter = http.HostRateLimiter(clock=lambda: now[0])
    threads = [threading.Thread(target=lambda: waits.append(limiter.wait_turn("hf", 1.0, sleep=lambda s: None)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [0.0, 1.0, 2.0, 3.0]  # each thread got its own slot
    assert limiter.wait_turn("arxiv", 3.0, sleep=lambda s: None) == 0.0  # hosts are independent


def test_conditional_headers_come_from_a_good_sidecar_only():
    meta = {"status": 200, "headers": {"ETag": '"abc"', "Last-Modified": "Mon, 03 Mar 2025 12:00:00 GMT"}}
    assert http.conditional_headers(meta) == {"If-None-Match": '"abc"', "If-Modified-Since": "Mon, 03 Mar 2025 12:00:00 GMT"}
    assert http.conditional_headers({**meta, "status": 404}) == {} and http.conditional_headers(None) == {}


def test_list_requests_name_periods_and_reject_bad_labels():
    today = dt.date(2025, 3, 20)
    week = list_request("week", "2025-W10", today)
    assert (week.source, week.list_date, week.list_period, week.params) == ("hf_weekly", "2025-03-03", "2025-W10", {"week": "2025-W10"})
    assert week.settled(today, 3) and not list_request("week", "2025-W12", today).settled(today, 3)
    month = list_request("month", "2024-02", today)
    assert (month.list_date, month.last_day) == ("2024-02-01", dt.date(2024, 2, 29))
    trending = list_request("trending", "", today)
    assert (trending.ranked, trending.list_period, trending.settled(today, 0)) == (True, "trending@2025-03-20", False)
    for kind, label in (("week", "2025-W54"), ("week", "2025-10"), ("month", "2025-13"), ("month", "2025-3")):
        with pytest.raises(ValueError):
            list_request(kind, label, today)


def test_stub_server_new_routes_over_http():
    lists = generate_daily_lists(dt.date(2025, 3, 3), dt.date(2025, 3, 4), seed=5, papers_per_day=(3, 3))
    with DailyPapersServer(lists) as server, httpx.Client(base_url=server.base_url, timeout=5) as client:
        week = client.get("/api/daily_papers", params={"week": "2025-W10"}).json()
        upvotes = [i["paper"].get("upvotes", 0) for i in week]
        assert len(week) == len({i["paper"]["id"] for d in lists.values() for i in d}) and upvotes == sorted(upvotes, reverse=True)
        assert client.get("/api/daily_papers", params={"month": "2025-13"}).status_code == 400
        pid = lists[DAY][0]["paper"]["id"]
        assert client.get(f"/api/papers/{pid}").json() == server.papers()[pid]  # its latest listing's paper
        assert client.get("/api/papers/0000.00000").status_code == 404
        title = lists[DAY][1]["paper"]["title"]
        hits = client.get("/api/papers/search", params={"q": title}).json()
        assert lists[DAY][1]["paper"]["id"] in [h["paper"]["id"] for h in hits]
        page = client.get("/papers/week/2025-W10")
        assert page.headers["content-type"].startswith("text/html") and daily_papers_from_html(page.text) == week
        first = client.get("/api/daily_papers", params={"date": DAY})
        again = client.get("/api/daily_papers", params={"date": DAY}, headers={"If-None-Match": first.headers["etag"]})
        since = client.get("/api/daily_papers", params={"date": DAY}, headers={"If-Modified-Since": first.headers["last-modified"]})
        assert (again.status_code, again.content, since.status_code) == (304, b"", 304)
        server.script(DAY, 0, [ScriptedResponse(200, first.content, close_after=40)])
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/api/daily_papers", params={"date": DAY})
    assert pl.DataFrame(week).height == len(week)


def test_real_list_items_fill_the_detail_columns(samples):
    """Real 2026 items carry githubStars, organization and ai_summary: they reach the listing rows."""
    from papertrends.transforms.hf_listings import daily_papers_extracted, listings_normalized

    body = (samples / "hf_daily" / "2026-04-23.json").read_bytes()
    extracted = daily_papers_extracted(body, origin="sample", raw_sha256="x")
    at = dt.datetime(2026, 4, 23, tzinfo=dt.timezone.utc)
    rows, quarantine = listings_normalized(extracted, source="hf_daily", list_date=dt.date(2026, 4, 23),
                                           fetched_at=at, origin="sample", raw_sha256="x")
    items = json.loads(body)
    assert rows.height + quarantine.height == len(items)
    first = rows.filter(pl.col("paper_id") == items[0]["paper"]["id"]).row(0, named=True)
    assert (first["github_stars"], first["organization"]) == (items[0]["paper"]["githubStars"], "inclusionAI")
    assert first["ai_summary"].startswith("LLaDA2.0-Uni is a unified")
    stars = sum(1 for i in items if isinstance(i.get("paper", {}).get("githubStars"), int))
    assert rows["github_stars"].is_not_null().sum() == stars
