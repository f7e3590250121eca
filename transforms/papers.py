"""Papers from listing rows: one row per paper_id, from its most recent observation."""

from __future__ import annotations

import polars as pl

from .tables import PAPERS
from .terms import search_text_expr

PAPER_COLUMNS = tuple(PAPERS.names)

VERSIONS_DTYPE = PAPERS.column("versions").polars
# Types of the paper columns that listing rows may lack (null until a source provides them).
PAPER_EXTRA_SCHEMA: dict[str, pl.DataType] = PAPERS.polars(PAPER_COLUMNS[PAPER_COLUMNS.index("github_stars"):])
# Only arXiv provides these: the newest arXiv observation wins.
ARXIV_FIELDS = ("categories", "versions", "updated_at", "doi", "journal_ref", "comments", "license")
# Both provide these; arXiv is the publisher of record, so an arXiv value beats a Hugging Face one
# whatever their dates (HF copies arXiv's metadata when a paper is posted); within a source the newest wins.
SHARED_FIELDS = ("title", "abstract", "authors", "published_at")


def papers_from_listings(listings: pl.DataFrame) -> pl.DataFrame:
    """One row per paper_id: fields of the latest observation, plus its search text."""
    latest = (
        listings.sort(["fetched_at", "list_date", "position"], descending=[True, True, False], nulls_last=True)
        .unique("paper_id", keep="first", maintain_order=True)
        .sort("paper_id")
    )
    return papers_typed(latest.with_columns(
        search_text=search_text_expr(pl.col("title"), pl.col("abstract")),
        observed_at=pl.col("fetched_at"),
        hf_observed_at=pl.col("fetched_at"),
    ))


def papers_typed(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every paper column, in order; columns it lacks are typed nulls."""
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in PAPER_EXTRA_SCHEMA.items() if name not in frame.columns]
    return frame.with_columns(missing).select(PAPER_COLUMNS)


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

    arXiv fields come from the newest arXiv observation (arxiv_observed_at), Hugging Face fields
    from the newest HF observation (hf_observed_at), and the fields both provide (title,
    abstract, authors, published_at) from arXiv when arXiv has them, else from HF. Each merged
    row keeps those two times, so the result depends only on the set of observations, not on the
    order they arrive in: loading sources in either order gives the same papers.
    """
    observations = _empty_lists_as_null(pl.concat([papers_typed(existing), papers_typed(incoming)]))
    # Rows from callers that set neither time are Hugging Face-side observations made at observed_at.
    observations = observations.with_columns(
        hf_observed_at=pl.when(pl.col("hf_observed_at").is_null() & pl.col("arxiv_observed_at").is_null())
        .then(pl.col("observed_at"))
        .otherwise(pl.col("hf_observed_at"))
    )
    times = ("observed_at", "arxiv_observed_at", "hf_observed_at")
    fields = [c for c in PAPER_COLUMNS if c not in ("paper_id", "search_text", *times)]

    def newest(column: str) -> pl.Expr:
        if column in ARXIV_FIELDS:
            order = ["arxiv_observed_at"]
        elif column in SHARED_FIELDS:
            order = ["arxiv_observed_at", "hf_observed_at"]
        else:
            order = ["hf_observed_at", "observed_at"]
        ranked = pl.col(column).sort_by(order, descending=True, nulls_last=True, maintain_order=True)
        return ranked.drop_nulls().first()

    merged = (
        observations.sort("paper_id")
        .group_by("paper_id", maintain_order=True)
        .agg([newest(c) for c in fields] + [pl.col(t).max() for t in times])
    )
    return merged.with_columns(search_text=search_text_expr(pl.col("title"), pl.col("abstract"))).select(PAPER_COLUMNS)


def listings_merged(existing: pl.DataFrame, incoming: pl.DataFrame) -> pl.DataFrame:
    """Merge listing rows: for each (source, list_date, paper_id) the latest fetch wins."""
    return listings_deduplicated(pl.concat([existing, incoming.select(existing.columns)]))


def rows_new_or_changed(
    merged: pl.DataFrame, existing: pl.DataFrame, key: list[str],
    ignore: tuple[str, ...] = ("observed_at", "arxiv_observed_at", "hf_observed_at"),
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
