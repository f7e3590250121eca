"""Paper identity: the one place that turns what sources call a paper into a paper_id.

A paper_id is an arXiv identifier without its version: new style ``2505.19147`` or old style
``cond-mat/0412498``. Papers known only by title (saved text pages carry no ids) get a stable
synthetic id derived from the title's words, ``title:<16 hex>``, until they are resolved.
"""

from __future__ import annotations

import hashlib

import polars as pl

from .terms import words

# Optional "arXiv:" or abs/pdf URL in front, optional version and ".pdf" behind.
ARXIV_ID_PATTERN = (
    r"(?i)^\s*(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)?"
    r"(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[a-z]{2})?/\d{7})"
    r"(?:v\d+)?(?:\.pdf)?\s*$"
)
SYNTHETIC_PREFIX = "title:"


def paper_id_expr(raw_id: pl.Expr) -> pl.Expr:
    """The paper_id of a raw arXiv id or URL; null when it is not one."""
    return raw_id.str.extract(ARXIV_ID_PATTERN, 1)


def paper_id(raw_id: str | None) -> str | None:
    """The paper_id of one raw arXiv id or URL; None when it is not one."""
    frame = pl.DataFrame({"raw": [raw_id]}, schema={"raw": pl.String})
    return frame.select(paper_id_expr(pl.col("raw"))).item()


def synthetic_paper_id(title: str) -> str:
    """A stable id for a paper known only by its title (same words, same id)."""
    key = " ".join(words(title)).encode("utf-8")
    return SYNTHETIC_PREFIX + hashlib.sha256(key).hexdigest()[:16]


def synthetic_paper_id_expr(title: pl.Expr) -> pl.Expr:
    """Vectorised synthetic_paper_id (same result, computed per row)."""
    return title.map_elements(synthetic_paper_id, return_dtype=pl.String)
