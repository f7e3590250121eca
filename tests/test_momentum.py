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


# The momentum query as first written (a look-up of the window's papers, titles joined to every
# ranked paper): the reference the one-pass query must equal.
REFERENCE_SQL = """
with bounds as (
    select coalesce($until::timestamptz, max(seen_at)) as end_at,
           coalesce($until::timestamptz, max(seen_at)) - to_seconds($seconds::bigint) as start_at
    from upvote_history
),

-- Several lists can see a paper at the same moment (a daily and a weekly list); upvotes are
-- one number per paper on Hugging Face, so the largest reading at a moment stands for it.
sightings as (
    select h.paper_id, h.seen_at, max(h.upvotes) as upvotes
    from upvote_history as h, bounds as b
    where h.upvotes is not null and h.seen_at <= b.end_at
        -- only papers seen inside the window: their earlier sightings, not the whole history
        and h.paper_id in (
            select w.paper_id from upvote_history as w, bounds as wb
            where w.seen_at > wb.start_at and w.seen_at <= wb.end_at
        )
        group by h.paper_id, h.seen_at
),

per_paper as (
    select
        s.paper_id,
        arg_max(s.upvotes, s.seen_at) filter (where s.seen_at <= b.start_at) as upvotes_before,
        arg_min(s.upvotes, s.seen_at) filter (where s.seen_at > b.start_at) as upvotes_first,
        arg_max(s.upvotes, s.seen_at) filter (where s.seen_at > b.start_at) as upvotes_end,
        count(*) filter (where s.seen_at > b.start_at) as sightings,
        count(*) as sightings_ever,
        max(s.seen_at) as last_seen_at
    from sightings as s, bounds as b
    group by s.paper_id
),

final as (
    select
        m.paper_id,
        p.title,
        coalesce(m.upvotes_before, m.upvotes_first) as upvotes_start,
        m.upvotes_end,
        m.upvotes_end - coalesce(m.upvotes_before, m.upvotes_first) as gained,
        m.sightings,
        m.last_seen_at,
        paper_link(m.paper_id) as link
    from per_paper as m
    left join papers as p using (paper_id)
    where m.upvotes_end is not null and m.sightings_ever >= 2
)

select * from final
order by gained desc, upvotes_end desc, paper_id
limit $limit
"""


def test_momentum_equals_the_reference_query_on_random_sightings(tmp_path):
    """Ties at one moment across lists, readings without upvotes, papers seen once or only before
    the window, windows ending in the past: the same rows as the reference query."""
    import random

    from polars.testing import assert_frame_equal

    from papertrends.warehouse import momentum

    rng = random.Random(4)
    con = connection.open_writer(tmp_path / "warehouse.duckdb")
    papers = [(f"2504.{i:05d}", dt.date(2025, 4, 1), f"Paper {i}", "abstract", i) for i in range(60)]
    loads.load(con, listing_rows(papers), pl.DataFrame(schema=QUARANTINE_SCHEMA), 1)
    con.execute("delete from upvote_history")
    start = dt.datetime(2025, 4, 1, tzinfo=dt.timezone.utc)
    rows = {}
    for _ in range(700):
        paper = f"2504.{rng.randrange(70):05d}"  # a few papers never loaded: no title
        seen = start + dt.timedelta(hours=6 * rng.randrange(80))
        upvotes = None if rng.random() < 0.1 else rng.randrange(100)
        for source in rng.sample(["hf_daily", "hf_weekly", "hf_monthly"], rng.randint(1, 3)):
            rows[(paper, seen, source)] = upvotes if rng.random() < 0.7 else rng.randrange(100)
    con.executemany("insert into upvote_history (paper_id, seen_at, source, upvotes, num_comments, raw_sha256) "
                    "values (?, ?, ?, ?, 0, 'test')", [[*key, upvotes] for key, upvotes in rows.items()])
    for seconds in (6 * 3600, 86400, 3 * 86400, 30 * 86400):
        for until in (None, start + dt.timedelta(days=9), start + dt.timedelta(days=2, hours=3)):
            parameters = {"seconds": seconds, "until": until, "limit": 1000}
            expected = con.execute(REFERENCE_SQL, parameters).pl()
            found = momentum.momentum(con, dt.timedelta(seconds=seconds), until=until, limit=1000)
            assert_frame_equal(found, expected)
            assert_frame_equal(momentum.momentum(con, dt.timedelta(seconds=seconds), until=until, limit=5), expected.head(5))
    assert expected.height > 10
    con.close()

