"""The raw-kind registry: every kind declared once, recognised by content, and every kind rebuilt exactly.

Real parts only: the local HF and arXiv stub servers, real files, DuckDB, Prefect's harness.
"""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import httpx
import pytest
from papertrends.cli.main import main
from papertrends.devkit.arxiv_stub_server import ArxivServer, generate_arxiv_papers
from papertrends.devkit.hf_stub_server import DailyPapersServer, papers_page_html
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from papertrends.flows.arxiv import harvest_arxiv_oai, ingest_arxiv_query
from papertrends.flows.hf import enrich_hf, ingest_hf_lists
from papertrends.flows.ingest import ingest_files
from papertrends.pipeline import registry
from papertrends.sources import kinds
from papertrends.warehouse.tables import use_internal_schema
from testsupport import warehouse_rows as rows
from testsupport import write_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2025-03-03"
# Every table whose rows come from raw/ (the run ledger aside), compared row for row after a rebuild.
DATA_TABLES = ("papers", "listings", "quarantine", "paper_sources", "first_listings", "upvote_history",
               "paper_details", "title_resolutions", "arxiv_deleted", "oai_harvests", "backfill_dates")


def fast(home, **extra):
    write_settings(home, **{"backoff_base": 0.05, "max_attempts": 2, "max_retry_wait": 1.0, "read_timeout": 10.0,
                            "arxiv_page_size": 10, "snapshot_batch_lines": 25, **extra})


def text_page(items) -> str:
    """A papers page as a browser's 'save as text' writes it (title, blank, abstract, blank)."""
    body = "".join(f"{' '.join(i['paper']['title'].split())}\n\n{' '.join(i['paper']['summary'].split())}\n\n" for i in items)
    return f"Daily Papers\nby AK and the research community\nMar 3\n{body}"


def tables(home) -> dict:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    use_internal_schema(con)  # oai_harvests and backfill_dates are bookkeeping, in their own schema
    try:
        out = {}
        for table in DATA_TABLES:
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_name = ? order by ordinal_position", [table]).fetchall()]
            # first_run_id is a run number.
            kept = ", ".join(c for c in columns if c not in ("first_run_id",))
            out[table] = con.execute(f"select {kept} from {table} order by all").fetchall()
        return out
    finally:
        con.close()


def test_every_kind_name_is_declared_once_in_the_registry():
    names = {v for k, v in vars(kinds).items() if k.startswith("KIND_")}
    assert names == set(registry.KINDS)
    assert {row["loads"] for row in registry.described()} == {"lake", "stream", "details", "titles"}


def test_saved_files_are_recognised_by_content_not_by_name(tmp_path):
    papers = generate_arxiv_papers(3, seed=5)
    with ArxivServer(papers) as server:
        atom = httpx.get(server.api_url, params={"search_query": "all", "start": 0, "max_results": 10}).content
        oai = httpx.get(server.oai_url, params={"verb": "ListRecords", "metadataPrefix": "arXiv"}).content
    cases = {
        "feed.dat": (atom, kinds.KIND_ARXIV_API),
        "oai-page": (oai, kinds.KIND_ARXIV_OAI),
        "records.txt": ("\n".join(json.dumps(p) for p in papers).encode(), kinds.KIND_ARXIV_SNAPSHOT),
        "daily.bin": (b'[{"paper": {"id": "2503.00001"}}]', kinds.KIND_HF_DAILY_FILE),
        "page": (b"<!DOCTYPE html><html><body></body></html>", kinds.KIND_HF_HTML),
    }
    for name, (body, expected) in cases.items():
        (tmp_path / name).write_bytes(body)
        kind, _ = registry.recognised(tmp_path / name)
        assert kind is not None and kind.name == expected, name
    (tmp_path / "notes.md").write_text("# not data\n")
    (tmp_path / "empty.json").write_bytes(b"")
    assert registry.recognised(tmp_path / "notes.md")[0] is None
    assert registry.recognised(tmp_path / "empty.json") == (None, "empty file")


