"""Term semantics: words, whole-word matches, prefixes, phrases (transforms/terms.py)."""

import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from papertrends.transforms.terms import TermError, parse_term, search_text, search_text_tokens, words


def test_words_are_runs_of_letters_and_digits_case_folded():
    assert words("Test-Time Scaling of GPT-4o, 50\\% μLO τ-bench") == [
        "test", "time", "scaling", "of", "gpt", "4o", "50", "μlo", "τ", "bench",
    ]


def test_words_fold_case_beyond_lowercasing():
    assert words("STRASSE Straße") == ["strasse", "strasse"]


def test_underscore_separates_words():
    assert words("snake_case") == ["snake", "case"]


def test_empty_and_null_text_have_no_words():
    assert words("") == [] and words(None) == [] and words("-- !!") == []


@pytest.mark.parametrize(
    ("term", "title", "abstract", "expected"),
    [
        ("tractable", "Tractable Models", None, True),
        ("tractable", "Intractable Models", None, False),
        ("tractable", "On tractability", None, False),
        ("tractab*", "On tractability", None, True),
        ("tractab*", "Intractable", None, False),
        ("Tractable", "", "a TRACTABLE model.", True),
        ("inference-time scaling", "Inference time scaling laws", None, True),
        ("inference time scaling", "Inference-Time Scaling", None, True),
        ("inference time scaling", "Inference time and scaling", None, False),
        ("inference time scal*", "inference-time scalability", None, True),
        ("scaling laws", "On scaling", "laws of physics", False),  # no phrase across title and abstract
        ("scaling", "On scaling", "laws", True),
        ("4o", "GPT-4o is here", None, True),
    ],
)
def test_term_matching(term, title, abstract, expected):
    assert parse_term(term).matches(title, abstract) is expected


def test_phrase_spellings_are_the_same_query():
    assert parse_term("inference-time scaling").needle == parse_term("Inference  time scaling").needle


def test_needles_are_space_delimited():
    assert parse_term("tractable").needle == " tractable "
    assert parse_term("tractab*").needle == " tractab"


def test_search_text_separates_title_from_abstract():
    assert search_text("Scaling Laws", "We study x.") == " scaling laws | we study x "


@pytest.mark.parametrize("bad", ["", "   ", "***", "--"])
def test_terms_without_words_are_refused(bad):
    with pytest.raises(TermError, match="no letters or digits"):
        parse_term(bad)


def test_a_detached_star_is_refused():
    with pytest.raises(TermError, match="must directly follow"):
        parse_term("scaling *")


# --- the query language (transforms/query.py) and its SQL twin (warehouse/sql/009) ----------------

import datetime as dt  # noqa: E402
import random  # noqa: E402

import duckdb  # noqa: E402
from papertrends.transforms.query import PERIODS, parse_query, period_range, query_rows  # noqa: E402
from papertrends.warehouse.migrations import apply_migrations  # noqa: E402


@pytest.fixture(scope="module")
def sql():
    """A real DuckDB database with every migration applied (the macros a DuckDB CLI user calls)."""
    con = duckdb.connect()
    apply_migrations(con)
    yield con
    con.close()


def sql_query_rows(con, texts: list[str]):
    """term_query() of the texts: its rows, or the error message it raised."""
    try:
        return con.execute("select term_query($texts)", {"texts": texts}).fetchone()[0]
    except duckdb.InvalidInputException as error:
        return str(error).removeprefix("Invalid Input Error: ")


def python_query_rows(texts: list[str]):
    try:
        return query_rows([parse_query(t) for t in texts])
    except TermError as error:
        return str(error)


def test_alternatives_words_prefixes_and_phrases():
    query = parse_query(" scaling|scalab*| inference-time scaling ")
    assert query.text == "scaling|scalab*| inference-time scaling"
    assert query.needles == (" scaling ", " scalab", " inference time scaling ")
    assert query.matches("Scalable models", None) and not query.matches("Scal", "time scales")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("", "empty term"),
        ("  \t", "empty term"),
        ("*scaling", "'\\*' may only end a term, once"),
        ("scal**", "'\\*' may only end a term, once"),
        ("scal*ing", "'\\*' may only end a term, once"),
        ("tract* models", "'\\*' may only end a term, once"),
        ("scaling|", "empty alternative around '\\|'"),
        ("scaling||scalable", "empty alternative around '\\|'"),
        ("|", "empty alternative"),
        ("scaling|--", "term '--' has no letters or digits"),
        ("(scaling|scalable) laws", "parentheses are not supported"),
        ("scaling *", "must directly follow"),
        ("x-*", "must directly follow"),
    ],
)
def test_unsupported_syntax_is_refused_with_the_rule(sql, bad, message):
    with pytest.raises(TermError, match=message):
        parse_query(bad)
    assert re.search(message, sql_query_rows(sql, [bad]))


