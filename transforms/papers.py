"""Papers from listing rows: one row per paper_id, from its most recent observation."""

from __future__ import annotations

import polars as pl

from transforms.terms import search_text_expr

PAPER_COLUMNS = (
    "paper_id", "title", "abstract", "authors", "published_at",
    "github_repo", "project_page", "ai_keywords", "search_text", "observed_at",
    # issue 3 (migration 003): from paper details and newer list items
    "github_stars", "organization", "ai_summary", "withdrawn_at",
)


def papers_from_listings(listings: pl.DataFrame) -> pl.DataFrame:
    """One row per paper_id: fields of the latest observation, plus its search text."""
    latest = (
        listings.sort(["fetched_at", "list_date", "position"], descending=[True, True, False], nulls_last=True)
        .unique("paper_id", keep="first", maintain_order=True)
        .sort("paper_id")
    )
    return latest.with_columns(
        search_text=search_text_expr(pl.col("title"), pl.col("abstract")),
        observed_at=pl.col("fetched_at"),
    ).select(PAPER_COLUMNS)


def listings_deduplicated(listings: pl.DataFrame) -> pl.DataFrame:
    """One row per (source, list_date, paper_id): the latest fetch, first position on the list."""
    return (
        listings.sort(["fetched_at", "position"], descending=[True, False], nulls_last=True)
        .unique(["source", "list_date", "paper_id"], keep="first", maintain_order=True)
        .sort(["source", "list_date", "paper_id"])
    )


def _empty_lists_as_null(frame: pl.DataFrame) -> pl.DataFrame:
    """An empty author or keyword list says 'not known here', like a null."""
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    return frame.with_columns(pl.when(pl.col(c).list.len() > 0).then(pl.col(c)).alias(c) for c in lists)


def papers_merged(existing: pl.DataFrame, incoming: pl.DataFrame) -> pl.DataFrame:
    """Merge observations of papers: per field, the newest non-null value wins.

    The result depends only on the set of observations, not on the order they arrive in, so
    loading sources in either order gives the same papers.
    """
    observations = _empty_lists_as_null(pl.concat([existing.select(PAPER_COLUMNS), incoming.select(PAPER_COLUMNS)]))
    fields = [c for c in PAPER_COLUMNS if c not in ("paper_id", "search_text", "observed_at")]
    merged = (
        observations.sort(["paper_id", "observed_at"], descending=[False, True], nulls_last=True)
        .group_by("paper_id", maintain_order=True)
        .agg([pl.col(c).drop_nulls().first() for c in fields] + [pl.col("observed_at").max()])
    )
    return merged.with_columns(search_text=search_text_expr(pl.col("title"), pl.col("abstract"))).select(PAPER_COLUMNS)


def listings_merged(existing: pl.DataFrame, incoming: pl.DataFrame) -> pl.DataFrame:
    """Merge listing rows: for each (source, list_date, paper_id) the latest fetch wins."""
    return listings_deduplicated(pl.concat([existing, incoming.select(existing.columns)]))


def rows_new_or_changed(
    merged: pl.DataFrame, existing: pl.DataFrame, key: list[str], ignore: tuple[str, ...] = ("observed_at",)
) -> tuple[pl.DataFrame, int, int]:
    """The merged rows that differ from what exists, with counts of new and changed rows.

    Columns in `ignore` (bookkeeping such as observed_at) do not make a row count as changed.
    """
    columns = merged.columns
    before = existing.select(columns).with_columns(_before=pl.lit(True))
    compared = merged.join(before, on=key, how="left", suffix="__old", nulls_equal=True)
    is_new = pl.col("_before").is_null()
    differs = pl.any_horizontal(
        [pl.col(c).ne_missing(pl.col(f"{c}__old")) for c in columns if c not in key and c not in ignore]
    ) if len(set(columns) - set(key) - set(ignore)) else pl.lit(False)
    flagged = compared.with_columns(_new=is_new, _changed=~is_new & differs)
    to_write = flagged.filter(pl.col("_new") | pl.col("_changed")).select(columns)
    return to_write, int(flagged["_new"].sum()), int(flagged["_changed"].sum())
