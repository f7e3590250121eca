"""arXiv landings to lake and warehouse: parse an API/OAI page or a snapshot batch, write its lake
files (by v1 month), load them as listings + papers with bounded DuckDB memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

import polars as pl

from ..core.settings import Settings
from ..sources.kinds import KIND_ARXIV_API
from ..sources.raw_archive import RawRecord
from ..transforms.arxiv import (
    ArxivExtracted,
    arxiv_listings,
    arxiv_papers,
    arxiv_row_schema,
    atom_feed_extracted,
    oai_page_extracted,
    whole_input_quarantined,
)
from ..transforms.hf_listings import EXCERPT_BYTES, QUARANTINE_SCHEMA
from ..warehouse import connection, loads
from .lake import write_parquet_once

# Bump when arXiv normalization output changes, so lake files of older code are not reused.
ARXIV_NORMALIZER_VERSION = 1


# DuckDB's buffer pool otherwise grows to 80% of RAM while a load scans a multi-million-row table.
DUCKDB_MEMORY_MB = 384


def _snippet(record: RawRecord) -> str:
    return " ".join(record.read()[:200].decode("utf-8", errors="replace").split())


def arxiv_extracted(record: RawRecord) -> ArxivExtracted:
    """Parse one API or OAI landing by its sidecar; an HTTP error answer is an error, not data."""
    meta, origin = record.meta, record.meta.get("url") or record.meta["path"]
    if meta.get("problem"):  # classified when fetched (an answer over max_response_bytes): never parsed
        return whole_input_quarantined(meta["problem"], record.head(EXCERPT_BYTES), origin, record.sha256,
                                       error=meta["problem"])
    body, offset, status = record.read(), meta.get("position_offset", 0), meta.get("status")
    if meta["kind"] == KIND_ARXIV_API:
        extracted = atom_feed_extracted(body, origin=origin, raw_sha256=record.sha256, position_offset=offset)
    else:
        extracted = oai_page_extracted(body, origin=origin, raw_sha256=record.sha256, position_offset=offset)
    if status != 200 and extracted.error is None:
        message = f"HTTP {status}: {_snippet(record)}"
        extracted = whole_input_quarantined(message, body, origin, record.sha256, error=message)
    return extracted


def arxiv_lake_key(basis: str) -> str:
    return hashlib.sha256(f"{basis}|arxiv-v{ARXIV_NORMALIZER_VERSION}".encode("utf-8")).hexdigest()[:24]


def arxiv_lake_written(lake_dir: Path, key: str, rows: pl.DataFrame, quarantine: pl.DataFrame, deleted: pl.DataFrame) -> list[Path]:
    """Write one input's arXiv rows (by v1 month), quarantine and deleted records once; returns the files."""
    written = []
    months = rows.with_columns(v1_month=pl.col("list_date").dt.strftime("%Y-%m"))
    for (month,), part in months.group_by("v1_month", maintain_order=True):
        written.append(write_parquet_once(part.drop("v1_month"), lake_dir / "arxiv" / f"v1_month={month}" / f"{key}.parquet"))
    if quarantine.height:
        written.append(write_parquet_once(quarantine, lake_dir / "quarantine" / f"{key}.parquet"))
    if deleted.height:
        written.append(write_parquet_once(deleted, lake_dir / "arxiv_deleted" / f"{key}.parquet"))
    return written


def read_arxiv_lake_files(files: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """arXiv rows, quarantine rows and deleted records held in the given lake files."""
    def part(folder: str, schema: dict) -> pl.DataFrame:
        chosen = [f for f in files if f"/{folder}/" in Path(f).as_posix()]
        return pl.concat([pl.read_parquet(f) for f in chosen]).cast(schema) if chosen else pl.DataFrame(schema=schema)

    deleted_schema = {"paper_id": pl.String(), "datestamp": pl.Date(), "first_seen_at": pl.Datetime("us", "UTC"),
                      "origin": pl.String(), "raw_sha256": pl.String()}
    return part("arxiv", arxiv_row_schema()), part("quarantine", QUARANTINE_SCHEMA), part("arxiv_deleted", deleted_schema)


def arxiv_loaded(settings: Settings, rows: pl.DataFrame, quarantine: pl.DataFrame, deleted: pl.DataFrame, run_id: int) -> dict:
    """Load arXiv rows (as listings + papers), quarantine and deleted records; returns the counts."""
    con = connection.open_writer(settings.warehouse_path, settings.writer_wait)
    try:
        connection.limit_memory(con, DUCKDB_MEMORY_MB)
        counts = asdict(loads.load(con, arxiv_listings(rows), quarantine, run_id, papers=arxiv_papers(rows)))
        counts["deleted_new"] = loads.mark_arxiv_deleted(con, deleted)
    finally:
        con.close()
    return counts
