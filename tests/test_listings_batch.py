"""A batch of HF list inputs is typed in one frame (ListingsBatch), exactly as each input alone would be."""

import datetime as dt
import json

import polars as pl
from papertrends.transforms.hf_listings import ListingsBatch, daily_papers_extracted, listings_normalized

UTC = dt.timezone.utc


def context(origin: str, list_date: dt.date | None) -> dict:
    return {"source": "hf_daily", "list_date": list_date, "fetched_at": dt.datetime(2026, 5, 1, 12, tzinfo=UTC),
            "origin": origin, "raw_sha256": origin[-8:], "list_period": None, "ranked": False}


def one_by_one(inputs: list[tuple[bytes, dict]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The reference: each input extracted (raw JSON of every item kept) and typed on its own."""
    rows, quarantines = [], []
    for body, ctx in inputs:
        extracted = daily_papers_extracted(body, origin=ctx["origin"], raw_sha256=ctx["raw_sha256"])
        r, q = listings_normalized(extracted, **ctx)
        rows.append(r)
        quarantines.append(q)
    return pl.concat(rows), pl.concat(quarantines)


def batched(inputs: list[tuple[bytes, dict]], rereads: list[int] | None = None) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    batch = ListingsBatch()
    for number, (body, ctx) in enumerate(inputs):
        def reread(body=body, number=number):
            if rereads is not None:
                rereads.append(number)
            return body
        batch.add_daily_papers(body, context=ctx, reread=reread)
    rows, quarantine = batch.normalized()
    return rows, quarantine, batch.items_in


def sorted_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(["origin", "position"], nulls_last=True)


def test_every_real_sample_day_in_one_batch_equals_each_day_alone(samples):
    inputs = [(path.read_bytes(), context(f"hf_daily/{path.name}", dt.date.fromisoformat(path.stem)))
              for path in sorted((samples / "hf_daily").glob("*.json"))]
    expected_rows, expected_quarantine = one_by_one(inputs)
    rows, quarantine, items_in = batched(inputs)
    assert rows.height + quarantine.height == items_in == expected_rows.height + expected_quarantine.height
    assert quarantine.height > 0  # 2024-12-17.json holds Python repr strings: quarantined with their text
    assert sorted_rows(rows).equals(sorted_rows(expected_rows))
    assert sorted_rows(quarantine).equals(sorted_rows(expected_quarantine))


def test_items_quarantined_when_typed_keep_their_raw_json_and_only_their_input_is_read_again():
    good = [{"paper": {"id": "2505.00001", "title": "Fine", "submittedOnDailyAt": "2025-05-02T10:00:00.000Z"}}]
    bad_id = {"paper": {"id": "not-an-id", "title": "Bad id ✓"}, "numComments": 2}
    no_date = {"paper": {"id": "2505.00003", "title": "No date"}}
    inputs = [
        (json.dumps(good).encode(), context("a/2025-05-02.json", None)),
        (json.dumps([*good, bad_id, no_date], ensure_ascii=False).encode(), context("b/undated.json", None)),
        (json.dumps(["{'paper': 1}", *good]).encode(), context("c/2025-05-03.json", dt.date(2025, 5, 3))),
    ]
    rereads: list[int] = []
    rows, quarantine, items_in = batched(inputs, rereads)
    expected_rows, expected_quarantine = one_by_one(inputs)
    assert (items_in, rows.height, quarantine.height) == (6, 3, 3)
    assert sorted_rows(rows).equals(sorted_rows(expected_rows))
    assert sorted_rows(quarantine).equals(sorted_rows(expected_quarantine))
    texts = dict(zip(quarantine["position"].to_list(), quarantine["raw_text"].to_list()))
    assert json.loads(texts[1]) == bad_id and texts[1] == json.dumps(bad_id, ensure_ascii=False)
    assert json.loads(texts[2]) == no_date
    # Only the input with items quarantined when typed was read again, once; loadable items kept no JSON.
    assert rereads == [1]


def test_an_empty_batch_and_a_batch_of_bad_bodies_count_every_input():
    assert ListingsBatch().normalized()[0].height == 0
    rows, quarantine, items_in = batched([(b"{not json", context("x/1.json", None)), (b'{"error": "no"}', context("y/2.json", None))])
    assert (rows.height, quarantine.height, items_in) == (0, 2, 2)
    assert quarantine["reason"].to_list()[1] == "JSON is an object, not a list of items: error 'no'"


def test_a_count_too_big_for_its_column_is_quarantined_not_a_crash():
    """Before: an upvote count over 2**31-1 stopped the whole batch (a Polars/Arrow overflow error)."""
    items = [{"paper": {"id": "2505.00001", "title": "Huge", "upvotes": 2**40}},
             {"paper": {"id": "2505.00002", "title": "Fine", "upvotes": 3}}]
    rows, quarantine, items_in = batched([(json.dumps(items).encode(), context("a/2025-05-02.json", dt.date(2025, 5, 2)))])
    assert (rows["paper_id"].to_list(), items_in) == (["2505.00002"], 2)
    assert quarantine["reason"].to_list() == [f"paper.upvotes is {2**40}, more than {2**31 - 1}"]
    assert json.loads(quarantine["raw_text"][0]) == items[0]
