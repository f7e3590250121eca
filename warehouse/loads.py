"""Transactional loads: listing rows, their papers, quarantine and upvote sightings merged into the warehouse.

The merge runs inside DuckDB, over lake Parquet files (`load_lake_files`) or registered frames
(`load`), so a load streams and spills under DuckDB's memory_limit instead of holding a run in
Python. The merge rules are those of transforms/papers.py, written in SQL:

* listings: one row per (source, list_date, paper_id); the newest fetch wins, then the first
  position; an existing row wins a tie;
* papers: per field the newest non-null observation wins: arXiv-only fields by the arXiv
  observation time, title/abstract/authors/published_at from arXiv whenever arXiv has them (else
  the newest Hugging Face value), the other fields by the Hugging Face observation time. Each row
  keeps the newest time of each source, so the result depends only on the set of observations:
  loading sources in either order gives the same rows.

Only new or changed rows are written and counted (bookkeeping times do not make a change).
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import polars as pl

from ..transforms import tables
from ..transforms.papers import ARXIV_FIELDS, PAPER_COLUMNS, SHARED_FIELDS
from ..transforms.terms import search_text_expr
from . import lake_locks, rising_store, term_index

# Column lists from the table declarations (transforms/tables.py).
LISTING_KEY = list(tables.LISTINGS.key)
LISTING_COLUMNS = tables.LISTINGS.names
# Paper fields a Hugging Face listing row carries besides its listing columns.
LISTING_PAPER_FIELDS = list(tables.LISTING_PAPER_FIELDS)
OBSERVATION_TIMES = ("observed_at", "arxiv_observed_at", "hf_observed_at")
QUARANTINE_COLUMNS = list(tables.QUARANTINE_ROW_SCHEMA)
DELETED_COLUMNS = tables.ARXIV_DELETED.names

# Lake tables load_lake_files reads: what each file holds.
LAKE_TABLES = {name: what for name, (_, what) in tables.LAKE_TABLES.items()}

# DuckDB's buffer pool for a load; beyond it DuckDB spills to <data root>/tmp/duckdb-spill.
DEFAULT_MEMORY_MB = 1024
SPILL_FOLDER = Path("tmp") / "duckdb-spill"
# A load writing fewer rows than this leaves them in the write-ahead log at close (no checkpoint).
SMALL_LOAD_ROWS = 10_000
_FAR_PAST = -(2**60)  # sorts below every real epoch (|epoch_us| < 2**51): a missing time never wins


@dataclass
class LoadCounts:
    """What one load changed."""

    listings_in: int = 0
    listings_new: int = 0
    listings_changed: int = 0
    papers_new: int = 0
    papers_changed: int = 0
    quarantined_in: int = 0
    quarantine_new: int = 0
    upvote_sightings_new: int = 0  # migration 003
    deleted_new: int = 0  # arXiv OAI deletions (lake table arxiv_deleted)

    def add(self, other: "LoadCounts") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def existing_rows(con, table: str, key: list[str], keys: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """Rows of `table` whose key is among `keys`, typed like `schema`."""
    con.register("wanted_keys", keys.unique())
    on = " and ".join(f"t.{k} = w.{k}" for k in key)
    # Look at the key columns first: when none match (a first load) the wide rows are never scanned.
    present = con.execute(f"select count(*) from {table} as t semi join wanted_keys as w on {on}").fetchone()[0]
    frame = con.execute(f"select t.* from {table} as t semi join wanted_keys as w on {on}").pl() if present else pl.DataFrame()
    con.unregister("wanted_keys")
    return frame.select(list(schema)).cast(schema) if frame.height else pl.DataFrame(schema=schema)


def bound_memory(con: duckdb.DuckDBPyConnection, megabytes: int = DEFAULT_MEMORY_MB, spill_dir: Path | None = None) -> Path:
    """Cap DuckDB's memory for this database and let it spill to disk (default: beside the warehouse file).

    Returns the spill folder. DuckDB removes its spill files itself when the connection closes.
    """
    if spill_dir is None:
        row = con.execute("select path, type from duckdb_databases() where database_name = current_database()").fetchone()
        # A DuckLake's "path" is its catalog (a conninfo), not a folder: it spills to the temp folder.
        if row and row[0] and row[1] == "duckdb":
            base = Path(row[0]).parent
        else:  # an in-memory database has no data root
            import tempfile

            base = Path(tempfile.gettempdir()) / "papertrends"
        spill_dir = base / SPILL_FOLDER
    spill_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"set memory_limit = '{int(megabytes)}MB'")
    con.execute(f"set temp_directory = {_literal(str(spill_dir))}")
    # preserve_insertion_order stays on: the term index inserts sorted rows so zone maps can skip.
    return spill_dir


def load_lake_files(
    con: duckdb.DuckDBPyConnection,
    files_by_table: dict[str, list[str]],
    run_id: int,
    checks=None,
) -> LoadCounts:
    """Merge a batch's lake files into the warehouse in one transaction, inside DuckDB.

    `files_by_table` maps lake tables (LAKE_TABLES: listings, arxiv, papers, quarantine,
    arxiv_deleted) to Parquet files; files are read with read_parquet, so the rows never pass
    through Python. DuckDB's memory is capped by bound_memory(con) (DEFAULT_MEMORY_MB, spilling to
    <data root>/tmp/duckdb-spill) unless the caller set a limit of its own.
    With `checks` (a warehouse.checks.CheckContext) the declared data checks run inside the
    transaction; if any fails the load is rolled back and ChecksFailed is raised.
    """
    unknown = set(files_by_table) - set(LAKE_TABLES)
    if unknown:
        raise ValueError(f"unknown lake table(s) {sorted(unknown)}; known: {sorted(LAKE_TABLES)}")
    if memory_limit_bytes(con) > 4 * DEFAULT_MEMORY_MB * 2**20:
        # Still DuckDB's default (80% of RAM): cap it, spilling beside the warehouse.
        bound_memory(con)

    def parquet(table: str) -> str | None:
        files = [str(f) for f in files_by_table.get(table) or []]
        if not files:
            return None
        return f"read_parquet([{', '.join(_literal(f) for f in files)}], union_by_name = true, hive_partitioning = false)"

    return _load(
        con, run_id, checks,
        listings=parquet("listings"), listings_carry_papers=True,
        arxiv=parquet("arxiv"), papers=parquet("papers"),
        quarantine=parquet("quarantine"), deleted=parquet("arxiv_deleted"),
    )


def load(
    con: duckdb.DuckDBPyConnection,
    listings: pl.DataFrame,
    quarantine: pl.DataFrame,
    run_id: int,
    checks=None,
    papers: pl.DataFrame | None = None,
) -> LoadCounts:
    """Merge listing rows, their papers and quarantined items into the warehouse in one transaction.

    `papers` (PAPER_COLUMNS) are the paper observations when the source provides more than
    listing rows carry (arXiv); by default they are derived from the listings. The frames are
    registered with DuckDB and merged by the same SQL as load_lake_files. Which source saw
    which paper, and when, is recorded in paper_sources. Loading the same rows again changes
    nothing: only new or changed rows are written. With `checks` (a warehouse.checks.CheckContext)
    the declared data checks run inside the transaction; their results are stored under `run_id`,
    and if any fails the load is rolled back and ChecksFailed is raised.
    """
    names = []

    def registered(name: str, frame: pl.DataFrame | None) -> str | None:
        if frame is None or not frame.width:
            return None
        con.register(name, frame)
        names.append(name)
        return name

    try:
        return _load(
            con, run_id, checks,
            listings=registered("frame_listings", listings), listings_carry_papers=papers is None,
            arxiv=None, papers=registered("frame_papers", papers),
            quarantine=registered("frame_quarantine", quarantine), deleted=None,
        )
    finally:
        for name in names:
            con.unregister(name)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rollback(con) -> None:
    """Roll back what is open; a commit that failed (a DuckLake conflict) has nothing left to roll back."""
    try:
        con.execute("rollback")
    except duckdb.TransactionException:
        pass


def _column_types(con, table: str) -> dict[str, str]:
    """Column name -> DuckDB type of a warehouse table, from its DDL."""
    rows = con.execute(
        "select column_name, data_type from duckdb_columns() "
        "where table_name = ? and schema_name = 'main' and database_name = current_database() order by column_index",
        [table],
    ).fetchall()
    return dict(rows)


def _typed(relation: str | None, types: dict[str, str]) -> str:
    """`relation` with exactly these columns and types (columns it lacks are nulls); empty when None."""
    columns = ", ".join(f"cast(null as {t}) as {c}" for c, t in types.items())
    empty = f"select {columns} where false"
    if relation is None:
        return empty
    # UNION BY NAME fills the columns a file lacks with nulls; the outer casts fix the types.
    casts = ", ".join(f"cast({c} as {t}) as {c}" for c, t in types.items())
    return f"select {casts} from ({empty} union all by name select * from {relation})"


def _drop_temp(con, *names: str) -> None:
    con.execute("drop view if exists temp.batch_listings")
    for name in names:
        con.execute(f"drop table if exists temp.{name}")


_TEMP_TABLES = (
    "load_listing_rows", "load_paper_observations", "load_listings_to_write", "load_papers_to_write",
    "load_touched_papers", "batch_quarantine", "load_arxiv_rows", "batch_deleted",
)


def _load(con, run_id: int, checks, **relations) -> LoadCounts:
    """The merge, its index catch-up and its checkpoint rule; on a DuckLake inside the lake's merge lock.

    On DuckLake no key stops two writers inserting the same new paper, so the whole merge (the reads
    that plan it through the commit) holds lake_locks.writer_section; a commit that still conflicts
    (a writer outside the lock) is retried from its planning. Nothing changes on an embedded file.
    """
    with lake_locks.writer_section(con):
        counts = lake_locks.retrying_conflicts(lambda: _merge(con, run_id, checks, **relations))
        lake_locks.retrying_conflicts(lambda: term_index.catch_up(con))
        # Aggregates derived from the term index, after it caught up (the rising table's defaults).
        lake_locks.retrying_conflicts(lambda: rising_store.refresh(con))
    if counts.papers_new + counts.papers_changed + counts.listings_new + counts.listings_changed < SMALL_LOAD_ROWS:
        # Closing would checkpoint, rewriting the partly filled last row group of papers (seconds,
        # whatever the load's size); a small load stays in the write-ahead log instead, which DuckDB
        # checkpoints by itself once it passes checkpoint_threshold, or the next big load's close does.
        con.execute("pragma disable_checkpoint_on_shutdown")
    return counts


def _merge(con, run_id: int, checks, *, listings, listings_carry_papers, arxiv, papers, quarantine, deleted) -> LoadCounts:
    paper_types = _column_types(con, "papers")
    listing_types = {c: t for c, t in _column_types(con, "listings").items() if c in LISTING_COLUMNS}
    row_types = {**listing_types, **{c: paper_types[c] for c in LISTING_PAPER_FIELDS}}
    counts = LoadCounts()
    # Staging and planning read the lake and the warehouse and write only temp tables, so they run
    # before the transaction: committed temp tables can spill to disk, transaction-local ones
    # cannot. The writer lock keeps anyone else from changing the warehouse in between.
    _drop_temp(con, *_TEMP_TABLES)
    try:
        _stage_listings(con, listings, listings_carry_papers, arxiv, row_types, listing_types)
        _stage_paper_observations(con, arxiv, papers, paper_types)
        quarantine_rows = _typed(quarantine, {c: t for c, t in _QUARANTINE_TYPES.items()})
        con.execute(f"create temp table batch_quarantine as {quarantine_rows}")
        con.execute(f"create temp table batch_deleted as {_typed(deleted, _column_types(con, 'arxiv_deleted'))}")
        deleted_in = con.execute("select count(*) from batch_deleted").fetchone()[0]
        counts.listings_in = con.execute("select count(*) from load_listing_rows").fetchone()[0]
        counts.quarantined_in = con.execute("select count(*) from batch_quarantine").fetchone()[0]
        counts.listings_new, counts.listings_changed = _planned_listings(con)
        counts.papers_new, counts.papers_changed = _planned_papers(con, paper_types)
    except Exception:
        _drop_temp(con, *_TEMP_TABLES)
        raise
    con.execute("begin transaction")
    try:
        # New rows by a plain insert (it streams to disk); only rows that replace stored ones go
        # through MERGE (DuckLake has no keys for INSERT OR REPLACE; MERGE is the same on a file).
        con.execute("insert into listings by name select * exclude (is_new) from load_listings_to_write where is_new")
        con.execute(LISTINGS_REPLACE)
        con.execute("insert into papers by name select * exclude (is_new, is_changed) from load_papers_to_write where is_new")
        con.execute(PAPERS_REPLACE)
        if counts.listings_in:
            con.execute(PAPER_SOURCES_UPSERT.format(seen="load_listing_rows"))
        counts.quarantine_new = _inserted(con, "quarantine", QUARANTINE_INSERT.format(run_id=int(run_id)))
        counts.upvote_sightings_new = _inserted(con, "upvote_history", UPVOTES_FROM_LISTINGS_INSERT)
        if deleted_in:
            counts.deleted_new = _inserted(con, "arxiv_deleted", ARXIV_DELETED_INSERT.format(seen="batch_deleted"))

        con.execute(
            "create temp table load_touched_papers as "
            "select paper_id from load_listings_to_write union select paper_id from load_papers_to_write where is_new or is_changed"
        )
        # Index entries follow in bounded batches after the commit (term_index.catch_up); the
        # papers due are recorded here, in the load's own transaction.
        con.execute("insert into term_index_pending select paper_id from load_touched_papers anti join term_index_pending using (paper_id)")
        if checks is not None:
            # The checks read the batch as batch_listings (every row it brought) and batch_quarantine.
            con.execute("create or replace temp view batch_listings as select * from load_listing_rows")
            _check_batch(con, run_id, checks, deleted_in)
        con.execute("commit")
    except Exception as error:
        _rollback(con)
        _drop_temp(con, *_TEMP_TABLES)
        results = getattr(error, "results", None)
        if checks is not None and results is not None:
            # The load is gone; what the checks found is kept, so the run can explain itself.
            from .checks import record_results

            record_results(con, run_id, results)
        raise
    _drop_temp(con, *_TEMP_TABLES)
    return counts


_QUARANTINE_TYPES = tables.QUARANTINE.sql_types(QUARANTINE_COLUMNS)


def _stage_listings(con, listings, listings_carry_papers, arxiv, row_types, listing_types) -> None:
    """load_listing_rows: every listing row of the batch (title: ids already resolved mapped to arXiv ids)."""
    parts = []
    if listings is not None:
        parts.append(f"select *, {str(bool(listings_carry_papers)).lower()} as carries_paper from ({_typed(listings, row_types)})")
    if arxiv is not None:
        # An arXiv row is a listing on its v1 date; its paper fields load as a paper observation instead.
        carried = {c: t for c, t in row_types.items() if c in ("paper_id", "list_date", "position", "fetched_at", "origin", "raw_sha256")}
        columns = ", ".join(
            "'arxiv' as source" if c == "source" else c if c in carried else f"cast(null as {t}) as {c}"
            for c, t in row_types.items()
        )
        parts.append(f"select {columns}, false as carries_paper from ({_typed(arxiv, carried)})")
    if not parts:
        parts.append(f"select *, false as carries_paper from ({_typed(None, row_types)})")
    rows = " union all by name ".join(f"({p})" for p in parts)
    columns = [*row_types, "carries_paper"]
    select = ", ".join("coalesce(r.paper_id, l.paper_id) as paper_id" if c == "paper_id" else f"l.{c}" for c in columns)
    con.execute(
        f"""
        create temp table load_listing_rows as
        select {select}
        from ({rows}) as l
        left join (select synthetic_id, paper_id from title_resolutions where status = 'resolved') as r
            on r.synthetic_id = l.paper_id
        """
    )


def _stage_paper_observations(con, arxiv, papers, paper_types) -> None:
    """load_paper_observations: the batch's paper observations (PAPER_COLUMNS but search_text).

    From listing rows that carry papers: each paper's latest listing (newest fetch, latest list
    date, first position), as transforms/papers.py papers_from_listings. From arXiv rows: each
    paper's newest row. From paper files: every row.
    """
    columns = [c for c in PAPER_COLUMNS if c != "search_text"]
    obs_types = {c: paper_types[c] for c in columns}
    parts = []
    from_listings = ", ".join(
        f"{c}" if c in LISTING_PAPER_FIELDS or c == "paper_id"
        else "fetched_at as observed_at" if c == "observed_at"
        else "fetched_at as hf_observed_at" if c == "hf_observed_at"
        else f"cast(null as {obs_types[c]}) as {c}"
        for c in columns
    )
    # The newest observation per paper is picked by small keys (row ids), never by sorting the
    # wide rows: a DuckDB aggregate of integers spills, a sort carrying abstracts needs memory.
    newest_listing = _newest_row_ids(
        "load_listing_rows where carries_paper", "paper_id",
        [_epoch("fetched_at"), f"coalesce(list_date - date '0001-01-01', {_FAR_PAST})", _first("position")],
    )
    parts.append(
        f"select {from_listings}, 1 as observation_order from load_listing_rows where rowid in ({newest_listing})"
    )
    if arxiv is not None:
        typed = _typed(arxiv, {**obs_types, "fetched_at": "timestamptz", "position": "bigint"})
        con.execute(f"create temp table load_arxiv_rows as {typed}")
        newest_arxiv = _newest_row_ids("load_arxiv_rows", "paper_id", [_epoch("fetched_at"), _first("position")])
        parts.append(
            f"select {', '.join(columns)}, 2 as observation_order from load_arxiv_rows where rowid in ({newest_arxiv})"
        )
    if papers is not None:
        parts.append(f"select *, 3 as observation_order from ({_typed(papers, obs_types)})")
    con.execute("create temp table load_paper_observations as " + " union all ".join(f"({p})" for p in parts))


def _newest_row_ids(relation: str, key: str, order: list[str]) -> str:
    """SQL: the rowid of the row with the greatest `order` list per `key` in `relation`."""
    return f"select arg_max(rowid, [{', '.join(order)}]) from {relation} group by {key}"


def _first(column: str) -> str:
    """Sort key component: smaller values win, a null loses (ascending, nulls last)."""
    return f"-coalesce({column}::bigint, {2**40})"


def _inserted(con, table: str, sql: str) -> int:
    before = con.execute(f"select count(*) from {table}").fetchone()[0]
    con.execute(sql)
    return con.execute(f"select count(*) from {table}").fetchone()[0] - before


_LISTING_COMPARED = [c for c in LISTING_COLUMNS if c not in LISTING_KEY]


def _planned_listings(con) -> tuple[int, int]:
    """load_listings_to_write: the batch's listing rows that are new or beat (and differ from) the stored row."""
    beats = (
        "(i.fetched_at > e.fetched_at"
        " or (i.fetched_at = e.fetched_at and i.position < e.position)"
        " or (i.fetched_at = e.fetched_at and i.position is not null and e.position is null))"
    )
    differs = " or ".join(f"i.{c} is distinct from e.{c}" for c in _LISTING_COMPARED)
    con.execute(
        f"""
        create temp table load_listings_to_write as
        with incoming as (
            select {', '.join(LISTING_COLUMNS)}
            from load_listing_rows
            where rowid in ({_newest_row_ids("load_listing_rows", "source, list_date, paper_id",
                                             [_epoch("fetched_at"), _first("position")])})
        )
        select i.*, e.paper_id is null as is_new
        from incoming as i
        left join listings as e on e.source = i.source and e.list_date = i.list_date and e.paper_id = i.paper_id
        where e.paper_id is null or ({beats} and ({differs}))
        """
    )
    new, changed = con.execute(
        "select count(*) filter (where is_new), count(*) filter (where not is_new) from load_listings_to_write"
    ).fetchone()
    return new, changed


