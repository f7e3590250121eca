"""The analytics commands end to end on a warehouse loaded from generated HF lists (known trends)."""

from __future__ import annotations

import csv
import datetime as dt
import io
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

from tests.test_analytics import listing_rows

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A warehouse holding eight months of generated daily lists ("scaling" planted rising, "tractable" flat)."""
    root = tmp_path_factory.mktemp("analytics-cli") / "data"
    lists = generate_daily_lists(dt.date(2024, 1, 1), dt.date(2024, 8, 31), seed=3)
    rows, seen = [], set()
    for day, items in sorted(lists.items()):
        for item in items:
            paper = item["paper"]
            if paper["id"] in seen:
                continue
            seen.add(paper["id"])
            rows.append((paper["id"], dt.date.fromisoformat(day), paper["title"], paper["summary"], paper["upvotes"]))
    con = connection.open_writer(root / "warehouse.duckdb")
    loads.load(con, listing_rows(rows), pl.DataFrame(schema=QUARANTINE_SCHEMA), 1)
    term_index.rebuild_fts_if_stale(con)  # what the end of every ingest run does
    con.close()
    return root, planted_truth(lists), rows


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_trend_compares_terms_with_smoothing(home, capsys):
    root, truth, rows = home
    code, out, err = run(capsys, "--home", str(root), "trend", "scaling", "tractable|intractable", "--smooth", "3",
                         "--format", "csv")
    assert code == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert list(table[0]) == ["period", "term", "matches", "total", "share", "share_smoothed"]
    scaling = [r for r in table if r["term"] == "scaling"]
    assert len(scaling) == 8
    assert sum(int(r["matches"]) for r in scaling) == sum(truth[r[0]]["scaling"] for r in rows)


def test_verdict_says_scaling_rises_and_tractable_is_flat(home, capsys):
    root, *_ = home
    code, out, err = run(capsys, "--home", str(root), "trend", "scaling", "tractable", "--verdict", "--format", "json")
    assert code == 0, err
    verdicts = {v["term"]: v for v in json.loads(out)}
    assert verdicts["scaling"]["verdict"] == "rising" and verdicts["scaling"]["ci_low"] > 1
    assert verdicts["tractable"]["verdict"] == "flat"
    code, out, _ = run(capsys, "--home", str(root), "trend", "scaling", "--verdict", "--since", "2024-08-01")
    assert "scaling: too little data to say" in out
    code, out, _ = run(capsys, "--home", str(root), "trend", "scaling", "--verdict", "--by", "quarter")
    assert "scaling: " in out.splitlines()[-1]


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html"])
def test_trend_chart_files(home, capsys, tmp_path, suffix):
    root, *_ = home
    chart = tmp_path / f"chart{suffix}"
    code, out, err = run(capsys, "--home", str(root), "trend", "scaling", "tractable", "--smooth", "3", "--chart", str(chart))
    assert code == 0, err
    assert chart.stat().st_size > 5000 and f"chart: {chart}" in err


def test_papers_rising_and_search_commands(home, capsys):
    root, truth, rows = home
    code, out, _ = run(capsys, "--home", str(root), "papers", "--term", "scaling", "--period", "2024-07", "--limit", "100000", "--format", "json")
    listed = json.loads(out)
    expected = {r[0] for r in rows if r[1].month == 7 and truth[r[0]]["scaling"]}
    assert code == 0 and {p["paper_id"] for p in listed} == expected
    code, out, _ = run(capsys, "--home", str(root), "rising", "--window", "3", "--format", "json")
    assert code == 0 and json.loads(out)
    code, out, _ = run(capsys, "--home", str(root), "search", "scaling", "--limit", "5", "--format", "json")
    hits = json.loads(out)
    assert code == 0 and len(hits) == 5
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    code, _, err = run(capsys, "--home", str(root), "papers", "--term", "x", "--period", "March")
    assert code == 1 and "period 'March' is none of" in err


def test_analytics_commands_neither_import_prefect_nor_write(home):
    root, *_ = home
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}
    probe = (
        "import sys; from papertrends.cli.main import main; h = sys.argv[1]; "
        "codes = [main(['--home', h, 'trend', 'scaling', '--verdict', '--source', 'hf']), "
        "main(['--home', h, 'papers', '--term', 'scaling', '--period', '2024-03']), "
        "main(['--home', h, 'rising']), main(['--home', h, 'search', 'scaling laws'])]; "
        "print('CODES', codes, 'prefect' in sys.modules, 'httpx' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "CODES [0, 0, 0, 0] False False"
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trend", "*scaling"], "'*' may only end a term, once"),
        (["trend", "scaling", "scal*ing"], "term 'scal*ing': '*' may only end a term"),
        (["papers", "--term", "scaling||tractable", "--period", "2024-03"], "empty alternative around '|'"),
        (["trend", "(scaling|tractable) laws"], "parentheses are not supported"),
    ],
)
def test_unsupported_query_syntax_is_one_line_error(home, capsys, argv, message):
    root, *_ = home
    code, out, err = run(capsys, "--home", str(root), *argv)
    assert code != 0 and out == ""
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_verdict_json_carries_the_likelihood_ratio_verdict(home, capsys):
    root, *_ = home
    code, out, err = run(capsys, "--home", str(root), "trend", "scaling", "--verdict", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)  # per-period rows, each carrying its term's verdict columns
    assert len(rows) > 1 and len({(r["verdict"], r["ci_low"], r["p_value"], r["note"]) for r in rows}) == 1
    verdict = rows[0]
    assert verdict["verdict"] == "rising" and verdict["ci_low"] > 1 and verdict["p_value"] < 0.05
    assert "likelihood-ratio test and profile-likelihood interval" in verdict["note"]
