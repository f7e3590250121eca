"""`make demo`: the real ingestion flow against a local server that speaks the HF daily-papers API.

No access to Hugging Face is needed: papertrends generates realistic listings (deterministic from
a seed, with "scaling" planted rising and "tractable" steady), serves them on 127.0.0.1, fetches
them over httpx with the same flow a scheduled run uses, and prints the monthly trend.
"""

from __future__ import annotations

import datetime as dt

from ..core.settings import Settings

DEMO_TERMS = ("tractable", "scaling")


def executable() -> str:
    """How to call papertrends from here: the virtualenv's script (`.venv/bin/papertrends` after
    `make demo`), relative to the current directory when it is below it; it is usually not on PATH."""
    import os
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "papertrends"
    if not script.exists():
        return "papertrends"
    try:
        return os.path.relpath(script) if not os.path.relpath(script).startswith("..") else str(script)
    except ValueError:
        return str(script)


def run_demo(settings: Settings, since: dt.date, until: dt.date, seed: int = 7) -> int:
    """Generate, serve, ingest and print the monthly trend for 'tractable' and 'scaling'."""
    from ..core.dates import date_range
    from ..devkit.hf_stub_server import DailyPapersServer
    from ..devkit.sample_listings import generate_daily_lists
    from ..flows.ingest import ingest_hf_daily
    from ..transforms.terms import parse_term
    from ..warehouse import connection, reads
    from .output import write_frame

    dates = date_range(since, until)
    lists = generate_daily_lists(since, until, seed=seed)
    papers = sum(len(items) for items in lists.values())
    print(f"demo: generated {papers} listed papers over {len(dates)} days ({since} .. {until}), seed {seed}")
    with DailyPapersServer(lists) as server:
        print(f"demo: serving them at {server.base_url}/api/daily_papers; ingesting into {settings.home}")
        report = ingest_hf_daily(dates, base_url=server.base_url, home=str(settings.home))
    print(report.summary())
    con = connection.open_reader(settings.warehouse_path)
    try:
        frame = reads.trend(con, [parse_term(t) for t in DEMO_TERMS], by="month")
    finally:
        con.close()
    print(f"\nMonthly share of papers (by first list date) mentioning {' and '.join(DEMO_TERMS)}:\n")
    write_frame(frame, "table")
    command = executable()
    print(f"\nNext: {command} --home {settings.home} trend 'inference-time scaling' --by year; "
          f"{command} --home {settings.home} status")
    return 0 if report.items_loaded else 1
