"""Every warehouse table, declared once: columns with types, key, how it is written, checks, descriptions.

The migrations (warehouse/sql/NNN_*.sql) stay the history of how a warehouse got its shape; these
declarations say what that shape is, and tests/test_tables.py proves that a warehouse with every
migration applied has exactly these columns, types, nullability and keys. Everything else that
needs a table's shape derives it from here:

* the Polars schemas of the transforms and the lake (`Table.polars`, `LAKE_SCHEMAS`);
* the column lists of warehouse/loads.py (`Table.names`);
* the descriptions the database carries (`COMMENT ON`, warehouse/comments.py), which a `duckdb`
  user reads in duckdb_tables().comment and duckdb_columns().comment;
* the declared data checks (warehouse/checks.py runs them inside each load);
* docs/schema.md (`schema_markdown`, written by `python -m papertrends.cli.docs`).

Internal tables (`internal=True`: the term index, the search index state, resume state, the
migrations ledger) live in their own schema, `INTERNAL_SCHEMA`, so a `duckdb` user listing the
tables of `main` sees only the data, the run ledger, the views and the trend macros. papertrends'
own connections put that schema on their search path (warehouse/tables.py `use_internal_schema`),
so Python code names every table unqualified; SQL stored in the database (migrations, macros) names
internal tables with their schema (`Table.qualified`), because a macro resolves table names in
the search path of whoever calls it (a plain `duckdb` session knows only `main`).

Column types are DuckDB's own spelling (`varchar`, `integer`, `timestamptz`, `varchar[]`,
`struct(a t, ...)[]`); the Polars type of each follows from it (`polars_dtype`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

# How a table's rows are written.
APPEND = "append"    # inserted once, never changed: a key already stored keeps its first row
MERGE = "merge"      # inserted or updated by key
REPLACE = "replace"  # a group of rows (a run's, a paper's) is deleted and written anew
# Where the internal tables live (migration 011 moved them out of main).
INTERNAL_SCHEMA = "papertrends_internal"

WRITE_MODES = {
    APPEND: "inserted once and never changed: a key already stored keeps its first row",
    MERGE: "inserted or updated in place by its key",
    REPLACE: "a group of rows (one run's, one paper's) is deleted and written anew",
}


@dataclass(frozen=True)
class Column:
    """One column: name, DuckDB type, whether it may be null, its default (SQL) and what it holds."""

    name: str
    type: str
    description: str
    not_null: bool = False
    default: str | None = None

    @property
    def polars(self) -> pl.DataType:
        return polars_dtype(self.type)


@dataclass(frozen=True)
class Check:
    """A data check run inside every load: passes when its query returns no rows.

    Queries may read the warehouse tables, the batch being loaded (`batch_listings`,
    `batch_quarantine`) and the run's parameters `$since`, `$until`, `$items_in` (null when unset).
    """

    name: str
    description: str
    sql: str


@dataclass(frozen=True)
class Table:
    """One warehouse table: what it is, its columns, its key, how it is written, its checks."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    write: str = MERGE
    # Bookkeeping the product keeps for itself (index, work lists, resume state, migrations), not
    # data a user queries: it lives in INTERNAL_SCHEMA, out of the way of `show tables`.
    internal: bool = False
    unique: tuple[str, ...] = ()  # single columns unique besides the key
    checks: tuple[Check, ...] = ()

    def __post_init__(self):
        names = self.names
        unknown = [k for k in (*self.key, *self.unique) if k not in names]
        if unknown or len(set(names)) != len(names) or self.write not in WRITE_MODES:
            raise ValueError(f"table {self.name}: bad declaration (unknown key columns {unknown}, write {self.write!r})")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> str:
        """The schema the table lives in: `INTERNAL_SCHEMA` for bookkeeping tables, else main."""
        return INTERNAL_SCHEMA if self.internal else "main"

    @property
    def qualified(self) -> str:
        """schema.name, how stored SQL (migrations, macros) and cross-database copies name the table."""
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name}")

    def polars(self, names: list[str] | tuple[str, ...] | None = None) -> dict[str, pl.DataType]:
        """Polars schema of the table (or of the columns `names`, in that order)."""
        return {n: self.column(n).polars for n in (self.names if names is None else names)}

    def sql_types(self, names: list[str] | tuple[str, ...] | None = None) -> dict[str, str]:
        """Column name -> DuckDB type, of every column (or of `names`, in that order)."""
        return {n: self.column(n).type for n in (self.names if names is None else names)}