def _epoch(column: str) -> str:
    return f"coalesce(epoch_us({column}), {_FAR_PAST})"


# The order that decides each field, packed into one number per observation (cheap to compare,
# unlike a list per row and field): [arXiv time], [arXiv time, HF time], [HF time, observed_at],
# each followed by the tie-break (the stored row, observation 0, wins a tie, as it comes first in
# transforms/papers.py). Times are microseconds below 2**51, so the packing cannot overflow.
_ORDER_KEYS = {
    "arxiv_key": f"{_epoch('arxiv_observed_at')} * 4 + (3 - observation_order)",
    "shared_key": f"{_epoch('arxiv_observed_at')}::hugeint * (2::hugeint ** 66)::hugeint"
                  f" + {_epoch('hf_observed_at')} * 4 + (3 - observation_order)",
    "hf_key": f"{_epoch('hf_observed_at')}::hugeint * (2::hugeint ** 66)::hugeint"
              f" + {_epoch('observed_at')} * 4 + (3 - observation_order)",
}


def _newest(column: str) -> str:
    """SQL aggregate: the value of the observation that wins `column` (newest non-null, by its source's time)."""
    key = "arxiv_key" if column in ARXIV_FIELDS else "shared_key" if column in SHARED_FIELDS else "hf_key"
    return f"arg_max({column}, {key}) filter (where {column} is not null) as {column}"


