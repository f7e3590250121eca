"""Tests for the deterministic Daily Papers listing generator."""

from __future__ import annotations

import collections
import datetime as dt
import json
import re

import pytest
from papertrends.devkit import sample_listings
from papertrends.devkit.sample_listings import (
    DailyLists,
    generate_daily_lists,
    planted_truth,
    write_daily_files,
)

START, END = dt.date(2025, 1, 1), dt.date(2025, 6, 30)
PAPER_KEYS = {"id", "authors", "publishedAt", "submittedOnDailyAt", "title", "summary", "upvotes",
              "discussionId"}
OPTIONAL_PAPER_KEYS = {"githubRepo", "projectPage", "ai_keywords"}
ITEM_KEYS = {"paper", "publishedAt", "title", "summary", "thumbnail", "numComments",
             "submittedBy", "isAuthorParticipating"}
HEX24 = re.compile(r"[0-9a-f]{24}")
ISO_MILLIS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.fixture(scope="module")
def lists() -> DailyLists:
    """Half a year of listings: crosses the ai_keywords cut-over and gives stable shares."""
    return generate_daily_lists(START, END, seed=7)


def tokens(item: dict) -> list[str]:
    """Whole-word tokens of title and abstract, as the trend queries see them."""
    return re.findall(r"[^\W_]+", (item["title"] + " " + item["summary"]).lower())


def has_phrase(words: list[str], phrase: list[str]) -> bool:
    """True when ``phrase`` occurs as consecutive tokens."""
    return any(words[i:i + len(phrase)] == phrase for i in range(len(words)))


def first_listing(lists: dict) -> dict[str, tuple[str, dict]]:
    """paper id -> (first list date, item)."""
    first: dict[str, tuple[str, dict]] = {}
    for date, items in lists.items():
        for item in items:
            first.setdefault(item["paper"]["id"], (date, item))
    return first


def all_items(lists: dict):
    """Yield (date, item) for every listing."""
    for date, items in lists.items():
        for item in items:
            yield date, item


def test_same_seed_gives_identical_json_and_other_seed_differs():
    a = generate_daily_lists(START, dt.date(2025, 1, 20), seed=11)
    b = generate_daily_lists(START, dt.date(2025, 1, 20), seed=11)
    c = generate_daily_lists(START, dt.date(2025, 1, 20), seed=12)
    assert json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)
    assert planted_truth(a) == planted_truth(b)
    assert json.dumps(a) != json.dumps(c)


def test_every_date_is_present_and_weekdays_are_never_empty(lists):
    expected = [(START + dt.timedelta(days=i)).isoformat() for i in range((END - START).days + 1)]
    assert list(lists) == expected
    weekday = [len(v) for d, v in lists.items() if dt.date.fromisoformat(d).weekday() < 5]
    weekend = [len(v) for d, v in lists.items() if dt.date.fromisoformat(d).weekday() >= 5]
    assert min(weekday) >= 1
    assert sum(weekend) / len(weekend) < sum(weekday) / len(weekday) / 2


def test_items_have_the_api_shape_with_optional_keys_absent_not_null(lists):
    for date, item in all_items(lists):
        paper = item["paper"]
        assert set(item) == ITEM_KEYS
        assert PAPER_KEYS <= set(paper) <= PAPER_KEYS | OPTIONAL_PAPER_KEYS
        assert None not in paper.values() and None not in item.values()
        assert item["title"] == paper["title"] and item["summary"] == paper["summary"]
        assert item["thumbnail"] == (
            f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper['id']}.png")
        assert HEX24.fullmatch(paper["discussionId"])
        assert ISO_MILLIS.fullmatch(paper["publishedAt"]) and paper["publishedAt"].endswith(".000Z")
        assert ISO_MILLIS.fullmatch(paper["submittedOnDailyAt"])
        assert paper["authors"] and all(
            set(a) == {"_id", "name", "hidden"} and HEX24.fullmatch(a["_id"])
            and isinstance(a["hidden"], bool) for a in paper["authors"])
        assert set(item["submittedBy"]) == {"_id", "fullname", "user", "type"}
        assert item["submittedBy"]["type"] == "user"
        assert 0 <= item["numComments"] <= 5 and isinstance(item["isAuthorParticipating"], bool)
        assert isinstance(paper["upvotes"], int) and paper["upvotes"] >= 0
        if "githubRepo" in paper:
            assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", paper["githubRepo"])
        if "ai_keywords" in paper:
            assert date >= "2025-03-01" and paper["ai_keywords"]


