"""Normalizing Hugging Face items and saved pages (transforms/hf_listings.py), tiny inputs inline."""

import datetime as dt
import json

import polars as pl
from papertrends.transforms.hf_listings import (
    LISTING_SCHEMA,
    QUARANTINE_SCHEMA,
    daily_papers_extracted,
    listings_normalized,
    papers_page_extracted,
)

FETCHED = dt.datetime(2025, 5, 28, 6, 0, tzinfo=dt.timezone.utc)


def item(paper_id="2505.19147", **paper):
    base = {
        "id": paper_id,
        "title": "Shifting AI Efficiency From Model-Centric\n  to Data-Centric Compression",
        "summary": "  We argue   that\nefficiency matters. ",
        "authors": [{"_id": "a", "name": "Xuyang Liu", "hidden": False}, {"_id": "b", "name": "Zoë  Wen"}],
        "publishedAt": "2025-05-25T13:51:17.000Z",
        "submittedOnDailyAt": "2025-05-27T02:06:05.849Z",
        "upvotes": 12,
    }
    base.update(paper)
    return {"paper": base, "numComments": 3, "title": base["title"]}


def normalize(body, list_date=dt.date(2025, 5, 27), offset=0):
    extracted = daily_papers_extracted(body, origin="test", raw_sha256="abc", position_offset=offset)
    rows, quarantine = listings_normalized(
        extracted, source="hf_daily", list_date=list_date, fetched_at=FETCHED, origin="test", raw_sha256="abc"
    )
    assert rows.height + quarantine.height == extracted.items_in
    return rows, quarantine, extracted.items_in


def test_a_good_item_becomes_one_typed_row():
    rows, quarantine, items_in = normalize(json.dumps([item(githubRepo="https://github.com/Org/Repo/tree/main\n#x")]).encode())
    assert (items_in, quarantine.height) == (1, 0)
    assert rows.schema == pl.Schema(LISTING_SCHEMA)
    row = rows.row(0, named=True)
    assert row["paper_id"] == "2505.19147"
    assert row["title"] == "Shifting AI Efficiency From Model-Centric to Data-Centric Compression"
    assert row["abstract"] == "We argue that efficiency matters."
    assert row["authors"] == ["Xuyang Liu", "Zoë Wen"]
    assert row["published_at"] == dt.datetime(2025, 5, 25, 13, 51, 17, tzinfo=dt.timezone.utc)
    assert row["list_date"] == dt.date(2025, 5, 27)
    assert (row["upvotes"], row["num_comments"], row["position"]) == (12, 3, 0)
    assert row["github_repo"] == "https://github.com/Org/Repo"
    assert row["project_page"] is None and row["ai_keywords"] is None


def test_latex_and_non_ascii_are_kept_as_written():
    rows, _, _ = normalize(json.dumps([item(title="\\$OneMillion-Bench: 50\\% of μLO", summary="Prefill \\& Decode")]).encode())
    assert rows["title"].to_list() == ["\\$OneMillion-Bench: 50\\% of μLO"]
    assert rows["abstract"].to_list() == ["Prefill \\& Decode"]


def test_versioned_ids_lose_their_version():
    rows, _, _ = normalize(json.dumps([item("2505.19147v2")]).encode())
    assert rows["paper_id"].to_list() == ["2505.19147"]


def test_positions_count_pages_in():
    rows, _, _ = normalize(json.dumps([item("2505.00001"), item("2505.00002")]).encode(), offset=50)
    assert rows["position"].to_list() == [50, 51]


def test_list_date_from_submitted_on_daily_at_when_not_given():
    rows, _, _ = normalize(json.dumps([item()]).encode(), list_date=None)
    assert rows["list_date"].to_list() == [dt.date(2025, 5, 27)]


def test_bad_items_are_quarantined_with_reasons_and_raw_text():
    repr_string = "{'paper': {'id': '2412.09645'}}"
    no_id = {"paper": {"title": "x"}}
    body = json.dumps([item(), repr_string, 7, no_id, item("nonsense"), item(upvotes=-1), item(title="  ")]).encode()
    rows, quarantine, items_in = normalize(body)
    assert (items_in, rows.height, quarantine.height) == (7, 1, 6)
    assert quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)
    by_position = dict(zip(quarantine["position"].to_list(), quarantine["reason"].to_list()))
    assert by_position == {
        1: "item is a string, not a JSON object (it looks like a Python repr; it is never evaluated)",
        2: "item is a JSON int, not an object",
        3: "item has no paper.id",
        4: "paper.id nonsense is not an arXiv id",
        5: "paper.upvotes is -1, not a non-negative integer",
        6: "item has no title",
    }
    assert quarantine.filter(pl.col("position") == 1)["raw_text"].item() == repr_string


def test_unreadable_bodies_are_one_quarantined_item():
    for body, reason in [
        (b"[{\"paper\": ", "not valid JSON: Expecting value at line 1 column 12"),
        (b"<html>rate limited</html>", "not valid JSON: Expecting value at line 1 column 1"),
        (b'{"error": "Invalid date"}', "JSON is an object, not a list of items: error 'Invalid date'"),
        (b"\x80\x81", "not UTF-8 text: invalid start byte at byte 0"),  # \xff\xfe alone is an empty UTF-16 text
    ]:
        rows, quarantine, items_in = normalize(body)
        assert (items_in, rows.height) == (1, 0)
        assert quarantine["reason"].to_list() == [reason]
        assert quarantine["position"].to_list() == [None]


def test_an_enveloped_day_is_unwrapped():
    body = json.dumps({"status": "ok", "date": "2025-01-02", "count": 1, "data": [item()]}).encode()
    rows, quarantine, _ = normalize(body)
    assert (rows.height, quarantine.height) == (1, 0)


def test_saved_text_page():
    page = "\n".join([
        "new", "", "Get trending papers in your email inbox!", "", "byAK and the research community", "", "May 8", "",
        "Tractable Circuits  ", "", "We study circuits. Code: github.com/org/circuits.", "",
        "Scaling Laws", "", "Abstract two.", "",
        "A title without abstract",
    ])
    extracted = papers_page_extracted(page, origin="page.txt", raw_sha256="s")
    rows, quarantine = listings_normalized(
        extracted, source="hf_page", list_date=dt.date(2024, 5, 8), fetched_at=FETCHED, origin="page.txt", raw_sha256="s"
    )
    assert rows["title"].to_list() == ["Tractable Circuits", "Scaling Laws"]
    assert rows["paper_id"].str.starts_with("title:").all()
    assert rows["github_repo"].to_list() == ["https://github.com/org/circuits", None]
    assert quarantine["reason"].to_list() == ["title without an abstract at the end of the page"]