def test_a_folder_mixing_every_saved_kind_is_loaded_and_skipped_files_are_named(home, tmp_path):
    fast(home)
    folder = tmp_path / "saved"
    (folder / "hf").mkdir(parents=True)
    lists = generate_daily_lists(dt.date(2025, 3, 3), dt.date(2025, 3, 4), seed=4, papers_per_day=(3, 3))
    write_daily_files(lists, folder / "hf")  # 2 files, 6 items
    (folder / "2025-03-05.html").write_bytes(papers_page_html(lists["2025-03-03"][:2], "Mar 5"))  # 2 items
    (folder / "2025-03-03.txt").write_text(text_page(lists["2025-03-03"]))  # 3 items
    papers = generate_arxiv_papers(24, seed=6)
    with ArxivServer(papers[:12], oai_page_size=20) as server:
        (folder / "query-page.xml").write_bytes(
            httpx.get(server.api_url, params={"search_query": "all", "start": 0, "max_results": 5}).content)  # 5
        (folder / "oai-response").write_bytes(
            httpx.get(server.oai_url, params={"verb": "ListRecords", "metadataPrefix": "arXiv"}).content)  # 12
    (folder / "dump.data").write_text("\n".join(json.dumps(p) for p in papers[12:]) + "\n")  # 12 lines
    (folder / "README.md").write_text("notes, not data\n")
    (folder / "empty.json").write_bytes(b"")

    report = ingest_files([str(folder)], home=str(home))

    # HF JSON 6 + HTML 2 + text page 3 (dated by its name) + Atom 5 + OAI 12 + snapshot 12, nothing lost.
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (40, 40, 0)
    skipped = [w for w in report.warnings if w.startswith("skipped ")]
    assert sorted(skipped) == sorted([f"skipped {folder / 'README.md'}: " + registry.recognised(folder / "README.md")[1],
                                      f"skipped {folder / 'empty.json'}: empty file"])
    landed_kinds = sorted(json.loads(p.read_text())["kind"] for p in (home / "raw").rglob("*.meta.json"))
    assert landed_kinds == sorted([kinds.KIND_HF_DAILY_FILE] * 2 + [kinds.KIND_HF_HTML, kinds.KIND_HF_PAPERS_TEXT,
                                   kinds.KIND_ARXIV_API, kinds.KIND_ARXIV_OAI, kinds.KIND_ARXIV_SNAPSHOT])
    # The API page's 5 papers are among the OAI page's 12: one listing each, 24 papers in all.
    assert rows(home, "select count(*) from listings where source = 'arxiv'") == [(12 + 12,)]
    assert rows(home, "select count(*) from listings where source = 'hf_page'") == [(3,)]
    # A batch of saved files is a few lake files (one per table and month), not one per input.
    lake_files = list((home / "lake" / "listings").rglob("*.parquet"))
    months = {p.parent.name for p in lake_files}
    assert len(lake_files) == len(months)


def every_kind(home, tmp_path):
    """A data root filled by every raw kind, through the real flows and the stub servers."""
    lists = generate_daily_lists(dt.date(2025, 3, 3), dt.date(2025, 3, 9), seed=7, papers_per_day=(3, 5))
    items = lists[DAY]
    page = tmp_path / "page.txt"
    page.write_text(text_page(items + [{"paper": {"title": "A Paper Nobody Indexed", "summary": "x."}}]))
    assert ingest_files([str(page)], list_date=DAY, home=str(home)).items_loaded == len(items) + 1
    with DailyPapersServer(lists) as server:
        ingest_hf_lists([DAY, "2025-03-04"], weeks=["2025-W10"], months=["2025-03"], trending=True,
                        base_url=server.base_url, home=str(home))
        ingest_hf_lists(["2025-03-05"], html=True, base_url=server.base_url, home=str(home))
        ids = sorted(i["paper"]["id"] for i in items)
        server.missing_papers.add(ids[1])
        enrich_hf(ids, resolve=True, base_url=server.base_url, home=str(home))
    saved = tmp_path / "saved"
    write_daily_files({"2025-03-06": lists["2025-03-06"]}, saved)
    (saved / "2025-03-07.json").write_text("[1, 2]")  # quarantined items
    papers = generate_arxiv_papers(40, seed=8)
    with ArxivServer(papers[:25], oai_page_size=10, deleted_every=6) as server:
        ingest_arxiv_query("cat:cs.LG", base_url=server.api_url, home=str(home))
        harvest_arxiv_oai(base_url=server.oai_url, home=str(home))
    snapshot = saved / "arxiv-metadata-oai-snapshot.json"
    snapshot.write_text("\n".join(json.dumps(p) for p in papers[20:]) + "\nnot json\n")  # overlaps the API/OAI papers
    ingest_files([str(saved)], home=str(home))


