"""Trend analytics on the term index: trends, the papers behind a point, rising terms, BM25 search.

Every query here runs the SQL macros of warehouse/sql/005_term_index.sql, the same ones a user
of the plain DuckDB CLI calls, so both give identical rows. Queries and periods are
defined by transforms/query.py (one or more alternatives separated by '|').
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

# The query language and the periods live in transforms/query.py; re-exported here because
# callers (the CLI, bench/) have always imported them from this module.
from ..transforms.query import PERIODS, Query, as_query, check_period, parse_query, period_range, query_rows  # noqa: F401
from ..transforms.terms import TermError  # noqa: F401
from ..transforms.trend_stats import STOP_WORDS
from . import term_index

SOURCES = ("hf", "arxiv")


def _check(by: str, source: str | None) -> None:
    check_period(by)
    if source is not None and source not in SOURCES:
        raise ValueError(f"--source must be one of {', '.join(SOURCES)}, not {source!r}")


def _filters(since, until, source, category, min_upvotes) -> dict:
    return {"since": since, "until": until, "source": source, "category": category, "min_upvotes": min_upvotes}


_TREND_SQL = """
select period, term, matches, total, share, period_start
from trend_query($query, $grain, $since::date, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer)
"""


def trend_statement(
    queries: list[Query | str],
    by: str = "month",
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str | None = None,
    category: str | None = None,
    min_upvotes: int | None = None,
) -> tuple[str, dict]:
    """The SQL and parameters of a trend (what `trend` runs and `export --table trends` streams).

    Columns: period, term, matches, total, share, period_start; ValueError/TermError when invalid.
    """
    _check(by, source)
    rows = query_rows([as_query(q) for q in queries])
    return _TREND_SQL, {"query": rows, "grain": by, **_filters(since, until, source, category, min_upvotes)}


def trend(
    con: duckdb.DuckDBPyConnection,
    queries: list[Query | str],
    by: str = "month",
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str | None = None,
    category: str | None = None,
    min_upvotes: int | None = None,
) -> pl.DataFrame:
    """One row per (period, term) for every period in range: matches, total, share, period_start."""
    sql, parameters = trend_statement(queries, by, since, until, source, category, min_upvotes)
    return con.execute(sql, parameters).pl()


_PAPERS_SQL = """
select * exclude (term_order)
from trend_papers($query, $since::date, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer)
limit $limit
"""


def papers(
    con: duckdb.DuckDBPyConnection,
    query: Query | str,
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str | None = None,
    category: str | None = None,
    min_upvotes: int | None = None,
    limit: int = 100,
) -> pl.DataFrame:
    """The papers matching a query, first listed between since and until: title, id, date, upvotes, link."""
    _check("month", source)
    parameters = {"query": query_rows([as_query(query)]), "limit": limit, **_filters(since, until, source, category, min_upvotes)}
    return con.execute(_PAPERS_SQL, parameters).pl()


_COUNT_PAPERS_SQL = """
select count(*)
from trend_papers($query, $since::date, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer)
"""


def count_papers(
    con: duckdb.DuckDBPyConnection,
    query: Query,
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str | None = None,
    category: str | None = None,
    min_upvotes: int | None = None,
) -> int:
    """How many papers `papers` would list without a limit (so a cut is never silent)."""
    _check("month", source)
    parameters = {"query": query_rows([query]), **_filters(since, until, source, category, min_upvotes)}
    return con.execute(_COUNT_PAPERS_SQL, parameters).fetchone()[0]


_WINDOW_TEXTS_SQL = """
select p.title, p.abstract, period_start(pop.list_date, $grain) as period_start
from trend_population($since::date, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer) as pop
join papers as p using (paper_id)
"""

_LAST_DATE_SQL = """
select max(list_date)
from trend_population(null, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer)
"""


def window_texts(
    con: duckdb.DuckDBPyConnection,
    by: str,
    window: int,
    until: dt.date | None = None,
    source: str | None = None,
    category: str | None = None,
    min_upvotes: int | None = None,
) -> tuple[pl.DataFrame, dt.date, dt.date, dt.date]:
    """Titles and abstracts of the last 2 x window periods, with the first day of the recent window."""
    _check(by, source)
    filters = _filters(None, until, source, category, min_upvotes)
    before_first, recent_first, last = _windows(con, by, window, filters)
    texts = con.execute(
        _WINDOW_TEXTS_SQL, {"grain": by, **filters, "since": before_first, "until": last}
    ).pl()
    return texts, before_first, recent_first, last


_WINDOW_TERMS_SQL = """
with population as (
    select paper_key, period_start(list_date, $grain) >= $recent_first::date as recent
    from trend_population($since::date, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer)
),