def test_arxiv_ids_are_well_formed_and_unique_per_date_and_range(lists):
    for date, items in lists.items():
        ids = [item["paper"]["id"] for item in items]
        assert len(ids) == len(set(ids)), date
        for item in items:
            paper_id, published = item["paper"]["id"], item["paper"]["publishedAt"]
            assert re.fullmatch(r"\d{4}\.\d{5}", paper_id)
            assert paper_id[:4] == published[2:4] + published[5:7]
    occurrences = collections.Counter(item["paper"]["id"] for _, item in all_items(lists))
    assert max(occurrences.values()) <= 2


def test_dates_publish_lag_and_submission_day(lists):
    for date, item in all_items(lists):
        listed = dt.date.fromisoformat(date)
        published = dt.date.fromisoformat(item["paper"]["publishedAt"][:10])
        assert 0 <= (listed - published).days <= 3
        assert item["paper"]["submittedOnDailyAt"][:10] == date
        assert item["paper"]["publishedAt"] < item["paper"]["submittedOnDailyAt"]


def test_item_published_at_changes_meaning_like_the_real_api(lists):
    for date, item in all_items(lists):
        paper = item["paper"]
        if date < "2025-03-14":  # the posting time
            assert item["publishedAt"] == paper["submittedOnDailyAt"]
        else:  # paper.publishedAt as US/Eastern wall time, which is EDT all through this range
            utc = dt.datetime.fromisoformat(paper["publishedAt"].replace("Z", "+00:00"))
            shown = dt.datetime.fromisoformat(item["publishedAt"].replace("Z", "+00:00"))
            assert utc - shown == dt.timedelta(hours=4)


@pytest.mark.parametrize(("paper_utc", "item_value"), [
    ("2025-03-12T17:33:22", "2025-03-12T13:33:22.000Z"),  # pairs seen in the real archive
    ("2025-11-05T08:17:42", "2025-11-05T03:17:42.000Z"),
    ("2025-11-02T05:59:00", "2025-11-02T01:59:00.000Z"),  # last minute of EDT
    ("2026-03-08T07:00:00", "2026-03-08T03:00:00.000Z"),  # first minute of EDT
])
def test_eastern_shift_follows_us_daylight_time(paper_utc, item_value):
    utc = dt.datetime.fromisoformat(paper_utc).replace(tzinfo=dt.timezone.utc)
    assert sample_listings._item_published_at(dt.date(2026, 1, 1), utc, utc) == item_value


def test_about_two_percent_relisted_with_different_upvotes(lists):
    by_id = collections.defaultdict(list)
    for date, item in all_items(lists):
        by_id[item["paper"]["id"]].append((date, item))
    relisted = [entries for entries in by_id.values() if len(entries) == 2]
    assert 0.01 <= len(relisted) / len(by_id) <= 0.035
    for (first_date, first), (later_date, later) in relisted:
        assert first_date < later_date
        assert first["title"] == later["title"] and first["summary"] == later["summary"]
        assert first["paper"]["upvotes"] != later["paper"]["upvotes"]


def test_abstracts_have_realistic_length_and_sentence_count(lists):
    for _, item in all_items(lists):
        summary = item["summary"]
        assert 600 <= len(summary) <= 1500
        assert 4 <= len(re.findall(r"[.!?](?:\s|$)", summary)) <= 8
        assert "\n" not in summary


