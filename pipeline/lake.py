"""Hugging Face list landings to typed rows: pick the parser a landing's sidecar asks for.

Which kinds come here, and how their rows reach the lake and the warehouse, is declared in
pipeline/registry.py; the lake's contract is docs/lake.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from ..sources.kinds import (
    KIND_HF_DAILY_API,
    KIND_HF_DAILY_FILE,
    KIND_HF_HTML,
    KIND_HF_PAPERS_TEXT,
    KIND_UNREADABLE,
)
from ..sources.raw_archive import RawRecord
from ..transforms.hf_listings import (
    EXCERPT_BYTES,
    QUARANTINE_SCHEMA,
    SOURCE_HF_DAILY,
    SOURCE_HF_PAGE,
    Extracted,
    ListingsBatch,
    PageFormatError,
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


def _record_added(batch: ListingsBatch, record: RawRecord) -> list[str]:
    """Add one landing's items to `batch` by its sidecar (parser, list date, origin); returns its warnings."""
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
    context = {"source": source, "list_date": list_date, "fetched_at": record.fetched_at, "origin": origin,
               "raw_sha256": record.sha256, "list_period": meta.get("list_period"), "ranked": bool(meta.get("ranked"))}
    offset = meta.get("page", 0) * meta.get("limit", 0)

    def whole(reason: str) -> None:
        extracted = _whole_input_quarantined(record, origin, reason)
        batch.add_quarantined(extracted.quarantine, extracted.items_in)

    if meta.get("problem"):
        # Classified when fetched (HTML for JSON, truncated JSON, error object, empty weekday): never data.
        whole(meta["problem"])
    elif kind in (KIND_HF_DAILY_API, KIND_HF_HTML) and meta.get("status", 200) != 200:
        snippet = record.head(200).decode("utf-8", errors="replace")
        whole(f"HTTP {meta.get('status')}: {snippet}")
        # Said in the run's summary too: a day the server does not have is no silent quarantine row.
        warnings.append(f"{origin}: HTTP {meta.get('status')}, no list loaded (quarantined; see `papertrends status`)")
    elif date_problem or kind == KIND_UNREADABLE:
        whole(date_problem or meta["reason"])
    elif kind in (KIND_HF_DAILY_API, KIND_HF_DAILY_FILE):
        batch.add_daily_papers(record.read(), context=context, reread=record.read, position_offset=offset)
    elif kind == KIND_HF_HTML:
        from ..transforms.hf_html import daily_papers_json_from_html

        def page_json() -> bytes:
            return daily_papers_json_from_html(record.read().decode("utf-8", errors="replace"))

        try:
            items = page_json()
        except PageFormatError as error:
            whole(str(error))
        else:
            batch.add_daily_papers(items, context=context, reread=page_json, position_offset=offset)
    elif kind == KIND_HF_PAPERS_TEXT:
        text = record.read().decode("utf-8", errors="replace")
        if list_date is None:
            whole("a saved papers page shows no year: ingest it with --date YYYY-MM-DD")
        else:
            shown = page_date_line(text)
            expected = f"{list_date:%b} {list_date.day}"
            if shown and not shown.startswith(list_date.strftime("%b")) or (shown and not shown.endswith(f" {list_date.day}")):
                warnings.append(f"{origin}: the page says {shown!r} but --date is {list_date} ({expected})")
            try:
                extracted = papers_page_extracted(text, origin=origin, raw_sha256=record.sha256)
            except PageFormatError as error:
                whole(str(error))
            else:
                batch.add_extracted(extracted, context=context)
    else:
        whole(f"no parser for raw kind {kind!r}")
    return warnings


def normalized_record(record: RawRecord) -> NormalizedInput:
    """Normalize one landing by its sidecar: the parser, list date and origin all come from there."""
    return normalized_batch([record])


def normalized_batch(records: list[RawRecord]) -> NormalizedInput:
    """Normalize landings of HF list kinds together: items gathered per landing, typed in one pass."""
    batch, warnings = ListingsBatch(), []
    for record in records:
        warnings += _record_added(batch, record)
    listings, quarantine = batch.normalized()
    origin = records[0].meta.get("path", "") if len(records) == 1 else f"{len(records)} landings"
    if listings.height + quarantine.height != batch.items_in:
        raise AssertionError(f"{origin}: {batch.items_in} items in but {listings.height} + {quarantine.height} out")
    return NormalizedInput(origin, listings, quarantine, batch.items_in, warnings)
