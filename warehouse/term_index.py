"""The term index: words, per-paper postings and per-day counts, kept current by every load.

Trend queries read these instead of scanning abstracts (warehouse/sql/005_term_index.sql, 013):

* ``term_words``     word_id, word: every word of every search text (transforms/terms.py words);
* ``term_papers``    paper_key (dense integer), paper_id, first list dates overall / hf / arxiv,
                     max hf upvotes: what the filters need, without touching listings;
* ``term_postings``  (word_id, paper_key, position): one row per word occurrence in a search text;
* ``term_counts``    signed deltas of papers per (word_id, first_list_date); word_id 0 counts
                     every paper. A single-word trend without filters sums these.

``refresh`` runs inside the load's transaction for the papers the load touched (new or changed
paper rows, or new listings that may move a paper's first list date), plus any paper not yet
indexed (so a warehouse made before migration 005 is indexed by its next load). It subtracts a
touched paper's old contribution, rewrites its postings and adds the new contribution.

Each step works on a whole batch at once: words come from papers.search_text (computed once by
the load from transforms/terms.py), split by Polars; sorting, counting and merging run in DuckDB.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from ..transforms.terms import search_text_tokens

ALL_PAPERS_WORD_ID = 0
HF_SOURCE_PATTERN = "hf_%"
FTS_SCHEMA = "fts_main_papers"  # what create_fts_index names the BM25 index of table papers
ARXIV_SOURCE = "arxiv"
# Papers indexed per transaction by catch_up: bounds what one statement sorts (DuckDB spills past its limit)
# and how much an interrupted catch-up redoes.
BATCH_PAPERS = 100_000

_PAPER_STATE_SQL = """
with affected as (
    select paper_id from ti_touched
    union
    select paper_id from papers anti join term_papers using (paper_id) where $unindexed
),

listing_state as (
    select
        l.paper_id,
        -- Week, month and trending lists re-rank papers already listed: they never make a paper
        -- "first listed" (the same rule as the first_listings view, migration 003).
        min(l.list_date) filter (where l.source not in ('hf_weekly', 'hf_monthly', 'hf_trending')) as first_list_date,
        min(l.list_date) filter (
            where l.source like $hf and l.source not in ('hf_weekly', 'hf_monthly', 'hf_trending')
        ) as first_hf_date,
        min(l.list_date) filter (where l.source = $arxiv) as first_arxiv_date,
        max(l.upvotes) filter (where l.source like $hf) as max_hf_upvotes
    from listings as l
    semi join affected using (paper_id)
    group by l.paper_id
),

final as (
    select s.*
    from listing_state as s
    semi join papers as p using (paper_id)
    where s.first_list_date is not null
)

select * from final
"""


def fts_extension_path() -> str:
    """The fts extension file shipped in the duckdb-extension-fts wheel."""
    import duckdb_extension_fts

    found = sorted(Path(duckdb_extension_fts.__file__).parent.rglob("fts.duckdb_extension"))
    if not found:
        raise RuntimeError("duckdb-extension-fts is installed but holds no fts.duckdb_extension file")
    return str(found[0])


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load DuckDB's fts extension straight from the wheel's file (offline; nothing installed in ~)."""
    # Asked through duckdb_functions(), not duckdb_extensions(): the latter lists the extension
    # directory, which a locked-down reader (external access off) may not read.
    loaded = con.execute("select count(*) from duckdb_functions() where function_name = 'stem'").fetchone()[0]
    if not loaded:
        con.execute(f"load '{fts_extension_path()}'")


