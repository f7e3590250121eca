"""Transactional loads: listing rows, their papers, quarantine and upvote sightings merged into the warehouse."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb
import polars as pl

from ..transforms.hf_details import upvote_history_from_listings
from ..transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA
from ..transforms.papers import (
    listings_deduplicated,
    listings_merged,
    papers_from_listings,
    papers_merged,
    papers_typed,
    rows_new_or_changed,
)
from . import term_index

LISTING_KEY = ["source", "list_date", "paper_id"]


LISTING_COLUMNS = [
    "source", "list_date", "paper_id", "position", "upvotes", "num_comments", "fetched_at", "origin", "raw_sha256",
    "list_period", "rank",  # migration 003
]


@dataclass
class LoadCounts:
    """What one load changed."""

    listings_in: int = 0
    listings_new: int = 0
    listings_changed: int = 0
    papers_new: int = 0
    papers_changed: int = 0
    quarantined_in: int = 0
    quarantine_new: int = 0
    upvote_sightings_new: int = 0  # migration 003

    def add(self, other: "LoadCounts") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def existing_rows(con, table: str, key: list[str], keys: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """Rows of `table` whose key is among `keys`, typed like `schema`."""
    con.register("wanted_keys", keys.unique())
    on = " and ".join(f"t.{k} = w.{k}" for k in key)
    # Look at the key columns first: when none match (a first load) the wide rows are never scanned.
    present = con.execute(f"select count(*) from {table} as t semi join wanted_keys as w on {on}").fetchone()[0]
    frame = con.execute(f"select t.* from {table} as t semi join wanted_keys as w on {on}").pl() if present else pl.DataFrame()
    con.unregister("wanted_keys")
    return frame.select(list(schema)).cast(schema) if frame.height else pl.DataFrame(schema=schema)


def load(
    con: duckdb.DuckDBPyConnection,
    listings: pl.DataFrame,
    quarantine: pl.DataFrame,
    run_id: int,
    checks=None,
    papers: pl.DataFrame | None = None,
) -> LoadCounts:
    """Merge listing rows, their papers and quarantined items into the warehouse in one transaction.

    `papers` (PAPER_COLUMNS) are the paper observations when the source provides more than
    listing rows carry (arXiv); by default they are derived from the listings. Which source saw
    which paper, and when, is recorded in paper_sources. Loading the same rows again changes
    nothing: only new or changed rows are written. With `checks` (a warehouse.checks.CheckContext)
    the declared data checks run inside the transaction; their results are stored under `run_id`,
    and if any fails the load is rolled back and ChecksFailed is raised.
    """
    # Sources that predate a listing column (arXiv rows have no list_period or rank) get typed nulls.
    absent = [pl.lit(None, dtype).alias(name) for name, dtype in LISTING_SCHEMA.items() if name not in listings.columns]
    listings = listings.with_columns(absent).cast(LISTING_SCHEMA)
    counts = LoadCounts(listings_in=listings.height, quarantined_in=quarantine.height)
    listing_schema = {c: LISTING_SCHEMA[c] for c in LISTING_COLUMNS}
    paper_schema = {c: dtype for c, dtype in papers_from_listings(listings.clear()).schema.items()}
    con.execute("begin transaction")
    try:
        listings = _titles_resolved(con, listings)  # issue 3: a resolved title: id loads as its arXiv id
        incoming_listings = listings_deduplicated(listings.select(LISTING_COLUMNS))
        existing = existing_rows(con, "listings", LISTING_KEY, incoming_listings.select(LISTING_KEY), listing_schema)
        merged = listings_merged(existing, incoming_listings)
        to_write, counts.listings_new, counts.listings_changed = rows_new_or_changed(merged, existing, LISTING_KEY)
        touched_paper_ids = [to_write["paper_id"]]  # for the term index: first list dates may move
        if to_write.height:
            con.register("listings_to_write", to_write)
            con.execute("insert or replace into listings by name select * from listings_to_write")
            con.unregister("listings_to_write")

        incoming_papers = papers_from_listings(listings) if papers is None else papers_typed(papers)
        existing = existing_rows(con, "papers", ["paper_id"], incoming_papers.select("paper_id"), paper_schema)
        merged = papers_merged(existing, incoming_papers)
        to_write, counts.papers_new, counts.papers_changed = rows_new_or_changed(merged, existing, ["paper_id"])
        touched_paper_ids.append(to_write["paper_id"])
        if to_write.height:
            con.register("papers_to_write", to_write)
            con.execute("insert or replace into papers by name select * from papers_to_write")
            con.unregister("papers_to_write")

        if listings.height:
            _record_paper_sources(con, listings)

        if quarantine.height:
            keyed = quarantine.cast(QUARANTINE_SCHEMA).with_columns(
                item_key=pl.concat_str(
                    [pl.col("origin"), pl.col("raw_sha256"), pl.col("position").cast(pl.String).fill_null("*")],
                    separator="|",
                ),
                first_run_id=pl.lit(run_id, pl.Int64),
            ).unique("item_key", keep="first", maintain_order=True)
            before = con.execute("select count(*) from quarantine").fetchone()[0]
            con.register("quarantine_to_write", keyed)
            con.execute("insert or ignore into quarantine by name select * from quarantine_to_write")
            con.unregister("quarantine_to_write")
            counts.quarantine_new = con.execute("select count(*) from quarantine").fetchone()[0] - before
        counts.upvote_sightings_new = record_upvotes(con, upvote_history_from_listings(listings))
        term_index.refresh(con, pl.concat(touched_paper_ids))
        if checks is not None:
            _check_batch(con, listings, quarantine, run_id, checks)
        con.execute("commit")
    except Exception as error:
        con.execute("rollback")
        results = getattr(error, "results", None)
        if checks is not None and results is not None:
            # The load is gone; what the checks found is kept, so the run can explain itself.
            from .checks import record_results

            record_results(con, run_id, results)
        raise
    return counts


def _check_batch(con, listings: pl.DataFrame, quarantine: pl.DataFrame, run_id: int, context) -> None:
    """Run the declared checks on the merged state and this batch; raise ChecksFailed on any failure."""
    from .checks import ChecksFailed, record_results, run_checks

    con.register("batch_listings", listings)
    con.register("batch_quarantine", quarantine.cast(QUARANTINE_SCHEMA))
    try:
        results = run_checks(con, context)
    finally:
        con.unregister("batch_listings")
        con.unregister("batch_quarantine")
    if not all(r.passed for r in results):
        raise ChecksFailed(results)
    record_results(con, run_id, results)


PAPER_SOURCES_UPSERT = """
insert into paper_sources as t
select paper_id, source, min(fetched_at) as first_seen_at, max(fetched_at) as last_seen_at
from paper_sources_seen
group by paper_id, source
on conflict (paper_id, source) do update set
    first_seen_at = least(t.first_seen_at, excluded.first_seen_at),
    last_seen_at = greatest(t.last_seen_at, excluded.last_seen_at)
