"""The `papertrends` command: a thin layer over the same functions the flows call.

Read-only commands (trend, sql, status) import neither Prefect nor httpx, so they start fast
and never start a Prefect server.
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

    trend = commands.add_parser("trend", parents=[common], help="share of papers matching each term, per period")
    trend.add_argument("terms", nargs="+", metavar="TERM", help="word, prefix* or phrase")
    trend.add_argument("--by", choices=("day", "week", "month", "year"), default="month")
    trend.add_argument("--since", type=_date, help="first list date counted")
    trend.add_argument("--until", type=_date, help="last list date counted")
    _formatted(trend)
    trend.set_defaults(handler=cmd_trend)

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
    from flows.arxiv import harvest_arxiv_oai, ingest_arxiv_query

    home = str(_settings(args).home)
    if args.oai:
        report = harvest_arxiv_oai(args.metadata_prefix, args.set_spec, args.since, args.until,
                                   base_url=args.base_url, home=home, restart=args.restart)
    else:
        report = ingest_arxiv_query(args.query, args.since, args.until, base_url=args.base_url, home=home,
                                    max_results=args.max_results)
    return _finish_ingest(report)


def cmd_trend(args) -> int:
    from transforms.terms import parse_term
    from warehouse import store

    terms = [parse_term(t) for t in args.terms]
    con = store.open_reader(_settings(args).warehouse_path)
    try:
        frame = store.trend(con, terms, by=args.by, since=args.since, until=args.until)
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
