"""Trend analytics on real DuckDB files: the term index gives the ground truth's answers, for every
query form, filter and load order; the SQL macros give the CLI's rows; papers, search, rising."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys

import duckdb
import polars as pl
import pytest
from papertrends.cli.main import main
from papertrends.transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA
from papertrends.transforms.terms import parse_term, words, words_expr
from papertrends.warehouse import analytics, connection, loads, reads, term_index

UTC = dt.timezone.utc
NO_QUARANTINE = pl.DataFrame(schema=QUARANTINE_SCHEMA)
FILLER = ("model", "data", "learning", "graph", "vision", "language", "robot", "policy", "agent", "time",
          "inference", "scalable", "upscaling", "intractable", "tractability", "test", "circuits")
MONTHS = [dt.date(2025, m, 1) for m in (1, 2, 3, 5, 6, 7, 8)]  # April has no papers at all


def listing_rows(rows, source="hf_daily"):
    """Listing frame from (paper_id, list_date, title, abstract, upvotes) tuples."""
    frame = []
    for paper_id, list_date, title, abstract, upvotes in rows:
        row = {name: None for name in LISTING_SCHEMA}
        row.update(
            source=source, list_date=list_date, paper_id=paper_id, position=0, title=title, abstract=abstract,
            authors=["A"], upvotes=upvotes, fetched_at=dt.datetime.combine(list_date, dt.time(6), UTC),
            origin="test", raw_sha256="sha",
        )
        frame.append(row)
    return pl.DataFrame(frame, schema=LISTING_SCHEMA)


def generated_papers(seed=5):
    """Papers over MONTHS; in month i, 'scaling' planted in the first 2*i of 20 (rising, known by construction)."""
    rng = random.Random(seed)
    rows, planted = [], {}
    for i, month in enumerate(MONTHS):
        for j in range(20):
            paper_id = f"25{month.month:02d}.{j:05d}"
            filler = " ".join(rng.choice(FILLER) for _ in range(12))
            has = j < 2 * i
            phrase = has and j % 2 == 0
            text = filler + (" inference-time scaling" if phrase else " about scaling" if has else "")
            rows.append((paper_id, month + dt.timedelta(days=j % 25), f"Paper {rng.choice(FILLER).title()}", text, j))
            planted[paper_id] = {"scaling": has, "inference-time scaling": phrase}
    return rows, planted


@pytest.fixture
def warehouse(tmp_path):
    """A warehouse loaded in three batches (so the index is built incrementally)."""
    rows, planted = generated_papers()
    path = tmp_path / "warehouse.duckdb"
    con = connection.open_writer(path)
    for run, part in enumerate((rows[:50], rows[50:90], rows[90:]), start=1):
        loads.load(con, listing_rows(part), NO_QUARANTINE, run)
    yield con, path, rows, planted
    con.close()


QUERIES = ["scaling", "scal*", "tractable", "tractab*", "inference-time scaling", "inference time",
           "time scaling", "scaling|tractability", "test-time scaling", "model data", "nowhere"]


def ground_truth(con, by="month"):
    """Trend by the foundation's full scan over search texts (contains, no index)."""
    return reads.trend(con, [parse_term(q) for q in QUERIES if "|" not in q], by=by)


@pytest.mark.parametrize("by", ["day", "week", "month", "quarter", "year"])
def test_the_index_gives_the_full_scans_answers(warehouse, by):
    con, *_ = warehouse
    indexed = analytics.trend(con, [analytics.parse_query(q) for q in QUERIES], by=by)
    if by != "quarter":  # the scan knows no quarters
        truth = ground_truth(con, by)
        joined = truth.join(indexed, on=["period", "term"], how="left", suffix="_index")
        assert joined.height == truth.height
        assert joined["matches"].to_list() == joined["matches_index"].to_list()
        assert joined["total"].to_list() == joined["total_index"].to_list()
    # OR groups: a paper matching either alternative, counted once.
    either = indexed.filter(pl.col("term") == "scaling|tractability")["matches"].sum()
    rows = con.execute("select search_text from papers").fetchall()
    assert either == sum(1 for (text,) in rows if " scaling " in text or " tractability " in text)