-- A stop word is never at either end of a rising term, and a term has at most two words: its
-- tokens can go before pairing (every pair they would form is dropped anyway).
stop_words as (
    select word_id from term_words where word in (select unnest($stop_words::varchar[]))
),

-- One row per word occurrence. Consecutive positions are consecutive words of one field (the
-- field break takes a position).
tokens as (
    select p.word_id, p.paper_key, p.position, pop.recent
    from term_postings as p
    join population as pop using (paper_key)
    anti join stop_words as s using (word_id)
),

postings as (
    select distinct word_id, paper_key, recent from tokens
),

pairs as (
    select distinct a.word_id as first_id, b.word_id as second_id, a.paper_key, a.recent
    from tokens as a
    join tokens as b on b.paper_key = a.paper_key and b.position = a.position + 1
),

counted as (
    select word_id as first_id, null::integer as second_id,
           count(*) filter (where recent) as recent, count(*) filter (where not recent) as before
    from postings
    group by word_id
    having count(*) filter (where recent) >= $min_support
    union all
    select first_id, second_id,
           count(*) filter (where recent) as recent, count(*) filter (where not recent) as before
    from pairs
    group by first_id, second_id
    having count(*) filter (where recent) >= $min_support
),

final as (
    select
        case when c.second_id is null then w1.word else w1.word || ' ' || w2.word end as term,
        case when c.second_id is null then 'word' else 'phrase' end as kind,
        c.recent,
        c.before
    from counted as c
    join term_words as w1 on w1.word_id = c.first_id
    left join term_words as w2 on w2.word_id = c.second_id
)

select * from final
"""

_WINDOW_TOTALS_SQL = """
select count(*) filter (where period_start(list_date, $grain) >= $recent_first::date) as recent, count(*) as total
from trend_population($since::date, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer)
"""


def _windows(con, by: str, window: int, filters: dict) -> tuple[dt.date, dt.date, dt.date]:
    """(before_first, recent_first, last): the first days of the two windows and the last list date."""
    last = con.execute(_LAST_DATE_SQL, {k: v for k, v in filters.items() if k != "since"}).fetchone()[0]
    if last is None:
        raise ValueError("no papers in the warehouse match these filters")
    recent_first, before_first = con.execute(
        "select (period_start($d::date, $g) - ($w - 1) * period_step($g))::date, "
        "(period_start($d::date, $g) - (2 * $w - 1) * period_step($g))::date",
        {"d": last, "g": by, "w": window},
    ).fetchone()
    return before_first, recent_first, last


def window_terms(
    con: duckdb.DuckDBPyConnection,
    by: str,
    window: int,
    until: dt.date | None = None,
    source: str | None = None,
    category: str | None = None,
    min_upvotes: int | None = None,
    min_support: int = 5,
) -> tuple[pl.DataFrame, int, int, dt.date, dt.date, dt.date]:
    """Papers per word and two-word phrase in the two windows of `rising`, counted from the term index.

    Returns (counts: term, kind, recent, before; papers in the recent window; papers in the earlier
    window; before_first; recent_first; last). Counts are of distinct papers, phrases are
    consecutive words inside one field, stop words are left out and so are terms in fewer than
    `min_support` recent papers: what trend_stats.rising_terms counts from the texts of
    window_texts, without tokenizing them at query time (trend_stats.rank_rising ranks either).
    """
    _check(by, source)
    filters = _filters(None, until, source, category, min_upvotes)
    before_first, recent_first, last = _windows(con, by, window, filters)
    parameters = {"grain": by, **filters, "since": before_first, "until": last, "recent_first": recent_first}
    recent, total = con.execute(_WINDOW_TOTALS_SQL, parameters).fetchone()
    counts = con.execute(
        _WINDOW_TERMS_SQL, {**parameters, "stop_words": sorted(STOP_WORDS), "min_support": min_support}
    ).pl()
    return counts, int(recent), int(total - recent), before_first, recent_first, last


# fts_main_papers.match_bm25(paper_id, $text), the macro DuckDB's fts creates (k = 1.2, b = 0.75,
# every field, disjunctive), written out for all papers at once from the query words' rows of
# term_tf (term_index.rebuild_fts): the same scores, without calling the macro once per paper.
_SCORED_FAST = """
with tokens as (
    select distinct stem(unnest(fts_main_papers.tokenize($text)), 'porter') as t
),

