"""The streaming load: lake Parquet merged inside DuckDB, equal to the frame load, bounded memory."""

import datetime as dt
import json
import unicodedata

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from papertrends.transforms.arxiv import arxiv_listings, arxiv_papers, arxiv_rows_normalized, snapshot_lines_extracted
from papertrends.transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA
from papertrends.transforms.terms import search_text_expr, words_expr
from papertrends.warehouse import connection, loads

UTC = dt.timezone.utc
TABLES = ("papers", "listings", "paper_sources", "quarantine", "upvote_history")
# The term index by words and paper ids (its integer keys depend on the order papers arrived in).
TERM_INDEX = """
select w.word, tp.paper_id, p.position, tp.* exclude (paper_key, paper_id)
from term_postings as p join term_words as w using (word_id) join term_papers as tp using (paper_key)
order by all
"""


def hf_rows(specs, fetched, origin="https://huggingface.co/api/daily_papers?date=x"):
    rows = []
    for position, (paper_id, list_date, title, abstract, upvotes) in enumerate(specs):
        row = {name: None for name in LISTING_SCHEMA}
        row.update(source="hf_daily", list_date=list_date, paper_id=paper_id, position=position, title=title,
                   abstract=abstract, authors=["A. Person"], upvotes=upvotes, num_comments=1, fetched_at=fetched,
                   origin=origin, raw_sha256=f"sha-{fetched:%d}", ai_keywords=["k"] if upvotes else [])
        rows.append(row)
    return pl.DataFrame(rows, schema=LISTING_SCHEMA)


def arxiv_rows(paper_ids, fetched):
    lines = [json.dumps({
        "id": paper_id, "title": f"The arXiv title of {paper_id}", "abstract": "An arXiv abstract about scaling.",
        "categories": "cs.LG", "authors": "A. Person", "authors_parsed": [["Person", "A.", ""]],
        "versions": [{"version": "v1", "created": "Wed, 26 Feb 2025 18:00:00 GMT"}], "doi": None,
    }).encode() for paper_id in paper_ids]
    extracted = snapshot_lines_extracted(lines, first_position=0, origin="snap", raw_sha256="a")
    rows, _ = arxiv_rows_normalized(extracted, fetched_at=fetched, origin="snap", raw_sha256="a")
    return rows


JAN, FEB = dt.date(2025, 1, 10), dt.date(2025, 2, 10)
EARLY, LATE = dt.datetime(2025, 2, 11, 6, tzinfo=UTC), dt.datetime(2025, 3, 1, 6, tzinfo=UTC)
QUARANTINE = pl.DataFrame(
    [{"origin": "o", "raw_sha256": "s", "position": 4, "reason": "bad", "raw_text": "x"}] * 2, schema=QUARANTINE_SCHEMA
)


def batches():
    """HF lists (a paper re-listed, a newer fetch of the same list) and arXiv rows overlapping them."""
    first = hf_rows([("2501.00001", JAN, "Scaling laws", "About scaling.", 3), ("2501.00002", JAN, "Other", None, None)], EARLY)
    again = hf_rows([("2501.00001", JAN, "Scaling laws v2", "About scaling, again.", 9),
                     ("2501.00003", FEB, "Third", "Text", 1)], LATE)
    return first, again, arxiv_rows(["2501.00002", "2501.00003", "2502.00004"], dt.datetime(2025, 2, 20, tzinfo=UTC))


def snapshot(con):
    tables = {t: con.execute(f"select * from {t} order by all").fetchall() for t in TABLES}
    counts = con.execute("select w.word, c.first_list_date, sum(c.papers) from term_counts as c "
                         "left join term_words as w using (word_id) group by all having sum(c.papers) <> 0 order by all")
    return {**tables, "term_index": con.execute(TERM_INDEX).fetchall(), "term_counts": counts.fetchall()}


def written(tmp_path, name, frame):
    path = tmp_path / "lake" / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return str(path)