# --- DuckDB types -> Polars types ------------------------------------------------------------------

_SCALARS: dict[str, pl.DataType] = {
    "varchar": pl.String(),
    "integer": pl.Int32(),
    "bigint": pl.Int64(),
    "double": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamptz": pl.Datetime("us", "UTC"),
}


def _split_fields(text: str) -> list[str]:
    """'a t, b struct(x u, y v)' -> ['a t', 'b struct(x u, y v)'] (commas inside parentheses kept)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def polars_dtype(sql_type: str) -> pl.DataType:
    """The Polars type of a DuckDB column type as the declarations spell it."""
    text = sql_type.strip().lower()
    if text.endswith("[]"):
        return pl.List(polars_dtype(text[:-2]))
    match = re.fullmatch(r"struct\s*\((.*)\)", text, re.DOTALL)
    if match:
        fields = {}
        for part in _split_fields(match.group(1)):
            name, _, inner = part.partition(" ")
            fields[name.strip('"')] = polars_dtype(inner)
        return pl.Struct(fields)
    if text not in _SCALARS:
        raise ValueError(f"no Polars type declared for DuckDB type {sql_type!r}")
    return _SCALARS[text]


# --- The tables ------------------------------------------------------------------------------------

C = Column
TS = "timestamptz"

PAPERS = Table(
    "papers",
    "One row per paper: the newest known value of each field, merged from every source that listed or "
    "described it (arXiv is the publisher of record for title, abstract, authors and published_at).",
    (
        C("paper_id", "varchar", "arXiv id without version (2501.01234), or title:<hex> for a paper known only by "
          "its title until it is resolved", not_null=True),
        C("title", "varchar", "title, whitespace collapsed", not_null=True),
        C("abstract", "varchar", "abstract, whitespace collapsed"),
        C("authors", "varchar[]", "author names in order"),
        C("published_at", TS, "when the paper was first published (arXiv v1, or as Hugging Face reports it)"),
        C("github_repo", "varchar", "code repository URL, from Hugging Face"),
        C("project_page", "varchar", "project page URL, from Hugging Face"),
        C("ai_keywords", "varchar[]", "keywords Hugging Face generated for the paper"),
        C("search_text", "varchar", "words of title and abstract, separated by ' | ' (transforms/terms.py): "
          "what trends and term searches match", not_null=True),
        C("observed_at", TS, "fetch time of the newest observation behind this row", not_null=True),
        C("github_stars", "integer", "stars of the code repository, as Hugging Face last reported"),
        C("organization", "varchar", "organization (slug) the paper is submitted under on Hugging Face"),
        C("ai_summary", "varchar", "summary Hugging Face generated for the paper"),
        C("withdrawn_at", TS, "when the paper was withdrawn from Hugging Face, if it was"),
        C("categories", "varchar[]", "arXiv categories, primary category first"),
        C("versions", "struct(version varchar, created timestamptz)[]", "arXiv versions (v1, v2, ...) and when each was created"),
        C("updated_at", TS, "arXiv: time of the latest version or metadata update"),
        C("doi", "varchar", "DOI of the published version, from arXiv"),
        C("journal_ref", "varchar", "journal reference, from arXiv"),
        C("comments", "varchar", "arXiv author comments (pages, figures, venue); not Hugging Face discussion"),
        C("license", "varchar", "license URL, from arXiv"),
        C("arxiv_observed_at", TS, "fetch time of the arXiv observation behind the arXiv fields"),
        C("hf_observed_at", TS, "fetch time of the newest observation that is not from arXiv"),
    ),
    key=("paper_id",),
    write=MERGE,
    checks=(
        Check("title_not_empty", "Every paper has a title with something besides whitespace in it (the column is not null: a null cannot get in).",
              "select paper_id, title\nfrom papers\nwhere trim(title) = ''"),
    ),
)

LISTINGS = Table(
    "listings",
    "One row per paper per list: which list (source and date) showed the paper, where on it and with how "
    "many upvotes. A paper counts in a trend period by its first listing (view first_listings).",
    (
        C("source", "varchar", "the list: hf_daily (API or saved JSON), hf_page (saved text page), hf_weekly, "
          "hf_monthly, hf_trending, or arxiv (dated by the paper's v1)", not_null=True),
        C("list_date", "date", "the list's date; week and month lists use the first day of their period", not_null=True),
        C("paper_id", "varchar", "the paper (papers.paper_id)", not_null=True),
        C("position", "integer", "place on the list, pages counted in"),
        C("upvotes", "integer", "upvotes as seen on that list, at fetched_at"),
        C("num_comments", "integer", "comments as seen on that list, at fetched_at"),
        C("fetched_at", TS, "when the list was fetched (a saved file: its modification time)", not_null=True),
        C("origin", "varchar", "URL or file the row came from", not_null=True),
        C("raw_sha256", "varchar", "SHA-256 of the body in the raw archive", not_null=True),
        C("list_period", "varchar", "the period a ranked list was asked for: 2025-W10, 2025-03, trending@2025-03-03"),
        C("rank", "integer", "1-based place on a trending list, else null"),
    ),
    key=("source", "list_date", "paper_id"),
    write=MERGE,
    checks=(
        Check("list_date_in_requested_range", "Every listing this load brings lies inside the list dates the run asked for.",
              "select source, list_date, paper_id\nfrom batch_listings\n"
              "where list_date < coalesce($since::date, list_date)\n   or list_date > coalesce($until::date, list_date)"),
        Check("upvotes_not_negative", "Upvotes and comment counts are counts: never below zero.",
              "select source, list_date, paper_id, upvotes, num_comments\nfrom listings\n"
              "where upvotes < 0 or num_comments < 0"),
        Check("listing_paper_exists", "Every listing points at a paper in `papers`.",
              "select l.source, l.list_date, l.paper_id\nfrom listings as l\nanti join papers as p on p.paper_id = l.paper_id"),
    ),
)

QUARANTINE = Table(
    "quarantine",
    "Items that were read but not loaded, one row each, with the reason and the raw text: items in = "
    "loaded + quarantined.",
    (
        C("item_key", "varchar", "origin | raw_sha256 | position: one row per bad item", not_null=True),
        C("origin", "varchar", "URL or file the item came from", not_null=True),
        C("raw_sha256", "varchar", "SHA-256 of the body in the raw archive", not_null=True),
        C("position", "integer", "place of the item in its input; null when the whole input was unreadable"),
        C("reason", "varchar", "why the item was not loaded", not_null=True),
        C("raw_text", "varchar", "the item as read (a whole bad input: its first 64 KiB)"),
        C("first_run_id", "bigint", "the run that first quarantined the item (runs.run_id)"),
    ),
    key=("item_key",),
    write=APPEND,
    checks=(
        Check("items_accounted_for", "Items in = items loaded + items quarantined: nothing the run read went missing.",
              "with counted as (\n    select\n        $items_in::bigint as items_in,\n"
              "        (select count(*) from batch_listings) as items_loaded,\n"
              "        (select count(*) from batch_quarantine) as items_quarantined\n)\n"
              "select items_in, items_loaded, items_quarantined\nfrom counted\n"
              "where items_in is not null and items_in <> items_loaded + items_quarantined"),
    ),
)

UPVOTE_HISTORY = Table(
    "upvote_history",
    "Every sighting of a paper's upvotes, from list pages and detail answers: what momentum "
    "(upvotes gained over a window) is computed from.",
    (
        C("paper_id", "varchar", "the paper (papers.paper_id)", not_null=True),
        C("seen_at", TS, "fetch time of the response that showed the count", not_null=True),
        C("source", "varchar", "hf_daily, hf_page, hf_weekly, hf_monthly, hf_trending or hf_paper (a detail answer)", not_null=True),
        C("upvotes", "integer", "upvotes at seen_at"),
        C("num_comments", "integer", "comments at seen_at"),
        C("raw_sha256", "varchar", "SHA-256 of the body in the raw archive", not_null=True),
    ),
    key=("paper_id", "seen_at", "source"),
    write=APPEND,
)

PAPER_SOURCES = Table(
    "paper_sources",
    "Which source showed us which paper, first and last.",
    (
        C("paper_id", "varchar", "the paper (papers.paper_id)", not_null=True),
        C("source", "varchar", "listing source: hf_daily, hf_page, ..., arxiv", not_null=True),
        C("first_seen_at", TS, "fetch time of the first listing from this source", not_null=True),
        C("last_seen_at", TS, "fetch time of the latest listing from this source", not_null=True),
    ),
    key=("paper_id", "source"),
    write=MERGE,
)

PAPER_DETAILS = Table(
    "paper_details",
    "The last Hugging Face detail answer per paper (GET /api/papers/{id}); a 404 is kept so "
    "`enrich --missing` does not ask again.",
    (
        C("paper_id", "varchar", "the paper asked for", not_null=True),
        C("status", "integer", "HTTP status of the last answer (200, 404, ...)", not_null=True),
        C("fetched_at", TS, "when the answer came", not_null=True),
        C("raw_sha256", "varchar", "SHA-256 of the answer in the raw archive"),
        C("reason", "varchar", "why the answer was not loaded, if it was not"),
    ),
    key=("paper_id",),
    write=MERGE,
)

TITLE_RESOLUTIONS = Table(
    "title_resolutions",
    "Papers known only by their title (saved text pages) and what the Hugging Face papers search "
    "said about each; a resolved title moves its listings to the arXiv id.",
    (
        C("synthetic_id", "varchar", "title:<hex>, see transforms/ids.py", not_null=True),
        C("title", "varchar", "the title searched for", not_null=True),
        C("paper_id", "varchar", "the arXiv id found; null while unresolved"),
        C("status", "varchar", "resolved, not_found or ambiguous", not_null=True),
        C("resolved_at", TS, "when the search answered", not_null=True),
        C("raw_sha256", "varchar", "SHA-256 of the search answer in the raw archive"),
    ),
    key=("synthetic_id",),
    write=MERGE,
)

ARXIV_DELETED = Table(
    "arxiv_deleted",
    "arXiv OAI-PMH records marked deleted: noted here, never loaded as papers (they carry no metadata).",
    (
        C("paper_id", "varchar", "arXiv id of the deleted record", not_null=True),
        C("datestamp", "date", "OAI datestamp of the deletion"),
        C("first_seen_at", TS, "fetch time of the first harvest page that showed the deletion", not_null=True),
        C("origin", "varchar", "URL or file the record came from", not_null=True),
        C("raw_sha256", "varchar", "SHA-256 of the page in the raw archive", not_null=True),
    ),
    key=("paper_id",),
    write=APPEND,
)

OAI_HARVESTS = Table(
    "oai_harvests",
    "arXiv OAI-PMH harvests and their last resumption token, so a harvest stopped between pages resumes there.",
    (
        C("harvest_key", "varchar", "hash of endpoint, metadataPrefix, set, from, until", not_null=True),
        C("endpoint", "varchar", "OAI-PMH base URL", not_null=True),
        C("metadata_prefix", "varchar", "arXiv or arXivRaw", not_null=True),
        C("set_spec", "varchar", "OAI set (cs, physics:hep-th, ...), null for all"),
        C("from_date", "date", "first datestamp asked for"),
        C("until_date", "date", "last datestamp asked for"),
        C("resumption_token", "varchar", "token of the next page; null before the first page and when done"),
        C("pages", "integer", "pages harvested so far", not_null=True, default="0"),
        C("records", "bigint", "records harvested so far", not_null=True, default="0"),
        C("complete_list_size", "bigint", "records in the whole list, when the server says"),
        C("status", "varchar", "running or completed", not_null=True),
        C("started_at", TS, "when the harvest started", not_null=True),
        C("updated_at", TS, "when the last page was recorded", not_null=True),
    ),
    key=("harvest_key",),
    write=MERGE,
    internal=True,
)

BACKFILL_DATES = Table(
    "backfill_dates",
    "The backfill ledger: the last outcome per (source, list date), so a backfill resumes where it "
    "stopped and failed dates can be retried alone.",
    (
        C("source", "varchar", "hf_daily", not_null=True),
        C("list_date", "date", "the list's date", not_null=True),
        C("status", "varchar", "done or failed", not_null=True),
        C("closed", "boolean", "fetched after the list was settled: it no longer changes", not_null=True),
        C("pages", "integer", "raw pages landed for the date (done)"),
        C("items", "integer", "items on those pages (done)"),
        C("reason", "varchar", "why it failed (failed)"),
        C("run_id", "bigint", "the backfill run that wrote this outcome (runs.run_id)"),
        C("updated_at", TS, "when the outcome was written", not_null=True),
    ),
    key=("source", "list_date"),
    write=MERGE,
    internal=True,
)

RUNS = Table(
    "runs",
    "The run ledger: one row per writer run (ingest, enrich, backfill, rebuild), its arguments, "
    "outcome and counts. `papertrends status` shows the latest.",
    (
        C("run_id", "bigint", "run number, from the sequence run_id_sequence", not_null=True,
          default="nextval('run_id_sequence')"),
        C("flow", "varchar", "what ran: ingest-hf-lists, ingest-files, enrich-hf, rebuild-from-raw, ...", not_null=True),
        C("arguments", "varchar", "the run's arguments, as JSON"),
        C("started_at", TS, "when the run started", not_null=True),
        C("finished_at", TS, "when the run ended; null while running"),
        C("status", "varchar", "running, completed, failed or interrupted", not_null=True),
        C("inputs", "bigint", "raw responses or files read"),
        C("items_in", "bigint", "items those inputs held"),
        C("items_loaded", "bigint", "items loaded"),
        C("items_quarantined", "bigint", "items quarantined (items_in = items_loaded + items_quarantined)"),
        C("listings_new", "bigint", "listing rows added"),
        C("listings_changed", "bigint", "listing rows changed"),
        C("papers_new", "bigint", "paper rows added"),
        C("papers_changed", "bigint", "paper rows changed"),
        C("message", "varchar", "why a run failed, or how it ended"),
    ),
    key=("run_id",),
    write=MERGE,
)

RUN_CHECKS = Table(
    "run_checks",
    "One row per declared data check per run: passed or not, how many rows offended. A failed check "
    "rolls its load back; its row here is kept.",
    (
        C("run_id", "bigint", "the run (runs.run_id)", not_null=True),
        C("check_name", "varchar", "the check (docs/schema.md lists them with their tables)", not_null=True),
        C("passed", "boolean", "whether the check found nothing wrong", not_null=True),
        C("offending", "bigint", "rows the check found wrong (0 when passed)", not_null=True),
        C("example", "varchar", "the first offending row, as JSON"),
        C("checked_at", TS, "when the check ran", not_null=True),
    ),
    key=("run_id", "check_name"),
    write=MERGE,
)

RUN_STAGES = Table(
    "run_stages",
    "One row per stage of a run (land, normalize, load, ...): items handled and seconds taken.",
    (
        C("run_id", "bigint", "the run (runs.run_id)", not_null=True),
        C("stage_order", "integer", "the stage's place in the run", not_null=True),
        C("stage", "varchar", "the stage's name", not_null=True),
        C("items", "bigint", "items the stage handled"),
        C("seconds", "double", "seconds the stage took"),
        C("detail", "varchar", "more about the stage, for people"),
    ),
    key=("run_id", "stage_order"),
    write=REPLACE,
)

RUN_WARNINGS = Table(
    "run_warnings",
    "Warnings a run raised, one row each, in order (a failure's message stays in runs.message).",
    (
        C("run_id", "bigint", "the run (runs.run_id)", not_null=True),
        C("position", "integer", "the warning's place in the run's list", not_null=True),
        C("warning", "varchar", "the warning, at most 4000 characters", not_null=True),
    ),
    key=("run_id", "position"),
    write=REPLACE,
)

TERM_WORDS = Table(
    "term_words",
    "Term index: every word seen in a search text (transforms/terms.py decides what a word is).",
    (
        C("word_id", "integer", "the word's number; 0 stands for every paper in term_counts", not_null=True),
        C("word", "varchar", "the word, lower case", not_null=True),
    ),
    key=("word_id",),
    unique=("word",),
    write=APPEND,
    internal=True,
)

TERM_PAPERS = Table(
    "term_papers",
    "Term index: one row per indexed paper, with a compact key and the dates and upvotes the trend filters need.",
    (
        C("paper_key", "integer", "dense integer key, assigned when the paper is first indexed", not_null=True),
        C("paper_id", "varchar", "the paper (papers.paper_id)", not_null=True),
        C("first_list_date", "date", "first listing over all sources (as first_listings)", not_null=True),
        C("first_hf_date", "date", "first listing from a Hugging Face list of new papers"),
        C("first_arxiv_date", "date", "first arXiv listing (v1 date)"),
        C("max_hf_upvotes", "integer", "most upvotes over the paper's Hugging Face listings"),
    ),
    write=REPLACE,
    internal=True,
)

TERM_POSTINGS = Table(
    "term_postings",
    "Term index: one row per word occurrence in a paper's search text, sorted by word.",
    (
        C("word_id", "integer", "the word (term_words.word_id)", not_null=True),
        C("paper_key", "integer", "the paper (term_papers.paper_key)", not_null=True),
        C("position", "integer", "the word's position in the search text; the title/abstract break takes one, "
          "so a phrase never runs from title into abstract", not_null=True),
    ),
    write=REPLACE,
    internal=True,
)

TERM_COUNTS = Table(
    "term_counts",
    "Term index: papers per (word, first list date) as signed deltas; sum(papers) is the count, word_id 0 "
    "counts every paper. Written by loads, never updated in place.",
    (
        C("word_id", "integer", "the word (term_words.word_id), 0 for every paper", not_null=True),
        C("first_list_date", "date", "the papers' first list date", not_null=True),
        C("papers", "integer", "change in the number of papers (negative when a paper moved away)", not_null=True),
    ),
    write=APPEND,
    internal=True,
)

TERM_INDEX_PENDING = Table(
    "term_index_pending",
    "Term index work list: papers whose index entries are due. A load records them in its own "
    "transaction; the index catches up in bounded batches and removes them.",
    (C("paper_id", "varchar", "the paper (papers.paper_id)", not_null=True),),
    key=("paper_id",),
    write=APPEND,
    internal=True,
)

TERM_RISING = Table(
    "term_rising",
    "The rising table (words and two-word phrases whose share grew most) for the default windows, "
    "computed by the writer after each load's term index catch-up (warehouse/rising_store.py); read "
    "by `rising` without filters while index_state matches the term index.",
    (
        C("grain", "varchar", "period of the windows (month, week, ...)", not_null=True),
        C("periods", "integer", "periods in each window (rising --window)", not_null=True),
        C("min_support", "integer", "least papers in the recent window", not_null=True),
        C("index_state", "varchar", "the term index state the rows were computed on", not_null=True),
        C("before_first", "date", "first day of the earlier window", not_null=True),
        C("recent_first", "date", "first day of the recent window", not_null=True),
        C("last_date", "date", "last list date of the recent window", not_null=True),
        C("papers_recent_total", "bigint", "papers in the recent window", not_null=True),
        C("papers_before_total", "bigint", "papers in the earlier window", not_null=True),
        C("rank", "integer", "1, 2, ... by z; 0 for the row that says the answer exists (no term)", not_null=True),
        C("term", "varchar", "the word or two-word phrase"),
        C("kind", "varchar", "word or phrase"),
        C("papers_before", "bigint", "papers with the term in the earlier window"),
        C("share_before", "double", "their share of the earlier window's papers"),
        C("papers_recent", "bigint", "papers with the term in the recent window"),
        C("share_recent", "double", "their share of the recent window's papers"),
        C("growth", "double", "ratio of the shares (with 0.5 added to each count)"),
        C("z", "double", "two-proportion z statistic: the rank"),
    ),
    write=APPEND,
    internal=True,
)

SEARCH_INDEX_STATE = Table(
    "search_index_state",
    "Whether, and how far, the BM25 search index (DuckDB fts) is behind the papers table: one row.",
    (
        C("singleton", "boolean", "always true: the table holds one row", not_null=True, default="true"),
        C("stale", "boolean", "papers changed since the last build", not_null=True),
        C("rebuilt_at", TS, "when the index was last built"),
        C("papers_behind", "bigint", "papers changed since the last build", default="0"),
        C("behind_since", TS, "first change after the last build"),
    ),
    key=("singleton",),
    write=MERGE,
    internal=True,
)

SCHEMA_MIGRATIONS = Table(
    "schema_migrations",
    "The schema migrations (warehouse/sql/NNN_*.sql) applied to this warehouse, and when.",
    (
        C("version", "integer", "migration number", not_null=True),
        C("name", "varchar", "migration name (its file name without number and suffix)"),
        C("applied_at", TS, "when it was applied"),
    ),
    key=("version",),
    write=APPEND,
    internal=True,
)

TABLES: tuple[Table, ...] = (
    PAPERS, LISTINGS, QUARANTINE, UPVOTE_HISTORY, PAPER_SOURCES, PAPER_DETAILS, TITLE_RESOLUTIONS,
    ARXIV_DELETED, RUNS, RUN_CHECKS, RUN_STAGES, RUN_WARNINGS, OAI_HARVESTS, BACKFILL_DATES,
    TERM_WORDS, TERM_PAPERS, TERM_POSTINGS, TERM_COUNTS, TERM_INDEX_PENDING, TERM_RISING, SEARCH_INDEX_STATE,
    SCHEMA_MIGRATIONS,
)
BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

# Views the migrations create, and what each is.
VIEWS: dict[str, str] = {
    "first_listings": "Each paper's first list date on a list of new papers (week, month and trending lists "
                      "re-rank papers already listed, so they never make a paper first listed): the population "
                      "of every trend period.",
}


def declared_checks() -> list[Check]:
    """Every table's checks, in table order."""
    found = [c for t in TABLES for c in t.checks]
    names = [c.name for c in found]
    if len(set(names)) != len(names):
        raise ValueError(f"a check name is declared twice: {names}")
    return found


