"""Benchmark: trend queries through the term index against the naive scan, on a generated corpus.

    python bench/bench_trend.py --size 1000000 [--path /tmp/bench.duckdb] [--repeat 5]

Generates `size` papers straight into a warehouse (vectorised numpy/Polars, not the per-item HF
generator): Zipf-distributed words from a 60,000-word vocabulary, ~10-word titles, ~120-word
abstracts, first list dates spread over 2021-2025, "scaling" planted rising and the phrase
"inference time scaling" planted after 2024. Then builds the term index with the same code a
load runs (warehouse.term_index.refresh) and times warm queries. `run(size)` returns the rows.

Measured 2026-11-30 at --size 2700000 on the 2-core machine shared with other jobs (load average
3-6; two runs): single word 16-36 ms, --source hf 286-516 ms, prefix 221-332 ms, three-word
phrase 255-376 ms; naive ILIKE 10.1-11.2 s (word) and 9.6 s (phrase); exact contains() scan 2.9 s.
Build: generate 217 s, insert 134 s, index 437 s, peak RSS 12 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from papertrends.transforms.terms import parse_term, search_text_expr  # noqa: E402
from papertrends.warehouse import analytics, connection, reads, term_index  # noqa: E402

VOCABULARY_SIZE = 60_000
TITLE_WORDS, ABSTRACT_WORDS = 10, 120
FIRST_DATE, DAYS = dt.date(2021, 1, 1), 5 * 365
PLANTED_WORD, PLANTED_PHRASE = "scaling", "inference time scaling"
CHUNK_PAPERS = 250_000


def _vocabulary(rng: np.random.Generator) -> pl.Series:
    """Pseudo-words (no planted word among them): 'ka', 'lomi', ... unique, lower-case."""
    syllables = np.array([c + v for c in "bdfghklmnprstvz" for v in "aeiou"])
    parts = rng.integers(0, len(syllables), size=(VOCABULARY_SIZE * 2, 4))
    lengths = rng.integers(1, 5, size=VOCABULARY_SIZE * 2)
    words = ["".join(syllables[row[:n]]) for row, n in zip(parts, lengths)]
    unique = list(dict.fromkeys(w for w in words if w not in PLANTED_PHRASE.split()))
    return pl.Series("word", unique[:VOCABULARY_SIZE])


def _texts(rng: np.random.Generator, vocabulary: pl.Series, rows: int, length: int) -> pl.Series:
    """`rows` texts of `length` Zipf-distributed words each."""
    ranks = np.minimum(rng.zipf(1.15, size=rows * length) - 1, len(vocabulary) - 1)
    words = vocabulary.gather(ranks)
    return pl.DataFrame({"w": words}).select(pl.col("w").reshape((rows, length)).arr.join(" ")).to_series()


def corpus(size: int, seed: int = 1, offset: int = 0, vocabulary: pl.Series | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(papers, listings) frames for `size` generated papers numbered from `offset`, in warehouse column order."""
    rng = np.random.default_rng(seed)
    vocabulary = _vocabulary(np.random.default_rng(0)) if vocabulary is None else vocabulary
    day = np.sort(rng.integers(0, DAYS, size=size))
    progress = day / DAYS
    title = _texts(rng, vocabulary, size, TITLE_WORDS)
    abstract = _texts(rng, vocabulary, size, ABSTRACT_WORDS)
    # Planted: "scaling" in 2% -> 20% of papers; the phrase in 30% of those after 2024-01-01.
    has_word = rng.random(size) < 0.02 + 0.18 * progress
    has_phrase = has_word & (day >= (dt.date(2024, 1, 1) - FIRST_DATE).days) & (rng.random(size) < 0.3)
    planted = np.where(has_phrase, PLANTED_PHRASE, np.where(has_word, PLANTED_WORD, ""))
    list_date = pl.Series(np.datetime64(FIRST_DATE) + day.astype("timedelta64[D]")).cast(pl.Date)
    fetched = pl.lit(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    papers = pl.DataFrame(
        {"paper_id": [f"{2100 + i // 100000:04d}.{i % 100000:05d}" for i in range(offset, offset + size)], "title": title,
         "abstract": abstract, "planted": planted},
    ).with_columns(abstract=pl.concat_str([pl.col("abstract"), pl.col("planted")], separator=" ")).drop("planted").with_columns(
        authors=pl.lit(["A. Author"]),
        published_at=fetched,
        github_repo=pl.lit(None, pl.String),
        project_page=pl.lit(None, pl.String),
        ai_keywords=pl.lit(None, pl.List(pl.String)),
        search_text=search_text_expr(pl.col("title"), pl.col("abstract")),
        observed_at=fetched,
    )
    listings = pl.DataFrame({"paper_id": papers["paper_id"], "list_date": list_date}).with_columns(
        source=pl.lit("hf_daily"), position=pl.lit(0, pl.Int32), upvotes=pl.Series(rng.integers(0, 50, size), dtype=pl.Int32),
        num_comments=pl.lit(0, pl.Int32), fetched_at=fetched, origin=pl.lit("bench"), raw_sha256=pl.lit("bench"),
    )
    return papers, listings


def build(path: Path, size: int, fts: bool = False) -> dict:
    """Write a generated corpus into a fresh warehouse at `path` and index it; returns timings."""
    timings = {"generate_s": 0.0, "insert_s": 0.0}
    vocabulary = _vocabulary(np.random.default_rng(0))
    con = connection.open_writer(path)
    con.execute("set enable_progress_bar = false")
    con.execute("set memory_limit = '6GB'")  # DuckDB spills beyond this; keeps a shared machine safe
    try:
        # Chunks keep memory bounded at millions of papers.
        for offset in range(0, size, CHUNK_PAPERS):
            started = time.perf_counter()
            papers, listings = corpus(min(CHUNK_PAPERS, size - offset), seed=offset + 1, offset=offset, vocabulary=vocabulary)
            timings["generate_s"] += time.perf_counter() - started
            started = time.perf_counter()
            con.register("bench_papers", papers)
            con.register("bench_listings", listings)
            con.execute("insert into papers by name select * from bench_papers")
            con.execute("insert into listings by name select * from bench_listings")
            con.unregister("bench_papers")
            con.unregister("bench_listings")
            timings["insert_s"] += time.perf_counter() - started
            del papers, listings
        started = time.perf_counter()
        # What a load runs after its commit: bounded batches, one transaction each.
        term_index.catch_up(con, fts=False)
        timings["index_s"] = time.perf_counter() - started
        con.execute("checkpoint")
        if fts:
            started = time.perf_counter()
            term_index.rebuild_fts(con)  # what every load pays to keep `search` current
            timings["fts_rebuild_s"] = time.perf_counter() - started
    finally:
        con.close()
    return timings


def _timed(function, repeat: int) -> tuple[float, object]:
    """Median wall time in ms of `repeat` warm calls (one untimed warm-up call first)."""
    result = function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times)), result


