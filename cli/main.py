"""The `papertrends` command: a thin layer over the same functions the flows call.

Read-only commands (trend, papers, rising, search, sql, status, export) import neither Prefect
nor httpx, so they start fast and never start a Prefect server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys

from ..core.settings import HOME_ENV, load_settings
from ..warehouse import connection
from .output import FORMATS, write_frame

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UserError(Exception):
    """An error the user can act on, printed as one line."""


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", default=argparse.SUPPRESS, help=f"data root (default ${HOME_ENV} or ./data)"
    )
    return common


def _formatted(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")


def _filtered(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", choices=("hf", "arxiv"), help="count papers by their first listing in this source")
    parser.add_argument("--category", help="only papers in this arXiv category (e.g. cs.LG)")
    parser.add_argument("--min-upvotes", type=int, metavar="N", help="only papers with at least N upvotes on HF")


def _as_of(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", metavar="SNAPSHOT|TIME",
                        help="DuckLake only: read the warehouse as it was at this snapshot number or ISO time")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, documented in one place."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog="papertrends",
        parents=[common],
        description="Track research trends from Hugging Face Daily Papers listings.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", parents=[common], help="fetch or read listings and load them")
    sources = ingest.add_subparsers(dest="source", required=True, metavar="SOURCE")
    hf = sources.add_parser("hf", parents=[common], help="Hugging Face daily lists over the API")
    when = hf.add_mutually_exclusive_group(required=False)  # issue 3: --week/--month/--trending suffice too
    when.add_argument("--date", type=_date, help="one list date")
    when.add_argument("--since", type=_date, help="first list date of a range")
    hf.add_argument("--until", type=_date, help="last list date of the range (default: today)")
    hf.add_argument("--base-url", help="API base URL (default https://huggingface.co)")
    hf.add_argument("--week", action="append", default=[], metavar="YYYY-Www", help="an ISO week's list (repeatable)")
    hf.add_argument("--month", action="append", default=[], metavar="YYYY-MM", help="a month's list (repeatable)")
    hf.add_argument("--trending", action="store_true", help="today's trending list, ranks recorded")
    hf.add_argument("--refresh", action="store_true", help="ask the network even for lists already archived")
    hf.add_argument("--html", action="store_true", help="read the papers pages (HTML) instead of the API")
    hf.set_defaults(handler=cmd_ingest_hf)
    files = sources.add_parser("files", parents=[common], help="saved daily-papers JSON files and papers pages (.txt)")
    files.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    files.add_argument("--date", type=_date, help="list date (required for .txt pages, which show no year)")
    files.set_defaults(handler=cmd_ingest_files)
    arxiv = sources.add_parser("arxiv", parents=[common], help="arXiv over the API (--query) or OAI-PMH (--oai)")
    how = arxiv.add_mutually_exclusive_group(required=True)
    how.add_argument("--query", help="API search query, e.g. 'cat:cs.LG' or 'all:tractable'")
    how.add_argument("--oai", action="store_true", help="harvest OAI-PMH ListRecords (resumes an interrupted harvest)")
    arxiv.add_argument("--since", type=_date, help="first v1 submission date (--oai: OAI 'from' datestamp)")
    arxiv.add_argument("--until", type=_date, help="last v1 submission date (--oai: OAI 'until' datestamp)")
    arxiv.add_argument("--base-url", help="endpoint (default https://export.arxiv.org/api/query or https://export.arxiv.org/oai2)")
    arxiv.add_argument("--max-results", type=int, help="--query: stop after this many entries")
    arxiv.add_argument("--set", dest="set_spec", help="--oai: set such as cs or physics:hep-th")
    arxiv.add_argument("--metadata-prefix", choices=("arXivRaw", "arXiv"), default="arXivRaw", help="--oai: record format")
    arxiv.add_argument("--restart", action="store_true", help="--oai: ignore a saved resumption token, start over")
    arxiv.set_defaults(handler=cmd_ingest_arxiv)

    enrich = commands.add_parser("enrich", parents=[common], help="paper details and arXiv ids for title-only papers, from Hugging Face")
    enrich.add_argument("--ids", nargs="+", default=[], metavar="ARXIV_ID", help="fetch details of these papers")
    enrich.add_argument("--missing", action="store_true", help="fetch details of every paper never asked about")
    enrich.add_argument("--resolve-titles", action="store_true", help="find arXiv ids of papers known only by title")
    enrich.add_argument("--limit", type=int, help="with --missing: at most this many papers")
    enrich.add_argument("--refresh", action="store_true", help="ask again even when the raw archive has an answer")
    enrich.add_argument("--base-url", help="API base URL (default https://huggingface.co)")
    enrich.set_defaults(handler=cmd_enrich)

    trend = commands.add_parser("trend", parents=[common], help="share of papers matching each term, per period")
    trend.add_argument("terms", nargs="+", metavar="TERM", help="word, prefix* or phrase")
    trend.add_argument("--by", choices=("day", "week", "month", "quarter", "year"), default="month")
    trend.add_argument("--since", type=_date, help="first list date counted")
    trend.add_argument("--until", type=_date, help="last list date counted")
    _filtered(trend)
    trend.add_argument("--smooth", type=int, metavar="N", help="add share_smoothed: centred moving share over N periods")
    trend.add_argument("--verdict", action="store_true", help="rising, falling or flat, with effect size and change point")
    trend.add_argument("--chart", metavar="FILE", help="also draw the series to FILE.png, .svg or .html")
    _formatted(trend)
    _as_of(trend)
    trend.set_defaults(handler=cmd_trend)

    papers = commands.add_parser("papers", parents=[common], help="the papers behind a point of a trend")
    papers.add_argument("--term", required=True, help="word, prefix*, phrase or a|b alternatives")
    papers.add_argument("--period", help="2025, 2025-Q1, 2025-03, 2025-W09 or 2025-03-14 (default: all)")
    _filtered(papers)
    papers.add_argument("--limit", type=int, default=100)
    _formatted(papers)
    _as_of(papers)
    papers.set_defaults(handler=cmd_papers)

    rising = commands.add_parser("rising", parents=[common], help="words and two-word phrases whose share grew most")
    rising.add_argument("--by", choices=("day", "week", "month", "quarter", "year"), default="month")
    rising.add_argument("--window", type=int, default=3, help="periods in each window compared (default 3)")
    rising.add_argument("--until", type=_date, help="last list date of the recent window (default: the latest)")
    rising.add_argument("--min-support", type=int, default=5, help="least papers in the recent window (default 5)")
    rising.add_argument("--limit", type=int, default=20)
    _filtered(rising)
    _formatted(rising)
    rising.set_defaults(handler=cmd_rising)

    search = commands.add_parser("search", parents=[common], help="papers ranked by BM25 over title and abstract")
    search.add_argument("text", metavar="TEXT", help="search words")
    search.add_argument("--since", type=_date, help="first list date counted")
    search.add_argument("--until", type=_date, help="last list date counted")
    _filtered(search)
    search.add_argument("--limit", type=int, default=20)
    _formatted(search)
    search.set_defaults(handler=cmd_search)

    sql = commands.add_parser("sql", parents=[common], help="read-only SQL on the warehouse")
    sql.add_argument("query", metavar="SQL", help="one SELECT statement ('-' reads it from stdin)")
    _formatted(sql)
    _as_of(sql)
    sql.set_defaults(handler=cmd_sql)

    status = commands.add_parser("status", parents=[common], help="what the warehouse holds and recent runs")
    status.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    _as_of(status)
    status.set_defaults(handler=cmd_status)

    export = commands.add_parser("export", parents=[common], help="write papers, listings, trends or a query as a dataset")
    what = export.add_mutually_exclusive_group()
    what.add_argument("--table", choices=("papers", "listings", "trends", "quarantine", "runs"), help="what to export (default: papers)")
    what.add_argument("--query", metavar="SQL", help="one SELECT instead of a table ('-' reads it from stdin)")
    export.add_argument(
        "--term", action="append", default=[], metavar="TERM",
        help="papers matching any of these terms (repeatable); the terms of --table trends",
    )
    export.add_argument("--since", type=_date, help="papers first listed on or after this date")
    export.add_argument("--until", type=_date, help="papers first listed on or before this date")
    export.add_argument("--source", choices=("hf", "arxiv"), help="papers listed by this source (and only its listings)")
    export.add_argument("--category", help="papers in this arXiv category (needs categories in the warehouse)")
    export.add_argument("--by", choices=("day", "week", "month", "year"), default="month", help="trend period (--table trends)")
    export.add_argument(
        "--format", choices=("parquet", "csv", "jsonl", "hf"), default="parquet",
        help="file format; hf = Hugging Face datasets layout (default: parquet)",
    )
    export.add_argument("--partition-by", default="", metavar="COL[,COL]", help="hive-partition the files by these columns")
    export.add_argument("--rows-per-file", type=int, default=500_000, metavar="N", help="rows per file (default: 500000)")
    export.add_argument("--out", required=True, metavar="DIR", help="folder to create (must be empty or absent unless --force)")
    export.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    _as_of(export)
    export.set_defaults(handler=cmd_export)
    migrate = commands.add_parser("migrate", parents=[common], help="copy the warehouse into a DuckLake or a new .duckdb file")
    migrate.add_argument("--to", required=True, metavar="URL",
                         help="ducklake:postgres:<conninfo> or the path of a new .duckdb file")
    migrate.add_argument("--data-path", metavar="PATH", help="DuckLake data files: s3://bucket/prefix/ or a folder "
                         "(default: the ducklake_data_path setting)")
    migrate.set_defaults(handler=cmd_migrate)
    rebuild = commands.add_parser("rebuild", parents=[common], help="re-create lake and warehouse from raw/ alone, offline")
    rebuild.set_defaults(handler=cmd_rebuild)

    demo = commands.add_parser("demo", parents=[common], help="generate sample listings, serve them on 127.0.0.1, ingest, show a trend")
    demo.add_argument("--since", type=_date, default=dt.date(2024, 1, 1))
    demo.add_argument("--until", type=_date, default=dt.date(2025, 12, 31))
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(handler=cmd_demo)

    backfill = commands.add_parser("backfill", parents=[common], help="fetch a range of list dates, resumably, with a progress bar")
    backfill.add_argument("--since", type=_date, help="first list date (required unless --retry-failed)")
    backfill.add_argument("--until", type=_date, help="last list date (default: today, UTC)")
    backfill.add_argument("--source", choices=("hf", "arxiv"), default="hf", help="listing source (default: hf)")
    backfill.add_argument("--base-url", help="API base URL (default https://huggingface.co)")
    backfill.add_argument("--refresh", action="store_true", help="fetch dates again even if already done")
    backfill.add_argument("--retry-failed", action="store_true", help="only the dates whose last attempt failed")
    backfill.add_argument("--workers", type=int, help="dates fetched concurrently (default: settings, 4)")
    backfill.set_defaults(handler=cmd_backfill)

    serve = commands.add_parser("serve", parents=[common], help="run the scheduled deployments (daily HF ingest, weekly arXiv, nightly export)")
    serve.add_argument("--list", action="store_true", help="print the deployments and their schedules, then exit")
    _formatted(serve)
    serve.set_defaults(handler=cmd_serve)
    return parser


def _settings(args):
    return load_settings(getattr(args, "home", None))


def _finish_ingest(report) -> int:
    print(report.summary())
    if report.items_loaded == 0:
        print("papertrends: nothing could be loaded", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_ingest_hf(args) -> int:
    from ..core.dates import date_range

    if args.date and args.until:
        raise UserError("--until goes with --since, not --date")
    if not (args.date or args.since or args.week or args.month or args.trending):
        raise UserError("say which lists: --date, --since, --week, --month or --trending")
    dates = [args.date.isoformat()] if args.date else date_range(args.since, args.until or dt.date.today()) if args.since else []
    # issue 3: the command goes through ingest_hf_lists (archive as cache unless --refresh); the
    # ingest_hf_daily flow stays for the demo, schedules and backfills (it always revalidates).
    from ..flows.hf import ingest_hf_lists
    from ..sources.hf import list_request

    for kind, labels in (("week", args.week), ("month", args.month)):
        for label in labels:
            list_request(kind, label)  # a malformed label is a one-line error before any run starts
    return _finish_ingest(ingest_hf_lists(
        dates, args.week, args.month, trending=args.trending, refresh=args.refresh, html=args.html,
        base_url=args.base_url, home=str(_settings(args).home),
    ))


def cmd_enrich(args) -> int:
    """Fill paper details (--ids, --missing) and resolve title-only papers (--resolve-titles)."""
    from ..transforms.ids import paper_id

    if not (args.ids or args.missing or args.resolve_titles):
        raise UserError("say what to enrich: --ids ID..., --missing or --resolve-titles")
    bad = [i for i in args.ids if paper_id(i) is None]
    if bad:
        raise UserError(f"not arXiv ids: {', '.join(bad)}")
    from ..flows.hf import enrich_hf

    result = enrich_hf(list(args.ids), missing=args.missing, resolve=args.resolve_titles, refresh=args.refresh,
                       limit=args.limit, base_url=args.base_url, home=str(_settings(args).home))
    print(f"run {result['run_id']} (enrich-hf) {result['status']} in {result['seconds']:.1f}s: "
          f"{result['asked']} papers asked, {result['loaded']} loaded, {result['not_loaded']} not loaded, "
          f"{result['requests']} requests; {result['papers_new']} new papers, {result['papers_changed']} changed, "
          f"{result['upvote_sightings_new']} upvote sightings")
    if result["titles"]:
        print(f"titles: {result['titles']} searched: " + ", ".join(
            f"{result.get('titles_' + k, 0)} {k.replace('_', ' ')}" for k in ("resolved", "not_found", "ambiguous", "failed")))
    for line in result["failures"]:
        print(f"failed: {line}")
    for line in result["problems"]:
        print(f"not loaded: {line}")
    return EXIT_FAILED if result["status"] == "failed" else EXIT_OK


def cmd_ingest_files(args) -> int:
    from ..flows.ingest import ingest_files

    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        raise UserError(f"no such file or folder: {', '.join(missing)}")
    list_date = args.date.isoformat() if args.date else None
    return _finish_ingest(ingest_files(list(args.paths), list_date=list_date, home=str(_settings(args).home), show_progress=True))


def cmd_ingest_arxiv(args) -> int:
    if args.oai and args.max_results is not None:
        raise UserError("--max-results goes with --query")
    if not args.oai and (args.set_spec or args.restart):
        raise UserError("--set and --restart go with --oai")
    if args.max_results is not None and args.max_results < 1:
        raise UserError("--max-results must be at least 1")
    if args.since and args.until and args.until < args.since:
        raise UserError(f"--until {args.until} is before --since {args.since}")
    from ..flows.arxiv import harvest_arxiv_oai, ingest_arxiv_query

    home = str(_settings(args).home)
    if args.oai:
        report = harvest_arxiv_oai(args.metadata_prefix, args.set_spec, args.since, args.until,
                                   base_url=args.base_url, home=home, restart=args.restart)
    else:
        report = ingest_arxiv_query(args.query, args.since, args.until, base_url=args.base_url, home=home,
                                    max_results=args.max_results)
    return _finish_ingest(report)


def _filters(args) -> dict:
    return {"source": args.source, "category": args.category, "min_upvotes": args.min_upvotes}


def cmd_trend(args) -> int:
    """Share of papers matching each term per period, from the term index; optional smoothing,
    verdict and chart. Columns: period, term, matches, total, share[, share_smoothed]."""
    from ..transforms import trend_stats
    from ..warehouse import analytics

    queries = [analytics.parse_query(t) for t in args.terms]
    settings = _settings(args)
    con = connection.open_reader(settings.warehouse_path, settings.reader_wait, as_of=args.as_of)
    try:
        frame = analytics.trend(con, queries, by=args.by, since=args.since, until=args.until, **_filters(args))
    finally:
        con.close()
    if args.smooth:
        frame = trend_stats.smoothed(frame, args.smooth)
    if args.chart:
        from pathlib import Path

        from .charts import write_chart

        subtitle = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in _filters(args).items() if v is not None)
        print(f"chart: {write_chart(frame, Path(args.chart), args.by, subtitle)}", file=sys.stderr)
    shown = frame.drop("period_start")
    if not args.verdict:
        write_frame(shown, args.format)
        return EXIT_OK
    verdicts = [trend_stats.verdict(frame, q.text) for q in queries]
    if args.format == "table":
        write_frame(shown, "table")
        print("\n" + "\n".join(v.sentence() for v in verdicts))
    else:
        import dataclasses

        import polars as pl

        write_frame(pl.DataFrame([dataclasses.asdict(v) for v in verdicts]), args.format)
    return EXIT_OK


def cmd_papers(args) -> int:
    """The papers matching --term, first listed in --period: title, id, list date, upvotes, link."""
    from ..warehouse import analytics

    query = analytics.parse_query(args.term)
    since = until = None
    if args.period:
        _, since, until = analytics.period_range(args.period)
    settings = _settings(args)
    con = connection.open_reader(settings.warehouse_path, settings.reader_wait, as_of=args.as_of)
    try:
        frame = analytics.papers(con, query, since=since, until=until, limit=args.limit, **_filters(args))
    finally:
        con.close()
    write_frame(frame, args.format)
    return EXIT_OK


def cmd_rising(args) -> int:
    """Words and two-word phrases whose share grew most: the last --window periods against the
    --window periods before them, stop words removed, at least --min-support recent papers."""
    from ..transforms import trend_stats
    from ..warehouse import analytics

    if args.window < 1:
        raise UserError("--window must be at least 1")
    settings = _settings(args)
    con = connection.open_reader(settings.warehouse_path, settings.reader_wait)
    try:
        texts, before_first, recent_first, last = analytics.window_texts(
            con, args.by, args.window, until=args.until, **_filters(args)
        )
    finally:
        con.close()
    frame = trend_stats.rising_terms(texts, recent_first, min_support=args.min_support, limit=args.limit)
    if args.format == "table":
        print(f"papers first listed {recent_first} .. {last} against {before_first} .. {recent_first - dt.timedelta(days=1)}")
    write_frame(frame, args.format)
    return EXIT_OK


def cmd_search(args) -> int:
    """Papers ranked by BM25 (DuckDB fts) over title and abstract, with the trend filters."""
    from ..warehouse import analytics

    settings = _settings(args)
    con = connection.open_reader(settings.warehouse_path, settings.reader_wait)
    try:
        frame = analytics.search(con, args.text, since=args.since, until=args.until, limit=args.limit, **_filters(args))
    finally:
        con.close()
    write_frame(frame, args.format)
    return EXIT_OK


def cmd_sql(args) -> int:
    from ..warehouse import connection, reads

    query = sys.stdin.read() if args.query == "-" else args.query
    settings = _settings(args)
    con = connection.open_reader(settings.warehouse_path, settings.reader_wait, as_of=args.as_of)
    try:
        frame = reads.read_only_query(con, query)
    finally:
        con.close()
    write_frame(frame, args.format)
    return EXIT_OK


def cmd_status(args) -> int:
    import polars as pl

    from ..warehouse import connection, reads

    settings = _settings(args)
    con = connection.open_reader(settings.warehouse_path, settings.reader_wait, as_of=args.as_of)
    try:
        state = reads.status(con)
    finally:
        con.close()
    if args.format == "json":
        flat = {k: (v.to_dicts() if isinstance(v, pl.DataFrame) else v) for k, v in state.items()}
        print(json.dumps(flat, default=str, indent=1))
        return EXIT_OK
    from ..warehouse import backends

    lake = backends.ducklake_of(settings)
    where = lake.describe() if lake else settings.warehouse_path
    at = f", snapshot {state['snapshot']}" if state.get("snapshot") is not None else ""
    print(f"warehouse   {where} (schema {state['schema_version']}{at})")
    print(f"papers      {state['papers']}")
    print(f"listings    {state['listings']} on {state['list_dates']} list dates "
          f"({state['first_list_date'] or '-'} .. {state['last_list_date'] or '-'})")
    print(f"quarantined {state['quarantined']} items")
    for title, key in (("\nby source", "by_source"), ("\nquarantine reasons", "quarantine_reasons"), ("\nrecent runs", "recent_runs"),
                       ("\nlast run: stages", "last_run_stages"), ("\nlast run: data checks", "last_run_checks")):
        if state[key].height:
            print(title)
            write_frame(state[key], "table")
    for warning in state["last_run_warnings"]:
        print(f"last run warning: {warning}")
    return EXIT_OK


def cmd_rebuild(args) -> int:
    """Re-create the lake and the warehouse from the raw archive alone (no network)."""
    from ..flows.rebuild import rebuild_from_raw

    report = rebuild_from_raw(home=str(_settings(args).home))
    print(report.summary())
    return EXIT_OK


def cmd_export(args) -> int:
    """Export a dataset from the warehouse (read-only): files, manifest.json, and a card for --format hf."""
    from pathlib import Path

    from ..warehouse.export import ExportRequest, export_dataset

    settings = _settings(args)
    query = sys.stdin.read() if args.query == "-" else args.query
    request = ExportRequest(
        out=Path(args.out), table=None if query else (args.table or "papers"), query=query,
        terms=tuple(args.term), since=args.since, until=args.until, source=args.source, category=args.category,
        by=args.by, format=args.format, rows_per_file=args.rows_per_file, force=args.force,
        partition_by=tuple(c.strip() for c in args.partition_by.split(",") if c.strip()), as_of=args.as_of,
    )
    protected = [settings.warehouse_path, settings.raw_dir, settings.lake_dir]
    print(export_dataset(settings.warehouse_path, request, protected=protected).summary())
    return EXIT_OK


def cmd_migrate(args) -> int:
    """Copy the data root's warehouse, row for row, into a new DuckLake or .duckdb file (warehouse/migrate.py)."""
    from ..warehouse.migrate import migrate_data_root

    print(migrate_data_root(_settings(args), args.to, data_path=args.data_path).summary())
    return EXIT_OK