# --- The lake (typed Parquet): each lake table's columns, typed by the warehouse declarations ----------

# Paper fields a Hugging Face listing row carries besides its listing columns.
LISTING_PAPER_FIELDS = (
    "title", "abstract", "authors", "published_at", "github_repo", "project_page", "ai_keywords",
    "github_stars", "organization", "ai_summary", "withdrawn_at",
)
# Lake listing rows: a listing and the paper observation it carries (column order is the files' order).
_LAKE_LISTING_ORDER = (
    "source", "list_date", "paper_id", "position", "title", "abstract", "authors", "published_at", "upvotes",
    "num_comments", "github_repo", "project_page", "ai_keywords", "fetched_at", "origin", "raw_sha256",
    "list_period", "rank", "github_stars", "organization", "ai_summary", "withdrawn_at",
)
# What an arXiv observation adds to the paper columns: where and when it was listed and seen.
ARXIV_ROW_LISTING_FIELDS = ("list_date", "position", "fetched_at", "origin", "raw_sha256")


def _typed(names: tuple[str, ...], *tables: Table) -> dict[str, pl.DataType]:
    schema = {}
    for name in names:
        owner = next(t for t in tables if name in t.names)
        schema[name] = owner.column(name).polars
    return schema


LISTING_ROW_SCHEMA: dict[str, pl.DataType] = _typed(_LAKE_LISTING_ORDER, LISTINGS, PAPERS)
QUARANTINE_ROW_SCHEMA: dict[str, pl.DataType] = QUARANTINE.polars(("origin", "raw_sha256", "position", "reason", "raw_text"))
ARXIV_ROW_SCHEMA: dict[str, pl.DataType] = {**PAPERS.polars(), **LISTINGS.polars(ARXIV_ROW_LISTING_FIELDS)}
DELETED_ROW_SCHEMA: dict[str, pl.DataType] = ARXIV_DELETED.polars()

