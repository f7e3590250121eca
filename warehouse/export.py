"""Dataset exports: papers, listings, trends or any read-only query, streamed to files people can publish.

An export reads the warehouse read-only, streams the result in fixed-size chunks (memory stays
bounded whatever the warehouse size), writes Parquet, CSV, JSON Lines or a Hugging Face datasets
layout into a temporary folder beside the target, writes `manifest.json` (files with rows, bytes
and sha256, schema, query, filters, warehouse state) and only then renames the folder to the
target. The same warehouse state and the same arguments give byte-identical data files: every
query has a stable ORDER BY, chunk, row-group and file sizes are fixed, and nothing time-dependent
goes into a data file (only manifest.json says when it was made).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import quote

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ..core import errors
from ..transforms.query import PERIODS, parse_query
from . import analytics, backends, connection, migrations

FORMATS = ("parquet", "csv", "jsonl", "hf")
TABLES = ("papers", "listings", "trends", "quarantine", "runs")
SOURCES = ("hf", "arxiv")
EXTENSIONS = {"parquet": ".parquet", "hf": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}

# Rows per chunk pulled from DuckDB and per Parquet row group: fixed so reruns split rows identically.
CHUNK_ROWS = 50_000
DEFAULT_ROWS_PER_FILE = 500_000
PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 3
# DuckDB's share of memory during an export; a big ORDER BY spills to disk beyond it.
DUCKDB_MEMORY_LIMIT = "1GB"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
MANIFEST = "manifest.json"
PARTIAL_MARK = ".partial-"
REPLACED_MARK = ".replaced-"

# What the filters mean for each source: listings.source values start like this.
SOURCE_CONDITIONS = {
    "hf": "starts_with(l.source, 'hf_')",
    "arxiv": "starts_with(l.source, 'arxiv')",
}
# Stable row order of each table: its key.
TABLE_ORDER = {
    "papers": ["paper_id"],
    "listings": ["source", "list_date", "paper_id"],
    "trends": ["period", "term"],
    "quarantine": ["item_key"],
    "runs": ["run_id"],
}

LICENCE_NOTE = (
    "Paper metadata (titles, abstracts, authors, links) as listed by Hugging Face Daily Papers and "
    "arXiv. arXiv releases its metadata under CC0 1.0, but each abstract is the authors' work under "
    "the licence they chose for their paper; Hugging Face listing data (upvotes, comments) is subject "
    "to the Hugging Face terms of service. Check both before redistributing; this card says "
    "`license: other` for that reason."
)


class ExportError(errors.WarehouseError):
    """An export that cannot run as asked, stated in one line."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export and where: a table (with filters) or a query, a format and a target folder."""

    out: Path
    table: str | None = "papers"
    query: str | None = None
    terms: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None
    source: str | None = None
    category: str | None = None
    by: str = "month"
    format: str = "parquet"
    partition_by: tuple[str, ...] = ()
    rows_per_file: int = DEFAULT_ROWS_PER_FILE
    force: bool = False
    as_of: str | None = None  # DuckLake only: a snapshot number or ISO timestamp to read at

    def filters(self) -> dict:
        """The filters as given, for the manifest (None when not used)."""
        return {
            "terms": list(self.terms), "since": self.since, "until": self.until,
            "source": self.source, "category": self.category,
            "by": self.by if self.table == "trends" and not self.query else None,
        }