def cmd_demo(args) -> int:
    # The demo makes hundreds of task runs; their INFO lines would bury the result.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from .demo import run_demo

    return run_demo(_settings(args), since=args.since, until=args.until, seed=args.seed)


def cmd_backfill(args) -> int:
    """Backfill a range of dates with a progress bar and a closing summary; exit 1 if any date failed."""
    if args.source != "hf":
        raise UserError(f"backfill --source {args.source} is not available yet: only hf")
    if args.since is None and not args.retry_failed:
        raise UserError("give --since DATE (or --retry-failed to re-run only the failed dates)")
    if args.until and (args.since is None or args.until < args.since):
        raise UserError(f"--until {args.until} is before --since {args.since}" if args.since else "--until needs --since")
    # Keep the terminal for the progress bar and the per-date lines (failed dates included, with
    # their reason); the Prefect API and UI still get every log line and traceback.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from ..flows.backfill import run_with_progress

    report = run_with_progress(
        workers=args.workers,
        since=args.since.isoformat() if args.since else None,
        until=args.until.isoformat() if args.until else None,
        home=str(_settings(args).home),
        base_url=args.base_url,
        refresh=args.refresh,
        retry_failed=args.retry_failed,
    )
    print(report.summary())
    return EXIT_FAILED if report.failed else EXIT_OK


def cmd_serve(args) -> int:
    """Serve the scheduled deployments until interrupted (or list them with --list)."""
    from ..flows.schedule import describe, not_scheduled, serve_deployments

    settings = _settings(args)
    if args.list:
        write_frame(describe(settings), args.format)
        for name, reason in not_scheduled(settings).items():
            print(f"papertrends: {name} is not scheduled: {reason}", file=sys.stderr)
        return EXIT_OK
    serve_deployments(settings)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn known errors into one clean line."""
    args = build_parser().parse_args(argv)
    # Prefect's temporary server (used when PREFECT_API_URL is unset) gets 20 s to start by default,
    # too little on a busy 2-core machine; and its telemetry only errors on an offline machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from ..core.errors import WarehouseError
    from ..transforms.terms import TermError

    known = (UserError, TermError, WarehouseError, ValueError, OSError)
    try:
        return args.handler(args)
    except known as error:
        print(f"papertrends: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("papertrends: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: still one line, with the way to see more
        if os.environ.get("PAPERTRENDS_DEBUG"):
            raise
        print(f"papertrends: unexpected {type(error).__name__}: {error} (set PAPERTRENDS_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
