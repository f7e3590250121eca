"""What `enrich` reads and writes: papers lacking details, detail answers, title resolutions."""

from __future__ import annotations

import duckdb
import polars as pl

from ..transforms.papers import PAPER_COLUMNS, papers_merged, rows_new_or_changed
from . import lake_locks, term_index
from .loads import LoadCounts, existing_rows, record_upvotes


def papers_missing_details(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> list[str]:
    """arXiv-identified papers never asked for details (a recorded 404 counts as asked)."""
    sql = (
        "select paper_id from papers where paper_id not like 'title:%' "
        "and paper_id not in (select paper_id from paper_details) order by paper_id"
    )
    rows = con.execute(sql + (f" limit {int(limit)}" if limit else "")).fetchall()
    return [r[0] for r in rows]


def load_paper_details(
    con: duckdb.DuckDBPyConnection, papers: pl.DataFrame, sightings: pl.DataFrame, answers: pl.DataFrame
) -> LoadCounts:
    """Merge detail papers rows, their upvote sightings and the per-paper answer ledger, in one transaction."""
    with lake_locks.writer_section(con):
        return lake_locks.retrying_conflicts(lambda: _load_paper_details(con, papers, sightings, answers))


def _load_paper_details(con, papers: pl.DataFrame, sightings: pl.DataFrame, answers: pl.DataFrame) -> LoadCounts:
    counts = LoadCounts()
    con.execute("begin transaction")
    try:
        if papers.height:
            paper_schema = dict(papers.select(PAPER_COLUMNS).schema)
            existing = existing_rows(con, "papers", ["paper_id"], papers.select("paper_id"), paper_schema)
            merged = papers_merged(existing, papers)
            to_write, counts.papers_new, counts.papers_changed = rows_new_or_changed(merged, existing, ["paper_id"])
            if to_write.height:
                con.register("papers_to_write", to_write)
                # MERGE, not INSERT OR REPLACE: DuckLake has no key to replace by (warehouse/backends.py).
                con.execute(
                    "merge into papers as t using papers_to_write as s on t.paper_id = s.paper_id "
                    "when matched then update by name when not matched then insert by name"
                )
                con.unregister("papers_to_write")
                term_index.refresh(con, to_write["paper_id"])
        counts.upvote_sightings_new = record_upvotes(con, sightings)
        if answers.height:
            con.register("answers_to_write", answers)
            con.execute(
                "merge into paper_details as t using answers_to_write as s on t.paper_id = s.paper_id "
                "when matched then update by name when not matched then insert by name"
            )
            con.unregister("answers_to_write")
        con.execute("commit")
    except Exception:
        _rollback(con)
        raise
    return counts


def _rollback(con) -> None:
    try:
        con.execute("rollback")
    except duckdb.TransactionException:
        pass  # a failed commit (a DuckLake conflict) left nothing to roll back


def unresolved_titles(con: duckdb.DuckDBPyConnection, retry_not_found: bool = False) -> list[tuple[str, str]]:
    """(synthetic_id, title) of papers known only by title, skipping those already searched in vain."""
    skip = "" if retry_not_found else "and paper_id not in (select synthetic_id from title_resolutions)"
    return con.execute(
        f"select paper_id, title from papers where paper_id like 'title:%' {skip} order by paper_id"
    ).fetchall()


def resolve_title(
    con: duckdb.DuckDBPyConnection, synthetic_id: str, title: str, paper_id: str | None, status: str, raw_sha256: str | None,
    resolved_at=None,
) -> None:
    """Record a title search; when resolved, fold the synthetic paper and its listings into the real id.

    `resolved_at` is when the search was answered (its landing's fetched_at), so a rebuild
    replaying the answer records the same time; defaults to now. Listing rows move to the real id unless that list already has the real paper (then the
    synthetic row is dropped: no duplicates); paper fields merge (newest non-null wins).
    """
    with lake_locks.writer_section(con):
        lake_locks.retrying_conflicts(
            lambda: _resolve_title(con, synthetic_id, title, paper_id, status, raw_sha256, resolved_at))


def _resolve_title(con, synthetic_id, title, paper_id, status, raw_sha256, resolved_at) -> None:
    con.execute("begin transaction")
    try:
        con.execute(
            """
            merge into title_resolutions as t
            using (select ?::varchar as synthetic_id, ?::varchar as title, ?::varchar as paper_id, ?::varchar as status,
                          coalesce(?::timestamptz, now()) as resolved_at, ?::varchar as raw_sha256) as s
            on t.synthetic_id = s.synthetic_id
            when matched then update by name
            when not matched then insert by name
            """,
            [synthetic_id, title, paper_id, status, resolved_at, raw_sha256],
        )
        if paper_id:
            con.execute(
                "delete from listings as s where s.paper_id = ? and exists (select 1 from listings as r "
                "where r.paper_id = ? and r.source = s.source and r.list_date = s.list_date)",
                [synthetic_id, paper_id],
            )
            con.execute("update listings set paper_id = ? where paper_id = ?", [paper_id, synthetic_id])
            con.execute("update upvote_history set paper_id = ? where paper_id = ?", [paper_id, synthetic_id])
            both = con.execute(
                "select * from papers where paper_id in (?, ?)", [synthetic_id, paper_id]
            ).pl().with_columns(paper_id=pl.lit(paper_id))
            if both.height:
                both = both.select(PAPER_COLUMNS)
                merged = papers_merged(both.clear(), both)
                con.execute("delete from papers where paper_id in (?, ?)", [synthetic_id, paper_id])
                con.register("papers_to_write", merged)
                con.execute("insert into papers by name select * from papers_to_write")
                con.unregister("papers_to_write")
            term_index.refresh(con, pl.Series([synthetic_id, paper_id]))
        con.execute("commit")
    except Exception:
        _rollback(con)
        raise
