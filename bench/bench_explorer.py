"""Benchmark: server time of each explorer interaction on a generated warehouse.

    python bench/bench_explorer.py --size 100000 [--path /tmp/bench/warehouse.duckdb] [--repeat 5]

Builds the warehouse with bench_trend.build (the same generated corpus, term index and BM25 index),
adds upvote sightings (every paper seen on its list date and three days later, with a gain) so
momentum has data, then calls each endpoint of the explorer app in-process (Starlette's test
client: no network) and reports the median of the server time each answer carries (`ms`: from
the request reaching the endpoint to its JSON, the warehouse opened read-only per request).
The issue's target: under 200 ms per interaction at 2.7M papers.

Reports per interaction the median and 95th percentile of server time, and the median CPU time of
the process over the request (all DuckDB threads): wall time on this shared machine is several
times the work, CPU time is not inflated by other jobs as much. On a quiet 2-core machine the
server time lies between CPU/2 (both cores busy) and CPU. Upvote sightings: every paper seen on its
list date and three days later, appended in time order (as daily ingests append them), so a 7-day
window holds about ten days of papers; the 52-week window is the large case. (Until 2026-12-03 the
sightings were all dated at one fetch moment, so every paper was in every window.) A warehouse
prepared with the old sightings gets them dated by `derive`, which also builds the stored rising
table (rising_store.refresh, what each load now runs after its term index catch-up) and times it.

Measured 2026-12-03 (branch explorer2), load average 18-24 on 2 cores, CPU ms p50, before -> after:
                                            100k papers     300k papers (before: previous session,
                                                                         load ~16, rising: this one)
  trend one word monthly                      56 -> 73         47 -> 82    (unchanged code; load)
  trend 3 terms (word, prefix, phrase)        94 -> 121       147 -> 185   (unchanged code; load)
  trend weekly, hf, upvotes >= 5              76 -> 106       122 -> 177   (unchanged code; load)
  verdict of 3 terms, first call             437 -> 80       609 -> 106
  papers of a point                           52 -> 58        118 -> 131   (unchanged code; load)
  rising, first call                         943 -> 16      4,407 -> 25    (stored table; 3,439 last session)
  search 'scaling laws'                      139 -> 147       268 -> 248   (unchanged code; load)
  momentum 7d                                139 -> 42        542 -> 84    (before: every paper in the window)
  momentum 7d, old vs new query, same dated
  sightings (tmp script, 3 warm calls)       140 -> 17        690 -> 92
  momentum 52 weeks                               90               208
  rising_store.refresh (per load)                 7.1 s            23.3 s  (wall at load 24; ~1.7 s quiet at 100k)
The verdict fits the frame the chart drew (the page asks for the trend, then the verdict): ~25-35 ms
of fits per monthly term at load 20+ (~15 ms quiet). Rows marked "unchanged code" move with the
machine's load (a one-word trend measured 56, 73 and 85 on the same code and warehouse).
What still grows with the corpus: papers of a point and the trend of a phrase, prefix or filtered
population (the postings of the query's words over all time are read, then joined with the
period's papers: term_postings is ordered by word and paper key, not date); search (BM25 scores
every paper holding a query word); momentum (the readings before the window of the window's
papers: a semi join over the history before the window). Rising and the verdict no longer do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_trend  # noqa: E402
from papertrends.warehouse import connection, rising_store, term_index  # noqa: E402

# Every paper seen on its list date (06:00) and three days later with a gain, appended in time
# order as a daily ingest appends them: a 7-day window holds the last ten days' papers.
SIGHTINGS_SQL = """
insert or ignore into upvote_history by name
select * from (
    select paper_id, list_date::timestamptz + interval 6 hour as seen_at, source, coalesce(upvotes, 0) as upvotes,
           0 as num_comments, 'bench' as raw_sha256
    from listings where source = 'hf_daily'
    union all
    select paper_id, list_date::timestamptz + interval 3 day + interval 6 hour, source,
           coalesce(upvotes, 0) + (hash(paper_id) % 50)::integer, 0, 'bench'
    from listings where source = 'hf_daily'
)
order by seen_at, paper_id
"""

INTERACTIONS = [
    ("open the page (/)", "/", None),
    ("trend: one word, monthly", "/api/trend?terms=scaling&by=month", None),
    ("trend: 3 terms (word, prefix, phrase), monthly", "/api/trend?terms=scaling,tractab*,inference%20time%20scaling", None),
    ("trend: one word, weekly, --source hf --min-upvotes 5", "/api/trend?terms=scaling&by=week&source=hf&min_upvotes=5", None),
    ("verdict of 3 terms (regression + change point), first time", "/api/verdict?terms=scaling,tractab*,inference%20time%20scaling", "first"),
    ("verdict of 3 terms, again (cached per warehouse state)", "/api/verdict?terms=scaling,tractab*,inference%20time%20scaling", None),
    ("click a point: papers of 'scaling' in {period}", "/api/papers?term=scaling&period={period}", None),
    ("rising panel, first time (uncached)", "/api/rising?by=month", "first"),
    ("rising panel, again (cached per warehouse state)", "/api/rising?by=month", None),
    ("search box: BM25 'scaling laws'", "/api/search?q=scaling%20laws", None),
    ("momentum panel, 7 days", "/api/momentum?window=7d", None),
    ("momentum, 52 weeks (a year of papers in the window)", "/api/momentum?window=52w", None),
    ("one paper's upvote curve", "/api/curve?paper_id={paper}", None),
]


def prepare(path: Path, size: int) -> None:
    """A warehouse of `size` generated papers with search index and upvote sightings."""
    bench_trend.build(path, size, fts=True)
    con = connection.open_writer(path)
    try:
        con.execute(SIGHTINGS_SQL)
    finally:
        con.close()


def derive(path: Path) -> dict:
    """Build the derived tables the explorer reads that an older warehouse may lack; returns seconds per table.

    term_tf (the BM25 index's per-word rows, term_index.build_term_tf) comes with every rebuild of
    the search index since it exists; a warehouse indexed before gets it here, timed.
    """
    con = connection.open_writer(path)
    timings = {}
    try:
        # A warehouse prepared before the sightings were dated by list date (all at one fetch
        # moment, so every paper was in every window) gets them again, dated.
        moments = con.execute("select count(distinct seen_at) from upvote_history where raw_sha256 = 'bench'").fetchone()[0]
        if moments <= 2:
            con.execute("delete from upvote_history where raw_sha256 = 'bench'")
            con.execute(SIGHTINGS_SQL)
            con.execute("checkpoint")
            timings["sightings_dated"] = True
        term_index.load_fts(con)
        has = con.execute("select count(*) from duckdb_tables() where schema_name = 'fts_main_papers' "
                          "and table_name = 'term_tf'").fetchone()[0]
        if not has:
            started = time.perf_counter()
            term_index.build_term_tf(con)
            con.execute("checkpoint")
            timings["term_tf_s"] = round(time.perf_counter() - started, 1)
        # What every load now pays after its term index catch-up: the stored rising table.
        started = time.perf_counter()
        if rising_store.refresh(con):
            timings["rising_store_s"] = round(time.perf_counter() - started, 1)
    finally:
        con.close()
    return timings


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def measure(path: Path, repeat: int) -> list[dict]:
    from starlette.testclient import TestClient

    from papertrends.explorer.app import create_app

    client = TestClient(create_app(path.parent))
    last = client.get("/api/trend?terms=scaling").json()["series"][0]["points"][-2]["period"]
    paper = client.get("/api/momentum?window=7d").json()["momentum"][0]["paper_id"]
    rows = []
    for name, template, mode in INTERACTIONS:
        url = template.format(period=last, paper=paper)
        name = name.format(period=last)
        times, walls, cpus = [], [], []
        for attempt in range(1 if mode == "first" else repeat + 1):
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get(url)
            wall = (time.perf_counter() - started) * 1000
            cpu = (time.process_time() - cpu_started) * 1000
            assert response.status_code == 200, (url, response.text[:200])
            server = response.json()["ms"] if url.startswith("/api/") else wall
            if mode == "first" or attempt > 0:  # attempt 0 warms caches, as a user's second click would
                times.append(server)
                walls.append(wall)
                cpus.append(cpu)
        rows.append({"interaction": name, "server_ms": round(statistics.median(times), 1),
                     "server_p95_ms": round(_p95(times), 1), "wall_ms": round(statistics.median(walls), 1),
                     "cpu_ms": round(statistics.median(cpus), 1)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--path", type=Path, help="keep the warehouse here (default: a temporary folder)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--queries-only", action="store_true", help="measure an existing --path")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-explorer-") as folder:
        path = args.path or Path(folder) / "warehouse.duckdb"
        if not args.queries_only:
            if path.exists():
                path.unlink()
            started = time.perf_counter()
            prepare(path, args.size)
            print(f"built {args.size} papers in {time.perf_counter() - started:.0f} s")
        derived = derive(path)
        if derived:
            print(f"derived tables built: {derived}")
        rows = measure(path, args.repeat)
    width = max(len(r["interaction"]) for r in rows)
    # CPU ms: the process's CPU time over the request (all DuckDB threads): the work, which a
    # machine shared with other jobs does not inflate the way it inflates server (wall) time.
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'interaction':<{width}}  {'server p50':>10}  {'server p95':>10}  {'wall p50':>8}  {'CPU p50':>8}  target 200 ms")
    for row in rows:
        met = "met" if row["server_p95_ms"] < 200 else "MISSED"
        print(f"{row['interaction']:<{width}}  {row['server_ms']:>10.1f}  {row['server_p95_ms']:>10.1f}  "
              f"{row['wall_ms']:>8.1f}  {row['cpu_ms']:>8.1f}  {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
