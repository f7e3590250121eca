"""`make bench`: run every benchmark step in its own process and write docs/benchmarks.md.

Environment:
    BENCH_SIZE      papers in the generated corpus (default 100000; 2700000 is arXiv scale)
    BENCH_SEED      corpus seed (default 7)
    BENCH_DIR       where corpora and working copies go (default ./.bench; reused across runs)
    BENCH_OUT       the report (default docs/benchmarks.md); results also go to <BENCH_DIR>/results-<size>.json
    BENCH_SKIP      comma-separated steps to skip, e.g. "papertrends_flow,dlt"
    BENCH_ONLY      comma-separated steps to (re)run, merged into the last results at this size
    BENCH_REPEATS   timed repetitions per trend query (default 20)
    BENCH_PROFILE   1: also run the papertrends ingest under cProfile and put the top functions in the report

`python -m bench.report BENCH_DIR/results-<size>.json` re-renders the report from saved results.

Other benchmark modules (bench/bench_trend.py, bench_export.py, bench_arxiv_snapshot.py) are
called as `run(size)` when present, each in its own process, with BENCH_CORPUS (the generated
corpus folder: hf/, arxiv/snapshot.jsonl, truth.json) and BENCH_HOME (a papertrends data root
loaded from that corpus) in the environment. They return a dict or a list of dicts; the keys
`benchmark`, `seconds` and `peak_rss_mb` are shown first, the rest as they come.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

from bench.steps import RESULT_PREFIX

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL_MODULES = (
    ("bench.bench_trend", "term index and trend analytics (issue 6)"),
    ("bench.bench_export", "exports (issue 7)"),
    ("bench.bench_arxiv_snapshot", "arXiv snapshot ingest (issue 4)"),
    ("bench.bench_ducklake", "trend queries on DuckLake (PostgreSQL + S3) beside the embedded file (issue 14)"),
    ("bench.bench_workers", "a 60-date backfill through a Prefect work pool, 1 vs 2 workers (issue 14)"),
)
TARGETS_SIZE = 2_700_000
STEP_TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", "7200"))


def measure(step: str, arguments: dict, env: dict | None = None) -> dict:
    """Run one step in a child process: wall seconds, peak RSS (wait4), its JSON result or its error."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.steps", step, json.dumps(arguments)],
            stdout=out, stderr=err, cwd=ROOT, env={**os.environ, **(env or {})},
        )
        timer = threading.Timer(STEP_TIMEOUT, child.kill)
        timer.start()
        # wait4 gives this child's own rusage; RUSAGE_CHILDREN would be the max over all children.
        _, status, usage = os.wait4(child.pid, 0)
        timer.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        lines = out.read().decode("utf-8", errors="replace").splitlines()
        errors = err.read().decode("utf-8", errors="replace")
    measured = {"step": step, "wall_seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_seconds": usage.ru_utime + usage.ru_stime}
    found = [line[len(RESULT_PREFIX):] for line in lines if line.startswith(RESULT_PREFIX)]
    if child.returncode == 0 and found:
        measured["result"] = json.loads(found[-1])
    else:
        tail = [line for line in errors.strip().splitlines() if line.strip()][-3:]
        measured["error"] = f"exit {child.returncode}: " + " | ".join(tail)[-600:]
    print(f"  {step:<28} {wall:8.1f} s  {measured['peak_rss_mb']:8.0f} MB" + ("  FAILED " + measured["error"] if "error" in measured else ""), flush=True)
    return measured


def machine() -> dict:
    """CPU, cores, RAM, load and library versions of the machine the run is on."""
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ram = "unknown"
    try:
        kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in ("duckdb", "polars", "pyarrow", "prefect", "dlt", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "ram": ram, "python": platform.python_version(),
            "platform": platform.platform(), "load_average": os.getloadavg(), "versions": versions, "commit": commit or "?"}


