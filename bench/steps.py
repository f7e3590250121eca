"""Benchmark steps, one per process: `python -m bench.steps STEP JSON-ARGS` prints one JSON result line.

bench/run.py starts each step in its own process so that wall time and peak RSS (from wait4)
belong to that step alone. Each step also times its own work, so import and interpreter start-up
(Prefect alone takes ~2 s to import) can be told apart from pipeline work.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from papertrends.pipeline import registry
from papertrends.warehouse import connection

TREND_QUERIES = (("word", "scaling"), ("prefix", "tractab*"), ("phrase", "inference-time scaling"))
RESULT_PREFIX = "BENCH-RESULT "


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _hf_files(corpus: str) -> list[str]:
    return sorted(glob.glob(os.path.join(corpus, "hf", "*.json")))


def step_corpus(corpus: str, size: int, seed: int = 7) -> dict:
    """Generate (or reuse) the corpus."""
    from bench.corpus import generate

    started = time.perf_counter()
    manifest = generate(Path(corpus), size, seed)
    return {"work_seconds": time.perf_counter() - started, **manifest}


def step_papertrends_tasks(corpus: str, home: str, profile: str | None = None) -> dict:
    """The ingest-files flow's tasks called with .fn (no Prefect server): land, normalize, load."""
    import cProfile

    from papertrends.core.settings import load_settings
    from papertrends.flows import ingest, runs
    from papertrends.warehouse import connection

    _fresh(Path(home))
    settings = load_settings(home)
    profiler = cProfile.Profile() if profile else None
    phases, peaks, cpu = {}, {}, {}
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    run_id = runs.begin_writer_run(settings, "ingest-files", {"paths": [corpus], "bench": True})
    # CPU seconds (all threads of this process, DuckDB's included) beside wall: the machine is shared.
    t, c = time.perf_counter(), time.process_time()
    landed = ingest.land_files.fn(settings, [os.path.join(corpus, "hf")], None)
    phases["land"], cpu["land"] = time.perf_counter() - t, time.process_time() - c
    peaks["land"] = _peak_mb()
    t, c = time.perf_counter(), time.process_time()
    normalized = registry.landings_normalized(settings.lake_dir, landed)
    phases["normalize"], cpu["normalize"] = time.perf_counter() - t, time.process_time() - c
    peaks["normalize"] = _peak_mb()
    t, c = time.perf_counter(), time.process_time()
    loaded = ingest.load_warehouse.fn(settings, normalized["files"], run_id)
    phases["load"], cpu["load"] = time.perf_counter() - t, time.process_time() - c
    peaks["load"] = _peak_mb()
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    work = time.perf_counter() - started
    con = connection.open_reader(settings.warehouse_path)
    papers, = con.execute("select count(*) from papers").fetchone()
    listings, = con.execute("select count(*) from listings").fetchone()
    con.close()
    return {
        "work_seconds": work, "phases": phases, "cpu_seconds": cpu, "peak_mb_after": peaks, "inputs": len(landed),
        "items_in": normalized["items_in"],
        "quarantined": normalized["quarantined"], "papers": papers, "listings": listings,
        "papers_new": loaded["papers_new"], "lake_bytes": _bytes(settings.lake_dir), "raw_bytes": _bytes(settings.raw_dir),
        "warehouse_bytes": settings.warehouse_path.stat().st_size,
    }