"""


def _record_paper_sources(con: duckdb.DuckDBPyConnection, listings: pl.DataFrame) -> None:
    """Widen each (paper, source)'s first/last seen times by these listing rows."""
    con.register("paper_sources_seen", listings.select("paper_id", "source", "fetched_at"))
    con.execute(PAPER_SOURCES_UPSERT)
    con.unregister("paper_sources_seen")


def _titles_resolved(con, listings: pl.DataFrame) -> pl.DataFrame:
    """Listing rows with synthetic title: ids already resolved replaced by their arXiv ids."""
    if not listings.height or not listings["paper_id"].str.starts_with("title:").any():
        return listings
    resolved = con.execute(
        "select synthetic_id, paper_id as resolved_id from title_resolutions where status = 'resolved'"
    ).pl()
    if not resolved.height:
        return listings
    return (
        listings.join(resolved, left_on="paper_id", right_on="synthetic_id", how="left")
        .with_columns(paper_id=pl.coalesce("resolved_id", "paper_id"))
        .drop("resolved_id")
    )


def record_upvotes(con: duckdb.DuckDBPyConnection, sightings: pl.DataFrame) -> int:
    """Insert upvote sightings (paper_id, seen_at, source, ...) once each; returns how many were new."""
    if not sightings.height:
        return 0
    before = con.execute("select count(*) from upvote_history").fetchone()[0]
    con.register("sightings_to_write", sightings)
    con.execute("insert or ignore into upvote_history by name select * from sightings_to_write")
    con.unregister("sightings_to_write")
    return con.execute("select count(*) from upvote_history").fetchone()[0] - before


ARXIV_DELETED_INSERT = """
insert or ignore into arxiv_deleted by name
select paper_id, datestamp, first_seen_at, origin, raw_sha256 from arxiv_deleted_seen
"""


def mark_arxiv_deleted(con: duckdb.DuckDBPyConnection, deleted: pl.DataFrame) -> int:
    """Record OAI deleted records (first sighting kept); returns how many are new."""
    if not deleted.height:
        return 0
    before = con.execute("select count(*) from arxiv_deleted").fetchone()[0]
    con.register("arxiv_deleted_seen", deleted.unique("paper_id", keep="first", maintain_order=True))
    con.execute(ARXIV_DELETED_INSERT)
    con.unregister("arxiv_deleted_seen")
    return con.execute("select count(*) from arxiv_deleted").fetchone()[0] - before
