"""Upvote momentum on generated data with known gains: saved files record their sightings (dated by when
they were saved), `papertrends momentum` ranks papers by upvotes gained, `--paper` gives one curve."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os

import polars as pl
import pytest
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.transforms.hf_listings import QUARANTINE_SCHEMA
from papertrends.warehouse import connection, loads

import papertrends
from tests.test_analytics import listing_rows
from tests.testsupport import warehouse_rows

DAY1, DAY5 = dt.date(2025, 3, 3), dt.date(2025, 3, 7)
GAINS = {f"2503.{i:05d}": 3 * i for i in range(1, 9)}  # paper i gains 3*i upvotes between day 1 and day 5


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Eight papers seen on day 1 and again on day 5 with known gains; one paper seen only once."""
    root = tmp_path_factory.mktemp("momentum") / "data"
    first = [(pid, DAY1, f"Paper {pid} on scaling" if i % 2 else f"Paper {pid}", "abstract", 10 + i)
             for i, pid in enumerate(GAINS, start=1)]
    again = [(pid, DAY5, title, abstract, upvotes + GAINS[pid]) for pid, _, title, abstract, upvotes in first]
    once = [("2503.09999", DAY5, "Seen once", "abstract", 500)]
    con = connection.open_writer(root / "warehouse.duckdb")
    for rows in (first, again + once):
        loads.load(con, listing_rows(rows), pl.DataFrame(schema=QUARANTINE_SCHEMA), 1)
    con.close()
    return root


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_momentum_ranks_by_known_gains(home, capsys):
    pt = papertrends.connect(home)
    ranked = pt.momentum(window="7d")
    expected = sorted(GAINS.items(), key=lambda kv: -kv[1])
    assert list(zip(ranked["paper_id"], ranked["gained"])) == expected
    assert "2503.09999" not in ranked["paper_id"].to_list()  # seen once: no gain can be known
    code, out, err = run(capsys, "--home", str(home), "momentum", "--window", "7d", "--format", "json")
    assert code == 0, err
    assert [(r["paper_id"], r["gained"]) for r in json.loads(out)] == expected


def test_window_and_term_narrow_the_ranking(home):
    pt = papertrends.connect(home)
    # Both sightings are 4 days apart: a 3-day window still gains from the sighting before it began.
    assert pt.momentum(window="3d")["gained"].to_list() == sorted(GAINS.values(), reverse=True)
    # A window that ends before the second sighting: each paper seen once so far, nothing to rank.
    until = dt.datetime.combine(DAY1, dt.time(12), dt.timezone.utc)
    assert pt.momentum(window="2d", until=until).height == 0
    scaling = pt.momentum(window="7d", term="scaling")
    assert set(scaling["paper_id"]) == {pid for i, pid in enumerate(GAINS, start=1) if i % 2}
    with pytest.raises(ValueError, match="window '7 days' is not"):
        pt.momentum(window="7 days")


def test_one_papers_curve(home, capsys):
    pid = "2503.00004"
    curve = papertrends.connect(home).upvote_curve(pid)
    assert curve["upvotes"].to_list() == [14, 14 + GAINS[pid]]
    code, out, _ = run(capsys, "--home", str(home), "momentum", "--paper", pid, "--format", "json")
    assert code == 0 and [r["upvotes"] for r in json.loads(out)] == [14, 26]
    code, _, err = run(capsys, "--home", str(home), "momentum", "--paper", "9999.99999")
    assert code == 1 and "no upvote sightings of paper 9999.99999" in err


def test_saved_files_record_upvotes_dated_by_when_they_were_saved(tmp_path, prefect_harness):
    """Before: `ingest files` recorded no upvote sightings at all, so momentum had nothing to rank."""
    from papertrends.flows.ingest import ingest_files

    items = next(iter(generate_daily_lists(DAY1, DAY1, seed=4).values()))
    later = copy.deepcopy(items)
    gains = {}
    for index, item in enumerate(later):
        item["paper"]["upvotes"] = (item["paper"].get("upvotes") or 0) + index
        gains[item["paper"]["id"]] = index
    saved = {}
    for name, body, when in (("saved-monday.json", items, dt.datetime(2025, 3, 3, 9, tzinfo=dt.timezone.utc)),
                             ("saved-friday.json", later, dt.datetime(2025, 3, 7, 18, tzinfo=dt.timezone.utc))):
        path = tmp_path / name
        path.write_text(json.dumps(body))
        os.utime(path, (when.timestamp(), when.timestamp()))
        saved[name] = (path, when)
    home = tmp_path / "data"
    for path, _ in saved.values():
        ingest_files([str(path)], list_date=DAY1.isoformat(), home=str(home))

    seen = warehouse_rows(home, "select distinct seen_at from upvote_history order by 1")
    assert [s for (s,) in seen] == [saved["saved-monday.json"][1], saved["saved-friday.json"][1]]
    count = warehouse_rows(home, "select count(*) from upvote_history")[0][0]
    assert count == 2 * len(items)
    ranked = papertrends.connect(home).momentum(window="7d", limit=1000)
    assert dict(zip(ranked["paper_id"], ranked["gained"])) == gains
