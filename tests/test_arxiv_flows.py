"""arXiv flows end to end: the real local arXiv server (API + OAI-PMH), Prefect's harness, real
files and DuckDB; a harvest killed with SIGKILL in a real subprocess, then resumed."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from papertrends.devkit.arxiv_stub_server import ArxivServer, Canned, _atom_error, generate_arxiv_papers
from papertrends.flows.arxiv import harvest_arxiv_oai, ingest_arxiv_query
from papertrends.flows.ingest import ingest_files
from testsupport import warehouse_rows as rows
from testsupport import write_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def settings_file(home, **extra):
    """No politeness wait and short retries unless a test asks for them."""
    values = {"arxiv_page_size": 10, "backoff_base": 0.05, "max_attempts": 3,
              "max_retry_wait": 3.0, "read_timeout": 10.0, **extra}
    write_settings(home, **values)


def test_api_query_pages_politely_and_loads_every_entry(home):
    settings_file(home, rate_limits="127.0.0.1=0.3")  # the per-host limiter: the one politeness mechanism
    papers = generate_arxiv_papers(80, seed=3)
    expected = sorted(p["id"] for p in papers if "cs.LG" in p["categories"].split())
    assert len(expected) > 10  # at least two pages
    with ArxivServer(papers) as server:
        report = ingest_arxiv_query("cat:cs.LG", base_url=server.api_url, home=str(home))
        starts = [int(r["query"]["start"]) for r in server.requests]
        times = [r["at"] for r in server.requests]
        accept = server.requests[0]["headers"]["accept"]
    assert starts == list(range(0, len(expected), 10))
    # One request per interval: the client waits 0.3 s between sends; arrival times at the server
    # jitter by a few ms on a busy machine, and without the throttle the gaps would be ~1 ms.
    assert all(b - a >= 0.2 for a, b in zip(times, times[1:]))
    assert "atom+xml" in accept
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (len(expected), len(expected), 0)
    assert [r[0] for r in rows(home, "select paper_id from papers order by paper_id")] == expected
    assert rows(home, "select count(*) from listings join papers using (paper_id) "
                      "where source = 'arxiv' and list_date = published_at::date") == [(len(expected),)]
    assert rows(home, "select count(*) from paper_sources where source = 'arxiv'") == [(len(expected),)]
    landed = [p for p in (home / "raw" / "arxiv_api").rglob("*.xml")]
    assert len(landed) == len(starts)


def test_the_error_feed_is_reported_not_loaded(home):
    settings_file(home)
    with ArxivServer(generate_arxiv_papers(5)) as server:
        server.script(0, Canned(400, _atom_error("incorrect id format for abc"), {"Content-Type": "application/atom+xml"}))
        report = ingest_arxiv_query("id:abc", base_url=server.api_url, home=str(home))
    assert report.status == "failed"
    assert report.failures == ["arXiv API error: incorrect id format for abc"]
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (1, 0, 1)
    assert rows(home, "select reason from quarantine") == [("arXiv API error: incorrect id format for abc",)]
    assert rows(home, "select count(*) from papers") == [(0,)]


def test_oai_harvest_follows_tokens_through_a_503_and_marks_deleted_records(home):
    settings_file(home)
    papers = generate_arxiv_papers(35, seed=4)
    with ArxivServer(papers, oai_page_size=10, deleted_every=7) as server:
        server.script(2, Canned(503, b"Retry after 1 second", {"Retry-After": "1"}))
        report = harvest_arxiv_oai(set_spec=None, base_url=server.oai_url, home=str(home))
        requests = [r["query"] for r in server.requests]
        times = [r["at"] for r in server.requests]
    assert [q.get("resumptionToken") for q in requests] == [None, "arXivRaw||10", "arXivRaw||20", "arXivRaw||20", "arXivRaw||30"]
    assert requests[0] == {"verb": "ListRecords", "metadataPrefix": "arXivRaw"}
    assert times[3] - times[2] >= 0.95  # Retry-After honoured
    deleted = {p["id"] for i, p in enumerate(papers) if (i + 1) % 7 == 0}
    assert (report.items_in, report.items_loaded, report.items_quarantined, report.deleted_in) == (35, 35, 0, len(deleted))
    assert not report.failures
    assert {r[0] for r in rows(home, "select paper_id from arxiv_deleted")} == deleted
    assert {r[0] for r in rows(home, "select paper_id from papers")} == {p["id"] for p in papers} - deleted
    assert rows(home, "select status, pages, records, complete_list_size, resumption_token from oai_harvests") == [
        ("completed", 4, 35, 35, None)]
    multi = rows(home, "select count(*) from papers where len(versions) > 1")[0][0]
    assert multi == sum(1 for i, p in enumerate(papers) if len(p["versions"]) > 1 and p["id"] not in deleted)


def harness_env(home) -> dict:
    """Environment for a CLI subprocess that reports to this session's Prefect test server."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PAPERTRENDS_HOME": str(home), "PREFECT_API_URL": PREFECT_API_URL.value()}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return env