# The BM25 index: DuckDB's fts extension builds it as tables plus macros in schema fts_main_papers.
# DuckLake 1.5.5 cannot store the macros, so on a DuckLake the index is built by the same extension
# in a scratch DuckDB file and only the plain tables `search` reads (FTS_LAKE_TABLES) are copied into
# the lake; the query side needs no macro (FTS_TOKENIZE_SQL stands for fts's tokenize macro).
FTS_OPTIONS = (
    "stemmer = 'porter', stopwords = 'english', ignore = '[^\\p{L}\\p{N}]+', "
    "strip_accents = 1, lower = 1, overwrite = 1"
)
# The body of the tokenize macro create_fts_index makes with FTS_OPTIONS, for argument `s` (read
# back from duckdb_functions(); tests/test_search_lake.py checks they stay equal).
FTS_TOKENIZE_SQL = (
    "string_split_regex(regexp_replace(lower(strip_accents(CAST(s AS VARCHAR))), "
    "'[^\\p{L}\\p{N}]+', ' ', 'g'), '\\s+')"
)


def fts_tokenize_sql(argument: str) -> str:
    """fts's tokenize(`argument`) as a plain expression: what search runs where no macro is stored."""
    return FTS_TOKENIZE_SQL.replace("CAST(s AS", f"CAST({argument} AS", 1)


# What analytics.search reads: the term dictionary with document frequencies, document lengths,
# corpus statistics and per-(word, paper) counts. fts's `terms` (one row per word occurrence),
# `fields`, `stopwords` and macros stay in the scratch file.
FTS_LAKE_TABLES = ("dict", "docs", "stats", "term_tf")
_SCRATCH = "fts_scratch"


def on_ducklake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `con`'s current database is a DuckLake."""
    row = con.execute("select type from duckdb_databases() where database_name = current_database()").fetchone()
    return bool(row) and row[0] == "ducklake"


