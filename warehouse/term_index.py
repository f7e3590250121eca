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
    select paper_id from touched_paper_ids
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


# DuckDB's fts extension keeps its index as tables plus macros in a schema of the database;
# DuckLake 1.5.5 cannot store those macros (see backends.ducklake_ddl), so there is no BM25 index
# on a DuckLake. The term index (trend, papers --term, rising) works there as on a file.
FTS_ON_DUCKLAKE = (
    "no BM25 search on a DuckLake: DuckDB's fts index (tables and macros) cannot be stored in one. "
    "Use `papers --term` / `trend` (the term index works here), or search a copy: "
    "`papertrends migrate --to <file>.duckdb`"
)


def on_ducklake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `con`'s current database is a DuckLake."""
    row = con.execute("select type from duckdb_databases() where database_name = current_database()").fetchone()
    return bool(row) and row[0] == "ducklake"


def rebuild_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the BM25 index over papers' titles and abstracts (DuckDB fts cannot update in place)."""
    if on_ducklake(con):
        from ..core.errors import WarehouseError

        raise WarehouseError(FTS_ON_DUCKLAKE)
    load_fts(con)
    con.execute(
        "pragma create_fts_index('papers', 'paper_id', 'title', 'abstract', "
        "stemmer = 'porter', stopwords = 'english', ignore = '[^\\p{L}\\p{N}]+', "
        "strip_accents = 1, lower = 1, overwrite = 1)"
    )
    build_term_tf(con)


def build_term_tf(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build fts_main_papers.term_tf from the BM25 index's terms table (part of rebuild_fts).

    fts scores a query by scanning its `terms` table (one row per word occurrence, in document
    order: no zone map narrows it to a word). term_tf holds each (word, paper) once with its count,
    sorted by word, so `search` reads only the row groups of the query's words (analytics.search).
    """
    con.execute(
        f"create or replace table {FTS_SCHEMA}.term_tf as "
        f"select termid, docid, count(*) as tf from {FTS_SCHEMA}.terms group by termid, docid order by termid, docid"
    )


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
    state_sql = _PAPER_STATE_SQL.replace("touched_paper_ids", "ti_touched")
    con.execute(f"create or replace temp table ti_state as {state_sql}",
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
    unsupported: str | None = None   # why this warehouse can have no index (a DuckLake)

    @property
    def current(self) -> bool:
        return self.built and self.papers_behind == 0

    def describe(self) -> str:
        """One line for `status` and `search`."""
        if self.unsupported:
            return self.unsupported
        if not self.built:
            return "no search index yet: run `papertrends search --refresh-index` to build it"
        if self.current:
            return f"search index current (built {self.rebuilt_at:%Y-%m-%d %H:%M} UTC)" if self.rebuilt_at else "search index current"
        since = f" since {self.behind_since:%Y-%m-%d %H:%M} UTC" if self.behind_since else ""
        return (f"search index behind the warehouse by {self.papers_behind} new or changed paper(s){since}; "
                "`papertrends search --refresh-index` catches it up")


def search_lag(con: duckdb.DuckDBPyConnection) -> SearchLag:
    """How far the BM25 index is behind the papers table (read-only)."""
    if on_ducklake(con):
        return SearchLag(False, 0, None, None, unsupported=FTS_ON_DUCKLAKE)
    built = con.execute("select count(*) from duckdb_schemas() where schema_name = 'fts_main_papers'").fetchone()[0] > 0
    row = con.execute("select stale, papers_behind, behind_since, rebuilt_at from search_index_state").fetchone()
    stale, behind, since, rebuilt = row if row else (True, None, None, None)
    if not built:
        behind = con.execute("select count(*) from papers").fetchone()[0]
    elif stale and not behind:
        behind = 1  # marked stale by an older papertrends that did not count
    return SearchLag(built, int(behind or 0) if (stale or not built) else 0, since, rebuilt)


def rebuild_fts_if_stale(con: duckdb.DuckDBPyConnection) -> bool:
    """Rebuild the BM25 index when loads marked it stale (or it was never built); returns whether it rebuilt."""
    if on_ducklake(con):
        from ..core.errors import WarehouseError

        raise WarehouseError(FTS_ON_DUCKLAKE)
    built = con.execute("select count(*) from duckdb_schemas() where schema_name = 'fts_main_papers'").fetchone()[0] > 0
    if built and not fts_is_stale(con):
        return False
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
