"""Hugging Face paper details, papers-search answers and upvote sightings: bytes in, frames out.

Pure functions. A detail answer (`GET /api/papers/{id}`) is the bare `paper` object of a list
item, so it goes through the same item parser as the lists and comes out as one papers row.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from .hf_listings import daily_papers_extracted, listings_normalized
from .hf_responses import json_error_problem
from .ids import paper_id, synthetic_paper_id
from .json_text import json_loads, json_text
from .papers import PAPER_COLUMNS, papers_from_listings
from .tables import UPVOTE_HISTORY

SOURCE_HF_PAPER = "hf_paper"  # upvote sightings from detail answers

UPVOTE_HISTORY_SCHEMA: dict[str, pl.DataType] = UPVOTE_HISTORY.polars()


def upvote_history_from_listings(listings: pl.DataFrame) -> pl.DataFrame:
    """One sighting per listing row that shows upvotes, dated by when its list was fetched or saved.

    Lists fetched from the API or the papers pages and files saved from a browser alike: a saved
    file's fetched_at is the time it was saved (sources/files.py), so momentum sees every list.
    """
    if "upvotes" not in listings.columns or listings.height == 0:
        return pl.DataFrame(schema=UPVOTE_HISTORY_SCHEMA)
    return (
        listings.filter(pl.col("upvotes").is_not_null() & pl.col("fetched_at").is_not_null())
        .select(
            "paper_id", seen_at="fetched_at", source="source", upvotes="upvotes",
            num_comments="num_comments", raw_sha256="raw_sha256",
        )
        .cast(UPVOTE_HISTORY_SCHEMA)
        .unique(["paper_id", "seen_at", "source"], keep="first", maintain_order=True)
    )


def paper_detail_problem(body: bytes, requested_id: str) -> str | None:
    """Why a 200 detail answer is not a paper object for `requested_id`, or None when it is."""
    if body.lstrip()[:1] == b"<":
        return "HTML where a JSON paper object was expected"
    try:
        document = json_loads(body)
    except UnicodeDecodeError as error:
        return f"not UTF-8 text: {error.reason}"
    except json.JSONDecodeError as error:
        return json_error_problem(json_text(body), error)
    if not isinstance(document, dict):
        return f"JSON is a {type(document).__name__}, not a paper object"
    if "error" in document and "id" not in document:
        return f"JSON error object: {document['error']!r}"
    if paper_id(document.get("id")) != requested_id:
        return f"answer is for paper {document.get('id')!r}, not {requested_id}"
    return None


def paper_detail_normalized(
    body: bytes, *, requested_id: str, fetched_at: dt.datetime, origin: str, raw_sha256: str
) -> tuple[pl.DataFrame, pl.DataFrame, str | None]:
    """Papers row and upvote sighting of one detail answer, or empty frames and the reason."""
    problem = paper_detail_problem(body, requested_id)
    empty = (pl.DataFrame(), pl.DataFrame(schema=UPVOTE_HISTORY_SCHEMA))
    if problem:
        return empty[0], empty[1], problem
    paper = json_loads(body)
    item = json.dumps([{"paper": paper, "numComments": paper.get("numComments")}]).encode("utf-8")
    extracted = daily_papers_extracted(item, origin=origin, raw_sha256=raw_sha256)
    rows, quarantine = listings_normalized(
        extracted, source=SOURCE_HF_PAPER, list_date=fetched_at.date(), fetched_at=fetched_at,
        origin=origin, raw_sha256=raw_sha256,
    )
    if quarantine.height:
        return empty[0], empty[1], quarantine["reason"][0]
    return papers_from_listings(rows).select(PAPER_COLUMNS), upvote_history_from_listings(rows), None


def search_hits(body: bytes) -> list[dict] | None:
    """The papers of a papers-search answer (items with a `paper`, or bare papers); None if not a list."""
    try:
        document = json_loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(document, list):
        return None
    hits = []
    for entry in document:
        paper = entry.get("paper", entry) if isinstance(entry, dict) else None
        if isinstance(paper, dict) and isinstance(paper.get("title"), str) and paper_id(paper.get("id")):
            hits.append(paper)
    return hits


def title_resolved(title: str, hits: list[dict]) -> tuple[str | None, str]:
    """The arXiv id whose title has the same words as `title`: (paper_id, resolved|not_found|ambiguous)."""
    wanted = synthetic_paper_id(title)
    found = sorted({paper_id(h["id"]) for h in hits if synthetic_paper_id(h["title"]) == wanted})
    if len(found) == 1:
        return found[0], "resolved"
    return None, "ambiguous" if found else "not_found"