def test_a_harvest_killed_between_pages_resumes_from_its_last_token(home):
    settings_file(home)
    papers = generate_arxiv_papers(40, seed=5)
    with ArxivServer(papers, oai_page_size=10, deleted_every=0) as server:
        arrived = server.hold(2)  # the third page's request waits: pages 1 and 2 are loaded by then
        process = subprocess.Popen(
            [sys.executable, "-m", "papertrends.cli.main", "ingest", "arxiv", "--oai", "--base-url", server.oai_url],
            env=harness_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            assert arrived.wait(timeout=180), process.stderr.read1().decode() if process.poll() is not None else "no request"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        server.release()
        assert process.returncode == -signal.SIGKILL
        saved = rows(home, "select status, pages, records, resumption_token from oai_harvests")
        assert saved == [("running", 2, 20, "arXivRaw||20")]
        assert rows(home, "select count(*) from papers") == [(20,)]
        before = len(server.requests)
        report = harvest_arxiv_oai(base_url=server.oai_url, home=str(home))
        resumed = [r["query"] for r in server.requests[before:]]
    assert [q.get("resumptionToken") for q in resumed] == ["arXivRaw||20", "arXivRaw||30"]
    assert report.items_loaded == 20 and any("resumed harvest" in w for w in report.warnings)
    assert rows(home, "select count(*), count(distinct paper_id) from papers") == [(40, 40)]
    assert rows(home, "select status, pages, records from oai_harvests") == [("completed", 4, 40)]
    # The killed run stays 'running' in the ledger; the resumed one completed.
    assert [r[0] for r in rows(home, "select status from runs order by run_id")] == ["interrupted", "completed"]


def write_snapshot(path: Path, papers: list[dict], bad_lines: dict[int, str]) -> None:
    lines = [json.dumps(p) for p in papers]
    for index, text in sorted(bad_lines.items()):
        lines.insert(index, text)
    path.write_text("\n".join(lines) + "\n")


def test_snapshot_streams_in_batches_with_quarantine_and_is_idempotent(home, tmp_path):
    settings_file(home, snapshot_batch_lines=70)
    papers = generate_arxiv_papers(300, seed=6)
    snapshot = tmp_path / "arxiv-metadata-oai-snapshot.json"
    write_snapshot(snapshot, papers, {5: "this is not json", 150: '{"id": 7}'})
    report = ingest_files([str(snapshot)], home=str(home))
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (302, 300, 2)
    assert rows(home, "select count(*), count(*) filter (where paper_id like '%/%') from papers") == [
        (300, sum("/" in p["id"] for p in papers))]
    assert rows(home, "select position, reason from quarantine order by position") == [
        (5, "line 6: not valid JSON: Expecting value: line 1 column 1 (char 0)"), (150, "id 7 is not an arXiv id")]
    landed = list((home / "raw" / "arxiv_snapshot").glob("*.json"))
    meta = json.loads(landed[0].with_name(landed[0].name + ".meta.json").read_text())
    assert meta["landed_by"] in ("hardlink", "copy") and meta["bytes"] == snapshot.stat().st_size
    assert landed[0].read_bytes() == snapshot.read_bytes()
    assert len(list((home / "lake" / "arxiv").rglob("*.parquet"))) >= 5  # 302 lines in batches of 70
    papers_before = rows(home, "select * from papers order by paper_id")
    again = ingest_files([str(snapshot)], home=str(home))
    assert (again.listings_new, again.listings_changed, again.papers_new, again.papers_changed) == (0, 0, 0, 0)
    assert rows(home, "select * from papers order by paper_id") == papers_before


def test_the_real_snapshot_sample_loads_beside_hf_files(home, samples, tmp_path):
    settings_file(home)
    report = ingest_files([str(samples / "arxiv/kaggle_arxiv_metadata_snapshot_head100.jsonl"),
                           str(samples / "hf_daily/2025-03-13.json")], home=str(home))
    hf_items = len(json.loads((samples / "hf_daily/2025-03-13.json").read_text()))
    assert report.items_loaded == 100 + hf_items and report.inputs == 2
    assert rows(home, "select source, count(*) from listings group by source order by source") == [
        ("arxiv", 100), ("hf_daily", hf_items)]