def queries(path: Path, repeat: int = 5) -> list[dict]:
    """Time warm index queries and the naive scans on an existing bench warehouse."""
    con = connection.open_reader(path)
    rows = []
    try:
        cases = [
            ("single word, monthly (index: term_counts)", [PLANTED_WORD], {}),
            ("single word, monthly, --source hf (postings)", [PLANTED_WORD], {"source": "hf"}),
            ("prefix 'scal*', monthly (postings)", ["scal*"], {}),
            ("3-word phrase, monthly (postings + positions)", [PLANTED_PHRASE], {}),
        ]
        for name, terms, filters in cases:
            ms, frame = _timed(lambda: analytics.trend(con, [analytics.parse_query(t) for t in terms], by="month", **filters), repeat)
            rows.append({"query": name, "ms": round(ms, 1), "matches": int(frame["matches"].sum())})
        for name, sql in (
            ("naive ILIKE scan, 'scaling', monthly",
             "select strftime(f.first_list_date, '%Y-%m') as period, count(*) filter (where p.title || ' ' || "
             "coalesce(p.abstract, '') ilike '%scaling%') as matches, count(*) as total from first_listings f "
             "join papers p using (paper_id) group by all"),
            ("naive ILIKE scan, phrase, monthly",
             "select strftime(f.first_list_date, '%Y-%m') as period, count(*) filter (where p.title || ' ' || "
             "coalesce(p.abstract, '') ilike '%inference time scaling%') as matches, count(*) as total "
             "from first_listings f join papers p using (paper_id) group by all"),
        ):
            ms, frame = _timed(lambda: con.execute(sql).pl(), max(1, repeat // 2))
            rows.append({"query": name, "ms": round(ms, 1), "matches": int(frame["matches"].sum())})
        ms, frame = _timed(lambda: reads.trend(con, [parse_term(PLANTED_PHRASE)], by="month"), max(1, repeat // 2))
        rows.append({"query": "exact scan, contains(search_text), phrase", "ms": round(ms, 1), "matches": int(frame["matches"].sum())})
    finally:
        con.close()
    return rows


def run(size: int, path: Path | None = None, repeat: int = 5, fts: bool = False) -> list[dict]:
    """Build a `size`-paper warehouse (in a temporary folder unless `path`) and time the queries."""
    with tempfile.TemporaryDirectory(prefix="bench-trend-") as folder:
        target = path or Path(folder) / "warehouse.duckdb"
        if target.exists():
            target.unlink()
        timings = build(target, size, fts)
        rows = [{"query": f"build: {k}", "ms": round(v * 1000, 1), "matches": None} for k, v in timings.items()]
        rows += queries(target, repeat)
        for row in rows:
            row["papers"] = size
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--path", type=Path, help="keep the warehouse here (default: a temporary folder)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--queries-only", action="store_true", help="time queries on an existing --path")
    parser.add_argument("--fts", action="store_true", help="also time one rebuild of the BM25 search index")
    args = parser.parse_args(argv)
    rows = queries(args.path, args.repeat) if args.queries_only else run(args.size, args.path, args.repeat, args.fts)
    width = max(len(r["query"]) for r in rows)
    print(f"{'query':<{width}}  {'ms':>10}  {'matches':>9}")
    for row in rows:
        matches = "" if row["matches"] is None else row["matches"]
        print(f"{row['query']:<{width}}  {row['ms']:>10.1f}  {matches:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
