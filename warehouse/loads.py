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

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import polars as pl

from ..transforms.papers import ARXIV_FIELDS, PAPER_COLUMNS, SHARED_FIELDS, papers_typed
from . import term_index

LISTING_KEY = ["source", "list_date", "paper_id"]


LISTING_COLUMNS = [
    "source", "list_date", "paper_id", "position", "upvotes", "num_comments", "fetched_at", "origin", "raw_sha256",
    "list_period", "rank",  # migration 003
]
# Paper fields a Hugging Face listing row carries besides its listing columns.
LISTING_PAPER_FIELDS = [
    "title", "abstract", "authors", "published_at", "github_repo", "project_page", "ai_keywords",
    "github_stars", "organization", "ai_summary", "withdrawn_at",
]
OBSERVATION_TIMES = ("observed_at", "arxiv_observed_at", "hf_observed_at")
QUARANTINE_COLUMNS = ["origin", "raw_sha256", "position", "reason", "raw_text"]
DELETED_COLUMNS = ["paper_id", "datestamp", "first_seen_at", "origin", "raw_sha256"]

# Lake tables load_lake_files reads: what each file holds.
LAKE_TABLES = {
    "listings": "listing rows with the paper fields they carry (LISTING_SCHEMA); also paper observations",
    "arxiv": "arXiv rows (arxiv_row_schema): a listing (source 'arxiv') and a paper observation each",
    "papers": "paper observations (PAPER_COLUMNS, any subset), e.g. paper details",
    "quarantine": "quarantined items (QUARANTINE_SCHEMA)",
    "arxiv_deleted": "OAI deleted records (paper_id, datestamp, first_seen_at, origin, raw_sha256)",
}

# DuckDB's buffer pool for a load; beyond it DuckDB spills to <data root>/tmp/duckdb-spill.
DEFAULT_MEMORY_MB = 1024
SPILL_FOLDER = Path("tmp") / "duckdb-spill"
_FAR_PAST = -(2**62)  # sorts below every real epoch: a missing time never wins


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
        row = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
        base = Path(row[0]).parent if row and row[0] else Path.cwd()
        spill_dir = base / SPILL_FOLDER
    spill_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"set memory_limit = '{int(megabytes)}MB'")
    con.execute(f"set temp_directory = {_literal(str(spill_dir))}")
    # Insertion order is not needed by any load statement; without it DuckDB can stream more.
    con.execute("set preserve_insertion_order = false")
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
    through Python. Call bound_memory(con) first to cap DuckDB's memory (it spills beyond).
    With `checks` (a warehouse.checks.CheckContext) the declared data checks run inside the
    transaction; if any fails the load is rolled back and ChecksFailed is raised.
    """
    unknown = set(files_by_table) - set(LAKE_TABLES)
    if unknown:
        raise ValueError(f"unknown lake table(s) {sorted(unknown)}; known: {sorted(LAKE_TABLES)}")

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


def _column_types(con, table: str) -> dict[str, str]:
    """Column name -> DuckDB type of a warehouse table, from its DDL."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_name = ? and table_schema = 'main' order by ordinal_position", [table]
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
    for name in names:
        con.execute(f"drop table if exists temp.{name}")


_TEMP_TABLES = (
    "load_listing_rows", "load_paper_observations", "load_listings_to_write", "load_papers_to_write",
    "load_touched_papers", "batch_listings", "batch_quarantine",
)


