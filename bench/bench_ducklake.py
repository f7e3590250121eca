"""Benchmark: the same trend queries on the embedded file and on a DuckLake (PostgreSQL catalog, S3 data).

    python bench/bench_ducklake.py --size 30000 [--repeat 5]

Builds a `size`-paper warehouse with bench_trend's generator, copies it into a DuckLake whose
catalog is a real PostgreSQL server and whose data go to moto's S3 server (both started here
through papertrends.devkit.services, on 127.0.0.1), and times bench_trend's queries on both,
plus the migration itself and opening a reader. With --ingest it also times the real bulk ingest
(`ingest files` of bench/corpus.py's Hugging Face daily files, `size` papers) into an embedded
file and into a DuckLake, each from an empty warehouse. `run(size)` returns the rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_trend  # noqa: E402
from papertrends.devkit.services import PostgresServer, S3Server, missing_postgres, missing_s3  # noqa: E402
from papertrends.warehouse import backends, connection  # noqa: E402
from papertrends.warehouse.migrate import migrate  # noqa: E402


def _lake_home(folder: Path, lake: backends.DuckLake) -> Path:
    home = folder / "lakehome"
    home.mkdir()
    (home / "papertrends.toml").write_text(
        f"warehouse = {lake.url!r}\nducklake_data_path = {lake.data_path!r}\ns3_endpoint = {lake.s3_endpoint!r}\n"
    )
    return home / "warehouse.duckdb"


def _open_ms(path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        connection.open_reader(path).close()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[len(times) // 2]


def _ingest_rows(folder: Path, lake: backends.DuckLake, size: int) -> list[dict]:
    """Time `ingest files` of a `size`-paper HF corpus into a new embedded file and into `lake`."""
    from bench import corpus
    from papertrends.flows.ingest import ingest_files

    generated = folder / "corpus"
    corpus.generate(generated, size, arxiv=False)
    rows = []
    for backend in ("embedded", "ducklake"):
        home = folder / f"ingest-{backend}"
        home.mkdir()
        if backend == "ducklake":
            (home / "papertrends.toml").write_text(
                f"warehouse = {lake.url!r}\nducklake_data_path = {lake.data_path!r}\ns3_endpoint = {lake.s3_endpoint!r}\n")
        started = time.perf_counter()
        report = ingest_files([str(generated / "hf")], home=str(home))
        seconds = time.perf_counter() - started
        rows.append({"benchmark": "ducklake", "backend": backend, "query": f"ingest files ({report.items_in} items)",
                     "ms": round(seconds * 1000, 1), "matches": report.status == "completed"})
    return rows


def run(size: int, repeat: int = 5, ingest: bool = False) -> list[dict]:
    """Build, migrate, and time the trend queries on both backends; rows of (backend, query, ms)."""
    reason = missing_postgres() or missing_s3()
    if reason:
        return [{"benchmark": "ducklake", "skipped": reason}]
    with tempfile.TemporaryDirectory(prefix="bench-ducklake-") as folder, PostgresServer() as pg, S3Server() as s3:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", s3.access_key_id)
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", s3.secret_access_key)
        embedded = Path(folder) / "data" / "warehouse.duckdb"
        embedded.parent.mkdir()
        bench_trend.build(embedded, size)
        lake = backends.DuckLake(
            catalog=f"postgres:{pg.create_database('bench')}", data_path=f"{s3.create_bucket('bench')}/warehouse/",
            s3_endpoint=s3.url, s3_region=s3.region,
        )
        started = time.perf_counter()
        report = migrate(embedded, lake)
        migrate_s = time.perf_counter() - started
        lake_path = _lake_home(Path(folder), lake)
        rows = [
            {"benchmark": "ducklake", "backend": "ducklake", "query": f"migrate {sum(report.rows.values())} rows",
             "ms": round(migrate_s * 1000, 1), "matches": None},
        ]
        for backend, path in (("embedded", embedded), ("ducklake", lake_path)):
            rows.append({"benchmark": "ducklake", "backend": backend, "query": "open a reader",
                         "ms": round(_open_ms(path, repeat), 1), "matches": None})
            for row in bench_trend.queries(path, repeat):
                rows.append({"benchmark": "ducklake", "backend": backend, **row})
        if ingest:
            target = backends.DuckLake(
                catalog=f"postgres:{pg.create_database('ingest')}", data_path=f"{s3.create_bucket('ingest')}/warehouse/",
                s3_endpoint=s3.url, s3_region=s3.region,
            )
            rows += _ingest_rows(Path(folder), target, size)
        for row in rows:
            row["papers"] = size
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ingest", action="store_true", help="also time the bulk ingest on both backends")
    args = parser.parse_args(argv)
    for row in run(args.size, args.repeat, ingest=args.ingest):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