# Lake table -> (Parquet schema, what its files hold). The warehouse reads them with read_parquet.
LAKE_TABLES: dict[str, tuple[dict[str, pl.DataType], str]] = {
    "listings": (LISTING_ROW_SCHEMA, "listing rows with the paper fields they carry; also paper observations"),
    "arxiv": (ARXIV_ROW_SCHEMA, "arXiv rows: a listing (source 'arxiv') and a paper observation each"),
    "papers": (PAPERS.polars(), "paper observations (papers columns, any subset), e.g. paper details"),
    "quarantine": (QUARANTINE_ROW_SCHEMA, "quarantined items (quarantine without item_key and first_run_id)"),
    "arxiv_deleted": (DELETED_ROW_SCHEMA, "OAI deleted records (as arxiv_deleted)"),
}


def lake_schemas() -> dict[str, dict[str, pl.DataType]]:
    """Lake table -> Parquet schema of the tables normalization writes (papers files are written by details)."""
    return {name: schema for name, (schema, _) in LAKE_TABLES.items() if name != "papers"}


# --- docs/schema.md ----------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def schema_markdown(generated_note: str = "") -> str:
    """docs/schema.md: every table with its description, columns, key, write mode and checks; the lake tables."""
    lines = ([generated_note, ""] if generated_note else []) + [
        "# Schema", "",
        "Every table of the warehouse, from its declaration in `transforms/tables.py` (the migrations in "
        "`warehouse/sql/` must produce exactly these columns; tests/test_tables.py checks it). The same "
        "descriptions are in the database: `select table_name, comment from duckdb_tables()` and "
        "`select table_name, column_name, comment from duckdb_columns()` (all but the columns of `runs`: "
        "DuckDB 1.5.5 cannot replay a log holding a comment on a table with a sequence default).", "",
        "How a table is written:", "",
        *[f"- **{mode}**: {meaning}" for mode, meaning in WRITE_MODES.items()], "",
    ]
    for heading, internal in (("Data and run ledger", False), ("Internal bookkeeping", True)):
        lines += [f"## {heading}", ""]
        if internal:
            lines += [f"Index, work lists, resume state and the migrations ledger the product keeps for itself, in the "
                      f"schema `{INTERNAL_SCHEMA}` (so `show tables` in `duckdb` lists only the tables above); "
                      f"query them only to debug, by their full name: `select * from {INTERNAL_SCHEMA}.term_words`. "
                      "`papertrends sql` finds them by their bare names too.", ""]
        for table in (t for t in TABLES if t.internal == internal):
            lines += [f"### `{table.qualified if internal else table.name}`", "", table.description, ""]
            facts = [f"written: {table.write}"]
            if table.key:
                facts.insert(0, "key: " + ", ".join(f"`{k}`" for k in table.key))
            if table.unique:
                facts.append("unique: " + ", ".join(f"`{u}`" for u in table.unique))
            lines += ["; ".join(facts), "", "| column | type | null | meaning |", "|---|---|---|---|"]
            for c in table.columns:
                default = f" (default `{c.default}`)" if c.default else ""
                lines.append(f"| `{c.name}` | `{_cell(c.type)}` | {'no' if c.not_null else 'yes'} | {_cell(c.description)}{default} |")
            lines.append("")
            if table.checks:
                lines += ["Checks (run inside every load; one failing rolls the load back):", ""]
                lines += [f"- `{c.name}`: {c.description}" for c in table.checks]
                lines.append("")
    lines += ["## Views", ""]
    lines += [f"- `{name}`: {text}" for name, text in VIEWS.items()]
    lines += ["", "## Lake tables", "",
              "Typed Parquet under `lake/` (see [lake.md](lake.md)); columns are typed as the warehouse columns of the same name.", ""]
    for name, (schema, what) in LAKE_TABLES.items():
        lines += [f"- `{name}`: {what}. Columns: {', '.join(f'`{c}`' for c in schema)}"]
    return "\n".join(lines).rstrip() + "\n"
