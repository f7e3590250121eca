"""Trend analytics on the term index: trends, the papers behind a point, rising terms, BM25 search.

Every query here runs the SQL macros of warehouse/sql/005_term_index.sql, the same ones a user
of the plain DuckDB CLI calls, so both give identical rows. Terms are parsed by
transforms/terms.py; a query is one or more alternatives separated by '|'.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb
import polars as pl

from ..transforms.terms import Term, TermError, parse_term
from . import term_index

PERIODS = ("day", "week", "month", "quarter", "year")
SOURCES = ("hf", "arxiv")


@dataclass(frozen=True)
class Query:
    """A user's query: alternatives (terms) any one of which makes a paper match."""

    text: str
    alternatives: tuple[Term, ...]


def parse_query(text: str) -> Query:
    """Parse 'scaling|scalable', 'inference-time scaling', 'tractab*' into a Query."""
    parts = [part for part in text.split("|")]
    if any(not part.strip() for part in parts):
        raise TermError(f"term {text!r} has an empty alternative around '|'")
    return Query(text=text.strip(), alternatives=tuple(parse_term(part) for part in parts))


def query_rows(queries: list[Query]) -> list[dict]:
    """The query rows the SQL macros take (the shape term_query() builds from strings)."""
    return [
        {"term_order": order, "term": query.text, "alt": alt, "words": list(term.words), "prefix": term.prefix,
         "needle": term.needle}
        for order, query in enumerate(queries)
        for alt, term in enumerate(query.alternatives, start=1)
    ]


def _check(by: str, source: str | None) -> None:
    if by not in PERIODS:
        raise ValueError(f"--by must be one of {', '.join(PERIODS)}, not {by!r}")
    if source is not None and source not in SOURCES:
        raise ValueError(f"--source must be one of {', '.join(SOURCES)}, not {source!r}")


def _filters(since, until, source, category, min_upvotes) -> dict:
    return {"since": since, "until": until, "source": source, "category": category, "min_upvotes": min_upvotes}


_TREND_SQL = """
select period, term, matches, total, share, period_start
from trend_query($query, $grain, $since::date, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer)
"""


def trend(
    con: duckdb.DuckDBPyConnection,
    queries: list[Query],
    by: str = "month",
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str | None = None,
    category: str | None = None,
    min_upvotes: int | None = None,
) -> pl.DataFrame:
    """One row per (period, term) for every period in range: matches, total, share, period_start."""
    _check(by, source)
    parameters = {"query": query_rows(queries), "grain": by, **_filters(since, until, source, category, min_upvotes)}
    return con.execute(_TREND_SQL, parameters).pl()


def period_range(period: str) -> tuple[str, dt.date, dt.date]:
    """(grain, first day, last day) of a period label: 2025, 2025-Q1, 2025-03, 2025-W09, 2025-03-14."""
    text = period.strip()
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
        return "year", dt.date(year, 1, 1), dt.date(year, 12, 31)
    if match := re.fullmatch(r"(\d{4})-Q([1-4])", text, re.IGNORECASE):
        year, quarter = int(match.group(1)), int(match.group(2))
        first = dt.date(year, 3 * quarter - 2, 1)
        after = dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1)
        return "quarter", first, after - dt.timedelta(days=1)
    if match := re.fullmatch(r"(\d{4})-(\d{2})", text):
        first = dt.date(int(match.group(1)), int(match.group(2)), 1)
        after = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        return "month", first, after - dt.timedelta(days=1)
    if match := re.fullmatch(r"(\d{4})-W(\d{2})", text, re.IGNORECASE):
        first = dt.date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
        return "week", first, first + dt.timedelta(days=6)
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"period {period!r} is none of YYYY, YYYY-Qn, YYYY-MM, YYYY-Www, YYYY-MM-DD") from None
    return "day", day, day


_PAPERS_SQL = """
select * exclude (term_order)
from trend_papers($query, $since::date, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer)
limit $limit
"""


def papers(
    con: duckdb.DuckDBPyConnection,
    query: Query,
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str | None = None,
    category: str | None = None,
    min_upvotes: int | None = None,
    limit: int = 100,
) -> pl.DataFrame:
    """The papers matching a query, first listed between since and until: title, id, date, upvotes, link."""
    _check("month", source)
    parameters = {"query": query_rows([query]), "limit": limit, **_filters(since, until, source, category, min_upvotes)}
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
    last = con.execute(_LAST_DATE_SQL, {k: v for k, v in filters.items() if k != "since"}).fetchone()[0]
    if last is None:
        raise ValueError("no papers in the warehouse match these filters")
    recent_first, before_first = con.execute(
        "select (period_start($d::date, $g) - ($w - 1) * period_step($g))::date, "
        "(period_start($d::date, $g) - (2 * $w - 1) * period_step($g))::date",
        {"d": last, "g": by, "w": window},
    ).fetchone()
    texts = con.execute(
        _WINDOW_TEXTS_SQL, {"grain": by, **filters, "since": before_first, "until": last}
    ).pl()
    return texts, before_first, recent_first, last


_SEARCH_SQL = """
with scored as (
    select paper_id, fts_main_papers.match_bm25(paper_id, $text) as score
    from papers
),

final as (
    select
        round(s.score, 4) as score,
        p.title,
        s.paper_id,
        pop.list_date,
        tp.max_hf_upvotes as upvotes,
        paper_link(s.paper_id) as link
    from scored as s
    join trend_population($since::date, $until::date, $source::varchar, $category::varchar, $min_upvotes::integer) as pop
        using (paper_id)
    join papers as p using (paper_id)
    join term_papers as tp using (paper_id)
    where s.score is not null
)

select * from final
order by score desc, paper_id
limit $limit
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
) -> pl.DataFrame:
    """Papers ranked by BM25 of `text` over title and abstract (DuckDB fts: Porter stems, English stop words)."""
    _check("month", source)
    term_index.load_fts(con)
    exists = con.execute("select count(*) from duckdb_schemas() where schema_name = 'fts_main_papers'").fetchone()[0]
    if not exists:
        raise ValueError("this warehouse has no search index yet: run `papertrends ingest ...` once to build it")
    parameters = {"text": text, "limit": limit, **_filters(since, until, source, category, min_upvotes)}
    return con.execute(_SEARCH_SQL, parameters).pl()
