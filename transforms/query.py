"""The query language and the periods: the one definition trend, papers, rising, export and SQL use.

A query is one or more alternatives separated by '|'; a paper matches when any alternative
matches. Each alternative is a term (transforms/terms.py): words, a phrase of several words, or a
prefix with a trailing '*'. Examples: ``scaling``, ``tractab*``, ``inference-time scaling``,
``scaling|scalable``. Unsupported syntax is refused with a one-line TermError naming the rule,
never read silently as something else.

The SQL macro ``term_query`` (warehouse/sql/009_query_language.sql) parses the same language for
users of the plain DuckDB CLI; tests/test_terms.py proves both agree, rows and error messages, on
random queries. The SQL period macros accept exactly PERIODS and raise an error on any other grain.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .terms import ALTERNATIVE_BAR, WHITESPACE, Term, TermError, parse_term

# Every grain a trend can be counted by, finest first. SQL: period_label/period_start/period_step.
PERIODS = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class Query:
    """A user's query: alternatives (terms) any one of which makes a paper match."""

    text: str
    alternatives: tuple[Term, ...]

    @property
    def needles(self) -> tuple[str, ...]:
        """The needles of the alternatives: a search text matches when it contains any of them."""
        return tuple(term.needle for term in self.alternatives)

    def matches(self, title: str | None, abstract: str | None) -> bool:
        """Whether a paper with this title and abstract matches any alternative."""
        return any(term.matches(title, abstract) for term in self.alternatives)


def parse_query(text: str) -> Query:
    """Parse 'scaling|scalable', 'inference-time scaling', 'tractab*' into a Query (TermError if invalid)."""
    stripped = text.strip(WHITESPACE)
    if not stripped:
        raise TermError("empty term: give a word, a phrase, a prefix like scal* or alternatives like a|b")
    parts = stripped.split(ALTERNATIVE_BAR)
    if any(not part.strip(WHITESPACE) for part in parts):
        raise TermError(f"term '{stripped}' has an empty alternative around '|'")
    return Query(text=stripped, alternatives=tuple(parse_term(part) for part in parts))


def as_query(term: Query | Term | str) -> Query:
    """A Query from a query string, a parsed Query, or a single Term (older callers pass Terms)."""
    if isinstance(term, Query):
        return term
    if isinstance(term, Term):
        return Query(text=term.text, alternatives=(term,))
    return parse_query(term)


def query_rows(queries: list[Query]) -> list[dict]:
    """The query rows the SQL macros take (the shape term_query() builds from strings)."""
    return [
        {"term_order": order, "term": query.text, "alt": alt, "words": list(term.words), "prefix": term.prefix,
         "needle": term.needle}
        for order, query in enumerate(queries)
        for alt, term in enumerate(query.alternatives, start=1)
    ]


def check_period(by: str) -> str:
    """`by` when it is one of PERIODS, else a ValueError naming them."""
    if by not in PERIODS:
        raise ValueError(f"--by must be one of {', '.join(PERIODS)}, not {by!r}")
    return by


def period_range(period: str) -> tuple[str, dt.date, dt.date]:
    """(grain, first day, last day) of a period label: 2025, 2025-Q1, 2025-03, 2025-W09, 2025-03-14."""
    text = period.strip()
    try:
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
        day = dt.date.fromisoformat(text)
    except ValueError:
        # Also "2025-13" or "2025-W60": the shape fits but no such period exists.
        raise ValueError(f"period {period!r} is none of YYYY, YYYY-Qn, YYYY-MM, YYYY-Www, YYYY-MM-DD") from None
    return "day", day, day