_SEARCH_TEXT_REGISTERED: "weakref.WeakSet[duckdb.DuckDBPyConnection]" = weakref.WeakSet()


def search_text_function(con: duckdb.DuckDBPyConnection) -> str:
    """Register (once per connection) pt_search_text(title, abstract): transforms/terms.py's search text.

    A vectorized (Arrow) function that runs search_text_expr on each chunk DuckDB hands it, so
    the load computes search texts inside its SQL by the one definition of a word, with no SQL twin.
    """
    if con not in _SEARCH_TEXT_REGISTERED:
        from duckdb import sqltypes

        def search_texts(titles, abstracts):
            frame = pl.DataFrame({"title": pl.from_arrow(titles), "abstract": pl.from_arrow(abstracts)})
            return frame.select(search_text_expr(pl.col("title"), pl.col("abstract"))).to_series().to_arrow()

        con.create_function(
            "pt_search_text", search_texts, [sqltypes.VARCHAR, sqltypes.VARCHAR], sqltypes.VARCHAR,
            type="arrow", null_handling="special", side_effects=False,
        )
        _SEARCH_TEXT_REGISTERED.add(con)
    return "pt_search_text"


def _planned_papers(con, paper_types: dict[str, str]) -> tuple[int, int]:
    """load_papers_to_write: the batch's observations merged with the stored rows, where that is new or changed."""
    fields = [c for c in PAPER_COLUMNS if c not in ("paper_id", "search_text", *OBSERVATION_TIMES)]
    columns = [c for c in PAPER_COLUMNS if c != "search_text"]
    list_columns = {c for c, t in paper_types.items() if t.endswith("[]")}
    # An empty author or keyword list says 'not known here', like a null.
    normalized = ", ".join(
        f"case when len({c}) > 0 then {c} end as {c}" if c in list_columns
        # Rows that set neither source time are Hugging Face-side observations made at observed_at.
        else "case when hf_observed_at is null and arxiv_observed_at is null then observed_at else hf_observed_at end"
             " as hf_observed_at" if c == "hf_observed_at"
        else c
        for c in columns
    )
    compared = [c for c in PAPER_COLUMNS if c != "paper_id" and c not in OBSERVATION_TIMES]
    differs = " or ".join(f"m.{c} is distinct from e.{c}" for c in compared)
    # A newer observation time alone is written too (so the stored row depends only on the set of
    # observations, whatever order they came in), but it does not count as a change.
    times_differ = " or ".join(f"m.{c} is distinct from e.{c}" for c in OBSERVATION_TIMES)
    # The merge keeps each paper's winning values in aggregate state, which DuckDB holds in memory:
    # papers are merged in as many hash partitions as keep that state well under the memory limit.
    partitions = _partitions(con)
    search_text = search_text_function(con)
    for part in range(partitions):
        mine = f"hash(paper_id) % {partitions} = {part}"
        con.execute(
        f"""
        {'create temp table load_papers_to_write as' if part == 0 else 'insert into load_papers_to_write'}
        with incoming as (
            select * from load_paper_observations where {mine}
        ),
        observations as (
            select {', '.join(columns)}, 0 as observation_order
            from papers semi join incoming using (paper_id)
            union all
            select {', '.join(columns)}, observation_order from incoming
        ),
        normalized as (
            select {normalized}, observation_order from observations
        ),
        keyed as (
            select *, {', '.join(f'{v} as {k}' for k, v in _ORDER_KEYS.items())} from normalized
        ),
        merged as (
            select
                paper_id,
                {', '.join(_newest(c) for c in fields)},
                {', '.join(f'max({t}) as {t}' for t in OBSERVATION_TIMES)}
            from keyed
            group by paper_id
        ),
        compared as (
            select
                m.*,
                -- The search text is computed only where title or abstract is new.
                case
                    when e.paper_id is not null and m.title is not distinct from e.title
                         and m.abstract is not distinct from e.abstract then e.search_text
                    else {search_text}(m.title, m.abstract)
                end as search_text
            from merged as m
            left join papers as e on e.paper_id = m.paper_id
        )
        select m.*, e.paper_id is null as is_new, coalesce({differs}, false) as is_changed
        from compared as m
        left join papers as e on e.paper_id = m.paper_id
        where e.paper_id is null or {differs} or {times_differ}
        """
        )
    new, changed = con.execute(
        "select count(*) filter (where is_new), count(*) filter (where not is_new and is_changed) from load_papers_to_write"
    ).fetchone()
    return new, changed


_UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
# Bytes of aggregate state per paper besides its text (lists, times, hash table), a generous guess.
_STATE_BYTES_PER_PAPER = 1024


def memory_limit_bytes(con) -> int:
    """DuckDB's memory_limit for this database, in bytes."""
    text = con.execute("select current_setting('memory_limit')").fetchone()[0]
    number, _, unit = str(text).strip().partition(" ")
    return int(float(number) * _UNITS.get(unit.strip().upper() or "B", 1))


def _partitions(con) -> int:
    """How many hash partitions keep one partition's merge state under a quarter of memory_limit."""
    size = con.execute(
        f"""
        select coalesce(sum(coalesce(strlen(title), 0) + coalesce(strlen(abstract), 0) + coalesce(strlen(ai_summary), 0)
                            + coalesce(strlen(comments), 0) + {_STATE_BYTES_PER_PAPER}), 0)
        from load_paper_observations
        """
    ).fetchone()[0]
    # Stored rows of the same papers join the merge too: count the batch twice.
    return max(1, -(-2 * int(size) // max(memory_limit_bytes(con) // 4, 1)))


def _check_batch(con, run_id: int, context, deleted_in: int = 0) -> None:
    """Run the declared checks on the merged state and this batch; raise ChecksFailed on any failure.

    The run counts every item it read: listing rows (Hugging Face and arXiv alike, one item each),
    quarantined items, and OAI deleted records. items_accounted_for counts the batch's listing rows
    and quarantine, so the deleted records (loaded into arxiv_deleted, not listings) are taken off
    items_in here: items in = loaded + quarantined holds for a batch mixing every kind.
    """
    from dataclasses import replace

    from .checks import ChecksFailed, record_results, run_checks

    if deleted_in and context.items_in is not None:
        context = replace(context, items_in=context.items_in - deleted_in)
    results = run_checks(con, context)
    if not all(r.passed for r in results):
        raise ChecksFailed(results)
    record_results(con, run_id, results)


# The write statements below are ones both backends take: MERGE INTO by key, or an insert of what
# an anti join on the key leaves (the 'insert or ignore' of a table without keys, i.e. DuckLake).
LISTINGS_REPLACE = """
merge into listings as t
using (select * exclude (is_new) from load_listings_to_write where not is_new) as s
on t.source = s.source and t.list_date = s.list_date and t.paper_id = s.paper_id
when matched then update by name
"""

PAPERS_REPLACE = """
merge into papers as t
using (select * exclude (is_new, is_changed) from load_papers_to_write where not is_new) as s
on t.paper_id = s.paper_id
when matched then update by name
"""

PAPER_SOURCES_UPSERT = """
merge into paper_sources as t
using (
    select paper_id, source, min(fetched_at) as first_seen_at, max(fetched_at) as last_seen_at
    from {seen}
    group by paper_id, source
) as s
on t.paper_id = s.paper_id and t.source = s.source
when matched then update set
    first_seen_at = least(t.first_seen_at, s.first_seen_at),
    last_seen_at = greatest(t.last_seen_at, s.last_seen_at)
when not matched then insert by name
"""

# One row per bad item (origin | raw_sha256 | position); the first run that saw it is kept.
QUARANTINE_INSERT = """
insert into quarantine by name
select * from (
    select
        origin || '|' || raw_sha256 || '|' || coalesce(position::varchar, '*') as item_key,
        first(origin) as origin, first(raw_sha256) as raw_sha256, first(position) as position,
        first(reason) as reason, first(raw_text) as raw_text, {run_id}::bigint as first_run_id
    from batch_quarantine
    group by item_key
) anti join quarantine using (item_key)
"""

# One sighting per listing row that shows upvotes, dated by when its list was fetched or saved (a
# saved file's fetched_at is its modification time, sources/files.py); the twin of
# transforms/hf_details.py upvote_history_from_listings.
UPVOTES_FROM_LISTINGS_INSERT = """
insert into upvote_history by name
select * from (
    select paper_id, fetched_at as seen_at, source,
           first(upvotes) as upvotes, first(num_comments) as num_comments, first(raw_sha256) as raw_sha256
    from load_listing_rows
    where upvotes is not null and fetched_at is not null
    group by paper_id, fetched_at, source
) anti join upvote_history using (paper_id, seen_at, source)
"""


def record_upvotes(con: duckdb.DuckDBPyConnection, sightings: pl.DataFrame) -> int:
    """Insert upvote sightings (paper_id, seen_at, source, ...) once each; returns how many were new."""
    if not sightings.height:
        return 0
    before = con.execute("select count(*) from upvote_history").fetchone()[0]
    # The first sighting of a key wins, within the frame and against the stored ones.
    con.register("sightings_to_write", sightings.unique(["paper_id", "seen_at", "source"], keep="first", maintain_order=True))
    con.execute(
        "insert into upvote_history by name select * from sightings_to_write "
        "anti join upvote_history using (paper_id, seen_at, source)"
    )
    con.unregister("sightings_to_write")
    return con.execute("select count(*) from upvote_history").fetchone()[0] - before


ARXIV_DELETED_INSERT = """
insert into arxiv_deleted by name
select * from (
    select paper_id, first(datestamp) as datestamp, first(first_seen_at) as first_seen_at,
           first(origin) as origin, first(raw_sha256) as raw_sha256
    from {seen}
    group by paper_id
) anti join arxiv_deleted using (paper_id)
"""