@dataclass
class ExportResult:
    """What an export wrote."""

    out: Path
    rows: int
    files: list[dict] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One line for people."""
        size = sum(f["bytes"] for f in self.files)
        what = self.manifest.get("table") or "query"
        return (
            f"exported {self.rows} rows ({what}, {self.manifest.get('format')}) to {self.out}: "
            f"{len(self.files)} file(s), {size / 1e6:.1f} MB, {MANIFEST}"
        )


# --- the query ---------------------------------------------------------------------------------


@dataclass
class _Query:
    sql: str
    parameters: dict
    order: list[str]


def _papers_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns where table_name = 'papers' order by ordinal_position"
    ).fetchall()
    return dict(rows)


def _selected_papers(con: duckdb.DuckDBPyConnection, request: ExportRequest) -> tuple[str, dict]:
    """A CTE body selecting (paper_id, first_list_date) of the papers the filters pick."""
    conditions, parameters = [], {}
    if request.since:
        conditions.append("f.first_list_date >= $since")
        parameters["since"] = request.since
    if request.until:
        conditions.append("f.first_list_date <= $until")
        parameters["until"] = request.until
    if request.terms:
        # A paper matches when any alternative of any query matches (transforms/query.py), by the
        # needles transforms/terms.py defines: 'scaling|scalable' is two alternatives, not a phrase.
        needles = sorted({needle for text in request.terms for needle in parse_query(text).needles})
        parameters["needles"] = needles
        conditions.append("len(list_filter($needles, lambda n: contains(p.search_text, n))) > 0")
    if request.source:
        conditions.append(
            f"exists (select 1 from listings as l where l.paper_id = p.paper_id and {SOURCE_CONDITIONS[request.source]})"
        )
    if request.category:
        kind = _papers_columns(con).get("categories")
        if kind is None:
            raise ExportError(
                "--category needs the papers.categories column, which this warehouse does not have "
                "(categories come with arXiv ingestion)"
            )
        # A list of categories, or arXiv's space-separated string.
        listed = "p.categories" if kind.endswith("[]") else "string_split(p.categories, ' ')"
        conditions.append(f"list_contains({listed}, $category)")
        parameters["category"] = request.category
    where = " and ".join(conditions) or "true"
    body = (
        "select p.paper_id, f.first_list_date\n"
        "    from papers as p\n"
        "    left join first_listings as f using (paper_id)\n"
        f"    where {where}"
    )
    return body, parameters


def _table_query(con: duckdb.DuckDBPyConnection, request: ExportRequest) -> _Query:
    table = request.table
    uses_filters = any([request.terms, request.since, request.until, request.source, request.category])
    if table in ("quarantine", "runs"):
        if uses_filters:
            raise ExportError(f"filters (--term, --since, --until, --source, --category) do not apply to --table {table}")
        return _Query(f"select * from {table}", {}, TABLE_ORDER[table])
    if table == "trends":
        if not request.terms:
            raise ExportError("--table trends needs at least one --term")
        if request.source or request.category:
            raise ExportError("--table trends takes --term, --since, --until and --by; not --source or --category")
        if request.by not in PERIODS:
            raise ExportError(f"--by must be one of {', '.join(PERIODS)}, not {request.by!r}")
        # The same statement `papertrends trend` runs (the term index), so both give the same rows.
        sql, parameters = analytics.trend_statement(list(request.terms), request.by, request.since, request.until)
        return _Query(f"select period, term, matches, total, share from (\n{sql}\n)", parameters, TABLE_ORDER[table])
    selected, parameters = _selected_papers(con, request)
    if table == "papers":
        # The upvotes a reader expects on a paper: the latest seen and the most ever seen, over
        # every sighting (list pages and detail answers); null for papers never seen on HF.
        sql = (
            f"with selected as (\n    {selected}\n),\n\n"
            "sightings as (\n"
            "    select paper_id, fetched_at as seen_at, upvotes from listings where upvotes is not null\n"
            "    union all\n"
            "    select paper_id, seen_at, upvotes from upvote_history where upvotes is not null\n"
            "),\n\n"
            "upvotes as (\n"
            "    select paper_id, arg_max(upvotes, (seen_at, upvotes)) as upvotes_latest, max(upvotes) as upvotes_max\n"
            "    from sightings\n"
            "    group by paper_id\n"
            "),\n\n"
            "final as (\n"
            "    select p.* exclude (search_text), s.first_list_date, u.upvotes_latest, u.upvotes_max\n"
            "    from papers as p\n"
            "    join selected as s using (paper_id)\n"
            "    left join upvotes as u using (paper_id)\n"
            ")\n\n"
            "select * from final"
        )
    else:  # listings: every listing of the selected papers (from --source when given)
        source = SOURCE_CONDITIONS[request.source] if request.source else "true"
        sql = (
            f"with selected as (\n    {selected}\n),\n\n"
            "final as (\n"
            "    select l.*\n"
            "    from listings as l\n"
            "    semi join selected as s using (paper_id)\n"
            f"    where {source}\n"
            ")\n\n"
            "select * from final"
        )
    return _Query(sql, parameters, TABLE_ORDER[table])


def _user_query(con: duckdb.DuckDBPyConnection, request: ExportRequest) -> _Query:
    if any([request.terms, request.since, request.until, request.source, request.category]):
        raise ExportError("filters go with --table; with --query put the conditions in the SQL")
    try:
        statements = con.extract_statements(request.query)
    except duckdb.Error as error:
        raise ExportError(f"SQL does not parse: {str(error).splitlines()[0]}") from error
    if len(statements) != 1:
        raise ExportError(f"give exactly one SQL statement (got {len(statements)})")
    kind = statements[0].type.name
    if kind != "SELECT":
        raise ExportError(f"refused: --query must be a SELECT (got {kind}); exports only read")
    return _Query(statements[0].query.strip().rstrip(";").strip(), {}, [])


def export_query(con: duckdb.DuckDBPyConnection, request: ExportRequest) -> tuple[str, dict, pa.Schema, list[str]]:
    """The exact SQL an export of `request` runs: (sql, parameters, result schema, columns turned into JSON text)."""
    query = _user_query(con, request) if request.query else _table_query(con, request)
    try:
        schema = con.execute(f"select * from (\n{query.sql}\n) limit 0", query.parameters).to_arrow_table().schema
    except duckdb.Error as error:
        raise ExportError(str(error).splitlines()[0]) from error
    names = schema.names
    for name in request.partition_by:
        if name not in names:
            raise ExportError(f"--partition-by {name}: no such column (columns: {', '.join(names)})")
        if pa.types.is_nested(schema.field(name).type):
            raise ExportError(f"--partition-by {name}: a list or struct column cannot name a folder")
    if len(names) == len(request.partition_by):
        raise ExportError("--partition-by names every column: nothing would be left in the files")
    sql = query.sql
    nested = [f for f in schema if pa.types.is_nested(f.type)] if request.format == "csv" else []
    if nested:
        # CSV has no lists or structs: such columns become JSON text (the manifest says which).
        replaced = ", ".join(f'to_json("{f.name}")::varchar as "{f.name}"' for f in nested)
        sql = f"select * replace ({replaced}) from (\n{sql}\n)"
    # Partition columns first so each partition's rows are contiguous, then the stable key.
    order = [*request.partition_by, *[c for c in query.order if c not in request.partition_by]]
    if request.query and request.partition_by:
        order += [c for c in names if c not in order]  # the user's query has no key we know
    if order:
        sql = f"select * from (\n{sql}\n)\norder by " + ", ".join(f'"{c}"' for c in order)
    schema = con.execute(f"select * from (\n{sql}\n) limit 0", query.parameters).to_arrow_table().schema
    return sql, query.parameters, schema, [f.name for f in nested]


# --- writing files -----------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _FileSink:
    """One data file being written, in one format."""

    def __init__(self, path: Path, relative: str, schema: pa.Schema, fmt: str):
        self.path, self.relative, self.fmt, self.rows = path, relative, fmt, 0
        self.header = schema.names
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt in ("parquet", "hf"):
            self.writer = pq.ParquetWriter(
                path, schema, compression=PARQUET_COMPRESSION, compression_level=PARQUET_COMPRESSION_LEVEL
            )
        else:
            self.handle = path.open("wb")

    def write(self, table: pa.Table) -> None:
        if self.fmt in ("parquet", "hf"):
            self.writer.write_table(table, row_group_size=CHUNK_ROWS)
        elif self.fmt == "csv":
            pl.from_arrow(table).write_csv(self.handle, include_header=self.rows == 0)
        else:
            pl.from_arrow(table).write_ndjson(self.handle)
        self.rows += table.num_rows

    def close(self) -> None:
        if self.fmt in ("parquet", "hf"):
            self.writer.close()
        else:
            if self.fmt == "csv" and self.rows == 0:
                self.handle.write((",".join(self.header) + "\n").encode("utf-8"))
            self.handle.close()


class _ShardedWriter:
    """Files <stem>-00000<ext>, <stem>-00001<ext>, ... in one folder, each at most rows_per_file rows."""

    def __init__(self, root: Path, folder: str, stem: str, fmt: str, schema: pa.Schema, rows_per_file: int, on_file):
        self.root, self.folder, self.stem, self.fmt = root, folder, stem, fmt
        self.schema, self.rows_per_file, self.on_file = schema, rows_per_file, on_file
        self.sink: _FileSink | None = None
        self.files: list[dict] = []

    def _open(self) -> _FileSink:
        relative = f"{self.folder}/{self.stem}-{len(self.files):05d}{EXTENSIONS[self.fmt]}".lstrip("/")
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ExportError(f"refused to write {path}: outside the export folder")
        self.files.append({"path": relative})
        return _FileSink(path, relative, self.schema, self.fmt)

    def write(self, table: pa.Table) -> None:
        while table.num_rows:
            self.sink = self.sink or self._open()
            room = self.rows_per_file - self.sink.rows
            self.sink.write(table.slice(0, room))
            table = table.slice(room)
            if self.sink.rows >= self.rows_per_file:
                self._close_file()

    def _close_file(self) -> None:
        sink, self.sink = self.sink, None
        sink.close()
        self.files[-1]["rows"] = sink.rows
        if self.on_file:
            self.on_file(sink.relative, sink.rows)

    def close(self) -> list[dict]:
        if self.sink is None and not self.files:
            self.sink = self._open()  # an empty result still gets one file with its schema
        if self.sink is not None:
            self._close_file()
        return self.files


def _chunks(reader: pa.RecordBatchReader, size: int) -> Iterator[pa.Table]:
    """The stream re-cut into tables of exactly `size` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        if not batch.num_rows:
            continue
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=reader.schema)