def _load(con, run_id: int, checks, *, listings, listings_carry_papers, arxiv, papers, quarantine, deleted) -> LoadCounts:
    paper_types = _column_types(con, "papers")
    listing_types = {c: t for c, t in _column_types(con, "listings").items() if c in LISTING_COLUMNS}
    row_types = {**listing_types, **{c: paper_types[c] for c in LISTING_PAPER_FIELDS}}
    counts = LoadCounts()
    con.execute("begin transaction")
    try:
        _drop_temp(con, *_TEMP_TABLES)
        _stage_listings(con, listings, listings_carry_papers, arxiv, row_types, listing_types)
        _stage_paper_observations(con, arxiv, papers, paper_types)
        quarantine_rows = _typed(quarantine, {c: t for c, t in _QUARANTINE_TYPES.items()})
        con.execute(f"create temp table batch_quarantine as {quarantine_rows}")
        counts.listings_in = con.execute("select count(*) from load_listing_rows").fetchone()[0]
        counts.quarantined_in = con.execute("select count(*) from batch_quarantine").fetchone()[0]

        counts.listings_new, counts.listings_changed = _merge_listings(con)
        counts.papers_new, counts.papers_changed = _merge_papers(con)
        if counts.listings_in:
            con.execute(PAPER_SOURCES_UPSERT.format(seen="load_listing_rows"))
        counts.quarantine_new = _inserted(con, "quarantine", QUARANTINE_INSERT.format(run_id=int(run_id)))
        counts.upvote_sightings_new = _inserted(con, "upvote_history", UPVOTES_FROM_LISTINGS_INSERT)
        if deleted is not None:
            counts.deleted_new = _inserted(con, "arxiv_deleted", ARXIV_DELETED_INSERT.format(
                seen=f"({_typed(deleted, _column_types(con, 'arxiv_deleted'))})"))

        con.execute(
            "create temp table load_touched_papers as "
            "select paper_id from load_listings_to_write union select paper_id from load_papers_to_write"
        )
        term_index.refresh(con, "load_touched_papers")
        if checks is not None:
            # The checks read the batch as batch_listings (every row it brought) and batch_quarantine.
            con.execute("create temp table batch_listings as select * from load_listing_rows")
            _check_batch(con, run_id, checks)
        _drop_temp(con, *_TEMP_TABLES)
        con.execute("commit")
    except Exception as error:
        con.execute("rollback")
        results = getattr(error, "results", None)
        if checks is not None and results is not None:
            # The load is gone; what the checks found is kept, so the run can explain itself.
            from .checks import record_results

            record_results(con, run_id, results)
        raise
    return counts


_QUARANTINE_TYPES = {"origin": "varchar", "raw_sha256": "varchar", "position": "integer", "reason": "varchar", "raw_text": "varchar"}


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
    parts.append(
        f"""
        select {from_listings}, 1 as observation_order
        from load_listing_rows
        where carries_paper
        qualify row_number() over (
            partition by paper_id order by fetched_at desc nulls last, list_date desc nulls last, position asc nulls last
        ) = 1
        """
    )
    if arxiv is not None:
        typed = _typed(arxiv, {**obs_types, "fetched_at": "timestamptz", "position": "bigint"})
        parts.append(
            f"""
            select {', '.join(columns)}, 2 as observation_order
            from ({typed})
            qualify row_number() over (partition by paper_id order by fetched_at desc nulls last, position asc nulls last) = 1
            """
        )
    if papers is not None:
        parts.append(f"select *, 3 as observation_order from ({_typed(papers, obs_types)})")
    con.execute("create temp table load_paper_observations as " + " union all ".join(f"({p})" for p in parts))


def _inserted(con, table: str, sql: str) -> int:
    before = con.execute(f"select count(*) from {table}").fetchone()[0]
    con.execute(sql)
    return con.execute(f"select count(*) from {table}").fetchone()[0] - before


_LISTING_COMPARED = [c for c in LISTING_COLUMNS if c not in LISTING_KEY]


def _merge_listings(con) -> tuple[int, int]:
    """Write the batch's listing rows that are new or beat (and differ from) the stored row."""
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
            qualify row_number() over (
                partition by source, list_date, paper_id
                order by fetched_at desc nulls last, position asc nulls last, origin, raw_sha256
            ) = 1
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
    if new + changed:
        con.execute("insert or replace into listings by name select * exclude (is_new) from load_listings_to_write")
    return new, changed


def _epoch(column: str) -> str:
    return f"coalesce(epoch_us({column}), {_FAR_PAST})"


def _newest(column: str) -> str:
    """SQL aggregate: the value of the observation that wins `column` (newest non-null, by its source's time)."""
    if column in ARXIV_FIELDS:
        order = ["arxiv_observed_at"]
    elif column in SHARED_FIELDS:
        order = ["arxiv_observed_at", "hf_observed_at"]
    else:
        order = ["hf_observed_at", "observed_at"]
    # The stored row is observation 0: it wins a tie, as it comes first in transforms/papers.py.
    key = "[" + ", ".join([_epoch(c) for c in order] + ["-observation_order"]) + "]"
    return f"arg_max({column}, {key}) filter (where {column} is not null) as {column}"


# Search text in SQL: the twin of transforms/terms.py search_text_expr (a property test proves it).
SEARCH_TEXT_SQL = (
    "regexp_replace(' ' || array_to_string(term_words_of({title}), ' ') || ' | ' "
    "|| array_to_string(term_words_of({abstract}), ' ') || ' ', ' {{2,}}', ' ', 'g')"
)


