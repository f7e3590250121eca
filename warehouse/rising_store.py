"""The rising table for the default windows, kept by the writer: `rising` without filters reads it.

Counting the words and two-word phrases of every paper in two windows takes seconds on a large
warehouse (the pairs of consecutive words are formed at query time from the term index's
positions), whatever the index layout; the answer for the windows people open first (the
explorer's rising panel, `papertrends rising` with its defaults) is a few hundred rows. So the
writer computes it after each load's term index catch-up (`refresh`, called by warehouse/loads.py)
and `rising` reads it when it is current; any other question (filters, --until, another window,
--min-support, more than STORED_LIMIT rows, or a table computed on an older index state) is
computed as before (analytics.window_terms + trend_stats.rank_rising): the same rows either way.

"Current" is checked on every read against the term index's state (`index_state`): term_counts
only grows (every index change appends signed deltas), so its row count together with the
indexed papers changes whenever the index does.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from ..transforms import trend_stats
from . import analytics

# (grain, periods per window) computed by every load: the explorer's and the CLI's default.
DEFAULT_WINDOWS: tuple[tuple[str, int], ...] = (("month", 3),)
STORED_MIN_SUPPORT = 5    # rising --min-support's default
STORED_LIMIT = 200        # the explorer's largest limit; the CLI's default is 20

_COLUMNS = ("term", "kind", "papers_before", "share_before", "papers_recent", "share_recent", "growth", "z")


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() and table_name = 'term_rising'"
    ).fetchone()[0] > 0


def index_state(con: duckdb.DuckDBPyConnection) -> str:
    """A token that changes whenever the term index does (term_counts is append-only)."""
    counts, papers, top = con.execute(
        "select (select count(*) from term_counts), (select count(*) from term_papers), "
        "(select coalesce(max(paper_key), 0) from term_papers)"
    ).fetchone()
    return f"{counts}:{papers}:{top}"


def compute(con, by: str, window: int, until=None, source=None, category=None, min_upvotes=None,
            min_support: int = 5, limit: int = 20) -> tuple[pl.DataFrame, dt.date, dt.date, dt.date]:
    """The rising table from the term index: (rows, before_first, recent_first, last)."""
    counts, recent, before, before_first, recent_first, last = analytics.window_terms(
        con, by, window, until=until, source=source, category=category, min_upvotes=min_upvotes,
        min_support=min_support,
    )
    frame = trend_stats.rank_rising(counts, recent, before, min_support=min_support, limit=limit)
    return frame, before_first, recent_first, last


def lookup(con, by: str, window: int, until=None, source=None, category=None, min_upvotes=None,
           min_support: int = 5, limit: int = 20) -> tuple[pl.DataFrame, dt.date, dt.date, dt.date] | None:
    """The stored answer to this question when there is a current one, else None (compute it)."""
    if (until is not None or source is not None or category is not None or min_upvotes is not None
            or min_support != STORED_MIN_SUPPORT or limit > STORED_LIMIT or not _has_table(con)):
        return None
    rows = con.execute(
        "select rank, before_first, recent_first, last_date, term, kind, papers_before::uinteger as papers_before, "
        "share_before, papers_recent::uinteger as papers_recent, share_recent, growth, z from term_rising "
        "where grain = $grain and periods = $periods and min_support = $support and index_state = $state "
        "and rank <= $limit order by rank",
        {"grain": by, "periods": window, "support": min_support, "state": index_state(con), "limit": limit},
    ).pl()
    if not rows.height or rows["rank"][0] != 0:
        return None
    header = rows.row(0, named=True)
    return rows.filter(pl.col("rank") > 0).select(_COLUMNS), header["before_first"], header["recent_first"], header["last_date"]


def rising(con, by: str = "month", window: int = 3, until=None, source=None, category=None, min_upvotes=None,
           min_support: int = 5, limit: int = 20) -> tuple[pl.DataFrame, dt.date, dt.date, dt.date]:
    """The rows of `papertrends rising` and its windows: (rows, before_first, recent_first, last).

    Read from term_rising when it holds a current answer to this question, else computed.
    """
    question = dict(until=until, source=source, category=category, min_upvotes=min_upvotes,
                    min_support=min_support, limit=limit)
    analytics._check(by, source)
    return lookup(con, by, window, **question) or compute(con, by, window, **question)


def refresh(con: duckdb.DuckDBPyConnection, windows: tuple[tuple[str, int], ...] = DEFAULT_WINDOWS) -> int:
    """Recompute the stored rising tables that are not current; returns how many were recomputed.

    Call on a writer outside a transaction, after the term index caught up (warehouse/loads.py).
    Cheap when nothing changed (one look at the index state). A window with too little data to
    compare stores nothing: `rising` then computes and says why, as before.
    """
    if not _has_table(con):
        return 0
    state = index_state(con)
    done = 0
    for by, window in windows:
        current = con.execute(
            "select count(*) from term_rising where grain = ? and periods = ? and min_support = ? and index_state = ?",
            [by, window, STORED_MIN_SUPPORT, state],
        ).fetchone()[0]
        if current:
            continue
        try:
            counts, recent, before, before_first, recent_first, last = analytics.window_terms(
                con, by, window, min_support=STORED_MIN_SUPPORT)
            frame = trend_stats.rank_rising(counts, recent, before, min_support=STORED_MIN_SUPPORT, limit=STORED_LIMIT)
        except ValueError:  # no papers, or an empty window: nothing to store
            frame = None
        con.execute("begin transaction")
        try:
            con.execute("delete from term_rising where grain = ? and periods = ? and min_support = ?",
                        [by, window, STORED_MIN_SUPPORT])
            if frame is not None:
                stored = pl.concat([
                    pl.DataFrame({"rank": [0]}, schema={"rank": pl.Int32}),
                    frame.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int32)),
                ], how="diagonal")
                con.register("rising_rows", stored)
                con.execute(
                    "insert into term_rising by name select $grain as grain, $periods as periods, $support as min_support, "
                    "$state as index_state, $before_first as before_first, $recent_first as recent_first, "
                    "$last as last_date, $recent as papers_recent_total, $before as papers_before_total, * "
                    "from rising_rows",
                    {"grain": by, "periods": window, "support": STORED_MIN_SUPPORT, "state": state,
                     "before_first": before_first, "recent_first": recent_first, "last": last,
                     "recent": recent, "before": before},
                )
                con.unregister("rising_rows")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        done += 1
    return done
