"""From raw archive to Parquet lake: pick the parser a landing needs, write typed Parquet.

Lake layout under <home>/lake (zstd Parquet, readable by Polars, pyarrow and DuckDB):
    listings/list_month=YYYY-MM/<input key>.parquet   one file per raw input and month
    quarantine/<input key>.parquet                    items that could not be loaded
The input key is derived from the raw landing's path and the normalizer version, so
normalizing the same landing again finds its files already written and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..sources.kinds import (
    KIND_HF_DAILY_API,
    KIND_HF_DAILY_FILE,
    KIND_HF_HTML,
    KIND_HF_PAPERS_TEXT,
    KIND_UNREADABLE,
)
from ..sources.raw_archive import RawRecord, write_atomically
from ..transforms.hf_listings import (
    EXCERPT_BYTES,
    LISTING_SCHEMA,
    QUARANTINE_SCHEMA,
    SOURCE_HF_DAILY,
    SOURCE_HF_PAGE,
    Extracted,
    PageFormatError,
    daily_papers_extracted,
    listings_normalized,
    page_date_line,
    papers_page_extracted,
    raw_excerpt,
)

# Bump when normalization output changes, so lake files of older code are not reused.
NORMALIZER_VERSION = 3  # 2: list_period, rank and detail fields (issue 3); 3: origins relative to raw/



@dataclass
class NormalizedInput:
    """One raw input, normalized: its rows, its quarantine, and how many items it held."""

    origin: str
    listings: pl.DataFrame
    quarantine: pl.DataFrame
    items_in: int
    warnings: list[str] = field(default_factory=list)


def _whole_input_quarantined(record: RawRecord, origin: str, reason: str) -> Extracted:
    # A bounded excerpt, read without loading the body: raw/ keeps every byte.
    text = raw_excerpt(record.head(EXCERPT_BYTES), record.meta.get("bytes")) if record.path.exists() else None
    quarantine = pl.DataFrame(
        [{"origin": origin, "raw_sha256": record.meta.get("sha256", ""), "position": None, "reason": reason, "raw_text": text}],
        schema=QUARANTINE_SCHEMA,
    )
    return Extracted(pl.DataFrame(), quarantine, 1)


def normalized_record(record: RawRecord) -> NormalizedInput:
    """Normalize one landing by its sidecar: the parser, list date and origin all come from there."""
    meta = record.meta
    kind = meta["kind"]
    # The URL fetched, or the landing's path relative to the raw archive: never a local absolute
    # path, which would leak into exports (the sidecar keeps original_path for the user).
    origin = meta.get("url") or meta["path"]
    date_problem = None
    try:
        list_date = dt.date.fromisoformat(meta["list_date"]) if meta.get("list_date") else None
    except ValueError:
        list_date, date_problem = None, f"list date {meta['list_date']!r} is not a date (YYYY-MM-DD)"
    warnings: list[str] = []
    # Landings of sources/hf.py name their source (hf_weekly, hf_trending, ...) in the sidecar.
    source = meta.get("source") or (SOURCE_HF_PAGE if kind == KIND_HF_PAPERS_TEXT else SOURCE_HF_DAILY)
    if meta.get("problem"):
        # Classified when fetched (HTML for JSON, truncated JSON, error object, empty weekday): never data.
        extracted = _whole_input_quarantined(record, origin, meta["problem"])
    elif kind in (KIND_HF_DAILY_API, KIND_HF_HTML) and meta.get("status", 200) != 200:
        snippet = record.head(200).decode("utf-8", errors="replace")
        extracted = _whole_input_quarantined(record, origin, f"HTTP {meta.get('status')}: {snippet}")
        # Said in the run's summary too: a day the server does not have is no silent quarantine row.
        warnings.append(f"{origin}: HTTP {meta.get('status')}, no list loaded (quarantined; see `papertrends status`)")
    elif date_problem or kind == KIND_UNREADABLE:
        extracted = _whole_input_quarantined(record, origin, date_problem or meta["reason"])
    elif kind in (KIND_HF_DAILY_API, KIND_HF_DAILY_FILE):
        offset = meta.get("page", 0) * meta.get("limit", 0)
        extracted = daily_papers_extracted(record.read(), origin=origin, raw_sha256=record.sha256, position_offset=offset)
    elif kind == KIND_HF_HTML:
        from ..transforms.hf_html import daily_papers_json_from_html

        try:
            items = daily_papers_json_from_html(record.read().decode("utf-8", errors="replace"))
        except PageFormatError as error:
            extracted = _whole_input_quarantined(record, origin, str(error))
        else:
            offset = meta.get("page", 0) * meta.get("limit", 0)
            extracted = daily_papers_extracted(items, origin=origin, raw_sha256=record.sha256, position_offset=offset)
    elif kind == KIND_HF_PAPERS_TEXT:
        text = record.read().decode("utf-8", errors="replace")
        if list_date is None:
            extracted = _whole_input_quarantined(
                record, origin, "a saved papers page shows no year: ingest it with --date YYYY-MM-DD"
            )
        else:
            shown = page_date_line(text)
            expected = f"{list_date:%b} {list_date.day}"
            if shown and not shown.startswith(list_date.strftime("%b")) or (shown and not shown.endswith(f" {list_date.day}")):
                warnings.append(f"{origin}: the page says {shown!r} but --date is {list_date} ({expected})")
            try:
                extracted = papers_page_extracted(text, origin=origin, raw_sha256=record.sha256)
            except PageFormatError as error:
                extracted = _whole_input_quarantined(record, origin, str(error))
    else:
        extracted = _whole_input_quarantined(record, origin, f"no parser for raw kind {kind!r}")
    if extracted.items.width == 0:
        listings = pl.DataFrame(schema=LISTING_SCHEMA)
        quarantine = extracted.quarantine
    else:
        listings, quarantine = listings_normalized(
            extracted,
            source=source,
            list_date=list_date,
            fetched_at=record.fetched_at,
            origin=origin,
            raw_sha256=record.sha256,
            list_period=meta.get("list_period"),
            ranked=bool(meta.get("ranked")),
        )
    if listings.height + quarantine.height != extracted.items_in:
        raise AssertionError(f"{origin}: {extracted.items_in} items in but {listings.height} + {quarantine.height} out")
    return NormalizedInput(origin, listings, quarantine, extracted.items_in, warnings)


def input_key(record: RawRecord) -> str:
    """Stable name of a landing's lake files."""
    basis = f"{record.meta['path']}|v{NORMALIZER_VERSION}"
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:24]


