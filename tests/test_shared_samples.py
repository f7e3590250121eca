"""Real Hugging Face data from ../shared/samples (skipped when absent).

Expected numbers are derived here, independently of the pipeline, with plain Python.
"""

import collections
import datetime as dt
import json
import re

import pytest
from papertrends.flows.ingest import ingest_files
from papertrends.transforms.hf_listings import papers_page_extracted
from testsupport import warehouse_rows as query

pytestmark = pytest.mark.usefixtures("prefect_harness")


def plain_words(text: str) -> set[str]:
    """Whole words the way a person would count them: letters and digits, lower-cased."""
    return set(re.findall(r"[^\W_]+", text.lower()))


def expected_from_files(folder):
    """Papers, listings and quarantined items of every daily file, by hand."""
    listings, quarantined, first_seen, text = set(), 0, {}, {}
    for path in sorted(folder.glob("*.json")):
        day = dt.date.fromisoformat(path.stem)
        for item in json.loads(path.read_text("utf-8")):
            paper = item.get("paper") if isinstance(item, dict) else None
            if not (isinstance(paper, dict) and isinstance(paper.get("id"), str)):
                quarantined += 1
                continue
            paper_id = re.sub(r"v\d+$", "", paper["id"])
            listings.add((day, paper_id))
            first_seen[paper_id] = min(first_seen.get(paper_id, day), day)
            text[paper_id] = f"{paper['title']} {paper.get('summary') or ''}"
    return listings, quarantined, first_seen, text


@pytest.fixture(scope="module")
def loaded(samples, tmp_path_factory):
    home = tmp_path_factory.mktemp("samples") / "data"
    report = ingest_files([str(samples / "hf_daily")], home=str(home))
    return home, report


def test_every_daily_file_loads_with_exact_counts(loaded, samples):
    home, report = loaded
    listings, quarantined, first_seen, _ = expected_from_files(samples / "hf_daily")
    assert report.inputs == 60
    assert report.items_in == len(listings) + quarantined
    assert (report.items_loaded, report.items_quarantined) == (len(listings), quarantined)
    assert query(home, "select count(*) from papers") == [(len(first_seen),)]
    assert query(home, "select count(*) from listings") == [(len(listings),)]
    assert query(home, "select count(*) from quarantine") == [(quarantined,)]
    assert quarantined > 0  # the 2024-12-17 repr file is among them


def test_python_repr_items_are_quarantined_with_their_bytes(loaded, samples):
    home, _ = loaded
    rows = query(home, "select reason, raw_text from quarantine where origin like 'files/2024-12-17/2024-12-17-%.json'")
    original = json.loads((samples / "hf_daily" / "2024-12-17.json").read_text("utf-8"))
    assert len(rows) == len(original)
    assert all("Python repr" in reason for reason, _ in rows)
    assert sorted(raw for _, raw in rows) == sorted(original)
    landed = [p for p in (home / "raw").rglob("2024-12-17-*.json") if not p.name.endswith(".meta.json")]
    assert [p.read_bytes() for p in landed] == [(samples / "hf_daily" / "2024-12-17.json").read_bytes()]


def test_reingesting_changes_nothing(loaded, samples):
    home, _ = loaded
    snapshot = lambda: (  # noqa: E731
        query(home, "select * exclude (observed_at) from papers order by paper_id"),
        query(home, "select * from listings order by all"),
        query(home, "select * exclude (first_run_id) from quarantine order by item_key"),
    )
    before = snapshot()
    again = ingest_files([str(samples / "hf_daily")], home=str(home))
    assert (again.listings_new, again.listings_changed, again.papers_new, again.papers_changed) == (0, 0, 0, 0)
    assert snapshot() == before


def test_scaling_trend_equals_a_plain_python_count(loaded, samples):
    home, _ = loaded
    _, _, first_seen, text = expected_from_files(samples / "hf_daily")
    expected = collections.Counter()
    totals = collections.Counter()
    for paper_id, day in first_seen.items():
        month = day.strftime("%Y-%m")
        totals[month] += 1
        expected[month] += "scaling" in plain_words(text[paper_id])
    from papertrends.transforms.terms import parse_term
    from papertrends.warehouse import connection, reads

    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        rows = reads.trend(con, [parse_term("scaling")], by="month").rows()
    finally:
        con.close()
    assert [(period, matches, total) for period, _, matches, total, _ in rows] == [
        (month, expected[month], totals[month]) for month in sorted(totals)
    ]
    assert sum(expected.values()) > 0


def test_the_text_page_parses_into_84_papers(samples):
    text = (samples / "hf_papers_page.txt").read_text("utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    start = lines.index("May 8") + 1
    titles, abstracts = lines[start::2], lines[start + 1 :: 2]
    extracted = papers_page_extracted(text, origin="page", raw_sha256="s")
    assert extracted.items_in == 84 and extracted.quarantine.height == 0
    assert extracted.items["title_raw"].to_list() == titles
    assert extracted.items["abstract_raw"].to_list() == abstracts
    # Whole words: the README's 18 and 19 count substrings; one paper says only "intractable",
    # and "scaling" hides inside "upscaling", "downscaling" and "rescaling" in another.
    both = [plain_words(t + " " + a) for t, a in zip(titles, abstracts)]
    assert sum("tractable" in (t + a).lower() for t, a in zip(titles, abstracts)) == 18
    assert sum("tractable" in w for w in both) == 17
    assert sum("scaling" in w for w in both) == 18


def test_the_text_page_ingests_under_synthetic_ids(samples, home):
    report = ingest_files([str(samples / "hf_papers_page.txt")], list_date="2024-05-08", home=str(home))
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (84, 84, 0)
    assert not report.warnings
    rows = query(home, "select count(*), count(*) filter (where paper_id like 'title:%') from papers")
    assert rows == [(84, 84)]
    from papertrends.transforms.terms import parse_term
    from papertrends.warehouse import connection, reads

    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        trend = reads.trend(con, [parse_term("tractable"), parse_term("scaling")], by="day").rows()
    finally:
        con.close()
    assert trend == [("2024-05-08", "tractable", 17, 84, 17 / 84), ("2024-05-08", "scaling", 18, 84, 18 / 84)]


def test_a_text_page_without_a_date_is_quarantined_with_the_fix(samples, home):
    report = ingest_files([str(samples / "hf_papers_page.txt")], home=str(home))
    assert (report.items_in, report.items_loaded, report.items_quarantined) == (1, 0, 1)
    assert "--date" in query(home, "select reason from quarantine")[0][0]
