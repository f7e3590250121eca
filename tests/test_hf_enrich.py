"""Paper details, HTML pages and title resolution end to end over the real local server."""

import datetime as dt
import json

import pytest
from papertrends.cli.main import main
from papertrends.devkit.hf_stub_server import DailyPapersServer, ScriptedResponse, papers_page_html
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.flows.hf import enrich_hf, ingest_hf_lists
from papertrends.flows.ingest import ingest_files
from papertrends.warehouse import connection, enrichment, loads
from testsupport import warehouse_rows as rows
from testsupport import write_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2025-03-03"


def settings_file(home, **extra):
    values = {"backoff_base": 0.05, "max_attempts": 3, "max_retry_wait": 2.0, "read_timeout": 5.0, **extra}
    write_settings(home, **values)


def day_lists(count: int, seed: int = 3) -> dict[str, list[dict]]:
    day = dt.date.fromisoformat(DAY)
    return generate_daily_lists(day, day, seed=seed, papers_per_day=(count, count))


def detail_requests(server):
    return [r["path"] for r in server.requests if r["path"].startswith("/api/papers/")]


def test_enrich_fills_details_records_404_and_does_not_ask_again(home, capsys):
    settings_file(home)
    lists = day_lists(4)
    ids = sorted(i["paper"]["id"] for i in lists[DAY])
    with DailyPapersServer(lists) as server:
        ingest_hf_lists([DAY], base_url=server.base_url, home=str(home))
        # Details know more than the list: stars, organization, a withdrawal.
        paper = next(i["paper"] for i in lists[DAY] if i["paper"]["id"] == ids[0])
        paper.update(githubStars=321, organization={"name": "acme-ai", "fullname": "Acme AI"},
                     withdrawnAt="2025-04-01T10:00:00.000Z", upvotes=(paper.get("upvotes") or 0) + 7)
        server.missing_papers.add(ids[1])
        server.script_path(f"/api/papers/{ids[2]}", [ScriptedResponse(502, b"bad gateway")])
        code = main(["--home", str(home), "enrich", "--missing", "--base-url", server.base_url])
        first = detail_requests(server)
        result = enrich_hf(missing=True, base_url=server.base_url, home=str(home))
        again = enrich_hf([ids[0]], base_url=server.base_url, home=str(home))
        refreshed = enrich_hf([ids[0]], refresh=True, base_url=server.base_url, home=str(home))
        total = detail_requests(server)
    out = capsys.readouterr().out
    assert code == 0 and "4 papers asked, 3 loaded, 1 not loaded" in out and f"not loaded: {ids[1]}: HTTP 404" in out
    assert sorted(set(first)) == [f"/api/papers/{i}" for i in ids] and len(first) == 5  # the 502 was retried
    assert result["asked"] == 0  # everything was asked once, the 404 included
    assert (again["requests"], refreshed["requests"]) == (0, 1)  # archive answers unless refresh
    assert len(total) == 6
    assert rows(home, "select github_stars, organization, withdrawn_at is not null from papers where paper_id = ?", [ids[0]]) == [
        (321, "acme-ai", True)]
    assert rows(home, "select status, count(*) from paper_details group by status order by status") == [(200, 3), (404, 1)]
    assert rows(home, "select count(*) from upvote_history where source = 'hf_paper'") == [(3,)]
    gained = rows(home, "select max(upvotes) - min(upvotes) from upvote_history where paper_id = ?", [ids[0]])
    assert gained == [(7,)]
    raw = sorted(p.name for p in (home / "raw" / "hf_papers").rglob("*.json") if not p.name.endswith(".meta.json"))
    assert len(raw) == 4  # one answer per paper (the refresh got a 304 or the same bytes)


def test_a_detail_that_is_not_the_paper_asked_for_is_not_loaded(home):
    settings_file(home)
    lists = day_lists(2)
    pid = lists[DAY][0]["paper"]["id"]
    with DailyPapersServer(lists) as server:
        server.script_path(f"/api/papers/{pid}", [ScriptedResponse(200, b"<html>login</html>")])
        result = enrich_hf([pid], base_url=server.base_url, home=str(home))
    assert result["loaded"] == 0 and "HTML where a JSON paper object was expected" in result["problems"][0]
    assert rows(home, "select status, reason like 'HTML%' from paper_details") == [(200, True)]
    assert rows(home, "select count(*) from papers") == [(0,)]


def test_html_pages_online_and_saved_from_a_browser(home, tmp_path):
    settings_file(home)
    lists = day_lists(6)
    with DailyPapersServer(lists) as server:
        report = ingest_hf_lists([DAY], weeks=["2025-W10"], html=True, base_url=server.base_url, home=str(home))
        paths = sorted(r["path"] for r in server.requests)
    assert paths == ["/papers/date/2025-03-03", "/papers/week/2025-W10"]
    assert report.items_loaded == 12 and report.items_quarantined == 0
    assert rows(home, "select source, count(*) from listings group by source order by source") == [("hf_daily", 6), ("hf_weekly", 6)]
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "2025-03-04.html").write_bytes(papers_page_html(day_lists(3, seed=9)[DAY], DAY))
    (saved / "changed.html").write_text('<html><body><div data-target="PaperList" data-props="{}"></div></body></html>')
    report = ingest_files([str(saved)], home=str(home))
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (4, 3, 1)
    assert rows(home, "select count(*) from listings where list_date = '2025-03-04'") == [(3,)]
    reason, = rows(home, "select reason from quarantine")[0]
    assert reason.startswith('no element with data-target="DailyPapers"')


