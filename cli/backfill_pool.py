"""`papertrends backfill --submit`: the dates as flow runs on a Prefect work pool (kept out of main.py)."""

from __future__ import annotations

import os
import sys

from ..core.settings import Settings


def backfill_submit_command(args, settings: Settings) -> int:
    """Submit the backfill to the work pool, wait (unless --no-wait) printing each run as it ends; 1 if a date failed.

    Problems with the arguments or a missing Prefect server raise ValueError (one line in the CLI).
    """
    if args.workers:
        raise ValueError("--workers is for a local backfill; with --submit, start more workers (`prefect worker start`)")
    if args.source != "hf":
        raise ValueError("--submit is for --source hf")
    from ..flows.pool import NO_SERVER, submit_backfill
    from . import signals

    if signals.temporary_api_url and os.environ.get("PREFECT_API_URL") == signals.temporary_api_url:
        raise ValueError(NO_SERVER)
    if args.pool:
        settings = settings.model_copy(update={"work_pool": args.pool})

    def finished(run) -> None:
        where = f" on {run.worker}" if run.worker else ""
        span = run.dates[0] + (f"..{run.dates[-1]}" if len(run.dates) > 1 else "")
        print(f"{span} {run.state.lower()}{where}" + (f": {run.message}" if run.state != "COMPLETED" and run.message else ""),
              file=sys.stderr, flush=True)

    report = submit_backfill(
        settings,
        since=args.since.isoformat() if args.since else None,
        until=args.until.isoformat() if args.until else None,
        base_url=args.base_url, refresh=args.refresh, retry_failed=args.retry_failed,
        dates_per_run=args.dates_per_run, wait=not args.no_wait,
        on_finished=finished, on_note=lambda note: print(f"papertrends: {note}", file=sys.stderr, flush=True),
    )
    print(report.summary())
    return 1 if report.failed else 0