def test_realistic_texture(lists):
    items = [item for _, item in all_items(lists)]
    share = lambda pred: sum(map(pred, items)) / len(items)  # noqa: E731
    assert 0.3 <= share(lambda i: "githubRepo" in i["paper"]) <= 0.5
    assert 0.05 <= share(lambda i: "\n  " in i["title"]) <= 0.15
    assert share(lambda i: "\\%" in i["summary"] or "$\\mathcal" in i["summary"]) > 0.02
    assert share(lambda i: any(ord(c) > 127 for c in i["title"])) > 0.01
    assert any(ord(c) > 127 for i in items for a in i["paper"]["authors"] for c in a["name"])
    upvotes = sorted(i["paper"]["upvotes"] for i in items)
    assert upvotes[len(upvotes) // 2] <= 20 and upvotes[-1] >= 100


def test_planted_truth_matches_whole_word_tokens(lists):
    truth = planted_truth(lists)
    for _, item in all_items(lists):
        words, planted = tokens(item), truth[item["paper"]["id"]]
        assert ("scaling" in words) == planted["scaling"], item["paper"]["id"]
        assert ("tractable" in words) == planted["tractable"], item["paper"]["id"]
        its = has_phrase(words, ["inference", "time", "scaling"])
        assert its == planted["inference_time_scaling"], item["paper"]["id"]
        if planted["inference_time_scaling"]:
            assert "inference-time scaling" in (item["title"] + " " + item["summary"]).lower()


def test_near_miss_words_appear_only_without_the_planted_word(lists):
    truth = planted_truth(lists)
    near_scaling = near_tractable = 0
    for _, item in all_items(lists):
        words, planted = set(tokens(item)), truth[item["paper"]["id"]]
        if words & {"scalable", "scalability", "upscaling", "rescaling", "downscaling"}:
            near_scaling += 1
            assert not planted["scaling"]
        if words & {"intractable", "tractability"}:
            near_tractable += 1
            assert not planted["tractable"]
    assert near_scaling > 100 and near_tractable > 100


def test_scaling_share_rises_and_tractable_stays_flat(lists):
    truth, first = planted_truth(lists), first_listing(lists)
    quarter_of = lambda date: min(3, (dt.date.fromisoformat(date) - START).days * 4  # noqa: E731
                                  // ((END - START).days + 1))
    shares = collections.defaultdict(lambda: collections.defaultdict(list))
    for paper_id, (date, _) in first.items():
        for word, value in truth[paper_id].items():
            shares[word][quarter_of(date)].append(value)
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    scaling = [mean(shares["scaling"][q]) for q in range(4)]
    assert 0.05 <= scaling[0] <= 0.16 and 0.33 <= scaling[3] <= 0.48
    assert scaling[0] < scaling[1] < scaling[3]
    tractable = [mean(shares["tractable"][q]) for q in range(4)]
    assert all(0.06 <= share <= 0.14 for share in tractable)
    its = [mean(shares["inference_time_scaling"][q]) for q in range(4)]
    assert its[0] == its[1] == 0 and its[3] > its[2] > 0


def test_base_vocabularies_never_contain_planted_words():
    for name, value in vars(sample_listings).items():
        if not name.isupper() or not isinstance(value, tuple) or name.startswith("PLANTED_"):
            continue
        for text in value:
            words = re.findall(r"[^\W_]+", str(text).lower())
            assert "scaling" not in words and "tractable" not in words, (name, text)
            assert "inference-time" not in str(text).lower(), (name, text)


def test_planted_truth_requires_the_generated_object(lists):
    with pytest.raises(TypeError):
        planted_truth({"2025-01-01": lists["2025-01-01"]})


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        generate_daily_lists(END, START)
    with pytest.raises(ValueError):
        generate_daily_lists(START, END, papers_per_day=(5, 2))


def test_write_daily_files_round_trips_utf8(tmp_path):
    lists = generate_daily_lists(dt.date(2025, 3, 3), dt.date(2025, 3, 5), seed=3)
    paths = write_daily_files(lists, tmp_path / "raw")
    assert [p.name for p in paths] == ["2025-03-03.json", "2025-03-04.json", "2025-03-05.json"]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        items = lists[path.stem]
        assert text == json.dumps(items, indent=2, ensure_ascii=False)
        assert json.loads(text) == items