def test_a_term_is_one_alternative():
    with pytest.raises(TermError, match="separates alternatives"):
        parse_term("scaling|scalable")


PIECES = ["scaling", "Scal", "tractab", "Straße", "İstanbul", "τ-bench", "4o", "gpt-4o", "inference-time", "x",
          "*", "*", "|", "|", " ", " ", "  ", "\t", "-", "(", ")", ",", '"', "_", "é", "\u0301", "ǅ"]


def random_query(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 7)))


def test_sql_term_query_equals_parse_query_on_random_queries(sql):
    """Rows and error messages agree, one query at a time and in lists (first error wins)."""
    rng = random.Random(12)
    queries = [random_query(rng) for _ in range(600)]
    outcomes = {"rows": 0, "error": 0}
    for text in queries:
        expected = python_query_rows([text])
        assert sql_query_rows(sql, [text]) == expected, text
        outcomes["error" if isinstance(expected, str) else "rows"] += 1
    assert min(outcomes.values()) > 100  # both branches exercised, not only one
    for _ in range(100):
        texts = rng.sample(queries, rng.randint(1, 4))
        assert sql_query_rows(sql, texts) == python_query_rows(texts), texts


def test_sql_periods_are_exactly_the_python_periods(sql):
    day = dt.date(2025, 11, 14)
    for grain in PERIODS:
        label, start, step = sql.execute(
            "select period_label($d::date, $g), period_start($d::date, $g), (period_start($d::date, $g) + period_step($g))::date",
            {"d": day, "g": grain},
        ).fetchone()
        # The label SQL gives names the period Python's period_range reads back.
        assert period_range(label) == (grain, start, step - dt.timedelta(days=1))
    for bad in ["decade", "hour", "Month", "", "millennium", None]:
        for macro in ["period_label(current_date, $g)", "period_start(current_date, $g)", "period_step($g)"]:
            with pytest.raises(duckdb.InvalidInputException, match="grain must be one of day, week, month, quarter, year"):
                sql.execute(f"select {macro}", {"g": bad}).fetchall()


def test_sql_trend_with_a_bad_grain_is_an_error_not_empty_rows(sql):
    # Issue 12: trend('scaling', 'decade') returned nothing without an error.
    with pytest.raises(duckdb.InvalidInputException, match="not 'decade'"):
        sql.execute("select * from trend('scaling', 'decade')").fetchall()
    with pytest.raises(duckdb.InvalidInputException, match="'\\*' may only end a term"):
        sql.execute("select * from trend('scal*ing')").fetchall()
    assert sql.execute("select * from trend('scaling', 'quarter')").fetchall() == []


@pytest.mark.parametrize("label", ["2025-13", "2025-W60", "2025-02-30", "25-03", "2025-Q5"])
def test_impossible_period_labels_are_refused(label):
    with pytest.raises(ValueError, match="is none of"):
        period_range(label)


_FIELD_TEXT = st.none() | st.text(alphabet=st.sampled_from("ab Zß|*-İ漢 \t\n.1"), max_size=30)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_FIELD_TEXT, _FIELD_TEXT), min_size=1, max_size=8))
def test_search_text_tokens_are_the_words_at_their_positions(pairs):
    """The term index reads words from stored search texts (search_text_tokens): each word of the
    title at its index, each word of the abstract after one position for the field break, and
    `first` on a word's first occurrence in its paper, exactly as words() splits the fields."""
    texts = pl.DataFrame(
        {"paper_key": list(range(len(pairs))), "search_text": [search_text(t, a) for t, a in pairs]},
        schema={"paper_key": pl.Int32, "search_text": pl.String},
    )
    got = search_text_tokens(texts).rows()
    expected = []
    for key, (title, abstract) in enumerate(pairs):
        title_words = words(title)
        placed = list(enumerate(title_words)) + [(len(title_words) + 1 + i, w) for i, w in enumerate(words(abstract))]
        seen = set()
        for position, word in placed:
            expected.append((key, word, position, word not in seen))
            seen.add(word)
    assert got == expected
