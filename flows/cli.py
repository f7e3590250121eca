"""The `papertrends` command: a thin layer over the same functions the flows call.

Read-only commands (trend, papers, rising, search, sql, status) import neither Prefect nor
httpx, so they start fast and never start a Prefect server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys

from flows.output import FORMATS, write_frame
from flows.settings import HOME_ENV, load_settings

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
    when = hf.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=_date, help="one list date")
    when.add_argument("--since", type=_date, help="first list date of a range")
    hf.add_argument("--until", type=_date, help="last list date of the range (default: today)")
    hf.add_argument("--base-url", help="API base URL (default https://huggingface.co)")
    hf.set_defaults(handler=cmd_ingest_hf)
    files = sources.add_parser("files", parents=[common], help="saved daily-papers JSON files and papers pages (.txt)")
    files.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    files.add_argument("--date", type=_date, help="list date (required for .txt pages, which show no year)")
    files.set_defaults(handler=cmd_ingest_files)

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
    trend.set_defaults(handler=cmd_trend)

    papers = commands.add_parser("papers", parents=[common], help="the papers behind a point of a trend")
    papers.add_argument("--term", required=True, help="word, prefix*, phrase or a|b alternatives")
    papers.add_argument("--period", help="2025, 2025-Q1, 2025-03, 2025-W09 or 2025-03-14 (default: all)")
    _filtered(papers)
    papers.add_argument("--limit", type=int, default=100)
    _formatted(papers)
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
    sql.set_defaults(handler=cmd_sql)

    status = commands.add_parser("status", parents=[common], help="what the warehouse holds and recent runs")
    status.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    status.set_defaults(handler=cmd_status)

    demo = commands.add_parser("demo", parents=[common], help="generate sample listings, serve them on 127.0.0.1, ingest, show a trend")
    demo.add_argument("--since", type=_date, default=dt.date(2024, 1, 1))
    demo.add_argument("--until", type=_date, default=dt.date(2025, 12, 31))
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(handler=cmd_demo)
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
    from flows.ingest import date_range, ingest_hf_daily

    if args.date and args.until:
        raise UserError("--until goes with --since, not --date")
    dates = [args.date.isoformat()] if args.date else date_range(args.since, args.until or dt.date.today())
    return _finish_ingest(ingest_hf_daily(dates, base_url=args.base_url, home=str(_settings(args).home)))


def cmd_ingest_files(args) -> int:
    from flows.ingest import ingest_files

    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        raise UserError(f"no such file or folder: {', '.join(missing)}")
    list_date = args.date.isoformat() if args.date else None
    return _finish_ingest(ingest_files(list(args.paths), list_date=list_date, home=str(_settings(args).home)))


def _filters(args) -> dict:
    return {"source": args.source, "category": args.category, "min_upvotes": args.min_upvotes}


def cmd_trend(args) -> int:
    """Share of papers matching each term per period, from the term index; optional smoothing,
    verdict and chart. Columns: period, term, matches, total, share[, share_smoothed]."""
    from transforms import trend_stats
    from warehouse import analytics, store

    queries = [analytics.parse_query(t) for t in args.terms]
    con = store.open_reader(_settings(args).warehouse_path)
    try:
        frame = analytics.trend(con, queries, by=args.by, since=args.since, until=args.until, **_filters(args))
    finally:
        con.close()
    if args.smooth:
        frame = trend_stats.smoothed(frame, args.smooth)
    if args.chart:
        from pathlib import Path

        from flows.charts import write_chart

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
    from warehouse import analytics, store

    query = analytics.parse_query(args.term)
    since = until = None
    if args.period:
        _, since, until = analytics.period_range(args.period)
    con = store.open_reader(_settings(args).warehouse_path)
    try:
        frame = analytics.papers(con, query, since=since, until=until, limit=args.limit, **_filters(args))
    finally:
        con.close()
    write_frame(frame, args.format)
    return EXIT_OK


def cmd_rising(args) -> int:
    """Words and two-word phrases whose share grew most: the last --window periods against the
    --window periods before them, stop words removed, at least --min-support recent papers."""
    from transforms import trend_stats
    from warehouse import analytics, store

    if args.window < 1:
        raise UserError("--window must be at least 1")
    con = store.open_reader(_settings(args).warehouse_path)
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
    from warehouse import analytics, store

    con = store.open_reader(_settings(args).warehouse_path)
    try:
        frame = analytics.search(con, args.text, since=args.since, until=args.until, limit=args.limit, **_filters(args))
    finally:
        con.close()
    write_frame(frame, args.format)
    return EXIT_OK


def cmd_sql(args) -> int:
    from warehouse import store

    query = sys.stdin.read() if args.query == "-" else args.query
    con = store.open_reader(_settings(args).warehouse_path)
    try:
        frame = store.read_only_query(con, query)
    finally:
        con.close()
    write_frame(frame, args.format)
    return EXIT_OK


def cmd_status(args) -> int:
    import polars as pl

    from warehouse import store

    settings = _settings(args)
    con = store.open_reader(settings.warehouse_path)
    try:
        state = store.status(con)
    finally:
        con.close()
    if args.format == "json":
        flat = {k: (v.to_dicts() if isinstance(v, pl.DataFrame) else v) for k, v in state.items()}
        print(json.dumps(flat, default=str, indent=1))
        return EXIT_OK
    print(f"warehouse   {settings.warehouse_path} (schema {state['schema_version']})")
    print(f"papers      {state['papers']}")
    print(f"listings    {state['listings']} on {state['list_dates']} list dates "
          f"({state['first_list_date'] or '-'} .. {state['last_list_date'] or '-'})")
    print(f"quarantined {state['quarantined']} items")
    for title, key in (("\nby source", "by_source"), ("\nquarantine reasons", "quarantine_reasons"), ("\nrecent runs", "recent_runs")):
        if state[key].height:
            print(title)
            write_frame(state[key], "table")
    return EXIT_OK


def cmd_demo(args) -> int:
    # The demo makes hundreds of task runs; their INFO lines would bury the result.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.demo import run_demo

    return run_demo(_settings(args), since=args.since, until=args.until, seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn known errors into one clean line."""
    args = build_parser().parse_args(argv)
    from transforms.terms import TermError
    from warehouse.store import WarehouseError

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