def step_papertrends_lake_load(corpus: str, home: str, memory_mb: int = 1024) -> dict:
    """Like papertrends_tasks, but the load reads the lake files inside DuckDB (loads.load_lake_files)
    under a memory_limit, instead of reading them into Polars first."""
    from papertrends.core.settings import load_settings
    from papertrends.flows import ingest, runs
    from papertrends.warehouse import connection, loads

    _fresh(Path(home))
    settings = load_settings(home)
    phases, peaks = {}, {}
    started = time.perf_counter()
    run_id = runs.begin_writer_run(settings, "ingest-files", {"paths": [corpus], "bench": True})
    t = time.perf_counter()
    landed = ingest.land_files.fn(settings, [os.path.join(corpus, "hf")], None)
    phases["land"], peaks["land"] = time.perf_counter() - t, _peak_mb()
    t = time.perf_counter()
    normalized = ingest.normalize_to_lake.fn(settings, landed)
    phases["normalize"], peaks["normalize"] = time.perf_counter() - t, _peak_mb()
    t = time.perf_counter()
    files = {"listings": [f for f in normalized["files"] if "/listings/" in f],
             "quarantine": [f for f in normalized["files"] if "/quarantine/" in f]}
    con = connection.open_writer(settings.warehouse_path)
    loads.bound_memory(con, memory_mb)
    original_catch_up = loads.term_index.catch_up
    index_seconds = []

    def timed_catch_up(*args, **kwargs):
        began = time.perf_counter()
        try:
            return original_catch_up(*args, **kwargs)
        finally:
            index_seconds.append(time.perf_counter() - began)

    loads.term_index.catch_up = timed_catch_up
    try:
        counts = loads.load_lake_files(con, files, run_id)
    finally:
        loads.term_index.catch_up = original_catch_up
    phases["load"], peaks["load"] = time.perf_counter() - t, _peak_mb()
    phases["of which term index"] = sum(index_seconds)
    papers, = con.execute("select count(*) from papers").fetchone()
    con.close()
    work = time.perf_counter() - started
    return {"work_seconds": work, "phases": phases, "peak_mb_after": peaks, "inputs": len(landed),
            "items_in": normalized["items_in"], "papers": papers, "papers_new": counts.papers_new,
            "memory_mb": memory_mb}


def step_papertrends_flow(corpus: str, home: str, prefect_home: str) -> dict:
    """The real Prefect flow `ingest_files` (temporary local Prefect server included)."""
    os.environ["PREFECT_HOME"] = prefect_home
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # On a busy machine the temporary server needs longer than Prefect's default 20 s to come up.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
    os.environ.pop("PREFECT_API_URL", None)
    from papertrends.flows.ingest import ingest_files

    _fresh(Path(home))
    started = time.perf_counter()
    report = ingest_files([os.path.join(corpus, "hf")], home=home)
    return {"work_seconds": time.perf_counter() - started, "flow_seconds": report.seconds,
            "papers": report.papers_new, "items_in": report.items_in, "status": report.status}


def step_duckdb_floor(corpus: str, db: str) -> dict:
    """DuckDB's read_json straight into a table: no normalization, no dedup (the floor)."""
    import duckdb

    _fresh(Path(db))
    started = time.perf_counter()
    con = duckdb.connect(db)
    pattern = os.path.join(corpus, "hf", "*.json")
    con.execute(f"create table items as select * from read_json('{pattern}', format = 'array', union_by_name = true)")
    rows, = con.execute("select count(*) from items").fetchone()
    papers, = con.execute("select count(distinct paper.id) from items").fetchone()
    con.close()
    return {"work_seconds": time.perf_counter() - started, "rows": rows, "papers": papers,
            "warehouse_bytes": Path(db).stat().st_size}


def step_duckdb_floor_arxiv(corpus: str, db: str) -> dict:
    """DuckDB's read_json of the arXiv snapshot JSON Lines straight into a table (the arXiv floor)."""
    import duckdb

    _fresh(Path(db))
    started = time.perf_counter()
    con = duckdb.connect(db)
    path = os.path.join(corpus, "arxiv", "snapshot.jsonl")
    con.execute(f"create table snapshot as select * from read_json('{path}', format = 'newline_delimited')")
    rows, = con.execute("select count(*) from snapshot").fetchone()
    con.close()
    return {"work_seconds": time.perf_counter() - started, "rows": rows, "papers": rows,
            "input_bytes": Path(path).stat().st_size}