def _partition_folder(names: tuple[str, ...], values: tuple) -> str:
    """Hive folder for one partition; values are quoted, so no value can climb out of the folder."""
    parts = []
    for name, value in zip(names, values):
        text = HIVE_NULL if value is None else (value.isoformat() if hasattr(value, "isoformat") else str(value))
        parts.append(f"{quote(name, safe='')}={quote(text, safe='')}")
    return "/".join(parts)


def _write_data(
    reader: pa.RecordBatchReader, root: Path, request: ExportRequest, on_file: Callable | None
) -> list[dict]:
    """Stream the result into files under root; returns [{path, rows}] in writing order."""
    fmt = request.format
    folder, stem = ("data", "train") if fmt == "hf" else ("", "part")
    if not request.partition_by:
        writer = _ShardedWriter(root, folder, stem, fmt, reader.schema, request.rows_per_file, on_file)
        for chunk in _chunks(reader, CHUNK_ROWS):
            writer.write(chunk)
        return writer.close()

    keys = list(request.partition_by)
    data_schema = pa.schema([f for f in reader.schema if f.name not in keys])
    files: list[dict] = []
    seen: set[tuple] = set()
    current, writer = None, None
    for chunk in _chunks(reader, CHUNK_ROWS):
        frame = pl.from_arrow(chunk.select(keys))
        # Rows are ordered by the partition columns: each run of equal values is one partition's.
        boundaries = (
            frame.select(pl.struct(keys).rle_id().alias("run"))
            .with_row_index()
            .group_by("run", maintain_order=True)
            .agg(pl.col("index").min().alias("start"), pl.len().alias("rows"))
        )
        for start, length in boundaries.select("start", "rows").iter_rows():
            values = tuple(frame.row(start))
            if values != current:
                if writer is not None:
                    files += writer.close()
                if values in seen:
                    raise ExportError("internal: partition rows are not contiguous; please report this")
                seen.add(values)
                current = values
                writer = _ShardedWriter(
                    root, _partition_folder(request.partition_by, values), "part", fmt, data_schema,
                    request.rows_per_file, on_file,
                )
            writer.write(chunk.slice(start, length).drop_columns(keys))
    if writer is not None:
        files += writer.close()
    return files