def text_page(items) -> str:
    """A papers page as a browser's 'save as text' writes it (title, blank, abstract, blank)."""
    def line(text):
        return " ".join(text.split())  # the browser shows arXiv's wrapped titles on one line

    body = "".join(f"{line(i['paper']['title'])}\n\n{line(i['paper']['summary'])}\n\n" for i in items)
    return f"Daily Papers\nby AK and the research community\nMar 3\n{body}"


def test_title_only_papers_merge_into_their_arxiv_ids(home, tmp_path):
    settings_file(home)
    lists = day_lists(3)
    items = lists[DAY]
    page = tmp_path / "page.txt"
    page.write_text(text_page(items + [{"paper": {"title": "A Paper Nobody Indexed", "summary": "x."}}]))
    ingest_files([str(page)], list_date=DAY, home=str(home))
    assert rows(home, "select count(*) from papers where paper_id like 'title:%'") == [(4,)]
    with DailyPapersServer(lists) as server:
        # The real id is already on a daily list for the same date: the merge must not duplicate it.
        ingest_hf_lists([DAY], base_url=server.base_url, home=str(home))
        first = enrich_hf(resolve=True, base_url=server.base_url, home=str(home))
        second = enrich_hf(resolve=True, base_url=server.base_url, home=str(home))
        searches = [r for r in server.requests if r["path"] == "/api/papers/search"]
    assert (first["titles_resolved"], first["titles_not_found"]) == (3, 1)
    assert second["titles"] == 0 and len(searches) == 4  # answers cached, not-found not asked again
    ids = sorted(i["paper"]["id"] for i in items)
    assert rows(home, "select paper_id from listings where source = 'hf_page' order by paper_id")[:3] == [(i,) for i in ids]
    assert rows(home, "select count(*), count(distinct paper_id) from papers") == [(4, 4)]
    assert rows(home, "select count(*) from papers where paper_id like 'title:%'") == [(1,)]
    # Ingesting the same text page again loads under the real ids: still no duplicates.
    page.write_text(page.read_text() + "\n")
    ingest_files([str(page)], list_date=DAY, home=str(home))
    assert rows(home, "select count(*) from papers") == [(4,)]
    assert rows(home, "select count(*), count(distinct paper_id) from listings where source = 'hf_page'") == [(4, 4)]
    assert rows(home, "select count(*) from first_listings") == [(4,)]
    search_raw = [p for p in (home / "raw" / "hf_search").rglob("*.json") if not p.name.endswith(".meta.json")]
    assert len(search_raw) == 4 and all(isinstance(json.loads(p.read_bytes()), list) for p in search_raw)


def test_resolving_a_title_moves_its_trend_counts_to_the_real_id(tmp_path):
    """The term index follows a title-only paper merged into its arXiv id: counted once, not twice."""
    import polars as pl
    from papertrends.transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA
    from papertrends.warehouse import analytics

    def row(paper_id, source):
        values = {name: None for name in LISTING_SCHEMA}
        values.update(
            source=source, list_date=dt.date(2025, 1, 10), paper_id=paper_id, position=0,
            title="Scaling tractable circuits", abstract="About scaling.", authors=["A"],
            fetched_at=dt.datetime(2025, 1, 10, tzinfo=dt.timezone.utc), origin="o", raw_sha256="s",
        )
        return values

    con = connection.open_writer(tmp_path / "w.duckdb")
    try:
        frame = pl.DataFrame([row("title:abc", "hf_page"), row("2501.00001", "hf_daily")], schema=LISTING_SCHEMA)
        loads.load(con, frame, pl.DataFrame(schema=QUARANTINE_SCHEMA), 1)
        before = analytics.trend(con, [analytics.parse_query("scaling")], by="month")
        assert before.select("matches", "total").rows() == [(2, 2)]
        enrichment.resolve_title(con, "title:abc", "Scaling tractable circuits", "2501.00001", "resolved", None)
        after = analytics.trend(con, [analytics.parse_query("scaling")], by="month")
        assert after.select("matches", "total").rows() == [(1, 1)]
        assert con.execute("select count(*) from papers").fetchone()[0] == 1
    finally:
        con.close()


def test_enrich_holds_the_writer_lock_for_its_whole_run(home):
    """Before: enrich started its run without the writer lock, so a concurrent ingest marked it interrupted."""
    import threading
    import time

    from papertrends.warehouse import locks

    settings_file(home)
    lists = day_lists(2)
    ids = sorted(i["paper"]["id"] for i in lists[DAY])
    with DailyPapersServer(lists) as server:
        ingest_hf_lists([DAY], base_url=server.base_url, home=str(home))
        # The detail answer takes a while: the run is live, mid-fetch, while we look at the lock.
        server.script_path(f"/api/papers/{ids[0]}", [ScriptedResponse(502, b"slow and bad", delay=1.5)] * 3)
        results = []
        worker = threading.Thread(target=lambda: results.append(enrich_hf([ids[0]], base_url=server.base_url, home=str(home))))
        worker.start()
        holders = []
        while worker.is_alive():
            holders.append(locks.held_by(home))
            time.sleep(0.05)
        worker.join()
    seen = [h for h in holders if h]
    assert seen and all(h["purpose"] == "enrich-hf" for h in seen), holders[:5]
    assert results[0]["status"] == "failed"
    assert rows(home, "select flow, status from runs order by run_id") == [("ingest-hf-lists", "completed"), ("enrich-hf", "failed")]
