"""Benchmark: a 60-date backfill submitted to a Prefect work pool (`backfill --submit`), 1 vs 2 workers.

    python bench/bench_workers.py [--dates 60] [--dates-per-run 5] [--limit 2]

Starts a real Prefect server (SQLite, temporary PREFECT_HOME, 127.0.0.1) and the HF stub server
with generated lists; for each worker count, a fresh data root, that many `prefect worker start`
processes (each running up to `limit` flow runs at once), then times `papertrends backfill
--submit` from submission until every date's outcome is known. On the embedded warehouse file
the runs take the writer lock in turn, so a second worker overlaps only what happens outside it
(starting a flow-run process, Prefect's bookkeeping); `run(size)` ignores the paper count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from papertrends.cli import prefect_server  # noqa: E402
from papertrends.devkit.hf_stub_server import DailyPapersServer  # noqa: E402
from papertrends.devkit.prefect_workers import LEAN_SERVER_ENV, PrefectWorkers, child_env  # noqa: E402
from papertrends.devkit.sample_listings import generate_daily_lists  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIRST = dt.date(2025, 1, 1)


def _backfill(folder: Path, api_url: str, prefect_home: Path, base_url: str, dates: int, dates_per_run: int,
              pool: str) -> float:
    home = folder / "data"
    home.mkdir()
    last = FIRST + dt.timedelta(days=dates - 1)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "papertrends.cli.main", "--home", str(home), "backfill", "--since", str(FIRST),
         "--until", str(last), "--base-url", base_url, "--submit", "--pool", pool, "--dates-per-run", str(dates_per_run)],
        capture_output=True, text=True, cwd=ROOT, env=child_env(api_url, prefect_home), timeout=3600,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0 or f"{dates} done, 0 failed" not in result.stdout:
        raise RuntimeError(f"backfill --submit failed: {result.stdout}{result.stderr}")
    return seconds


def run(size: int = 0, dates: int = 60, dates_per_run: int = 5, limit: int = 2) -> list[dict]:
    """Time the backfill with 1 and with 2 workers; one row per worker count."""
    lists = generate_daily_lists(FIRST, FIRST + dt.timedelta(days=dates - 1), seed=13)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as folder:
        prefect_home = Path(folder) / "prefect"
        prefect_home.mkdir()
        with prefect_server.serving(prefect_home, LEAN_SERVER_ENV) as state:
            with DailyPapersServer(lists) as stub:
                for count in (1, 2):
                    pool = f"bench-{count}"
                    names = [f"bench-{count}-{n}" for n in range(count)]
                    with PrefectWorkers(state["url"], pool, names, prefect_home, limit=limit):
                        run_folder = Path(folder) / f"workers-{count}"
                        run_folder.mkdir()
                        seconds = _backfill(run_folder, state["url"], prefect_home, stub.base_url, dates,
                                            dates_per_run, pool)
                    rows.append({"benchmark": "workers", "workers": count, "limit_per_worker": limit, "dates": dates,
                                 "flow_runs": -(-dates // dates_per_run), "items": sum(map(len, lists.values())),
                                 "seconds": round(seconds, 1), "load_average": round(os.getloadavg()[0], 1)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dates", type=int, default=60)
    parser.add_argument("--dates-per-run", type=int, default=5)
    parser.add_argument("--limit", type=int, default=2, help="flow runs each worker runs at once")
    args = parser.parse_args(argv)
    for row in run(0, args.dates, args.dates_per_run, args.limit):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