def run_all(size: int, seed: int, base: Path, skip: set[str], repeats: int, profile: bool, previous: dict | None = None) -> dict:
    corpus = base / f"corpus-{size}-s{seed}"
    work = base / f"work-{size}"
    home = work / "papertrends"
    results: dict = {"size": size, "seed": seed, "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                     "machine": machine(), "steps": dict((previous or {}).get("steps", {}))}
    steps = results["steps"]
    plan = [
        ("corpus", {"corpus": str(corpus), "size": size, "seed": seed}),
        ("duckdb_floor", {"corpus": str(corpus), "db": str(work / "floor.duckdb")}),
        ("duckdb_floor_arxiv", {"corpus": str(corpus), "db": str(work / "floor_arxiv.duckdb")}),
        ("papertrends_tasks", {"corpus": str(corpus), "home": str(home)}),
        ("papertrends_flow", {"corpus": str(corpus), "home": str(work / "papertrends-flow"), "prefect_home": str(work / "prefect")}),
        ("dlt", {"corpus": str(corpus), "workdir": str(work / "dlt")}),
        ("polars_script", {"corpus": str(corpus), "workdir": str(work / "polars")}),
        ("trend_latency", {"corpus": str(corpus), "home": str(home), "repeats": repeats}),
        ("incremental_empty", {"home": str(work / "papertrends-empty")}),
        ("incremental", {"home": str(home)}),
    ]
    print(f"benchmarks at {size} papers (seed {seed}) under {base}", flush=True)
    for step, arguments in plan:
        if previous and step in skip:
            continue  # BENCH_ONLY: keep the previous result
        if step in skip:
            steps[step] = {"step": step, "skipped": True}
            continue
        if step != "corpus" and "result" not in steps.get("corpus", {}):
            steps[step] = {"step": step, "error": "no corpus"}
            continue
        if step in ("trend_latency", "incremental") and "result" not in steps.get("papertrends_tasks", {}):
            steps[step] = {"step": step, "error": "the papertrends ingest did not complete"}
            continue
        steps[step] = measure(step, arguments)
    if profile and not previous:
        stats_path = work / "papertrends_tasks.pstats"
        steps["profile"] = measure("papertrends_tasks", {"corpus": str(corpus), "home": str(work / "papertrends-profiled"), "profile": str(stats_path)})
        if stats_path.exists():
            steps["profile"]["top"] = _top_functions(stats_path)
    env = {"BENCH_CORPUS": str(corpus), "BENCH_HOME": str(home), "BENCH_WORK": str(work)}
    for module, what in OPTIONAL_MODULES:
        name = module.rsplit(".", 1)[1]
        if previous and name in skip:
            continue
        if name in skip:
            steps[name] = {"step": name, "skipped": True, "what": what}
            continue
        steps[name] = {**measure("optional", {"module": module, "size": size}, env), "what": what}
    results["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    results["load_average_after"] = os.getloadavg()
    return results


def _top_functions(path: Path, count: int = 18) -> str:
    import io

    buffer = io.StringIO()
    stats = pstats.Stats(str(path), stream=buffer)
    stats.strip_dirs().sort_stats("tottime").print_stats(count)
    text = buffer.getvalue()
    return text[text.find("   ncalls"):].rstrip()


def main() -> int:
    size = int(os.environ.get("BENCH_SIZE", "100000"))
    seed = int(os.environ.get("BENCH_SEED", "7"))
    base = Path(os.environ.get("BENCH_DIR", ROOT / ".bench")).resolve()
    out = Path(os.environ.get("BENCH_OUT", ROOT / "docs" / "benchmarks.md"))
    skip = {s.strip() for s in os.environ.get("BENCH_SKIP", "").split(",") if s.strip()}
    repeats = int(os.environ.get("BENCH_REPEATS", "20"))
    profile = os.environ.get("BENCH_PROFILE", "") not in ("", "0")
    base.mkdir(parents=True, exist_ok=True)
    previous = None
    only = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
    if only:
        path = base / f"results-{size}.json"
        previous = json.loads(path.read_text()) if path.exists() else {"steps": {}}
        every = {"corpus", "duckdb_floor", "duckdb_floor_arxiv", "papertrends_tasks", "papertrends_flow", "dlt",
                 "polars_script", "trend_latency", "incremental_empty", "incremental",
                 *(m.rsplit(".", 1)[1] for m, _ in OPTIONAL_MODULES)}
        skip = every - only - {"corpus"}
    results = run_all(size, seed, base, skip, repeats, profile, previous)
    (base / f"results-{size}.json").write_text(json.dumps(results, indent=1, default=str))
    # Earlier runs at other sizes in the same BENCH_DIR feed the report's scaling table.
    results["other_sizes"] = [
        json.loads(path.read_text()) for path in sorted(base.glob("results-*.json")) if path.name != f"results-{size}.json"
    ]
    from bench.report import render

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results), encoding="utf-8")
    print(f"wrote {out} and {base / f'results-{size}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