def _merge_papers(con) -> tuple[int, int]:
    """Merge the batch's paper observations with the stored rows; write rows that are new or changed."""
    fields = [c for c in PAPER_COLUMNS if c not in ("paper_id", "search_text", *OBSERVATION_TIMES)]
    columns = [c for c in PAPER_COLUMNS if c != "search_text"]
    list_columns = {c for c, t in _column_types(con, "papers").items() if t.endswith("[]")}
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
    con.execute(
        f"""
        create temp table load_papers_to_write as
        with observations as (
            select {', '.join(columns)}, 0 as observation_order
            from papers semi join load_paper_observations using (paper_id)
            union all
            select {', '.join(columns)}, observation_order from load_paper_observations
        ),
        normalized as (
            select {normalized}, observation_order from observations
        ),
        merged as (
            select
                paper_id,
                {', '.join(_newest(c) for c in fields)},
                {', '.join(f'max({t}) as {t}' for t in OBSERVATION_TIMES)}
            from normalized
            group by paper_id
        ),
        searchable as (
            select *, {SEARCH_TEXT_SQL.format(title='title', abstract='abstract')} as search_text from merged
        )
        select m.*, e.paper_id is null as is_new
        from searchable as m
        left join papers as e on e.paper_id = m.paper_id
        where e.paper_id is null or {differs}
        """
    )
    new, changed = con.execute(
        "select count(*) filter (where is_new), count(*) filter (where not is_new) from load_papers_to_write"
    ).fetchone()
    if new + changed:
        con.execute("insert or replace into papers by name select * exclude (is_new) from load_papers_to_write")
    return new, changed


def _check_batch(con, run_id: int, context) -> None:
    """Run the declared checks on the merged state and this batch; raise ChecksFailed on any failure."""
    from .checks import ChecksFailed, record_results, run_checks

    results = run_checks(con, context)
    if not all(r.passed for r in results):
        raise ChecksFailed(results)
    record_results(con, run_id, results)


PAPER_SOURCES_UPSERT = """
insert into paper_sources as t
select paper_id, source, min(fetched_at) as first_seen_at, max(fetched_at) as last_seen_at
from {seen}
group by paper_id, source
on conflict (paper_id, source) do update set
    first_seen_at = least(t.first_seen_at, excluded.first_seen_at),
    last_seen_at = greatest(t.last_seen_at, excluded.last_seen_at)
"""

# One row per bad item (origin | raw_sha256 | position); the first run that saw it is kept.
QUARANTINE_INSERT = """
insert or ignore into quarantine by name
select
    origin || '|' || raw_sha256 || '|' || coalesce(position::varchar, '*') as item_key,
    first(origin) as origin, first(raw_sha256) as raw_sha256, first(position) as position,
    first(reason) as reason, first(raw_text) as raw_text, {run_id}::bigint as first_run_id
from batch_quarantine
group by item_key
"""

# One sighting per listing row fetched from the API (saved files have no trustworthy time);
# the twin of transforms/hf_details.py upvote_history_from_listings.
UPVOTES_FROM_LISTINGS_INSERT = """
insert or ignore into upvote_history by name
select paper_id, fetched_at as seen_at, source,
       first(upvotes) as upvotes, first(num_comments) as num_comments, first(raw_sha256) as raw_sha256
from load_listing_rows
where upvotes is not null and starts_with(origin, 'http')
group by paper_id, fetched_at, source
"""


def record_upvotes(con: duckdb.DuckDBPyConnection, sightings: pl.DataFrame) -> int:
    """Insert upvote sightings (paper_id, seen_at, source, ...) once each; returns how many were new."""
    if not sightings.height:
        return 0
    before = con.execute("select count(*) from upvote_history").fetchone()[0]
    con.register("sightings_to_write", sightings)
    con.execute("insert or ignore into upvote_history by name select * from sightings_to_write")
    con.unregister("sightings_to_write")
    return con.execute("select count(*) from upvote_history").fetchone()[0] - before


ARXIV_DELETED_INSERT = """
insert or ignore into arxiv_deleted by name
select paper_id, first(datestamp) as datestamp, first(first_seen_at) as first_seen_at,
       first(origin) as origin, first(raw_sha256) as raw_sha256
from {seen}
group by paper_id
"""


def mark_arxiv_deleted(con: duckdb.DuckDBPyConnection, deleted: pl.DataFrame) -> int:
    """Record OAI deleted records (first sighting kept); returns how many are new."""
    if not deleted.height:
        return 0
    before = con.execute("select count(*) from arxiv_deleted").fetchone()[0]
    con.register("arxiv_deleted_seen", deleted.unique("paper_id", keep="first", maintain_order=True))
    con.execute(ARXIV_DELETED_INSERT.format(seen="arxiv_deleted_seen"))
    con.unregister("arxiv_deleted_seen")
    return con.execute("select count(*) from arxiv_deleted").fetchone()[0] - before