def test_lake_files_load_like_the_frames_in_any_order(tmp_path):
    first, again, arxiv = batches()
    files = {"listings": [written(tmp_path, "a", first), written(tmp_path, "b", again)],
             "arxiv": [written(tmp_path, "x", arxiv)], "quarantine": [written(tmp_path, "q", QUARANTINE)]}

    frames = connection.open_writer(tmp_path / "frames.duckdb")
    loads.load(frames, first, QUARANTINE, 1)
    loads.load(frames, arxiv_listings(arxiv), QUARANTINE.clear(), 2, papers=arxiv_papers(arxiv))
    loads.load(frames, again, QUARANTINE.clear(), 3)
    expected = snapshot(frames)
    frames.close()

    one_batch = connection.open_writer(tmp_path / "one.duckdb")
    counts = loads.load_lake_files(one_batch, files, 1)
    assert (counts.listings_in, counts.listings_new, counts.papers_new, counts.quarantined_in, counts.quarantine_new) == (
        7, 6, 4, 2, 1)
    assert snapshot(one_batch) == expected
    again_counts = loads.load_lake_files(one_batch, files, 2)
    assert (again_counts.listings_new, again_counts.listings_changed, again_counts.papers_new,
            again_counts.papers_changed, again_counts.quarantine_new, again_counts.upvote_sightings_new) == (0, 0, 0, 0, 0, 0)
    assert snapshot(one_batch) == expected
    one_batch.close()

    reversed_ = connection.open_writer(tmp_path / "reversed.duckdb")
    loads.load_lake_files(reversed_, {"listings": files["listings"][1:], "quarantine": files["quarantine"]}, 1)
    loads.load_lake_files(reversed_, {"arxiv": files["arxiv"]}, 2)
    loads.load_lake_files(reversed_, {"listings": files["listings"][:1]}, 3)
    assert snapshot(reversed_) == expected
    paper = reversed_.execute("select title, upvotes from papers join listings using (paper_id) "
                              "where paper_id = '2501.00001'").fetchall()
    assert paper == [("Scaling laws v2", 9)]  # the newer fetch wins, whichever loaded last
    reversed_.close()


def test_a_batch_mixing_hf_arxiv_and_oai_deletions_passes_the_count_check(tmp_path):
    """One load of HF listings, arXiv rows, OAI deleted records and quarantine: every item counts once
    (a listing row, an arXiv row, a deleted record or a quarantined item), so items in = loaded +
    quarantined holds and the checks pass; one item short of that rolls the load back."""
    from papertrends.pipeline.registry import DELETED_SCHEMA
    from papertrends.warehouse.checks import ChecksFailed, CheckContext

    first, _, arxiv = batches()
    deleted = pl.DataFrame([{"paper_id": "2401.00009", "datestamp": JAN, "first_seen_at": EARLY, "origin": "oai",
                             "raw_sha256": "d"}], schema=DELETED_SCHEMA)
    files = {"listings": [written(tmp_path, "a", first)], "arxiv": [written(tmp_path, "x", arxiv)],
             "arxiv_deleted": [written(tmp_path, "d", deleted)], "quarantine": [written(tmp_path, "q", QUARANTINE)]}
    items_in = first.height + arxiv.height + deleted.height + QUARANTINE.height

    con = connection.open_writer(tmp_path / "w.duckdb")
    with pytest.raises(ChecksFailed, match="items_accounted_for"):
        loads.load_lake_files(con, files, 1, CheckContext(items_in=items_in + 1))
    assert con.execute("select count(*) from listings").fetchone()[0] == 0
    counts = loads.load_lake_files(con, files, 2, CheckContext(items_in=items_in))
    assert (counts.listings_in, counts.quarantined_in, counts.deleted_new) == (first.height + arxiv.height, 2, 1)
    assert con.execute("select paper_id from arxiv_deleted").fetchall() == [("2401.00009",)]
    passed = con.execute("select check_name, passed from run_checks where run_id = 2 order by 1").fetchall()
    assert passed and all(ok for _, ok in passed)
    con.close()


def test_unknown_lake_table_is_refused(tmp_path):
    con = connection.open_writer(tmp_path / "w.duckdb")
    with pytest.raises(ValueError, match="unknown lake table"):
        loads.load_lake_files(con, {"listing": ["x.parquet"]}, 1)
    con.close()