def test_counts_are_known_by_construction_and_empty_months_are_zero_rows(warehouse):
    con, _, rows, planted = warehouse
    frame = analytics.trend(con, [analytics.parse_query("scaling"), analytics.parse_query("inference-time scaling")])
    assert frame["period"].unique(maintain_order=True).to_list() == [
        "2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08"]
    april = frame.filter(pl.col("period") == "2025-04")
    assert april["matches"].to_list() == [0, 0] and april["total"].to_list() == [0, 0]
    assert april["share"].to_list() == [None, None]
    for row in frame.filter(pl.col("total") > 0).iter_rows(named=True):
        ids = [r[0] for r in rows if r[1].strftime("%Y-%m") == row["period"]]
        assert row["total"] == len(ids)
        assert row["matches"] == sum(planted[i][row["term"]] for i in ids)
    january = frame.filter((pl.col("period") == "2025-01") & (pl.col("term") == "scaling"))
    assert january["matches"].item() == 0 and january["total"].item() == 20


def test_incremental_index_equals_one_built_at_once(tmp_path, warehouse):
    con, _, rows, _ = warehouse
    # Later loads: an earlier relisting moves a paper to another month; a changed abstract.
    moved = rows[30]
    loads.load(con, listing_rows([(moved[0], dt.date(2024, 12, 20), moved[2], moved[3], 99)]), NO_QUARANTINE, 4)
    changed = rows[70]
    loads.load(con, listing_rows([(changed[0], changed[1], changed[2], "now about tractable circuits", 1)]),
               NO_QUARANTINE, 5)
    fresh = connection.open_writer(tmp_path / "fresh.duckdb")
    every = con.execute("select * from listings").pl()
    texts = con.execute("select paper_id, title, abstract from papers").pl()
    batch = every.join(texts, on="paper_id").with_columns(
        authors=pl.lit(["A"]), published_at=pl.lit(None, pl.Datetime("us", "UTC"))
    )
    for column in LISTING_SCHEMA:
        if column not in batch.columns:
            batch = batch.with_columns(pl.lit(None).alias(column))
    loads.load(fresh, batch.select(list(LISTING_SCHEMA)).cast(LISTING_SCHEMA), NO_QUARANTINE, 1)

    def state(c):
        counts = c.execute(
            "select w.word, c.first_list_date, sum(c.papers) as n from term_counts c "
            "left join term_words w using (word_id) group by all having n <> 0 order by all"
        ).fetchall()
        postings = c.execute(
            "select tp.paper_id, w.word from term_postings p join term_papers tp using (paper_key) "
            "join term_words w using (word_id) order by all"
        ).fetchall()
        papers_ = c.execute("select * exclude (paper_key) from term_papers order by paper_id").fetchall()
        return counts, postings, papers_

    assert state(con) == state(fresh)
    fresh.close()
    trend = analytics.trend(con, [analytics.parse_query("tractable"), analytics.parse_query("scaling")], by="month")
    assert trend["period"][0] == "2024-12"
    assert trend.filter(pl.col("term") == "tractable")["matches"].sum() == ground_truth(con).filter(
        pl.col("term") == "tractable")["matches"].sum()


def test_filters_source_category_and_upvotes(warehouse):
    con, _, rows, planted = warehouse
    # Ten papers also listed on arXiv a month later; categories for a few papers.
    arxiv = [(r[0], r[1] + dt.timedelta(days=31), r[2], r[3], None) for r in rows[40:50]]
    loads.load(con, listing_rows(arxiv, source="arxiv"), NO_QUARANTINE, 9)
    con.execute("update papers set categories = ['cs.LG'] where paper_id in (select paper_id from papers order by paper_id limit 25)")
    scaling = [analytics.parse_query("scaling")]

    frame = analytics.trend(con, scaling, source="arxiv")
    assert frame["total"].sum() == 10
    assert frame["matches"].sum() == sum(planted[r[0]]["scaling"] for r in rows[40:50])
    assert frame["period"].to_list()[0] == (rows[40][1] + dt.timedelta(days=31)).strftime("%Y-%m")
    assert analytics.trend(con, scaling, source="hf")["total"].sum() == len(rows)

    frame = analytics.trend(con, scaling, category="cs.LG")
    first25 = sorted(r[0] for r in rows)[:25]
    assert frame["total"].sum() == 25
    assert frame["matches"].sum() == sum(planted[i]["scaling"] for i in first25)

    frame = analytics.trend(con, scaling, min_upvotes=15)
    assert frame["total"].sum() == sum(1 for r in rows if r[4] >= 15)
    assert frame["matches"].sum() == sum(1 for r in rows if r[4] >= 15 and planted[r[0]]["scaling"])


