"""The term index: words, per-paper postings and per-day counts, kept current by every load.

Trend queries read these instead of scanning abstracts (warehouse/sql/005_term_index.sql):

* ``term_words``     word_id, word: every word of every search text (transforms/terms.py words);
* ``term_papers``    paper_key (dense integer), paper_id, first list dates overall / hf / arxiv,
                     max hf upvotes: what the filters need, without touching listings;
* ``term_postings``  (word_id, paper_key, positions) for each distinct word of a search text;
* ``term_counts``    signed deltas of papers per (word_id, first_list_date); word_id 0 counts
                     every paper. A single-word trend without filters sums these.

``refresh`` runs inside the load's transaction for the papers the load touched (new or changed
paper rows, or new listings that may move a paper's first list date), plus any paper not yet
indexed (so a warehouse made before migration 005 is indexed by its next load). It subtracts a
touched paper's old contribution, rewrites its postings and adds the new contribution.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from ..transforms.terms import words_expr

ALL_PAPERS_WORD_ID = 0
HF_SOURCE_PATTERN = "hf_%"
FTS_SCHEMA = "fts_main_papers"  # what create_fts_index names the BM25 index of table papers
ARXIV_SOURCE = "arxiv"
# Papers tokenized per batch: their texts pass through DuckDB results and Polars, so this bounds memory.
BATCH_PAPERS = 25_000

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


def postings_of(papers: pl.DataFrame) -> pl.DataFrame:
    """(paper_key, first_list_date, word, positions): each distinct word of a paper and where it stands.

    Positions count the words of the search text with the field break as one position between
    title and abstract, so consecutive positions mean consecutive words of one field: exactly
    when the search text contains the phrase (transforms/terms.py).
    """
    fields = papers.select(
        "paper_key", "first_list_date", title=words_expr(pl.col("title")), abstract=words_expr(pl.col("abstract"))
    )
    title_length = pl.col("title").list.len()
    tokens = pl.concat([
        fields.select("paper_key", "first_list_date", word=pl.col("title"),
                      position=pl.int_ranges(0, title_length, dtype=pl.Int32)),
        fields.select("paper_key", "first_list_date", word=pl.col("abstract"),
                      position=pl.int_ranges(title_length + 1, title_length + 1 + pl.col("abstract").list.len(), dtype=pl.Int32)),
    ]).explode(["word", "position"]).drop_nulls("word")
    # Sorting first makes the grouping about twice as fast as hashing unsorted string keys.
    return (
        tokens.sort("paper_key", "word", "position")
        .group_by("paper_key", "word", maintain_order=True)
        .agg(pl.col("first_list_date").first(), positions=pl.col("position"))
    )


def refresh(
    con: duckdb.DuckDBPyConnection, touched_paper_ids: pl.Series | str, fts: bool = True, unindexed: bool = True
) -> int:
    """Bring the index up to date for these papers (and, with `unindexed`, any never indexed); returns papers indexed.

    `touched_paper_ids` is a Series of ids or the name of a table with a paper_id column.
    Runs in the caller's transaction: changes and their index entries commit together.
    """
    if isinstance(touched_paper_ids, str):
        con.execute(f"create or replace temp view touched_paper_ids as select distinct paper_id from {touched_paper_ids}")
    else:
        con.register("touched_paper_ids", pl.DataFrame({"paper_id": touched_paper_ids.cast(pl.String).unique()}))
    # Sorted, so batches (and the paper keys they give out) are the same on every backend and run.
    state = con.execute(_PAPER_STATE_SQL, {"hf": HF_SOURCE_PATTERN, "arxiv": ARXIV_SOURCE, "unindexed": unindexed}).pl().sort("paper_id")
    # Papers that left the warehouse (a title-only paper merged into its arXiv id) leave the index too.
    con.register("still_indexable", state.select("paper_id"))
    gone = con.execute(
        "select paper_key, paper_id, first_list_date from term_papers "
        "semi join touched_paper_ids using (paper_id) anti join still_indexable using (paper_id)"
    ).pl()
    con.unregister("still_indexable")
    if isinstance(touched_paper_ids, str):
        con.execute("drop view touched_paper_ids")
    else:
        con.unregister("touched_paper_ids")
    _retract(con, gone)
    # Batches bound the memory of tokenizing (a first index of a big warehouse is millions of papers).
    for batch in state.iter_slices(BATCH_PAPERS):
        _refresh_batch(con, batch)
    if fts and state.height:
        mark_fts_stale(con, state.height)
    return state.height


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


def _retract(con: duckdb.DuckDBPyConnection, old: pl.DataFrame) -> None:
    """Take indexed papers' contribution back out (old: paper_key, paper_id, first_list_date)."""
    if not old.height:
        return
    # Take the old contribution back out: counts first (they need the old postings), then rows.
    con.register("old_papers", old)
    con.execute(
        """
        insert into term_counts
        select word_id, first_list_date, -count(*)::integer
        from (
            select p.word_id, o.first_list_date from term_postings as p join old_papers as o using (paper_key)
            union all
            select 0, first_list_date from old_papers
        )
        group by all
        """
    )
    con.execute("delete from term_postings where paper_key in (select paper_key from old_papers)")
    con.execute("delete from term_papers where paper_key in (select paper_key from old_papers)")
    con.unregister("old_papers")