term_tf as (
    select tf.termid, tf.docid, tf.tf
    from fts_main_papers.term_tf as tf
    where tf.termid in (select d.termid from fts_main_papers.dict as d join tokens on d.term = tokens.t)
),

subscores as (
    select
        docs.docid,
        log(((((select num_docs from fts_main_papers.stats) - dict.df) + 0.5) / (dict.df + 0.5)) + 1)
            * ((term_tf.tf * (1.2 + 1))
               / (term_tf.tf + (1.2 * ((1 - 0.75) + (0.75 * (docs.len / (select avgdl from fts_main_papers.stats)))))))
            as subscore
    from term_tf
    join fts_main_papers.docs as docs on docs.docid = term_tf.docid
    join fts_main_papers.dict as dict on dict.termid = term_tf.termid
),

scored as (
    select docs.name as paper_id, s.score
    from (select docid, sum(subscore) as score from subscores group by docid) as s
    join fts_main_papers.docs as docs using (docid)
),
"""

_SCORED_MACRO = """
with scored as (
    select paper_id, fts_main_papers.match_bm25(paper_id, $text) as score
    from papers
),
"""

_SEARCH_SQL = """

-- The top hits first, then their titles: the papers table is read for `limit` rows, not all hits.
ranked as (
    select
        round(s.score, 4) as score,
        s.paper_id,
        pop.list_date,
        tp.max_hf_upvotes as upvotes
    from scored as s
    join trend_population($since::date, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer) as pop
        using (paper_id)
    join term_papers as tp using (paper_id)
    where s.score is not null
    order by score desc, paper_id
    limit $limit
),

final as (
    select r.score, p.title, r.paper_id, r.list_date, r.upvotes, paper_link(r.paper_id) as link
    from ranked as r
    join papers as p using (paper_id)
)

select * from final
order by score desc, paper_id
"""


def search(
    con: duckdb.DuckDBPyConnection,
    text: str,
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str | None = None,
    category: str | None = None,
    min_upvotes: int | None = None,
    limit: int = 20,
    by_macro: bool = False,
) -> pl.DataFrame:
    """Papers ranked by BM25 of `text` over title and abstract (DuckDB fts: Porter stems, English stop words).

    by_macro=True scores every paper with fts's own match_bm25 macro (the reference the tests
    compare with; slow on a large warehouse) instead of from the query words' rows of term_tf.
    """
    _check("month", source)
    term_index.load_fts(con)
    exists = con.execute("select count(*) from duckdb_schemas() where schema_name = 'fts_main_papers'").fetchone()[0]
    if not exists:
        raise ValueError("this warehouse has no search index yet: run `papertrends ingest ...` once to build it")
    parameters = {"text": text, "limit": limit, **_filters(since, until, source, category, min_upvotes)}
    fast = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'fts_main_papers' and table_name = 'term_tf'"
    ).fetchone()[0]
    # An index built before term_tf existed is scored by the macro until its next rebuild.
    scored = _SCORED_FAST if fast and not by_macro else _SCORED_MACRO
    return con.execute(scored + _SEARCH_SQL, parameters).pl()
