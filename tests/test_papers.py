"""Merging observations of papers and listings (transforms/papers.py)."""

import datetime as dt

import polars as pl
from papertrends.transforms.hf_listings import LISTING_SCHEMA
from papertrends.transforms.papers import papers_from_listings, papers_merged, rows_new_or_changed

UTC = dt.timezone.utc


def listing(paper_id, fetched_day, **fields):
    row = {name: None for name in LISTING_SCHEMA}
    row.update(
        source="hf_daily", list_date=dt.date(2025, 1, fetched_day), paper_id=paper_id, position=0,
        title=f"Title of {paper_id}", authors=[], fetched_at=dt.datetime(2025, 1, fetched_day, tzinfo=UTC),
        origin="o", raw_sha256="s",
    )
    row.update(fields)
    return pl.DataFrame([row], schema=LISTING_SCHEMA)


def test_newest_non_null_field_wins_in_either_order():
    old = papers_from_listings(listing("1", 1, abstract="old abstract", github_repo="https://github.com/a/b", authors=["A"]))
    new = papers_from_listings(listing("1", 2, title="New title", abstract=None, authors=[]))
    empty = old.clear()
    forward = papers_merged(papers_merged(empty, old), new)
    backward = papers_merged(papers_merged(empty, new), old)
    assert forward.equals(backward)
    row = forward.row(0, named=True)
    assert row["title"] == "New title"
    assert row["abstract"] == "old abstract"
    assert row["github_repo"] == "https://github.com/a/b"
    assert row["authors"] == ["A"]
    assert row["search_text"] == " new title | old abstract "
    assert row["observed_at"] == dt.datetime(2025, 1, 2, tzinfo=UTC)


def test_rows_new_or_changed():
    existing = pl.DataFrame({"k": [1, 2], "v": [["x"], ["y"]]})
    merged = pl.DataFrame({"k": [1, 2, 3], "v": [["x"], ["z"], None]})
    to_write, new, changed = rows_new_or_changed(merged, existing, ["k"])
    assert (new, changed) == (1, 1)
    assert to_write["k"].to_list() == [2, 3]