def step_dlt(corpus: str, workdir: str) -> dict:
    """A dlt pipeline: the same items into DuckDB, write_disposition=merge on the paper id."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("DLT_DATA_DIR", os.path.join(workdir, "dlt-data"))
    _fresh(Path(workdir))
    import dlt

    files = _hf_files(corpus)

    @dlt.resource(name="daily_papers", write_disposition="merge", primary_key="paper_id")
    def daily_papers():
        for path in files:
            with open(path, "rb") as handle:
                items = json.load(handle)
            for item in items:
                # dlt merges on a top-level column; the id lives at paper.id in the API's items.
                item["paper_id"] = item["paper"]["id"]
            yield items

    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name="bench_hf", destination=dlt.destinations.duckdb(os.path.join(workdir, "dlt.duckdb")),
        dataset_name="hf", pipelines_dir=os.path.join(workdir, "pipelines"), progress=None,
    )
    pipeline.run(daily_papers())
    work = time.perf_counter() - started
    import duckdb

    con = duckdb.connect(os.path.join(workdir, "dlt.duckdb"), read_only=True)
    papers, = con.execute("select count(*) from hf.daily_papers").fetchone()
    tables = [r[0] for r in con.execute("select table_name from information_schema.tables where table_schema = 'hf'").fetchall()]
    con.close()
    return {"work_seconds": work, "papers": papers, "tables": tables}


def step_polars_script(corpus: str, workdir: str) -> dict:
    """What a user might write in plain Polars: read every JSON file, dedup on id, Parquet, DuckDB."""
    import duckdb
    import polars as pl

    _fresh(Path(workdir)).mkdir(parents=True)
    started = time.perf_counter()
    paper = pl.Struct({
        "id": pl.String, "title": pl.String, "summary": pl.String, "publishedAt": pl.String,
        "submittedOnDailyAt": pl.String, "upvotes": pl.Int64, "githubRepo": pl.String,
        "projectPage": pl.String, "ai_keywords": pl.List(pl.String),
        "authors": pl.List(pl.Struct({"name": pl.String})),
    })
    schema = {"paper": paper, "numComments": pl.Int64}
    frames = []
    for path in _hf_files(corpus):
        frame = pl.read_json(path, schema=schema)
        frames.append(frame.with_columns(list_date=pl.lit(Path(path).stem).str.to_date()))
    items = pl.concat(frames).unnest("paper").with_columns(authors=pl.col("authors").list.eval(pl.element().struct.field("name")))
    papers = items.sort("list_date").unique("id", keep="last", maintain_order=True)
    parquet = os.path.join(workdir, "papers.parquet")
    papers.write_parquet(parquet, compression="zstd")
    con = duckdb.connect(os.path.join(workdir, "polars.duckdb"))
    con.execute(f"create table papers as select * from read_parquet('{parquet}')")
    count, = con.execute("select count(*) from papers").fetchone()
    con.close()
    return {"work_seconds": time.perf_counter() - started, "papers": count, "rows": items.height}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def step_trend_latency(home: str, corpus: str, repeats: int = 20) -> dict:
    """The CLI's trend (warehouse.analytics, term index) beside a naive LIKE scan; p50/p95 and correctness."""
    from papertrends.core.settings import load_settings
    from papertrends.warehouse import analytics

    truth = json.loads(Path(corpus, "truth.json").read_text())
    truth = truth.get("year", truth)  # corpora written before truth had months: per year only
    con = connection.open_reader(load_settings(home).warehouse_path)
    results = {}
    for kind, text in TREND_QUERIES:
        query = analytics.parse_query(text)
        # The naive scan a user writes first: substring LIKE on title and abstract.
        pattern = "%" + text.rstrip("*").lower() + "%"
        like_sql = (
            "select strftime(f.first_list_date, '%Y') as period, "
            "count(*) filter (where lower(p.title || ' ' || coalesce(p.abstract, '')) like ?) as matches, count(*) as total "
            "from first_listings f join papers p using (paper_id) group by all order by period"
        )
        runs = {"papertrends": [], "like": []}
        answers = {}
        for name, call in (
            ("papertrends", lambda: analytics.trend(con, [query], by="year")),
            ("like", lambda: con.execute(like_sql, [pattern]).pl()),
        ):
            answers[name] = call()  # warm-up run, also the answer checked against the truth
            for _ in range(repeats):
                t = time.perf_counter()
                call()
                runs[name].append(time.perf_counter() - t)
        expected = truth["matches"][text]
        errors = {}
        for name, frame in answers.items():
            got = {row["period"]: row["matches"] for row in frame.iter_rows(named=True)}
            errors[name] = sum(abs(got.get(year, 0) - count) for year, count in expected.items())
        results[kind] = {
            "term": text, "truth_total": sum(expected.values()),
            **{f"{name}_p50_ms": 1000 * statistics.median(v) for name, v in runs.items()},
            **{f"{name}_p95_ms": 1000 * _percentile(v, 0.95) for name, v in runs.items()},
            **{f"{name}_error": errors[name] for name in runs},
        }
    papers, = con.execute("select count(*) from papers").fetchone()
    con.close()
    return {"papers": papers, "repeats": repeats, "queries": results}


