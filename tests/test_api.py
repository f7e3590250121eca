"""The Python API (`papertrends.connect`) gives the CLI's answers, on a warehouse of generated lists."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists, planted_truth
from papertrends.transforms.hf_listings import QUARANTINE_SCHEMA
from papertrends.warehouse import connection, loads, term_index

import papertrends
from tests.test_analytics import listing_rows

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Eight months of generated daily lists ("scaling" planted rising, "tractable" flat)."""
    root = tmp_path_factory.mktemp("api") / "data"
    lists = generate_daily_lists(dt.date(2024, 1, 1), dt.date(2024, 8, 31), seed=3)
    rows, seen = [], set()
    for day, items in sorted(lists.items()):
        for item in items:
            paper = item["paper"]
            if paper["id"] not in seen:
                seen.add(paper["id"])
                rows.append((paper["id"], dt.date.fromisoformat(day), paper["title"], paper["summary"], paper["upvotes"]))
    con = connection.open_writer(root / "warehouse.duckdb")
    loads.load(con, listing_rows(rows), pl.DataFrame(schema=QUARANTINE_SCHEMA), 1)
    term_index.rebuild_fts_if_stale(con)
    con.close()
    return root, planted_truth(lists), rows


def cli_json(capsys, root, *argv):
    """What `papertrends --home root ARGV --format json` prints, parsed."""
    code = main(["--home", str(root), *argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def as_json(frame: pl.DataFrame) -> list[dict]:
    """A frame as the CLI's JSON shows it (dates as ISO text)."""
    return json.loads(json.dumps(frame.to_dicts(), default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))


def test_import_is_light_and_connect_is_read_only(home):
    root, *_ = home
    probe = ("import sys, papertrends; heavy = [m for m in ('duckdb', 'polars', 'prefect', 'httpx', 'numpy') "
             "if m in sys.modules]; pt = papertrends.connect(sys.argv[1]); print(heavy, pt.read_only, "
             "'prefect' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] True False"


def test_trend_equals_the_cli(home, capsys):
    root, truth, rows = home
    pt = papertrends.connect(root)
    frame = pt.trend("scaling", "tractable|intractable", by="quarter", smooth=2)
    assert frame.columns[:5] == ["period", "term", "matches", "total", "share"]
    expected = cli_json(capsys, root, "trend", "scaling", "tractable|intractable", "--by", "quarter", "--smooth", "2")
    assert as_json(frame.drop("period_start")) == expected
    scaling = frame.filter(pl.col("term") == "scaling")
    assert scaling["matches"].sum() == sum(truth[r[0]]["scaling"] for r in rows)
    # A list of terms is the same call; filters pass through unchanged.
    assert pt.trend(["scaling"], since="2024-03-01", min_upvotes=5).drop("period_start").to_dicts() == [
        {k: v for k, v in r.items()} for r in cli_json(capsys, root, "trend", "scaling", "--since", "2024-03-01",
                                                        "--min-upvotes", "5")
    ]


def test_trend_interval_brackets_the_share_and_is_wider_for_small_periods(home):
    root, *_ = home
    frame = papertrends.connect(root).trend("scaling", interval=True).filter(pl.col("total") > 0)
    assert frame.filter((pl.col("share_low") > pl.col("share")) | (pl.col("share_high") < pl.col("share"))).height == 0
    widths = frame.with_columns(width=pl.col("share_high") - pl.col("share_low")).sort("total")
    assert widths["width"][0] > widths["width"][-1]


def test_verdict_is_typed_and_equals_the_cli(home, capsys):
    root, *_ = home
    pt = papertrends.connect(root)
    verdict = pt.verdict("scaling")
    assert verdict.verdict == "rising" and verdict.ci_low > 1
    # The CLI's machine formats give the verdict's fields on every row of its term (`verdict_` where
    # a field shares a row column's name).
    row = cli_json(capsys, root, "trend", "scaling", "--verdict")[0]
    assert {k: row.get(f"verdict_{k}", row.get(k)) for k in dataclasses.asdict(verdict)} == dataclasses.asdict(verdict)
    assert pt.verdict("tractable").verdict == "flat"


def test_papers_search_rising_equal_the_cli(home, capsys):
    root, truth, rows = home
    pt = papertrends.connect(root)
    papers = pt.papers("scaling", period="2024-07", limit=100000)
    assert set(papers["paper_id"]) == {r[0] for r in rows if r[1].month == 7 and truth[r[0]]["scaling"]}
    assert as_json(papers) == cli_json(capsys, root, "papers", "--term", "scaling", "--period", "2024-07", "--limit", "100000")
    assert as_json(pt.search("scaling laws", limit=7)) == cli_json(capsys, root, "search", "scaling laws", "--limit", "7")
    assert as_json(pt.rising(window=2)) == cli_json(capsys, root, "rising", "--window", "2")


def test_sql_and_status_equal_the_cli_and_writes_are_refused(home, capsys):
    root, *_ = home
    pt = papertrends.connect(root)
    query = "select paper_id, title from papers order by paper_id limit 5"
    assert as_json(pt.sql(query)) == cli_json(capsys, root, "sql", query)
    assert pt.sql("select count(*) as n from papers where paper_id > $p", {"p": "2403"})["n"][0] > 0
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    for statement in ("delete from papers", "create table x as select 1"):
        with pytest.raises(Exception, match="refused"):
            pt.sql(statement)
    with pytest.raises(Exception, match="refused"):
        pt.sql("delete from papers where paper_id = $p", {"p": "x"})
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before
    status = pt.status()
    code = main(["--home", str(root), "status", "--format", "json"])
    cli = json.loads(capsys.readouterr().out)
    assert code == 0 and status["papers"] == cli["papers"] == len(home[2])
    assert as_json(status["by_source"]) == cli["by_source"]


def test_errors_are_one_line_values(home):
    root, *_ = home
    pt = papertrends.connect(root)
    with pytest.raises(ValueError, match="--by must be one of"):
        pt.trend("scaling", by="decade")
    with pytest.raises(ValueError, match="period 'March' is none of"):
        pt.papers("scaling", period="March")
    with pytest.raises(Exception, match="no warehouse at"):
        papertrends.connect(root / "nowhere").trend("scaling")


def test_keep_open_holds_one_connection_until_closed(home):
    root, *_ = home
    with papertrends.connect(root, keep_open=True) as pt:
        first = pt.trend("scaling")
        assert pt._con is not None
        assert pt.trend("scaling").equals(first)
    assert pt._con is None


def test_two_handles_in_one_process_both_read(home):
    """A notebook may hold one handle open (or run the explorer) and query through another: the
    second read-only connection shares the first one's locked-down database instance."""
    root, *_ = home
    with papertrends.connect(root, keep_open=True) as held:
        first = held.trend("scaling")
        other = papertrends.connect(root)
        assert other.trend("scaling").equals(first)
        assert other.search("scaling", limit=3).height == 3
        with pytest.raises(Exception, match="refused|disabled|not allowed|external"):
            other.sql("select * from read_text('/etc/hostname')")