def test_sql_macros_give_the_clis_rows(warehouse, capsys):
    con, path, *_ = warehouse
    con.close()
    home = path.parent
    terms = ["scaling|tractable", "inference-time scaling", "tractab*"]
    assert main(["--home", str(home), "trend", *terms, "--by", "quarter", "--min-upvotes", "3", "--format", "json"]) == 0
    from_cli = json.loads(capsys.readouterr().out)
    plain = duckdb.connect(str(path), read_only=True)
    frame = plain.execute(
        "select * from trend(['scaling|tractable', 'inference-time scaling', 'tractab*'], 'quarter', min_upvotes := 3)"
    ).pl()
    one = plain.execute("select * from trend('scaling')").pl()
    plain.close()
    assert frame.to_dicts() == from_cli
    assert main(["--home", str(home), "trend", "scaling", "--format", "json"]) == 0
    assert one.to_dicts() == json.loads(capsys.readouterr().out)


def test_plain_duckdb_cli_process_runs_the_macro(warehouse):
    """The macros live in the file: a fresh process with only duckdb can call them."""
    con, path, *_ = warehouse
    con.close()
    script = (f"import duckdb; c = duckdb.connect({str(path)!r}, read_only=True); "
              "print(c.execute(\"select sum(matches) from trend('scaling', 'year')\").fetchone()[0])")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert int(out) == sum(1 for v in generated_papers()[1].values() if v["scaling"])


