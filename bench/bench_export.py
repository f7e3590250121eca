"""Benchmark: peak memory and time of `papertrends export` on a large generated warehouse.

`run(size)` builds (once, cached) a warehouse of `size` papers with realistic field lengths
(~1 KB abstracts, author lists, keywords; one listing per paper plus 2% relists over two years),
then runs several exports, each in its own subprocess, and measures that process's wall time and
peak RSS (VmHWM). Usage: python bench/bench_export.py --size 1000000
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Each case: (name, export arguments). All read the same warehouse.
CASES = [
    ("papers-parquet", ["--table", "papers"]),
    ("papers-hf", ["--table", "papers", "--format", "hf"]),
    ("papers-jsonl", ["--table", "papers", "--format", "jsonl"]),
    ("listings-parquet-by-month", ["--query", "select *, strftime(list_date, '%Y-%m') as list_month from listings", "--partition-by", "list_month"]),
    ("papers-term-filter", ["--table", "papers", "--term", "scaling", "--since", "2025-01-01"]),
]
RELIST_SHARE = 0.02
LIST_DAYS = 730


def _vocabulary() -> list[str]:
    """Real-looking words: those of a few generated days of listings."""
    import datetime as dt

    from papertrends.devkit.sample_listings import generate_daily_lists
    from papertrends.transforms.terms import words

    found: dict[str, None] = {}
    for items in generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 10), seed=3).values():
        for item in items:
            for word in words(item["paper"]["title"] + " " + item["paper"]["summary"]):
                found.setdefault(word, None)
    return list(found)


BATCH_PAPERS = 100_000
SENTENCE_POOL = 20_000


def _pools(seed: int = 7) -> dict[str, pl.Series]:
    """Sentences, title phrases and names built from the vocabulary, sampled from per paper."""
    rng = random.Random(seed)
    vocab = _vocabulary()
    sentence = lambda k: " ".join(rng.choice(vocab) for _ in range(k)).capitalize() + "."  # noqa: E731
    return {
        "sentences": pl.Series([sentence(rng.randint(10, 22)) for _ in range(SENTENCE_POOL)]),
        "phrases": pl.Series([" ".join(rng.choice(vocab) for _ in range(3)).title() for _ in range(SENTENCE_POOL)]),
        "names": pl.Series([f"{rng.choice(vocab).title()} {rng.choice(vocab).title()}" for _ in range(5000)]),
        "words": pl.Series(vocab),
    }


def _papers_batch(start: int, count: int, size: int, pools: dict[str, pl.Series]) -> pl.DataFrame:
    """`count` generated papers from number `start` on, typed like the papers table."""
    from papertrends.transforms.terms import search_text_expr

    i = pl.int_range(start, start + count, dtype=pl.Int64, eager=True)

    def pick(pool: str, salt: int) -> pl.Series:
        return pools[pool].gather((i.hash(salt) % len(pools[pool])).cast(pl.UInt32))

    def some(pool: str, salt: int, most: int, fewest: int) -> pl.Series:
        picked = pl.DataFrame({str(k): pick(pool, salt + k) for k in range(most)})
        lengths = fewest + (i.hash(salt + 99) % (most - fewest + 1)).cast(pl.Int64)
        return picked.select(pl.concat_list(pl.all()).list.head(pl.lit(lengths))).to_series()

    frame = pl.DataFrame({
        "i": i,
        "paper_id": (2300 + i // 100000).cast(pl.String) + "." + (i % 100000).cast(pl.String).str.zfill(5),
        "title": pick("phrases", 1) + " for " + pick("phrases", 2),
        "abstract": functools.reduce(lambda a, b: a + " " + b, [pick("sentences", 10 + k) for k in range(8)]),
        "authors": some("names", 30, 12, 2),
        "ai_keywords": some("words", 60, 5, 0),
        "github": i.hash(50) % 10 < 4,
    })
    offset = pl.duration(seconds=pl.col("i") * (2 * 365 * 86400) // size)
    frame = frame.with_columns(
        published_at=pl.datetime(2024, 1, 1, time_zone="UTC") + offset,
        observed_at=pl.datetime(2024, 1, 2, 6, time_zone="UTC") + offset,
        github_repo=pl.when(pl.col("github")).then(pl.lit("https://github.com/bench/") + pl.col("paper_id")),
        project_page=pl.lit(None, pl.String),
    ).drop("i", "github")
    return frame.with_columns(search_text=search_text_expr(pl.col("title"), pl.col("abstract")))


GENERATE_LISTINGS = """
insert into listings by name
select
    'hf_daily' as source,
    date '2024-01-02' + (i * $days // $size)::integer + relist * 3 as list_date,
    printf('%d.%05d', 2300 + i // 100000, i % 100000) as paper_id,
    (i % 40)::integer as position,
    ((hash(i, 'u') % 200)::bigint)::integer as upvotes,
    ((hash(i, 'c') % 7)::bigint)::integer as num_comments,
    timestamptz '2024-01-02 06:00:00+00' + to_days((i * $days // $size)::integer + relist * 3) as fetched_at,
    'bench:generated' as origin,
    repeat('0', 64) as raw_sha256
from range($size) as r(i), (select unnest([0, 1]) as relist)
where relist = 0 or (hash(i, 'r') % 10000)::bigint < $relist_per_10000
"""


def build_warehouse(home: Path, size: int) -> Path:
    """A warehouse of `size` generated papers under home (reused when already built)."""
    from papertrends.warehouse import connection, ledger

    path = home / "warehouse.duckdb"
    done = home / f"built-{size}"
    if done.exists() and path.exists():
        return path
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    pools = _pools()
    con = connection.open_writer(path)
    try:
        con.execute("begin transaction")
        for start in range(0, size, BATCH_PAPERS):
            batch = _papers_batch(start, min(BATCH_PAPERS, size - start), size, pools)
            con.register("generated_papers", batch)
            con.execute("insert into papers by name select * from generated_papers")
            con.unregister("generated_papers")
        con.execute(
            GENERATE_LISTINGS,
            {"size": size, "days": LIST_DAYS, "relist_per_10000": int(RELIST_SHARE * 10000)},
        )
        run_id = ledger.start_run(con, "bench-generate", {"size": size})
        ledger.finish_run(con, run_id, "completed", items_in=size, items_loaded=size)
        con.execute("commit")
        con.execute("checkpoint")
    finally:
        con.close()
    done.write_text("ok")
    return path


# Runs the CLI, then prints the process's VmHWM (peak RSS of its own memory map). ru_maxrss is no
# good here: Linux carries the parent's high-water mark into a spawned child across exec.
MEASURED_CLI = """
import re, sys
from papertrends.cli.main import main
code = main(sys.argv[1:])
peak = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())
print("PEAK_KB", peak.group(1) if peak else -1, file=sys.stderr)
sys.exit(code)
"""


def measure_export(home: Path, out: Path, arguments: list[str]) -> dict:
    """Run `papertrends export` in a subprocess; its wall time and peak RSS."""
    command = [sys.executable, "-c", MEASURED_CLI, "--home", str(home), "export", "--out", str(out), "--force", *arguments]
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"export failed ({result.returncode}): {result.stderr[-2000:]}")
    peak_kb = int(result.stderr.rsplit("PEAK_KB", 1)[1].split()[0])
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rows": manifest["rows"],
        "files": len(manifest["files"]),
        "bytes": sum(f["bytes"] for f in manifest["files"]),
        "summary": result.stdout.strip(),
    }


def run(size: int) -> list[dict]:
    """Export benchmarks on a generated warehouse of `size` papers: one result dict per case."""
    root = Path(os.environ.get("PAPERTRENDS_BENCH_DIR") or Path(tempfile.gettempdir()) / "papertrends-bench")
    home = root / f"export-{size}"
    started = time.monotonic()
    build_warehouse(home, size)
    build_seconds = time.monotonic() - started
    results = []
    for name, arguments in CASES:
        out = root / f"export-{size}-out" / name
        measured = measure_export(home, out, arguments)
        shutil.rmtree(out, ignore_errors=True)
        results.append({
            "benchmark": "export", "case": name, "papers": size,
            "warehouse_mb": round((home / "warehouse.duckdb").stat().st_size / 1e6, 1),
            "build_seconds": round(build_seconds, 1), **measured,
        })
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="papers in the generated warehouse")
    args = parser.parse_args()
    for result in run(args.size):
        print(json.dumps(result))


if __name__ == "__main__":
    main()