def write_parquet_once(frame: pl.DataFrame, path: Path) -> Path:
    """Write a lake file atomically unless it exists (same input key, same content)."""
    if not path.exists():
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        write_atomically(path, buffer.getvalue())
    return path


def write_lake(lake_dir: Path, record: RawRecord, normalized: NormalizedInput) -> list[Path]:
    """Write a normalized input's Parquet files (once); returns every file that holds it."""
    key = input_key(record)
    written = []
    listings = normalized.listings.with_columns(list_month=pl.col("list_date").dt.strftime("%Y-%m"))
    for (month,), part in listings.group_by("list_month", maintain_order=True):
        path = lake_dir / "listings" / f"list_month={month}" / f"{key}.parquet"
        written.append(write_parquet_once(part.drop("list_month").sort("position"), path))
    if normalized.quarantine.height:
        written.append(write_parquet_once(normalized.quarantine, lake_dir / "quarantine" / f"{key}.parquet"))
    return written


def landings_normalized(lake_dir: Path, landed: list[str]) -> dict:
    """Normalize landings (raw body paths) into lake Parquet; returns the files and the counts."""
    files, items_in, loaded, quarantined, warnings = [], 0, 0, 0, []
    for body_path in landed:
        record = RawRecord.at(Path(body_path))
        normalized = normalized_record(record)
        files += [str(p) for p in write_lake(lake_dir, record, normalized)]
        items_in += normalized.items_in
        loaded += normalized.listings.height
        quarantined += normalized.quarantine.height
        warnings += normalized.warnings
    return {"files": files, "items_in": items_in, "loaded": loaded, "quarantined": quarantined, "warnings": warnings}


def read_lake_files(files: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Listing rows and quarantine rows held in the given lake files."""
    listing_files = [f for f in files if "/listings/" in Path(f).as_posix()]
    quarantine_files = [f for f in files if "/quarantine/" in Path(f).as_posix()]
    listings = pl.concat([pl.read_parquet(f) for f in listing_files]) if listing_files else pl.DataFrame(schema=LISTING_SCHEMA)
    quarantine = (
        pl.concat([pl.read_parquet(f) for f in quarantine_files]) if quarantine_files else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    )
    return listings, quarantine
