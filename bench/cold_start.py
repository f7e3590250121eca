"""Cold start of read-only commands: wall and CPU time of fresh `papertrends` processes.

    python bench/cold_start.py --home ./data [--runs 15] [-- trend scaling tractable]

Runs the command in new processes (after 2 warm-up runs that fill the OS file cache), prints
min / median / max wall time and median CPU time (user + system of the child), and checks that
Prefect was never imported. CPU time is the better guide on a busy machine: wall time includes
waiting for a core. Not a test: timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="a loaded data root")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("command", nargs="*", default=["trend", "scaling", "tractable"])
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "papertrends.cli.main", "--home", args.home, *args.command]
    probe = [sys.executable, "-c",
             "import sys; from papertrends.cli.main import main; code = main(sys.argv[1:]); "
             "print('prefect imported' if 'prefect' in sys.modules else 'prefect not imported', file=sys.stderr); "
             "sys.exit(code)", "--home", args.home, *args.command]
    walls, cpus = [], []
    for run in range(args.runs + 2):
        cpu_before, started = child_cpu_seconds(), time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall, cpu = time.perf_counter() - started, child_cpu_seconds() - cpu_before
        if run >= 2:
            walls.append(wall)
            cpus.append(cpu)
    checked = subprocess.run(probe, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    print(f"papertrends {' '.join(args.command)}: {args.runs} runs on {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"wall  min {min(walls):.3f}s  median {statistics.median(walls):.3f}s  max {max(walls):.3f}s")
    print(f"cpu   median {statistics.median(cpus):.3f}s (user + system)")
    print(checked.stderr.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