# --- the dataset card --------------------------------------------------------------------------


def _hf_feature(arrow_type: pa.DataType):
    """The Hugging Face datasets feature for an Arrow type, as the card's YAML wants it."""
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        inner = _hf_feature(arrow_type.value_type)
        return {"sequence": inner["dtype"]} if "dtype" in inner else {"sequence": inner}
    if pa.types.is_struct(arrow_type):
        return {"struct": [{"name": f.name, **_hf_feature(f.type)} for f in arrow_type]}
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return {"dtype": "string"}
    if pa.types.is_boolean(arrow_type):
        return {"dtype": "bool"}
    if pa.types.is_float64(arrow_type):
        return {"dtype": "float64"}
    if pa.types.is_float32(arrow_type):
        return {"dtype": "float32"}
    return {"dtype": str(arrow_type).replace("[day]", "")}  # int64, date32, timestamp[us, tz=UTC], ...


def _yaml(value, indent: int = 0) -> list[str]:
    """A small YAML emitter for the card header: mappings, lists, and JSON-quoted scalars."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines += _yaml(item, indent + (0 if isinstance(item, list) else 2))
            else:
                lines.append(f"{pad}{key}: {_yaml_scalar(item)}")
    else:
        for item in value:
            if isinstance(item, dict) and item:
                inner = _yaml(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines += inner[1:]
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    return lines


def _yaml_scalar(value) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(str(value), ensure_ascii=False)


# What each exported column means, for the dataset card (papers, listings, trends and the
# quarantine and run tables, as declared in warehouse/sql/ plus what the export adds).
COLUMN_DESCRIPTIONS = {
    "paper_id": "arXiv id without version, or title:<hex> for a paper not yet resolved to arXiv",
    "title": "paper title",
    "abstract": "paper abstract, as listed",
    "authors": "author names, in order",
    "published_at": "when the paper was published (Hugging Face listing or arXiv first version)",
    "github_repo": "code repository linked from the Hugging Face paper page",
    "project_page": "project page linked from the Hugging Face paper page",
    "ai_keywords": "keywords Hugging Face generated for the paper",
    "observed_at": "fetch time of the observation the paper's fields come from",
    "github_stars": "stars of the linked GitHub repository, as Hugging Face reported them",
    "organization": "organization (slug) the paper was submitted under on Hugging Face",
    "ai_summary": "summary Hugging Face generated for the paper",
    "withdrawn_at": "when the paper was withdrawn from the Hugging Face listing, if it was",
    "categories": "arXiv categories, primary category first",
    "versions": "arXiv versions with their creation times",
    "updated_at": "arXiv: time of the latest version or metadata update",
    "doi": "DOI given on arXiv",
    "journal_ref": "journal reference given on arXiv",
    "comments": "arXiv author comments (not Hugging Face discussion)",
    "license": "licence of the paper as stated on arXiv",
    "arxiv_observed_at": "fetch time of the arXiv observation behind the arXiv fields",
    "hf_observed_at": "fetch time of the newest Hugging Face observation",
    "first_list_date": "first date the paper appeared on any list: the period it counts in for trends",
    "upvotes_latest": "Hugging Face upvotes at the most recent sighting (list page or paper page)",
    "upvotes_max": "most Hugging Face upvotes ever seen for the paper",
    "source": "list the row comes from: hf_daily, hf_weekly, hf_monthly, hf_trending, hf_page, arxiv_*",
    "list_date": "date of the list (first day of the week or month for weekly and monthly lists)",
    "list_period": "period a weekly or monthly list covers",
    "rank": "rank on a ranked list (weekly, monthly, trending)",
    "position": "place on the list, pages counted in",
    "upvotes": "Hugging Face upvotes as seen on that list, at fetched_at",
    "num_comments": "Hugging Face comments as seen on that list, at fetched_at",
    "fetched_at": "when the list was fetched or the file landed",
    "origin": "URL fetched, or the landing's path inside the raw archive",
    "raw_sha256": "sha256 of the raw response or file the row came from",
    "period": "period (day, week, month, quarter or year) of a trend row",
    "term": "the term as queried",
    "matches": "papers first listed in the period that match the term",
    "total": "papers first listed in the period",
    "share": "matches / total",
    "period_start": "first day of the period",
    "item_key": "origin | raw_sha256 | position: one row per bad item",
    "reason": "why the item was quarantined",
    "raw_text": "the bad item's text (a bounded excerpt; the raw archive has every byte)",
    "first_run_id": "run that first quarantined the item",
}


def column_description(name: str, table: str | None) -> str:
    """One line saying what a column holds; a query's own columns say where they come from."""
    if table is None and name not in COLUMN_DESCRIPTIONS:
        return "column of the export query (see below)"
    return COLUMN_DESCRIPTIONS.get(name, f"column {name} of the {table} table")


