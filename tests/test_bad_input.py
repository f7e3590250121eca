"""Bad input faults of issue 15 (13, 17, 18, 21): quarantined with a reason, the rest loaded, never a crash.

Real files, a real HTTP server on 127.0.0.1, Prefect's test harness and real DuckDB files.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from papertrends.devkit.hf_stub_server import DailyPapersServer, ScriptedResponse
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.flows.hf import ingest_hf_lists
from papertrends.flows.ingest import ingest_files
from papertrends.flows.rebuild import rebuild_from_raw
from testsupport import warehouse_rows as rows
from testsupport import write_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY, OTHER = "2025-03-03", "2025-03-04"
DEEP = b"[" * 1_000_000 + b"]" * 1_000_000


def day_items(date: str, count: int = 4, seed: int = 1) -> list[dict]:
    day = dt.date.fromisoformat(date)
    return generate_daily_lists(day, day, seed=seed, papers_per_day=(count, count))[date]


def fast(home, **extra):
    write_settings(home, **{"backoff_base": 0.02, "max_attempts": 2, "max_retry_wait": 1.0, "read_timeout": 5.0, **extra})


def test_deeply_nested_json_files_are_quarantined_and_rebuild_survives_them(home, tmp_path):
    """Issue 15.13: a 10^6-level [[[...]]] file aborted the run (RecursionError) and every later rebuild."""
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / f"{DAY}.json").write_text(json.dumps(day_items(DAY)))
    (folder / f"{OTHER}.json").write_bytes(DEEP)
    (folder / "nested.jsonl").write_bytes(DEEP + b"\n")  # what the snapshot sniffing reads first
    report = ingest_files([str(folder / f"{DAY}.json"), str(folder / f"{OTHER}.json")], home=str(home))
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (5, 4, 1)
    (reason,) = [r for (r,) in rows(home, "select reason from quarantine")]
    assert "nested too deeply" in reason
    assert rows(home, "select count(*) from listings") == [(4,)]
    rebuilt = rebuild_from_raw(home=str(home))
    assert (rebuilt.items_loaded, rebuilt.items_quarantined) == (4, 1)
    assert rows(home, "select count(*) from listings") == [(4,)]
    sniffed = ingest_files([str(folder / "nested.jsonl")], home=str(home))
    assert sniffed.items_quarantined == 1 and sniffed.items_loaded == 0


def test_a_deeply_nested_http_answer_is_quarantined_and_the_other_dates_load(home):
    fast(home)
    with DailyPapersServer({DAY: day_items(DAY), OTHER: day_items(OTHER, seed=2)}) as server:
        server.script(OTHER, 0, [ScriptedResponse(200, DEEP)])
        report = ingest_hf_lists([DAY, OTHER], base_url=server.base_url, home=str(home))
    assert report.items_loaded == 4 and report.items_quarantined == 1
    assert any("nested too deeply" in w for w in report.warnings)
    (reason,) = [r for (r,) in rows(home, "select reason from quarantine")]
    assert "nested too deeply" in reason


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-32"])
def test_json_files_in_every_json_encoding_load(home, tmp_path, encoding):
    """Issue 15.21: UTF-8 with a BOM and UTF-16 files were quarantined whole."""
    items = day_items(DAY)
    path = tmp_path / f"{DAY}.json"
    path.write_bytes(json.dumps(items, ensure_ascii=False).encode(encoding))
    report = ingest_files([str(path)], home=str(home))
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (4, 4, 0)
    titles = {t for (t,) in rows(home, "select title from papers")}
    assert titles == {" ".join(i["paper"]["title"].split()) for i in items}


def test_a_date_that_timed_out_is_named_in_the_summary_and_the_rest_load(home):
    """Issue 15.15: a trickling server held a date (and the writer lock) forever."""
    fast(home, request_deadline=2.0, read_timeout=5.0)
    with DailyPapersServer({DAY: day_items(DAY), OTHER: day_items(OTHER, seed=2)}) as server:
        server.script(OTHER, 0, [ScriptedResponse(200, json.dumps(day_items(OTHER, seed=2)).encode(), trickle=0.5)])
        report = ingest_hf_lists([DAY, OTHER], base_url=server.base_url, home=str(home))
    assert report.items_loaded == 4
    (line,) = [line for line in report.summary().splitlines() if line.startswith("failed:")]
    assert OTHER in line and "timed out" in line


def test_an_answer_over_the_cap_is_quarantined_with_raw_intact_and_a_bounded_excerpt(home):
    """Issue 15.17: a 200 MB list took 2.7 GB and a bad body was copied whole into quarantine.raw_text."""
    from papertrends.transforms.hf_listings import EXCERPT_BYTES

    fast(home, max_response_bytes=200_000)
    big = json.dumps(day_items(OTHER, count=3, seed=2) + [{"padding": "x" * 400_000}]).encode()
    with DailyPapersServer({DAY: day_items(DAY), OTHER: []}) as server:
        server.script(OTHER, 0, [ScriptedResponse(200, big)])
        report = ingest_hf_lists([DAY, OTHER], base_url=server.base_url, home=str(home))
    assert (report.items_loaded, report.items_quarantined) == (4, 1)
    landed = [p for p in (home / "raw").rglob("*.json") if not p.name.endswith(".meta.json") and OTHER in str(p)]
    assert [p.read_bytes() for p in landed] == [big]  # every byte kept in raw/
    ((reason, text),) = rows(home, "select reason, raw_text from quarantine")
    assert "larger than max_response_bytes" in reason
    assert len(text) < EXCERPT_BYTES + 100 and f"{len(big) - EXCERPT_BYTES} more bytes in the raw archive" in text
    assert not list((home / "raw").glob(".oversize-*"))


def test_only_regular_files_are_ingested_a_fifo_or_a_device_is_refused_at_once(home, tmp_path):
    """Issue 15.18: a FIFO blocked for minutes, /dev/zero read until MemoryError."""
    import os

    good = tmp_path / f"{DAY}.json"
    good.write_text(json.dumps(day_items(DAY)))
    fifo = tmp_path / f"{OTHER}.json"
    os.mkfifo(fifo)
    report = ingest_files([str(good), str(fifo), "/dev/zero"], home=str(home))
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (6, 4, 2)
    reasons = sorted(r for (r,) in rows(home, "select reason from quarantine"))
    assert reasons == [f"not a regular file: {fifo.name} is a FIFO (named pipe); only regular files are ingested",
                       "not a regular file: zero is a character device; only regular files are ingested"]


def test_a_404_day_is_a_warning_line_not_a_silent_quarantine(home):
    """Issue 15.21: a 404 day was quarantined with no warning and the run said completed."""
    from papertrends.flows.ingest import ingest_hf_daily

    fast(home)
    with DailyPapersServer({DAY: day_items(DAY)}) as server:
        server.script(OTHER, 0, [ScriptedResponse(404, b'{"error": "Not Found"}')])
        report = ingest_hf_daily([DAY, OTHER], base_url=server.base_url, home=str(home))
    assert (report.items_loaded, report.items_quarantined) == (4, 1)
    warned = [line for line in report.summary().splitlines() if line.startswith("warning:") and "HTTP 404" in line]
    assert len(warned) == 1 and OTHER in warned[0]
