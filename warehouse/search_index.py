"""The BM25 search index's own schedule: caught up as a writer of its own, never inside an ingest."""

from __future__ import annotations

import time
from pathlib import Path

from . import connection, locks, term_index


def refresh_search_index(warehouse_path: Path, wait_seconds: float) -> tuple[bool, float, int]:
    """Catch the BM25 index up with the warehouse, as its own writer (the writer lock is taken).

    Returns (rebuilt, seconds, papers indexed). This is the search index's own schedule: ingests
    only count what changed (search_lag), so none of them waits for a whole-corpus rebuild.
    """
    started = time.monotonic()
    with locks.writer_lock(warehouse_path.parent, wait_seconds, "search-index"):
        con = connection.open_writer(warehouse_path, wait_seconds)
        try:
            rebuilt = term_index.rebuild_fts_if_stale(con)
            papers = con.execute("select count(*) from papers").fetchone()[0]
        finally:
            con.close()
    return rebuilt, time.monotonic() - started, papers