def step_incremental(home: str, days: int = 3, count: int = 50) -> dict:
    """One new day of `count` papers into an existing warehouse, through the ingest tasks (.fn)."""
    from papertrends.core.reports import RunReport
    from papertrends.core.settings import load_settings
    from papertrends.flows import ingest, runs

    from bench.corpus import new_day

    settings = load_settings(home)
    inbox = Path(home).parent / "incremental-inbox"
    _fresh(inbox).mkdir(parents=True)
    timings = []
    for n in range(days):
        path = new_day(inbox, dt.date(2026, 3, 2) + dt.timedelta(days=n), count)
        started = time.perf_counter()
        report = RunReport(runs.begin_writer_run(settings, "ingest-files", {"paths": [str(path)]}), "ingest-files")
        landed = ingest.land_files.fn(settings, [str(path)], None)
        _normalize_and_load_fn(settings, report, landed)
        runs.end_writer_run(settings, report)
        timings.append({"seconds": time.perf_counter() - started, "papers_new": report.papers_new})
    return {"days": timings, "median_seconds": statistics.median(t["seconds"] for t in timings),
            "max_seconds": max(t["seconds"] for t in timings)}


def step_incremental_empty(home: str, days: int = 3, count: int = 50) -> dict:
    """The same new days into an empty warehouse: the baseline the incremental cost is compared to."""
    _fresh(Path(home))
    return step_incremental(home, days, count)


def _normalize_and_load_fn(settings, report, landed):
    """ingest.normalized_and_loaded with each task's .fn, so no Prefect task run is created."""
    from papertrends.flows import ingest

    report.inputs = len(landed)
    normalized = registry.landings_normalized(settings.lake_dir, landed)
    report.items_in, report.items_loaded = normalized["items_in"], normalized["loaded"]
    if normalized["files"]:
        loaded = ingest.load_warehouse.fn(settings, normalized["files"], report.run_id)
        report.papers_new = loaded["papers_new"]
    return report


def step_optional(module: str, size: int) -> dict:
    """Another issue's benchmark module (bench/bench_*.py): `run(size)` returns result rows."""
    import importlib

    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name in (module, module.rsplit(".", 1)[0]) or module.endswith(str(error.name)):
            return {"available": False}
        raise
    started = time.perf_counter()
    rows = loaded.run(size)
    rows = rows if isinstance(rows, list) else [rows]
    return {"available": True, "work_seconds": time.perf_counter() - started, "rows": rows}


def _peak_mb() -> float:
    """This process's peak RSS so far, in MB (Linux reports ru_maxrss in KB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


STEPS = {name.removeprefix("step_"): fn for name, fn in globals().items() if name.startswith("step_")}

if __name__ == "__main__":
    name, arguments = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    result = STEPS[name](**arguments)
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