def fts_built(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the current database holds a BM25 index (schema fts_main_papers)."""
    return con.execute(
        "select count(*) from duckdb_schemas() where database_name = current_database() and schema_name = ?", [FTS_SCHEMA]
    ).fetchone()[0] > 0


def rebuild_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the BM25 index over papers' titles and abstracts (DuckDB fts cannot update in place).

    On a file, in the caller's transaction. On a DuckLake, call it outside a transaction: the index
    is built in a scratch file, then its tables replace the lake's in one snapshot (`_fts_into_lake`).
    """
    load_fts(con)
    if on_ducklake(con):
        _fts_into_lake(con)
        return
    con.execute(f"pragma create_fts_index('papers', 'paper_id', 'title', 'abstract', {FTS_OPTIONS})")
    build_term_tf(con)


def build_term_tf(con: duckdb.DuckDBPyConnection, schema: str = FTS_SCHEMA) -> None:
    """(Re)build fts_main_papers.term_tf from the BM25 index's terms table (part of rebuild_fts).

    fts scores a query by scanning its `terms` table (one row per word occurrence, in document
    order: no zone map narrows it to a word). term_tf holds each (word, paper) once with its count,
    sorted by word, so `search` reads only the row groups of the query's words (analytics.search).
    `schema` may be qualified by a database (the scratch file of a DuckLake build).
    """
    con.execute(
        f"create or replace table {schema}.term_tf as "
        f"select termid, docid, count(*) as tf from {schema}.terms group by termid, docid order by termid, docid"
    )


def _fts_into_lake(con: duckdb.DuckDBPyConnection, state_update: str | None = None, params: list | None = None) -> None:
    """Build the BM25 index of the lake's papers in a scratch DuckDB file and copy its tables into the lake.

    The scratch file bounds memory as the file backend does (DuckDB spills to it); it is removed
    afterwards. The lake's tables are replaced in one transaction inside the lake's merge lock
    (with `state_update`, the search_index_state change, in the same snapshot), retried when its
    commit conflicts with a writer's: readers see the old index or the new one, never a mix.
    """
    import tempfile

    from . import lake_locks

    lake = con.execute("select current_database()").fetchone()[0]
    with tempfile.TemporaryDirectory(prefix="papertrends-fts-") as folder:
        scratch_file = str(Path(folder) / "fts.duckdb").replace("'", "''")
        con.execute(f"attach '{scratch_file}' as {_SCRATCH}")
        try:
            con.execute(f"create table {_SCRATCH}.papers as select paper_id, title, abstract from \"{lake}\".main.papers")
            con.execute(f"use {_SCRATCH}")
            try:
                con.execute(f"pragma create_fts_index('papers', 'paper_id', 'title', 'abstract', {FTS_OPTIONS})")
            finally:
                _use_lake(con, lake)
            build_term_tf(con, f"{_SCRATCH}.{FTS_SCHEMA}")

            def swap() -> None:
                con.execute("begin transaction")
                try:
                    con.execute(f"create schema if not exists {FTS_SCHEMA}")
                    for table in FTS_LAKE_TABLES:
                        con.execute(f"create or replace table {FTS_SCHEMA}.{table} as "
                                    f"select * from {_SCRATCH}.{FTS_SCHEMA}.{table}"
                                    + (" order by termid, docid" if table == "term_tf" else ""))
                    if state_update:
                        con.execute(state_update, params or [])
                    con.execute("commit")
                except BaseException:
                    try:
                        con.execute("rollback")
                    except duckdb.Error:
                        pass  # a failed commit (a DuckLake conflict) has ended the transaction
                    raise

            with lake_locks.writer_section(con):
                lake_locks.retrying_conflicts(swap)
        finally:
            _use_lake(con, lake)
            con.execute(f"detach {_SCRATCH}")


def _use_lake(con: duckdb.DuckDBPyConnection, lake: str) -> None:
    """Back to the lake after the scratch file; USE resets the search path, so the internal schema goes back on it."""
    from .tables import use_internal_schema

    con.execute(f'use "{lake}"')
    use_internal_schema(con)


def refresh(con: duckdb.DuckDBPyConnection, touched_paper_ids: pl.Series | str, fts: bool = True, unindexed: bool = True) -> int:
    """Bring the index up to date for these papers (and, with `unindexed`, any never indexed); returns papers indexed.

    `touched_paper_ids` is a Series of ids or the name of a table with a paper_id column.
    Runs in the caller's transaction: changes and their index entries commit together. Every step
    is one SQL statement over the whole set (memory is DuckDB's, bounded by its limit and spilling);
    catch_up bounds the set by batching the pending papers.
    """
    if isinstance(touched_paper_ids, str):
        con.execute(f"create or replace temp table ti_touched as select distinct paper_id from {touched_paper_ids}")
    else:
        con.register("ti_touched_ids", pl.DataFrame({"paper_id": touched_paper_ids.cast(pl.String).unique()}))
        con.execute("create or replace temp table ti_touched as select paper_id from ti_touched_ids")
        con.unregister("ti_touched_ids")
    con.execute(f"create or replace temp table ti_state as {_PAPER_STATE_SQL}",
                {"hf": HF_SOURCE_PATTERN, "arxiv": ARXIV_SOURCE, "unindexed": unindexed})
    indexed = con.execute("select count(*) from ti_state").fetchone()[0]
    # Re-indexed papers keep their keys; a new key lies above every key given out so far (taken
    # before the old entries go, or a new paper could get the key of a re-indexed one).
    next_key = con.execute("select coalesce(max(paper_key), 0) + 1 from term_papers").fetchone()[0]
    # The old contribution of every touched or re-indexed paper goes out (papers that left the
    # warehouse, such as a title-only paper merged into its arXiv id, leave the index with it).
    con.execute(
        "create or replace temp table ti_old as select paper_key, paper_id, first_list_date from term_papers "
        "where paper_id in (select paper_id from ti_touched union all select paper_id from ti_state)"
    )
    _retract(con)
    # In paper_id order: the same keys on every backend and every run.
    con.execute(
        """
        create or replace temp table ti_keyed as
        select
            coalesce(o.paper_key, $next_key - 1 + row_number() over (partition by o.paper_key is null order by s.paper_id))::integer
                as paper_key,
            s.*
        from ti_state as s
        left join ti_old as o using (paper_id)
        """,
        {"next_key": next_key},
    )
    _insert_postings(con)
    for table in ("ti_touched", "ti_state", "ti_old", "ti_keyed"):
        con.execute(f"drop table if exists {table}")
    if fts and indexed:
        mark_fts_stale(con, indexed)
    return indexed


def catch_up(con: duckdb.DuckDBPyConnection, batch_papers: int = BATCH_PAPERS, fts: bool = True) -> int:
    """Index the pending papers (term_index_pending) and any never indexed, one bounded batch per transaction.

    Returns how many papers were indexed. Call outside a transaction (a load calls it after its
    commit). Each batch commits its index entries and takes its papers off the pending list
    together, so an interrupted catch-up resumes where it stopped.
    """
    con.execute(
        "insert into term_index_pending select paper_id from papers "
        "anti join term_papers using (paper_id) anti join term_index_pending using (paper_id)"
    )
    total = 0
    while True:
        con.execute("begin transaction")
        try:
            con.execute(
                "create or replace temp table term_index_batch as "
                f"select paper_id from term_index_pending order by paper_id limit {int(batch_papers)}"
            )
            taken = con.execute("select count(*) from term_index_batch").fetchone()[0]
            if taken:
                total += refresh(con, "term_index_batch", fts=fts, unindexed=False)
                con.execute("delete from term_index_pending where paper_id in (select paper_id from term_index_batch)")
            con.execute("drop table term_index_batch")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        if not taken:
            return total


def mark_fts_stale(con: duckdb.DuckDBPyConnection, papers: int = 1) -> None:
    """Note that `papers` papers changed since the BM25 index was built (it is rebuilt on its own schedule)."""
    con.execute(
        "update search_index_state set stale = true, papers_behind = coalesce(papers_behind, 0) + ?, "
        "behind_since = coalesce(behind_since, now())", [int(papers)]
    )


def fts_is_stale(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether papers changed since the BM25 index was last built."""
    row = con.execute("select stale from search_index_state").fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class SearchLag:
    """How far the BM25 search index is behind the warehouse."""

    built: bool                      # an index exists at all
    papers_behind: int               # papers new or changed since it was built (0: current)
    behind_since: dt.datetime | None  # first change after the build
    rebuilt_at: dt.datetime | None

    @property
    def current(self) -> bool:
        return self.built and self.papers_behind == 0

    def describe(self) -> str:
        """One line for `status` and `search`."""
        if not self.built:
            return "no search index yet: run `papertrends search --refresh-index` to build it"
        if self.current:
            return f"search index current (built {self.rebuilt_at:%Y-%m-%d %H:%M} UTC)" if self.rebuilt_at else "search index current"
        since = f" since {self.behind_since:%Y-%m-%d %H:%M} UTC" if self.behind_since else ""
        return (f"search index behind the warehouse by {self.papers_behind} new or changed paper(s){since}; "
                "`papertrends search --refresh-index` catches it up")


def search_lag(con: duckdb.DuckDBPyConnection) -> SearchLag:
    """How far the BM25 index is behind the papers table (read-only; the same on a file and a DuckLake)."""
    built = fts_built(con)
    row = con.execute("select stale, papers_behind, behind_since, rebuilt_at from search_index_state").fetchone()
    stale, behind, since, rebuilt = row if row else (True, None, None, None)
    if not built:
        behind = con.execute("select count(*) from papers").fetchone()[0]
    elif stale and not behind:
        behind = 1  # marked stale by an older papertrends that did not count
    return SearchLag(built, int(behind or 0) if (stale or not built) else 0, since, rebuilt)


def rebuild_fts_if_stale(con: duckdb.DuckDBPyConnection) -> bool:
    """Rebuild the BM25 index when loads marked it stale (or it was never built); returns whether it rebuilt.

    Call outside a transaction. On a DuckLake other machines may load while the index builds: the
    papers counted behind before the build are taken off, whatever loads added meanwhile stays
    counted (a paper loaded just before the build copied papers is counted and indexed: the lag
    can overstate, never understate).
    """
    if fts_built(con) and not fts_is_stale(con):
        return False
    if on_ducklake(con):
        behind_before = con.execute("select coalesce(max(papers_behind), 0) from search_index_state").fetchone()[0]
        load_fts(con)
        _fts_into_lake(
            con,
            "update search_index_state set papers_behind = greatest(coalesce(papers_behind, 0) - $1, 0), "
            "stale = coalesce(papers_behind, 0) > $1, rebuilt_at = now(), "
            "behind_since = case when coalesce(papers_behind, 0) > $1 then behind_since end",
            [int(behind_before)],
        )
        return True
    con.execute("begin transaction")
    try:
        rebuild_fts(con)
        con.execute("update search_index_state set stale = false, rebuilt_at = now(), papers_behind = 0, behind_since = null")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return True


def _insert_postings(con: duckdb.DuckDBPyConnection) -> None:
    """Index the papers of temp table ti_keyed (paper_key, paper_id, first_list_date, ...): words, postings, counts.

    Words come from the stored search text (papers.search_text, written by every load from
    transforms/terms.py), split by Polars (DuckDB's string_split is several times slower). Words
    get their ids, postings their order and counts their sums in Polars, so only sorted integers
    cross into DuckDB. catch_up's batches bound the frames.
    """
    # Sorted here, not by DuckDB: an ORDER BY would hold the batch's texts inside DuckDB's memory limit.
    texts = con.execute(
        "select k.paper_key, k.first_list_date, p.search_text from ti_keyed as k join papers as p using (paper_id)"
    ).pl().sort("paper_key")
    dates = texts.select("paper_key", "first_list_date")
    tokens = search_text_tokens(texts.select("paper_key", "search_text"))
    del texts
    con.register("ti_batch_words", tokens.select(pl.col("word").unique()))
    con.execute(
        """
        insert into term_words
        select (select coalesce(max(word_id), 0) from term_words) + row_number() over (order by word), word
        from ti_batch_words anti join term_words using (word)
        """
    )
    vocabulary = con.execute("select word_id, word from term_words semi join ti_batch_words using (word)").pl()
    con.unregister("ti_batch_words")
    # Tokens come in (paper_key, position) order; a stable sort by word gives (word, paper, position),
    # so one word's rows sit in few row groups, which zone maps find (trend reads by word).
    occurrences = (
        tokens.join(vocabulary, on="word", how="inner", maintain_order="left")
        .select("word_id", "paper_key", "position", "first")
        .sort("word_id", maintain_order=True)
    )
    del tokens, vocabulary
    counts = pl.concat([
        occurrences.filter("first").join(dates, on="paper_key").group_by("word_id", "first_list_date").len("papers"),
        dates.group_by("first_list_date").len("papers").select(pl.lit(0, pl.Int32).alias("word_id"), "first_list_date", "papers"),
    ]).sort("word_id", "first_list_date")
    con.register("ti_postings", occurrences.drop("first"))
    con.register("ti_counts", counts)
    con.execute(
        "insert into term_papers by name select paper_key, paper_id, first_list_date, first_hf_date, "
        "first_arxiv_date, max_hf_upvotes from ti_keyed"
    )
    # Insertion order is kept (preserve_insertion_order): the rows land sorted as they are.
    con.execute("insert into term_postings select word_id, paper_key, position from ti_postings")
    con.execute("insert into term_counts select word_id, first_list_date, papers::integer from ti_counts")
    con.unregister("ti_postings")
    con.unregister("ti_counts")


def _retract(con: duckdb.DuckDBPyConnection) -> None:
    """Take the papers of temp table ti_old (paper_key, paper_id, first_list_date) out of the index."""
    if not con.execute("select count(*) from ti_old").fetchone()[0]:
        return
    # Counts first (they need the old postings), then rows.
    con.execute(
        """
        insert into term_counts
        select word_id, first_list_date, -count(*)::integer
        from (
            select distinct p.word_id, p.paper_key, o.first_list_date
            from term_postings as p join ti_old as o using (paper_key)
            union all
            select 0, paper_key, first_list_date from ti_old
        )
        group by word_id, first_list_date
        """
    )
    con.execute("delete from term_postings where paper_key in (select paper_key from ti_old)")
    con.execute("delete from term_papers where paper_key in (select paper_key from ti_old)")