def test_sql_tokenizer_agrees_with_terms_py(tmp_path):
    con = connection.open_writer(tmp_path / "w.duckdb")
    rng = random.Random(3)
    alphabet = ("abcXYZ019 -_'.,|*/é ÉßẞſςΣσ İıIi ǅǈ ÅÆØ ﬁﬂ Ωω ЖжЁё 漢字かなカナ 한국어 ١٢٣ ٤ अआ ᾼ ᾈ ǰ "
                "ꞵ ß\u00ad\u200b\u0301\u0307 \t\n🙂 Ⅻ ½ ²³ ⓐ")
    samples = ["", "GPT-4o test-time Scaling", "Straße STRASSE", "ΣΊΣΥΦΟΣ", "İstanbul", "x_y", "ﬁne-tuning"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    got = con.execute("select list(term_words_of(s) order by i) from (select unnest(?) as s, unnest(range(len(?))) as i)",
                      [samples, samples]).fetchone()[0]
    con.close()
    expected = pl.DataFrame({"s": samples}).select(words_expr(pl.col("s"))).to_series().to_list()
    assert expected[1] == words(samples[1]) == ["gpt", "4o", "test", "time", "scaling"]
    differing = [(s, g, e) for s, g, e in zip(samples, got, expected) if g != e]
    assert differing == []


def test_papers_behind_a_point(warehouse, capsys):
    con, path, rows, planted = warehouse
    frame = analytics.papers(con, analytics.parse_query("inference-time scaling"), *analytics.period_range("2025-06")[1:])
    expected = {r[0] for r in rows if r[1].month == 6 and planted[r[0]]["inference-time scaling"]}
    assert set(frame["paper_id"]) == expected and expected
    assert frame.columns == ["title", "paper_id", "list_date", "upvotes", "link"]
    assert frame["upvotes"].to_list() == sorted(frame["upvotes"].to_list(), reverse=True)
    assert frame["link"][0] == f"https://arxiv.org/abs/{frame['paper_id'][0]}"
    con.close()
    assert main(["--home", str(path.parent), "papers", "--term", "inference-time scaling", "--period", "2025-06",
                 "--format", "csv"]) == 0
    assert capsys.readouterr().out.count("\n") == len(expected) + 1


@pytest.mark.parametrize(
    ("label", "expected"),
    [("2025", ("year", dt.date(2025, 1, 1), dt.date(2025, 12, 31))),
     ("2025-Q4", ("quarter", dt.date(2025, 10, 1), dt.date(2025, 12, 31))),
     ("2024-02", ("month", dt.date(2024, 2, 1), dt.date(2024, 2, 29))),
     ("2025-W01", ("week", dt.date(2024, 12, 30), dt.date(2025, 1, 5))),
     ("2025-03-14", ("day", dt.date(2025, 3, 14), dt.date(2025, 3, 14)))],
)
def test_period_labels(label, expected):
    assert analytics.period_range(label) == expected


def test_search_ranks_by_bm25_and_stays_current(warehouse):
    con, *_ = warehouse
    loads.load(con, listing_rows([("2509.00001", dt.date(2025, 9, 1), "Probabilistic circuits at scale",
                                   "Tractable probabilistic circuits for everyone.", 7)]), NO_QUARANTINE, 8)
    assert term_index.fts_is_stale(con)
    assert term_index.rebuild_fts_if_stale(con)  # what the end of every ingest run does
    assert not term_index.fts_is_stale(con) and not term_index.rebuild_fts_if_stale(con)
    frame = analytics.search(con, "probabilistic circuits")
    assert frame["paper_id"][0] == "2509.00001"
    assert frame["score"].to_list() == sorted(frame["score"].to_list(), reverse=True)
    assert "2509.00001" not in analytics.search(con, "probabilistic circuits", until=dt.date(2025, 8, 31))["paper_id"]


def test_search_from_term_tf_equals_the_fts_macro(warehouse):
    """`search` scores from term_tf (rows of the query's words only); the hits equal match_bm25 per paper."""
    from polars.testing import assert_frame_equal

    con, *_ = warehouse
    term_index.rebuild_fts(con)
    assert con.execute("select count(*) from fts_main_papers.term_tf").fetchone()[0] > 0
    cases = [("scaling", {}), ("inference-time scaling laws", {}), ("Scaling TIME robots", {"limit": 7}),
             ("graph vision", {"source": "hf", "min_upvotes": 5}), ("model", {"until": dt.date(2025, 5, 31)}),
             ("nothing matches this", {}), ("the of and", {})]
    for text, filters in cases:
        fast = analytics.search(con, text, **filters)
        assert_frame_equal(fast, analytics.search(con, text, by_macro=True, **filters))
    assert analytics.search(con, "scaling")["paper_id"].len() == 20


def test_rising_finds_the_planted_term(tmp_path):
    con = connection.open_writer(tmp_path / "w.duckdb")
    rows = []
    for month in range(1, 7):
        for j in range(30):
            late = month >= 4 and j < 12
            abstract = "we study graph learning for robots" + (" with diffusion policies" if late else "")
            rows.append((f"25{month:02d}.{j:05d}", dt.date(2025, month, 2), f"Paper {j}", abstract, j))
    loads.load(con, listing_rows(rows), NO_QUARANTINE, 1)
    texts, before_first, recent_first, last = analytics.window_texts(con, "month", 3)
    con.close()
    assert (before_first, recent_first, last) == (dt.date(2025, 1, 1), dt.date(2025, 4, 1), dt.date(2025, 6, 2))
    from papertrends.transforms.trend_stats import rising_terms

    frame = rising_terms(texts, recent_first, min_support=5)
    assert set(frame["term"][:3]) == {"diffusion", "diffusion policies", "policies"}
    assert "with" not in frame["term"].to_list()  # stop words removed
    top = frame.row(0, named=True)
    assert top["papers_before"] == 0 and top["papers_recent"] == 36


def test_rising_from_the_term_index_equals_rising_from_the_texts(tmp_path):
    """`rising` counts words and phrases from the term index; the rows equal tokenizing the texts."""
    from polars.testing import assert_frame_equal

    from papertrends.transforms.trend_stats import rank_rising, rising_terms

    rng = random.Random(11)
    vocabulary = list(FILLER) + ["the", "of", "with", "2024", "x", "Éclair", "straße", "strasse", "ΣΟΦΟΣ", "graph-based"]
    con = connection.open_writer(tmp_path / "w.duckdb")
    rows = []
    for month in range(1, 9):
        for j in range(25):
            late = month >= 5 and j < 10
            abstract = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 30)))
            if late:
                abstract += " diffusion policies, diffusion policies of the robot"
            title = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 6)))
            rows.append((f"25{month:02d}.{j:05d}", dt.date(2025, month, 1 + j), title, abstract or None, j % 9))
    loads.load(con, listing_rows(rows), NO_QUARANTINE, 1)
    # A second load changes some texts (re-indexed papers) and adds arXiv-only listings.
    loads.load(con, listing_rows([(f"2506.{j:05d}", dt.date(2025, 6, 1 + j), "Diffusion policies", "graph graph graph", 3)
                                  for j in range(5)]), NO_QUARANTINE, 2)
    cases = [("month", 2, {}, 5), ("month", 3, {"min_upvotes": 4}, 2), ("week", 3, {}, 1), ("month", 1, {"source": "hf"}, 1)]
    for by, window, filters, support in cases:
        texts, before_first, recent_first, last = analytics.window_texts(con, by, window, **filters)
        counts, recent, before, *dates = analytics.window_terms(con, by, window, min_support=support, **filters)
        assert dates == [before_first, recent_first, last]
        expected = rising_terms(texts, recent_first, min_support=support, limit=1000)
        assert expected.height > 0
        assert_frame_equal(rank_rising(counts, recent, before, min_support=support, limit=1000), expected)
    con.close()