def test_a_load_bigger_than_the_memory_limit_spills_and_completes(tmp_path):
    """DuckDB's memory_limit far below the batch: the load spills to the data root instead of failing."""
    papers = 25_000
    abstract = " ".join(f"{'long' * 50}{i}" for i in range(20))  # ~4 KB per paper in few words
    frame = pl.DataFrame({
        "paper_id": [f"2501.{i:05d}" for i in range(papers)],
        "list_date": [JAN] * papers,
        "title": [f"Paper {i}" for i in range(papers)],
        "abstract": [f"{abstract} {i}" for i in range(papers)],
    }).with_columns(
        source=pl.lit("hf_daily"), position=pl.int_range(0, papers, dtype=pl.Int32), fetched_at=pl.lit(EARLY),
        origin=pl.lit("file.json"), raw_sha256=pl.lit("s"),
    )
    files = []
    for index, part in enumerate(frame.iter_slices(5_000)):
        files.append(written(tmp_path, f"part{index}", part))
    con = connection.open_writer(tmp_path / "data" / "warehouse.duckdb")
    spill = loads.bound_memory(con, megabytes=96)
    con.execute("set threads = 1")  # DuckDB's floor is per thread: one thread lets the limit sit this low
    assert spill == tmp_path / "data" / "tmp" / "duckdb-spill"
    assert frame["abstract"].str.len_bytes().sum() > 96 * 2**20  # the text alone exceeds the limit
    counts = loads.load_lake_files(con, {"listings": files}, 1)
    assert counts.papers_new == papers
    assert con.execute("select count(*) from term_papers").fetchone()[0] == papers
    con.close()


# Letters whose case folding differs between libraries, combining marks, scripts without case,
# digits of other scripts, and the separators a title or abstract meets (hyphens, line breaks).
_TRICKY = "ßẞſςΣσİıIiǅÅﬁΩЖёé\u0301\u0307\u00ad\u200b漢字かなカナ한국어١٢٣अआᾼᾈǰꞵ½²ⓐ-–—_'|*/ \t\n\r"
# Characters Unicode 14 (Python 3.11's unicodedata) assigns: DuckDB's regular expressions (RE2)
# know no later version, while Polars (Rust) does, so a letter added since (e.g. U+13460, an
# Egyptian hieroglyph of Unicode 16) is a word for Polars and a separator for SQL. Found by this
# test; reported, not hidden: test_sql_words_differ_on_letters_newer_than_unicode_14 pins it.
_ASSIGNED = st.characters(codec="utf-8").filter(lambda c: unicodedata.category(c) != "Cn")
_TEXT = st.text(alphabet=st.one_of(st.sampled_from(_TRICKY), _ASSIGNED), max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.none() | _TEXT, st.none() | _TEXT), min_size=1, max_size=20))
def test_sql_words_and_search_text_are_terms_py(pairs):
    """transforms/terms.py is the one definition of a word: the SQL macro term_words_of (trend
    queries parse terms with it) must agree on any text, and the load's pt_search_text must give
    search_text_expr's result through DuckDB (nulls, empty strings, any script)."""
    con = _memory_warehouse()
    titles, abstracts = [p[0] for p in pairs], [p[1] for p in pairs]
    function = loads.search_text_function(con)
    got_words, got_texts = con.execute(
        f"select list(term_words_of(t) order by i), list({function}(t, a) order by i) "
        "from (select unnest(?) as t, unnest(?) as a, unnest(range(?)) as i)",
        [titles, abstracts, len(pairs)],
    ).fetchone()
    frame = pl.DataFrame({"t": titles, "a": abstracts}, schema={"t": pl.String, "a": pl.String})
    assert got_words == frame.select(words_expr(pl.col("t"))).to_series().to_list()
    assert got_texts == frame.select(search_text_expr(pl.col("t"), pl.col("a"))).to_series().to_list()


def test_sql_words_differ_on_letters_newer_than_unicode_14():
    """The one known disagreement (RE2's Unicode tables are older than Rust's); if DuckDB catches
    up, this fails and the filter above can go."""
    con = _memory_warehouse()
    hieroglyph = "\U00013460"
    assert con.execute("select term_words_of(?)", [hieroglyph]).fetchone()[0] == []
    assert pl.select(words_expr(pl.lit(hieroglyph))).item().to_list() == [hieroglyph]


_WAREHOUSE = {}


def _memory_warehouse():
    """One in-memory warehouse (macros included) shared by the property test's examples."""
    if "con" not in _WAREHOUSE:
        import duckdb
        from papertrends.warehouse.migrations import apply_migrations

        con = duckdb.connect()
        apply_migrations(con)
        _WAREHOUSE["con"] = con
    return _WAREHOUSE["con"]