def _refresh_batch(con: duckdb.DuckDBPyConnection, state: pl.DataFrame) -> None:
    """Replace the index entries of these papers (state: paper_id, dates, upvotes)."""
    con.register("state", state.select("paper_id"))
    texts = con.execute("select paper_id, title, abstract from papers semi join state using (paper_id)").pl()
    state = state.join(texts, on="paper_id")
    old = con.execute(
        "select tp.paper_key, tp.paper_id, tp.first_list_date from term_papers as tp semi join state using (paper_id)"
    ).pl()
    con.unregister("state")
    _retract(con, old)

    # Re-indexed papers keep their keys (taken out just above): a new key must lie above those too,
    # or a new paper would share the key of a re-indexed paper that held the highest one.
    next_key = max(
        con.execute("select coalesce(max(paper_key), 0) + 1 from term_papers").fetchone()[0],
        (old["paper_key"].max() or 0) + 1 if old.height else 1,
    )
    known_keys = old.select("paper_id", "paper_key")
    keyed = state.join(known_keys, on="paper_id", how="left")
    # In paper_id order (a join keeps no order): the same keys on every backend and every run.
    new_keys = keyed.filter(pl.col("paper_key").is_null()).sort("paper_id").with_row_index("offset")
    keyed = pl.concat(
        [
            keyed.filter(pl.col("paper_key").is_not_null()),
            new_keys.with_columns(paper_key=(pl.col("offset") + next_key).cast(pl.Int32)).drop("offset"),
        ],
        how="vertical_relaxed",
    )

    postings = postings_of(keyed)
    con.register("posted_words", postings.select("word").unique())
    con.execute(
        """
        insert into term_words
        select (select coalesce(max(word_id), 0) from term_words) + row_number() over (order by word), word
        from posted_words anti join term_words using (word)
        """
    )
    con.unregister("posted_words")

    con.register("new_postings", postings)
    con.register("new_papers", keyed.drop("title", "abstract"))
    con.execute(
        "insert into term_papers by name select paper_key, paper_id, first_list_date, first_hf_date, "
        "first_arxiv_date, max_hf_upvotes from new_papers"
    )
    con.execute(
        """
        insert into term_postings
        select w.word_id, n.paper_key, n.positions from new_postings as n join term_words as w using (word)
        order by w.word_id, n.paper_key
        """
    )
    con.execute(
        """
        insert into term_counts
        select word_id, first_list_date, count(*)::integer
        from (
            select w.word_id, n.first_list_date
            from new_postings as n
            join term_words as w using (word)
            union all
            select 0, first_list_date from new_papers
        )
        group by all
        order by all  -- sorted rows let zone maps skip row groups when reading one word
        """
    )
    con.unregister("new_postings")
    con.unregister("new_papers")