def _rising_rows(seed, months=range(1, 9), prefix="25"):
    rng = random.Random(seed)
    rows = []
    for month in months:
        for j in range(25):
            late = month >= 5 and j < 10 + seed % 3
            abstract = " ".join(rng.choice(FILLER) for _ in range(rng.randint(3, 25)))
            if late:
                abstract += " diffusion policies for robot graph"
            rows.append((f"{prefix}{month:02d}.{j:05d}", dt.date(2025, month, 1 + j), f"Paper {rng.choice(FILLER)}", abstract, j % 9))
    return rows


@pytest.mark.parametrize("seed", range(3))
def test_stored_rising_equals_rising_computed_from_the_index(tmp_path, seed):
    """Each load stores the default rising table (rising_store.refresh); reads of it give the computed rows."""
    from polars.testing import assert_frame_equal

    from papertrends.warehouse import rising_store

    con = connection.open_writer(tmp_path / "w.duckdb")
    rows = _rising_rows(seed)
    loads.load(con, listing_rows(rows[:120]), NO_QUARANTINE, 1)
    loads.load(con, listing_rows(rows[120:]), NO_QUARANTINE, 2)
    # A third load changes texts of indexed papers: the stored table follows.
    changed = [(pid, day, title, abstract + " diffusion policies", up) for pid, day, title, abstract, up in rows[-30:]]
    loads.load(con, listing_rows(changed), NO_QUARANTINE, 3)
    for limit in (1, 15, 20, rising_store.STORED_LIMIT):
        stored = rising_store.lookup(con, "month", 3, limit=limit)
        assert stored is not None, "the load stored no current rising table"
        computed = rising_store.compute(con, "month", 3, limit=limit)
        assert_frame_equal(stored[0], computed[0])
        assert stored[1:] == computed[1:]
        assert stored[0].height == min(limit, computed[0].height) and computed[0].height > 0
    # Questions the stored table does not answer are computed.
    assert rising_store.lookup(con, "month", 3, min_upvotes=2) is None
    assert rising_store.lookup(con, "week", 3) is None
    assert rising_store.lookup(con, "month", 3, limit=rising_store.STORED_LIMIT + 1) is None
    assert rising_store.lookup(con, "month", 3, min_support=4) is None
    con.close()


def test_a_stored_rising_table_is_not_read_once_the_index_moved_on(tmp_path):
    """An index changed without the refresh (a writer that skipped it) makes the stored rows stale: not read."""
    from polars.testing import assert_frame_equal

    from papertrends.warehouse import rising_store

    path = tmp_path / "warehouse.duckdb"
    con = connection.open_writer(path)
    loads.load(con, listing_rows(_rising_rows(1)), NO_QUARANTINE, 1)
    assert rising_store.lookup(con, "month", 3) is not None
    before = rising_store.rising(con, "month", 3)[0]
    # New papers indexed by the term index alone, as a writer that does not refresh the store would.
    con.execute("insert into papers select * replace ('x' || paper_id as paper_id) from papers")
    con.execute("insert into listings select * replace ('x' || paper_id as paper_id) from listings")
    term_index.catch_up(con, fts=False)
    assert rising_store.lookup(con, "month", 3) is None
    after = rising_store.rising(con, "month", 3)
    assert_frame_equal(after[0], rising_store.compute(con, "month", 3)[0])
    assert not after[0].equals(before)
    assert rising_store.refresh(con) == 1 and rising_store.refresh(con) == 0  # idempotent
    assert_frame_equal(rising_store.lookup(con, "month", 3)[0], after[0])
    con.close()
    # The CLI and the Python API read the same rows.
    import papertrends

    assert_frame_equal(papertrends.connect(tmp_path).rising(), after[0])


def test_phrases_stay_inside_one_field_and_need_consecutive_words(tmp_path):
    con = connection.open_writer(tmp_path / "w.duckdb")
    day = dt.date(2025, 1, 6)
    loads.load(con, listing_rows([
        ("2501.1", day, "Deep scaling", "Laws of scaling hold.", 1),         # 'scaling laws' only across fields
        ("2501.2", day, "Scaling laws", None, 1),                            # in the title
        ("2501.3", day, "Laws", "scaling of laws, laws scaling", 1),        # words present, never in order
        ("2501.4", day, "On scaling lawsuits", "x", 1),                      # prefix phrase 'scaling law*'
    ]), NO_QUARANTINE, 1)
    queries = ["scaling laws", "scaling law*", "laws scaling", "of scaling", "deep scaling laws"]
    frame = analytics.trend(con, [analytics.parse_query(q) for q in queries], by="year")
    truth = reads.trend(con, [parse_term(q) for q in queries], by="year")
    con.close()
    assert frame["matches"].to_list() == truth["matches"].to_list() == [1, 2, 1, 1, 0]