def size_category(rows: int) -> str:
    """The Hugging Face Hub's size_categories bucket for a row count."""
    if rows < 1_000:
        return "n<1K"
    for bound, label, below in ((10**4, "1K", "10K"), (10**5, "10K", "100K"), (10**6, "100K", "1M"),
                                (10**7, "1M", "10M"), (10**8, "10M", "100M"), (10**9, "100M", "1B")):
        if rows < bound:
            return f"{label}<n<{below}"
    return "n>1B"


def arrow_bytes(folder: Path, schema: pa.Schema) -> int:
    """The split's num_bytes as Hugging Face `datasets` computes it: the in-memory Arrow size of the
    rows (not the Parquet size), counted one row group at a time so memory stays bounded."""
    total = 0
    for path in sorted(folder.glob("data/train-*.parquet")):
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            total += parquet.read_row_group(group, columns=schema.names).nbytes
    return total


def dataset_card(manifest: dict, schema: pa.Schema, num_bytes: int | None = None) -> str:
    """README.md for the hf layout: YAML header (configs, dataset_info features, language, size
    category, the counts `datasets` computes itself) and a description of every column."""
    data_bytes = sum(f["bytes"] for f in manifest["files"])
    num_bytes = data_bytes if num_bytes is None else num_bytes
    header = {
        "license": "other",
        "language": ["en"],
        "size_categories": [size_category(manifest["rows"])],
        "pretty_name": f"papertrends {manifest['table'] or 'query'} export",
        "tags": ["papertrends", "research-trends", "arxiv"],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}],
        "dataset_info": {
            "features": [{"name": f.name, **_hf_feature(f.type)} for f in schema],
            "splits": [{"name": "train", "num_bytes": num_bytes, "num_examples": manifest["rows"]}],
            "download_size": data_bytes,
            "dataset_size": num_bytes,
        },
    }
    warehouse = manifest["warehouse"]
    filters = {k: v for k, v in manifest["filters"].items() if v not in (None, [])}
    body = [
        "---", *_yaml(header), "---", "",
        f"# papertrends {manifest['table'] or 'query'} export", "",
        "Exported by papertrends from its DuckDB warehouse of research-paper "
        "listings (Hugging Face Daily Papers; arXiv where ingested).", "",
        "## Contents", "",
        f"- rows: {manifest['rows']} in {len(manifest['files'])} Parquet file(s) under `data/`",
        f"- table: `{manifest['table'] or '(query)'}`",
        f"- filters: `{json.dumps(filters, default=str, sort_keys=True)}`",
        f"- warehouse state: schema {warehouse['schema_version']}, last run {warehouse['last_run_id']}, "
        f"{warehouse['papers']} papers, {warehouse['listings']} listings",
        f"- sources: {', '.join(warehouse['sources']) or '(none)'}",
        f"- papertrends {manifest['papertrends_version']}; checksums of every file in `manifest.json`", "",
        "## Columns", "",
        *[f"- `{f.name}` ({f.type}): {column_description(f.name, manifest['table'])}" for f in schema], "",
        "## Licence", "", LICENCE_NOTE, "",
        "## The query that made it", "",
        "```sql", manifest["query"], "```", "",
        f"Parameters: `{json.dumps(manifest['parameters'], default=str, sort_keys=True)}`", "",
    ]
    return "\n".join(body)


