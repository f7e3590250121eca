"""Term semantics: the one place that decides what a word is and what a term matches.

Words are maximal runs of Unicode letters and digits, case-folded; everything else separates
words, so "test-time scaling" is three words. A term matches whole words; a trailing ``*`` makes
its last word a prefix; a term of several words is a phrase matched as consecutive words. A query
(one or more terms as alternatives, ``a|b``) and the periods are defined in transforms/query.py.

Matching works on a *search text*: the words of the title, a field break, the words of the
abstract, each word surrounded by single spaces. A term becomes a *needle* (" w1 w2 " or
" w1 pre" for a prefix) and a paper matches when its search text contains the needle. The field
break keeps a phrase from running from the end of the title into the abstract. Python, Polars and
the warehouse's SQL all use this representation, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

# Rust regex syntax (Polars): letters and digits of any script; underscore is not a word char.
WORD_PATTERN = r"[\p{L}\p{N}]+"
# Separates title words from abstract words in a search text; contains no letter or digit.
FIELD_BREAK = "|"

# Full case folding beyond lower-casing, for the letters where they differ.
_CASE_FOLDS = {"ß": "ss", "ẞ": "ss", "ς": "σ", "ſ": "s"}


def casefold_expr(text: pl.Expr) -> pl.Expr:
    """Case-fold a string expression (lower-case plus the special folds)."""
    folded = text.str.to_lowercase()
    for source, target in _CASE_FOLDS.items():
        folded = folded.str.replace_all(source, target, literal=True)
    return folded


def words_expr(text: pl.Expr) -> pl.Expr:
    """List of case-folded words of a string expression (null text gives an empty list)."""
    return casefold_expr(text.fill_null("")).str.extract_all(WORD_PATTERN)


def search_text_expr(title: pl.Expr, abstract: pl.Expr) -> pl.Expr:
    """The search text of a paper: ' title words | abstract words ' (see the module docstring)."""
    return pl.concat_str(
        [
            pl.lit(" "),
            words_expr(title).list.join(" "),
            pl.lit(f" {FIELD_BREAK} "),
            words_expr(abstract).list.join(" "),
            pl.lit(" "),
        ]
    ).str.replace_all(r" {2,}", " ")


def search_text_tokens(frame: pl.DataFrame) -> pl.DataFrame:
    """(paper_key, word, position, first) per word occurrence of search texts (frame: paper_key, search_text).

    A search text's words are separated by single spaces, with the field break as a token of its
    own, so a token's index is its position: consecutive positions are consecutive words of one
    field. `first` marks a word's first occurrence in its paper (papers per word count those).
    """
    tokens = frame.select(
        "paper_key", word=pl.col("search_text").str.strip_chars(" ").str.split(" ")
    ).select(
        "paper_key",
        "word",
        position=pl.int_ranges(0, pl.col("word").list.len(), dtype=pl.Int32),
        first=pl.col("word").list.eval(pl.element().is_first_distinct()),
    )
    return tokens.explode("word", "position", "first").filter(
        pl.col("word").is_not_null() & (pl.col("word") != "") & (pl.col("word") != FIELD_BREAK)
    )


def words(text: str | None) -> list[str]:
    """The words of one string, by the same expression the pipeline uses."""
    frame = pl.DataFrame({"text": [text]}, schema={"text": pl.String})
    return frame.select(words_expr(pl.col("text"))).item().to_list()


def search_text(title: str | None, abstract: str | None) -> str:
    """The search text of one paper, by the same expression the pipeline uses."""
    frame = pl.DataFrame({"t": [title], "a": [abstract]}, schema={"t": pl.String, "a": pl.String})
    return frame.select(search_text_expr(pl.col("t"), pl.col("a"))).item()


class TermError(ValueError):
    """A term or query that cannot be matched: unsupported syntax, no words, an empty alternative."""


@dataclass(frozen=True)
class Term:
    """A parsed query term: its words, and whether the last word is a prefix."""

    text: str
    words: tuple[str, ...]
    prefix: bool

    @property
    def needle(self) -> str:
        """The substring a search text contains exactly when the paper matches this term."""
        tail = "" if self.prefix else " "
        return " " + " ".join(self.words) + tail

    def matches(self, title: str | None, abstract: str | None) -> bool:
        """Whether a paper with this title and abstract matches the term."""
        return self.needle in search_text(title, abstract)


# Characters that are query syntax elsewhere but not here: refused rather than read as separators.
ALTERNATIVE_BAR = "|"
# What surrounds a term and is stripped: the characters a user types (SQL: query_trim in
# warehouse/sql/009_query_language.sql names the same set).
WHITESPACE = " \t\n\v\f\r"
UNSUPPORTED_GROUPING = "()"


def parse_term(text: str) -> Term:
    """Parse one term (one alternative of a query): 'tractable', 'tractab*', 'inference-time scaling'.

    Rules, checked in this order (warehouse/sql/009_query_language.sql checks the same, in the
    same order, with the same messages; tests/test_terms.py proves it on random terms):
    no '|' (a query's alternatives are split by transforms/query.py), no parentheses, at least one
    word, '*' at most once and only at the very end, and directly after a letter or digit.
    """
    stripped = text.strip(WHITESPACE)
    if ALTERNATIVE_BAR in stripped:
        raise TermError(f"term '{stripped}': '|' separates alternatives of a query (parse it with parse_query)")
    if any(char in stripped for char in UNSUPPORTED_GROUPING):
        raise TermError(f"term '{stripped}': parentheses are not supported; write alternatives as a|b")
    prefix = stripped.endswith("*")
    stem = stripped[:-1] if prefix else stripped
    found = tuple(words(stem.replace("*", " ")))
    if not found:
        raise TermError(f"term '{stripped}' has no letters or digits to match")
    if "*" in stem:
        # "*scaling", "scal*ing", "scal**": a star anywhere but the end would be read as a word break.
        raise TermError(f"term '{stripped}': '*' may only end a term, once (as in scal*)")
    if prefix and not words(stem[-1:]):
        # "scaling *" or "x-*": the star must stick to a word to make it a prefix.
        raise TermError(f"term '{stripped}': '*' must directly follow the word it extends")
    return Term(text=stripped, words=found, prefix=prefix)
