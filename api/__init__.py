"""papertrends: research trends from Hugging Face Daily Papers and arXiv listings.

The Python API, for notebooks and scripts (the same answers as the `papertrends` command):

    import papertrends
    pt = papertrends.connect()                 # ./data or $PAPERTRENDS_HOME; read-only
    pt.trend("scaling", "tractab*", by="quarter")
    pt.verdict("scaling").sentence()
    pt.papers("inference-time scaling", period="2025-03")

Every method returns a Polars DataFrame (`verdict` a typed `Verdict`, `status` a dict). The
repository's layer folders are installed under this one namespace (pyproject.toml maps them):
papertrends.core, .transforms, .sources, .warehouse, .pipeline, .flows, .devkit, .cli, .explorer.
`import papertrends` stays light: DuckDB, Polars and the warehouse load on the first query.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from importlib import metadata
from typing import TYPE_CHECKING, Iterator, Sequence

if TYPE_CHECKING:  # names for annotations only; importing them here would make `import papertrends` heavy
    import duckdb
    import polars as pl

    from .transforms.trend_stats import Verdict

try:
    __version__ = metadata.version("papertrends")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["PaperTrends", "connect", "__version__"]

def _date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _terms(terms: Sequence[str | Sequence[str]]) -> list[str]:
    """trend("a", "b") and trend(["a", "b"]) alike."""
    flat: list[str] = []
    for term in terms:
        flat.extend([term] if isinstance(term, str) else list(term))
    if not flat:
        raise ValueError("give at least one term")
    return flat


class PaperTrends:
    """A handle on one data root's warehouse; build it with `papertrends.connect(home)`.

    Each call opens the warehouse for the length of that call and closes it again, so a
    notebook kept open never blocks an ingest (DuckDB lets one process write a file while no
    other has it open). `keep_open=True` holds one connection instead (faster for many small
    queries; an ingest then waits until `close()`).
    """

    def __init__(self, home: str | os.PathLike | None = None, read_only: bool = True, keep_open: bool = False,
                 idle_close: float | None = None):
        from .core.settings import load_settings

        self.settings = load_settings(home)
        self.read_only = read_only
        self.keep_open = keep_open
        # idle_close=S: hold one connection between calls, closed after S idle seconds (the explorer:
        # clicks answer without reopening the file, and an ingest waits at most S seconds after the last).
        self.idle_close = idle_close
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.RLock()  # one call at a time on a held connection
        self._timer: threading.Timer | None = None

    @property
    def home(self):
        return self.settings.home

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"<papertrends {self.settings.warehouse_path} ({mode})>"

    def __enter__(self) -> "PaperTrends":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        """Close a held connection (keep_open or idle_close); nothing to do otherwise."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._con is not None:
                self._con.close()
                self._con = None

    def _open(self) -> "duckdb.DuckDBPyConnection":
        from .warehouse import connection

        path = self.settings.warehouse_path
        if self.read_only:
            return connection.open_reader(path, self.settings.reader_wait)
        return connection.open_writer(path, self.settings.writer_wait)

    @contextlib.contextmanager
    def connection(self) -> Iterator["duckdb.DuckDBPyConnection"]:
        """The DuckDB connection for one call (read-only unless connect(read_only=False))."""
        if not (self.keep_open or self.idle_close):
            con = self._open()
            try:
                yield con
            finally:
                con.close()
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._con is None:
                self._con = self._open()
            try:
                yield self._con
            finally:
                if self.idle_close and not self.keep_open:
                    self._timer = threading.Timer(self.idle_close, self.close)
                    self._timer.daemon = True
                    self._timer.start()

    # -- trends ----------------------------------------------------------------------------------

    def trend(
        self,
        *terms: str | Sequence[str],
        by: str = "month",
        since: dt.date | str | None = None,
        until: dt.date | str | None = None,
        source: str | None = None,
        category: str | None = None,
        min_upvotes: int | None = None,
        smooth: int | None = None,
        interval: bool = False,
    ) -> "pl.DataFrame":
        """One row per (period, term): period, term, matches, total, share, period_start.

        The rows of `papertrends trend` (plus period_start, a date to plot against). `smooth=N`
        adds share_smoothed; `interval=True` adds share_low and share_high, the 95% Wilson
        interval of each share (wide where a period has few papers).
        """
        from .transforms import trend_stats
        from .warehouse import analytics

        queries = [analytics.parse_query(t) for t in _terms(terms)]
        with self.connection() as con:
            frame = analytics.trend(con, queries, by=by, since=_date(since), until=_date(until),
                                    source=source, category=category, min_upvotes=min_upvotes)
        if smooth:
            frame = trend_stats.smoothed(frame, smooth)
        if interval:
            from .transforms.intervals import with_share_interval

            frame = with_share_interval(frame)
        return frame

    def verdict(self, term: str, by: str = "month", **filters) -> "Verdict":
        """Rising, falling or flat for one term (the `trend --verdict` test): a typed Verdict.

        `filters` are trend's since, until, source, category, min_upvotes.
        """
        from .transforms import trend_stats

        frame = self.trend(term, by=by, **filters)
        return trend_stats.verdict(frame, frame["term"][0] if frame.height else term.strip())

    def papers(
        self,
        term: str,
        period: str | None = None,
        since: dt.date | str | None = None,
        until: dt.date | str | None = None,
        source: str | None = None,
        category: str | None = None,
        min_upvotes: int | None = None,
        limit: int = 100,
    ) -> "pl.DataFrame":
        """The papers behind a point of a trend: title, paper_id, list_date, upvotes, link.

        `period` is a label (2025, 2025-Q1, 2025-03, 2025-W09, 2025-03-14), as in `papers --period`.
        """
        from .warehouse import analytics

        query = analytics.parse_query(term)
        since, until = _date(since), _date(until)
        if period:
            _, since, until = analytics.period_range(period)
        with self.connection() as con:
            return analytics.papers(con, query, since=since, until=until, source=source, category=category,
                                    min_upvotes=min_upvotes, limit=limit)

    def rising(
        self,
        by: str = "month",
        window: int = 3,
        until: dt.date | str | None = None,
        min_support: int = 5,
        limit: int = 20,
        source: str | None = None,
        category: str | None = None,
        min_upvotes: int | None = None,
    ) -> "pl.DataFrame":
        """Words and two-word phrases whose share grew most: the last `window` periods against
        the `window` before them (the rows of `papertrends rising`)."""
        from .warehouse import rising_store

        if window < 1:
            raise ValueError("window must be at least 1")
        with self.connection() as con:
            # The default windows come from the writer's stored table while it is current.
            frame, *_ = rising_store.rising(
                con, by, window, until=_date(until), source=source, category=category, min_upvotes=min_upvotes,
                min_support=min_support, limit=limit,
            )
        return frame

    def search(
        self,
        text: str,
        since: dt.date | str | None = None,
        until: dt.date | str | None = None,
        source: str | None = None,
        category: str | None = None,
        min_upvotes: int | None = None,
        limit: int = 20,
    ) -> "pl.DataFrame":
        """Papers ranked by BM25 over title and abstract: score, title, paper_id, list_date, upvotes, link."""
        from .warehouse import analytics

        with self.connection() as con:
            return analytics.search(con, text, since=_date(since), until=_date(until), source=source,
                                    category=category, min_upvotes=min_upvotes, limit=limit)

    # -- momentum --------------------------------------------------------------------------------

    def momentum(
        self, window: str = "7d", term: str | None = None, until: dt.datetime | None = None, limit: int = 20
    ) -> "pl.DataFrame":
        """Papers ranked by upvotes gained in `window` (36h, 7d, 2w) ending at `until` (default:
        the last sighting): paper_id, title, upvotes_start, upvotes_end, gained, sightings, last_seen_at, link."""
        from .warehouse import analytics, momentum

        query = analytics.parse_query(term) if term else None
        with self.connection() as con:
            return momentum.momentum(con, momentum.parse_window(window), query=query, until=until, limit=limit)

    def upvote_curve(self, paper_id: str) -> "pl.DataFrame":
        """Every sighting of one paper's upvotes, oldest first: seen_at, source, upvotes, num_comments."""
        from .warehouse import momentum

        with self.connection() as con:
            return momentum.upvote_curve(con, paper_id)

    # -- SQL and status --------------------------------------------------------------------------

    def sql(self, query: str, params: dict | None = None) -> "pl.DataFrame":
        """One SQL statement with $name parameters; a read-only handle runs only SELECT/EXPLAIN."""
        from .warehouse import reads

        with self.connection() as con:
            if self.read_only:  # the CLI's `sql` path: one SELECT/EXPLAIN, $name parameters bound
                return reads.read_only_query(con, query, dict(params) if params is not None else None)
            return con.execute(query, params).pl()

    def status(self) -> dict:
        """What the warehouse holds: counts (papers, listings, list dates, quarantined), by_source,
        quarantine_reasons, recent_runs, last run stages/checks/warnings (DataFrames where tabular)."""
        from .warehouse import reads

        with self.connection() as con:
            return reads.status(con)


def connect(home: str | os.PathLike | None = None, read_only: bool = True, keep_open: bool = False) -> PaperTrends:
    """Open the warehouse of a data root (default ./data or $PAPERTRENDS_HOME), like duckdb.connect.

    Read-only by default: nothing a PaperTrends handle does writes a byte into the data root.
    """
    return PaperTrends(home, read_only=read_only, keep_open=keep_open)