def test_rebuild_reproduces_every_table_from_a_root_filled_by_every_kind(home, tmp_path, capsys):
    fast(home)
    every_kind(home, tmp_path)
    kinds_landed = {json.loads(p.read_text())["kind"] for p in (home / "raw").rglob("*.meta.json")}
    assert kinds_landed == set(registry.KINDS) - {kinds.KIND_UNREADABLE}
    before = tables(home)
    assert all(before[t] for t in ("papers", "listings", "quarantine", "paper_details", "title_resolutions",
                                   "arxiv_deleted", "upvote_history", "oai_harvests"))
    capsys.readouterr()
    assert main(["--home", str(home), "rebuild"]) == 0
    after = tables(home)
    for table in DATA_TABLES:
        changed = [(b, a) for b, a in zip(before[table], after[table]) if b != a]
        named = [[(i, x, y) for i, (x, y) in enumerate(zip(b, a)) if x != y] for b, a in changed[:3]]
        assert after[table] == before[table], (table, len(before[table]), len(after[table]), named)
    assert "no parser" not in capsys.readouterr().out


def test_a_rebuild_that_would_hold_less_refuses_to_swap_and_keeps_the_backup(home, tmp_path, capsys):
    fast(home)
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 4), seed=3), tmp_path / "files")
    assert main(["--home", str(home), "ingest", "files", str(tmp_path / "files")]) == 0
    assert main(["--home", str(home), "rebuild"]) == 0
    backup = home / "warehouse.before-rebuild.duckdb"
    backup_bytes = backup.read_bytes()
    before = tables(home)
    # Part of raw/ goes missing (a lost disk, a bad copy): a rebuild now would shrink the warehouse.
    victim = sorted(p for p in (home / "raw").rglob("*.json") if not p.name.endswith(".meta.json"))[0]
    victim.with_name(victim.name + ".meta.json").unlink()
    victim.unlink()
    capsys.readouterr()
    assert main(["--home", str(home), "rebuild"]) != 0
    err = capsys.readouterr().err
    assert "rebuild refused" in err and "listings" in err
    assert tables(home) == before
    assert backup.read_bytes() == backup_bytes
    assert not (home / "lake.rebuild").exists() and not (home / "warehouse.rebuild.duckdb").exists()


def test_a_killed_rebuild_leaves_the_live_warehouse_and_the_next_writer_sweeps_its_leftovers(home, tmp_path):
    fast(home, snapshot_batch_lines=5)
    papers = generate_arxiv_papers(400, seed=9)
    snapshot = tmp_path / "snap.jsonl"
    snapshot.write_text("\n".join(json.dumps(p) for p in papers) + "\n")
    assert main(["--home", str(home), "ingest", "files", str(snapshot)]) == 0
    before = tables(home)
    env = {**os.environ, "PAPERTRENDS_HOME": str(home)}
    child = subprocess.Popen([sys.executable, "-m", "papertrends.cli.main", "rebuild"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=600)  # a temporary Prefect server starts first
        while not (home / "warehouse.rebuild.duckdb").exists() or not (home / "lake.rebuild").exists():
            assert child.poll() is None, "the rebuild ended before it could be killed"
            assert dt.datetime.now() < deadline, "the rebuild never started"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert tables(home) == before
    assert (home / "lake.rebuild").exists() or (home / "warehouse.rebuild.duckdb").exists()
    write_daily_files(generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 1), seed=3), tmp_path / "files")
    assert main(["--home", str(home), "ingest", "files", str(tmp_path / "files")]) == 0
    assert not (home / "lake.rebuild").exists() and not (home / "warehouse.rebuild.duckdb").exists()
    assert not (home / "warehouse.rebuild.duckdb.wal").exists()
