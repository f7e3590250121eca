"""Benchmark: stream a generated arXiv metadata snapshot into a fresh warehouse; time and peak RSS.

    python bench/bench_arxiv_snapshot.py 200000

`run(size)` writes a snapshot of `size` generated lines (flows/arxiv_stub_server.py, the real
file's shape), then lands and loads it in a child process with the same functions the
`ingest files` flow runs (its task bodies, without a Prefect server: Prefect's own client adds
a constant, not a per-line, cost), and reports the child's peak resident memory. Run it at two
sizes: if peak RSS does not grow with size, memory is bounded by the batch, not the file.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULL_SNAPSHOT_LINES = 2_700_000


def write_snapshot(path: Path, size: int) -> int:
    """Write `size` generated snapshot lines; returns the file's size in bytes."""
    from papertrends.devkit.arxiv_stub_server import iter_arxiv_papers

    with path.open("w", encoding="utf-8") as handle:
        for paper in iter_arxiv_papers(size, seed=11, first_day=__import__("datetime").date(2020, 1, 1)):
            handle.write(json.dumps(paper) + "\n")
    return path.stat().st_size


def child(snapshot: str, home: str) -> None:
    """Land and load `snapshot` into `home` (runs in the measured child process)."""
    from papertrends.core.settings import load_settings
    from papertrends.flows.arxiv import land_snapshot, load_snapshot_batches
    from papertrends.warehouse import connection, ledger

    settings = load_settings(home)
    con = connection.open_writer(settings.warehouse_path)
    run_id = ledger.start_run(con, "bench-arxiv-snapshot", {"snapshot": snapshot})
    con.close()
    started = time.perf_counter()
    landed = land_snapshot.fn(settings, snapshot)
    landed_seconds = time.perf_counter() - started
    totals = load_snapshot_batches.fn(settings, landed, run_id, show_progress=False)
    print(json.dumps({
        "land_seconds": landed_seconds,
        "seconds": time.perf_counter() - started,
        "loaded": totals["loaded"],
        "quarantined": totals["quarantined"],
        "batches": totals["batches"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def run(size: int) -> list[dict]:
    """Generate `size` lines, ingest them in a child process; one result row with time and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="bench-arxiv-") as folder:
        snapshot, home = Path(folder) / "arxiv-metadata-oai-snapshot.json", Path(folder) / "home"
        home.mkdir()
        size_bytes = write_snapshot(snapshot, size)
        output = subprocess.run(
            [sys.executable, __file__, "--child", str(snapshot), str(home)],
            capture_output=True, text=True, check=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_LOGGING_LEVEL": "WARNING"},
        )
        measured = json.loads(output.stdout.strip().splitlines()[-1])
        warehouse_mb = (home / "warehouse.duckdb").stat().st_size / 2**20
        lake_mb = sum(p.stat().st_size for p in (home / "lake").rglob("*.parquet")) / 2**20
        landed_by = json.loads(next((home / "raw" / "arxiv_snapshot").glob("*.meta.json")).read_text())["landed_by"]
    lines_per_second = size / measured["seconds"]
    return [{
        "name": "arxiv_snapshot_ingest",
        "lines": size,
        "file_mb": round(size_bytes / 2**20, 1),
        "bytes_per_line": round(size_bytes / size),
        "batch_lines": int(os.environ.get("PAPERTRENDS_SNAPSHOT_BATCH_LINES", 20_000)),
        "batches": measured["batches"],
        "loaded": measured["loaded"],
        "seconds": round(measured["seconds"], 1),
        "land_seconds": round(measured["land_seconds"], 2),
        "landed_by": landed_by,
        "lines_per_second": round(lines_per_second),
        "peak_rss_mb": round(measured["peak_rss_mb"]),
        "warehouse_mb": round(warehouse_mb, 1),
        "lake_mb": round(lake_mb, 1),
        "extrapolated_full_snapshot_minutes": round(FULL_SNAPSHOT_LINES / lines_per_second / 60, 1),
    }]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3])
    else:
        for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000):
            print(json.dumps(row))