# --- the export --------------------------------------------------------------------------------


def warehouse_state(con: duckdb.DuckDBPyConnection) -> dict:
    """Which warehouse state an export came from: schema, last run, counts, sources."""
    last_run_id, last_finished = con.execute(
        "select max(run_id), max(finished_at) from runs"
    ).fetchone()
    papers, = con.execute("select count(*) from papers").fetchone()
    listings, = con.execute("select count(*) from listings").fetchone()
    sources = [s for s, in con.execute("select distinct source from listings order by source").fetchall()]
    version = migrations.schema_version(con)
    return {
        "schema_version": version,
        "snapshot": f"schema {version}, run {last_run_id}" + (f" finished {last_finished.isoformat()}" if last_finished else ""),
        "last_run_id": last_run_id,
        "last_run_finished_at": last_finished.isoformat() if last_finished else None,
        "papers": papers,
        "listings": listings,
        "sources": sources,
        # DuckLake: the snapshot read (exporting again --as-of it gives the same files); None on a file.
        "ducklake_snapshot": backends.snapshot_of(con),
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("papertrends")
    except PackageNotFoundError:
        return "unknown"


def _validate(request: ExportRequest) -> None:
    if request.format not in FORMATS:
        raise ExportError(f"--format must be one of {', '.join(FORMATS)}, not {request.format!r}")
    if request.query and request.table not in (None, "papers"):
        raise ExportError("give --table or --query, not both")
    if not request.query and request.table not in TABLES:
        raise ExportError(f"--table must be one of {', '.join(TABLES)}, not {request.table!r}")
    if request.source and request.source not in SOURCES:
        raise ExportError(f"--source must be one of {', '.join(SOURCES)}, not {request.source!r}")
    if request.since and request.until and request.until < request.since:
        raise ExportError(f"--until {request.until} is before --since {request.since}")
    if request.format == "hf" and request.partition_by:
        raise ExportError("--format hf writes data/train-*.parquet; --partition-by goes with parquet, csv or jsonl")
    if request.rows_per_file < 1:
        raise ExportError("--rows-per-file must be at least 1")
    for term in request.terms:
        parse_query(term)  # a TermError now, before any file is touched


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def _check_target(target: Path, protected: list[Path], force: bool) -> None:
    """Refuse a target that would clobber data (the warehouse, raw archive, lake) or a non-empty folder."""
    for path in protected:
        if _overlaps(target, path.resolve()):
            raise ExportError(f"refused: --out {target} overlaps {path}, which papertrends keeps its data in")
    if target.exists() and not target.is_dir():
        raise ExportError(f"refused: --out {target} is a file, not a folder")
    if target.is_dir() and any(target.iterdir()):
        if not force:
            raise ExportError(f"refused: --out {target} is not empty; use --force to replace it")
        if not (target / MANIFEST).is_file():
            # --force replaces an earlier export; it never deletes a folder of someone's other files.
            raise ExportError(
                f"refused: --out {target} is not empty and holds no {MANIFEST}: --force only replaces an earlier export"
            )


def _remove_stale_partials(target: Path) -> None:
    """Temporary folders left by exports that were killed (their process is gone)."""
    for mark in (PARTIAL_MARK, REPLACED_MARK):
        for stale in target.parent.glob(f".{target.name}{mark}*"):
            _remove_if_owner_is_gone(stale, stale.name[len(f".{target.name}{mark}"):])


def _remove_if_owner_is_gone(stale: Path, pid_and_token: str) -> None:
    """Remove a leftover folder whose name starts with the id of a process that no longer runs."""
    try:
        os.kill(int(pid_and_token.split("-")[0]), 0)
    except ProcessLookupError:
        shutil.rmtree(stale, ignore_errors=True)
    except (ValueError, OSError):
        pass  # not our naming, or a process we may not signal: leave it


def _replace(staging: Path, target: Path, force: bool) -> None:
    """Rename the finished staging folder to the target; an old target is moved aside first."""
    if not force and target.is_dir() and any(target.iterdir()):
        # Something was written there while we exported: still never replace it without --force.
        raise ExportError(f"refused: --out {target} was filled while exporting; use --force to replace it")
    if target.exists():
        aside = target.with_name(f".{target.name}{REPLACED_MARK}{os.getpid()}-{secrets.token_hex(4)}")
        target.rename(aside)
        staging.rename(target)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        staging.rename(target)


def export_dataset(
    warehouse_path: Path,
    request: ExportRequest,
    protected: list[Path] | None = None,
    on_file: Callable[[str, int], None] | None = None,
) -> ExportResult:
    """Export per `request` from the warehouse at `warehouse_path` (opened read-only).

    Writes into a temporary folder beside `request.out` and renames it when complete, so the
    target name only ever holds a finished export. `protected` paths (the warehouse, raw archive,
    lake) can never be the target. `on_file(path, rows)` is called after each data file closes.
    """
    _validate(request)
    target = Path(request.out).resolve()
    protected = [Path(p) for p in (protected or [warehouse_path])]
    _check_target(target, protected, request.force)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(target)
    staging = target.with_name(f".{target.name}{PARTIAL_MARK}{os.getpid()}-{secrets.token_hex(4)}")
    staging.mkdir()
    con = None
    try:
        # Spill settings go in at open: a reader's configuration is locked once open.
        con = connection.open_reader(Path(warehouse_path), memory_limit=DUCKDB_MEMORY_LIMIT,
                                     temp_directory=staging / ".spill", as_of=request.as_of)
        sql, parameters, schema, json_columns = export_query(con, request)
        state = warehouse_state(con)
        try:
            reader = con.execute(sql, parameters).to_arrow_reader(CHUNK_ROWS)
            files = _write_data(reader, staging, request, on_file)
        except duckdb.Error as error:
            raise ExportError(str(error).splitlines()[0]) from error
        con.close()
        shutil.rmtree(staging / ".spill", ignore_errors=True)
        if request.format == "hf":
            files = _hf_names(staging, files)
        for entry in files:
            path = staging / entry["path"]
            entry["bytes"] = path.stat().st_size
            entry["sha256"] = _sha256(path)
        manifest = {
            "papertrends_version": _version(),
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "format": request.format,
            "table": None if request.query else request.table,
            "query": sql,
            "parameters": parameters,
            "filters": request.filters(),
            "partition_by": list(request.partition_by),
            "rows": sum(f["rows"] for f in files),
            "files": files,
            "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
            "csv_json_columns": json_columns,
            # Named by schema version and snapshot (its last run), never by a local path: exports are published.
            "warehouse": state,
            "writer": {
                "chunk_rows": CHUNK_ROWS, "rows_per_file": request.rows_per_file,
                "parquet_compression": f"{PARQUET_COMPRESSION}({PARQUET_COMPRESSION_LEVEL})",
                "duckdb": duckdb.__version__, "pyarrow": pa.__version__, "polars": pl.__version__,
            },
        }
        if request.format == "hf":
            data_schema = pa.schema([f for f in schema if f.name not in request.partition_by])
            card = dataset_card(manifest, data_schema, arrow_bytes(staging, data_schema))
            (staging / "README.md").write_text(card, "utf-8")
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str) + "\n", "utf-8")
        _replace(staging, target, request.force)
        staging = None
        return ExportResult(out=target, rows=manifest["rows"], files=files, manifest=manifest)
    finally:
        try:
            if con is not None:
                con.close()
        except duckdb.Error:
            pass
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _hf_names(staging: Path, files: list[dict]) -> list[dict]:
    """Hugging Face shard names: data/train-00000-of-00003.parquet."""
    total = len(files)
    renamed = []
    for i, entry in enumerate(files):
        name = f"data/train-{i:05d}-of-{total:05d}.parquet"
        (staging / entry["path"]).rename(staging / name)
        renamed.append({**entry, "path": name})
    return renamed


def verify_manifest(folder: Path) -> list[str]:
    """Problems found checking an export folder against its manifest (empty when it is intact)."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    problems = []
    for entry in manifest["files"]:
        path = folder / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
        elif path.stat().st_size != entry["bytes"]:
            problems.append(f"{entry['path']}: {path.stat().st_size} bytes, manifest says {entry['bytes']}")
        elif _sha256(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 differs from the manifest")
    return problems
