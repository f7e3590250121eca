"""arXiv landings to typed rows: an API/OAI page, or a snapshot streamed in batches of lines
(registered as raw kinds in pipeline/registry.py).
"""

from __future__ import annotations

import hashlib


from ..sources.kinds import KIND_ARXIV_API
from ..sources.raw_archive import RawRecord
from ..transforms.arxiv import (
    ArxivExtracted,
    arxiv_rows_normalized,
    atom_feed_extracted,
    deleted_normalized,
    oai_page_extracted,
    snapshot_lines_extracted,
    whole_input_quarantined,
)
from ..transforms.hf_listings import EXCERPT_BYTES

# Bump when arXiv normalization output changes, so lake files of older code are not reused.
ARXIV_NORMALIZER_VERSION = 1


def _snippet(record: RawRecord) -> str:
    return " ".join(record.read()[:200].decode("utf-8", errors="replace").split())


def arxiv_extracted(record: RawRecord) -> ArxivExtracted:
    """Parse one API or OAI landing by its sidecar; an HTTP error answer is an error, not data."""
    meta, origin = record.meta, record.meta.get("url") or record.meta["path"]
    if meta.get("problem"):  # classified when fetched (an answer over max_response_bytes): never parsed
        return whole_input_quarantined(meta["problem"], record.head(EXCERPT_BYTES), origin, record.sha256,
                                       error=meta["problem"])
    # A saved page given to `ingest files` has no HTTP status: it is the document itself.
    body, offset, status = record.read(), meta.get("position_offset", 0), meta.get("status", 200)
    if meta["kind"] == KIND_ARXIV_API:
        extracted = atom_feed_extracted(body, origin=origin, raw_sha256=record.sha256, position_offset=offset)
    else:
        extracted = oai_page_extracted(body, origin=origin, raw_sha256=record.sha256, position_offset=offset)
    if status != 200 and extracted.error is None:
        message = f"HTTP {status}: {_snippet(record)}"
        extracted = whole_input_quarantined(message, body, origin, record.sha256, error=message)
    return extracted


def arxiv_page_normalized(record: RawRecord) -> dict:
    """One landed API/OAI page as lake frames (arxiv rows, quarantine, deleted) and its paging facts."""
    extracted = arxiv_extracted(record)
    origin = record.meta.get("url") or record.meta.get("original_path") or record.meta["path"]
    rows, quarantine = arxiv_rows_normalized(extracted, fetched_at=record.fetched_at, origin=origin, raw_sha256=record.sha256)
    deleted = deleted_normalized(extracted.deleted, fetched_at=record.fetched_at, origin=origin, raw_sha256=record.sha256)
    if rows.height + quarantine.height + deleted.height != extracted.items_in:
        raise AssertionError(f"{origin}: {extracted.items_in} items in but {rows.height} + {quarantine.height} + {deleted.height} out")
    return {
        "arxiv": rows, "quarantine": quarantine, "arxiv_deleted": deleted,
        "items_in": extracted.items_in,
        "entries": extracted.records.height + extracted.deleted.height,
        "total_results": extracted.total_results,
        "resumption_token": extracted.resumption_token,
        "complete_list_size": extracted.complete_list_size,
        "error": extracted.error,
    }


def snapshot_line_batches(record: RawRecord, lines_per_batch: int):
    """The landed snapshot, streamed: (frames, items_in, bytes_read) per `lines_per_batch` lines.

    Memory stays bounded by one batch whatever the file size. The bytes are hashed as they are
    read; the last item yielded is ("sha256", hexdigest) so the caller can tell an edited original.
    """
    origin = record.meta.get("original_path") or record.meta["path"]
    digest = hashlib.sha256()
    position = 0
    with record.path.open("rb") as handle:
        batch: list[bytes] = []
        for line in handle:
            digest.update(line)
            batch.append(line)
            if len(batch) == lines_per_batch:
                yield _snapshot_frames(record, origin, batch, position)
                position += len(batch)
                batch = []
        if batch:
            yield _snapshot_frames(record, origin, batch, position)
    yield ("sha256", digest.hexdigest())


def _snapshot_frames(record: RawRecord, origin: str, lines: list[bytes], position: int) -> tuple[dict, int, int]:
    extracted = snapshot_lines_extracted(lines, first_position=position, origin=origin, raw_sha256=record.sha256)
    rows, quarantine = arxiv_rows_normalized(extracted, fetched_at=record.fetched_at, origin=origin, raw_sha256=record.sha256)
    if rows.height + quarantine.height != extracted.items_in:
        raise AssertionError(f"{origin} at line {position}: {extracted.items_in} in, {rows.height} + {quarantine.height} out")
    return {"arxiv": rows, "quarantine": quarantine}, extracted.items_in, sum(len(line) for line in lines)
