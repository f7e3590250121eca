"""Every raw kind, declared once: how it is recognised, how it is normalized, what it feeds, how it loads.

A landing in raw/ names its kind in its sidecar (sources/kinds.py). Everything that turns raw
bytes into warehouse rows dispatches through KINDS: `ingest hf`, `ingest arxiv`, `ingest files`,
`enrich` and `rebuild`. Adding a source is one module (its pager in sources/, its parser in
transforms/) plus one RawKind entry here.

How a kind loads (`loads`):
    "lake"     normalized per landing, concatenated into bounded batches (one frame per table per
               batch), written as a few lake files per batch (one per table and month), loaded by
               lake_files_loaded (the one place that calls the warehouse load).
    "stream"   one landing too big to hold (the arXiv snapshot): read in batches of lines, each
               batch written and loaded like a "lake" batch.
    "details"  paper detail answers: merged into papers / upvote_history / paper_details directly
               (the answer ledger is per paper, not a lake table).
    "titles"   title searches: replayed as title resolutions, after everything else has loaded
               (a resolution moves listings, so the listings must be there first).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import polars as pl

from ..sources import kinds as K
from ..sources.raw_archive import RawRecord, fsync_path
from ..transforms import tables
from ..transforms.arxiv import looks_like_snapshot_line
from ..transforms.hf_listings import QUARANTINE_SCHEMA
from .arxiv import ARXIV_NORMALIZER_VERSION, arxiv_page_normalized, snapshot_line_batches
from .lake import NORMALIZER_VERSION, normalized_batch, normalized_record

# Bump when the batch layout of the lake changes (file names are derived from it).
BATCH_LAYOUT_VERSION = 1
# Landings normalized together: one frame per lake table, a few files, one load (bounded memory).
DEFAULT_BATCH_INPUTS = 200
# How much of a saved file is read to recognise its kind.
SNIFF_BYTES = 64 << 10
MAX_SNAPSHOT_LINE = 16 << 20  # one arXiv record is a few kB

DELETED_SCHEMA: dict[str, pl.DataType] = tables.DELETED_ROW_SCHEMA


def lake_schemas() -> dict[str, dict]:
    """The lake tables and their Parquet schemas (stable: the warehouse reads them with read_parquet)."""
    return tables.lake_schemas()


# Where each lake table is partitioned by month, and by which column.
_MONTH_PARTITION = {"listings": ("list_month", "list_date"), "arxiv": ("v1_month", "list_date")}


@dataclass
class Batch:
    """Normalized landings: one frame per lake table, and the counts (items in = loaded + quarantined)."""

    key: str
    frames: dict[str, pl.DataFrame]
    inputs: int = 0
    items_in: int = 0
    warnings: list[str] = field(default_factory=list)
    facts: list[dict] = field(default_factory=list)  # per landing: paging facts of arXiv pages
    bytes_read: int = 0

    @property
    def loaded(self) -> int:
        return sum(self.frames[t].height for t in ("listings", "arxiv", "arxiv_deleted") if t in self.frames)

    @property
    def quarantined(self) -> int:
        return self.frames["quarantine"].height if "quarantine" in self.frames else 0


# --- recognising saved files by content ---------------------------------------------------------

def _first_line(head: bytes) -> bytes:
    for line in head.splitlines():
        if line.strip():
            return line
    return b""


def _xml_head(head: bytes) -> str:
    return head[:4096].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")


def _is_atom(path: Path, head: bytes) -> bool:
    text = _xml_head(head)
    return "<feed" in text and "http://www.w3.org/2005/Atom" in text


def _is_oai(path: Path, head: bytes) -> bool:
    return "<OAI-PMH" in _xml_head(head)


def _is_snapshot(path: Path, head: bytes) -> bool:
    line = _first_line(head)
    if len(head) == SNIFF_BYTES and line == _first_line(head + b"\n") and b"\n" not in head.lstrip():
        # The first record is longer than the sniffed head: read the whole line (bounded).
        with path.open("rb") as handle:
            line = b""
            while not line.strip():
                line = handle.readline(MAX_SNAPSHOT_LINE)
                if not line:
                    return False
    return looks_like_snapshot_line(line)


def _is_html(path: Path, head: bytes) -> bool:
    text = _xml_head(head).lower()
    return path.suffix.lower() in (".html", ".htm") or text.startswith(("<!doctype html", "<html"))


def _is_json(path: Path, head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return path.suffix.lower() == ".json" or text.startswith((b"[", b"{"))


def _is_text_page(path: Path, head: bytes) -> bool:
    return path.suffix.lower() == ".txt"


# --- the kinds ------------------------------------------------------------------------------------

def _listing_frames(record: RawRecord) -> dict:
    normalized = normalized_record(record)
    return {"listings": normalized.listings, "quarantine": normalized.quarantine,
            "items_in": normalized.items_in, "warnings": normalized.warnings}


def _listing_batch_frames(records: list[RawRecord]) -> dict:
    normalized = normalized_batch(records)
    return {"listings": normalized.listings, "quarantine": normalized.quarantine,
            "items_in": normalized.items_in, "warnings": normalized.warnings}


def _arxiv_frames(record: RawRecord) -> dict:
    page = arxiv_page_normalized(record)
    facts = {k: page[k] for k in ("entries", "total_results", "resumption_token", "complete_list_size", "error")}
    facts["deleted"] = page["arxiv_deleted"].height
    return {"arxiv": page["arxiv"], "quarantine": page["quarantine"], "arxiv_deleted": page["arxiv_deleted"],
            "items_in": page["items_in"], "warnings": [], "facts": {**facts, "path": str(record.path)}}


@dataclass(frozen=True)
class RawKind:
    """One kind of raw landing: recognition, normalizer, the tables it feeds and how it loads."""

    name: str
    what: str
    feeds: tuple[str, ...]
    loads: str                                                   # lake | stream | details | titles
    normalize: Callable[[RawRecord], dict] | None = None         # "lake": one landing's frames
    recognise: Callable[[Path, bytes], bool] | None = None       # saved files: is `path` (head) this kind?
    suffix: str = ""                                             # landing suffix in raw/


# Order matters twice: recognition tries kinds in this order (most specific first), and rebuild
# loads them in this order (lists before details before title resolutions).
KINDS: dict[str, RawKind] = {k.name: k for k in (
    RawKind(K.KIND_ARXIV_SNAPSHOT, "arXiv metadata snapshot (JSON Lines, any name)",
            ("arxiv", "quarantine"), "stream", None, _is_snapshot, ".json"),
    RawKind(K.KIND_ARXIV_OAI, "OAI-PMH ListRecords page", ("arxiv", "quarantine", "arxiv_deleted"), "lake",
            _arxiv_frames, _is_oai, ".xml"),
    RawKind(K.KIND_ARXIV_API, "arXiv API Atom page", ("arxiv", "quarantine"), "lake", _arxiv_frames, _is_atom, ".xml"),
    RawKind(K.KIND_HF_HTML, "Hugging Face papers page as HTML", ("listings", "quarantine"), "lake",
            _listing_frames, _is_html, ".html"),
    RawKind(K.KIND_HF_DAILY_FILE, "saved daily-papers JSON", ("listings", "quarantine"), "lake",
            _listing_frames, _is_json, ".json"),
    RawKind(K.KIND_HF_PAPERS_TEXT, "papers page saved as text", ("listings", "quarantine"), "lake",
            _listing_frames, _is_text_page, ".txt"),
    RawKind(K.KIND_HF_DAILY_API, "Hugging Face list API page (date, week, month, trending)",
            ("listings", "quarantine"), "lake", _listing_frames),
    RawKind(K.KIND_UNREADABLE, "a file that could not be read or recognised", ("quarantine",), "lake", _listing_frames),
    RawKind(K.KIND_HF_PAPER_API, "paper detail answer", ("papers", "upvote_history", "paper_details"), "details"),
    RawKind(K.KIND_HF_SEARCH_API, "title search answer", ("title_resolutions", "listings", "papers"), "titles"),
)}

_LOAD_ORDER = ("lake", "stream", "details", "titles")


def kind_of(record: RawRecord) -> RawKind | None:
    """The declared kind of a landing, or None when this papertrends does not know it."""
    return KINDS.get(record.meta.get("kind"))


def recognised(path: Path) -> tuple[RawKind | None, str]:
    """The kind of a saved file, by its content (and suffix where content is ambiguous); else why not."""
    if not path.is_file():
        return None, "not a regular file"
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as error:
        return None, f"cannot read file: {error.strerror or error}"
    if not head.strip():
        return None, "empty file"
    for kind in KINDS.values():
        try:
            if kind.recognise is not None and kind.recognise(path, head):
                return kind, kind.what
        except (RecursionError, ValueError):
            continue
    return None, f"not a kind papertrends reads ({path.suffix or 'no suffix'}): expected " + ", ".join(
        k.what for k in KINDS.values() if k.recognise is not None)


def described() -> list[dict]:
    """The registry as rows (name, what, feeds, loads, recognised from saved files) for docs and status."""
    return [{"kind": k.name, "what": k.what, "feeds": list(k.feeds), "loads": k.loads,
             "saved_files": k.recognise is not None} for k in KINDS.values()]


# --- normalizing in batches -------------------------------------------------------------------------

def _key(basis: str) -> str:
    versions = f"hf-v{NORMALIZER_VERSION}|arxiv-v{ARXIV_NORMALIZER_VERSION}|batch-v{BATCH_LAYOUT_VERSION}"
    return hashlib.sha256(f"{basis}|{versions}".encode("utf-8")).hexdigest()[:24]


def _concat(parts: list[pl.DataFrame], schema: dict) -> pl.DataFrame:
    parts = [p.select(list(schema)).cast(schema) for p in parts if p.height]
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def _batch_of(records: list[RawRecord]) -> Batch:
    schemas = lake_schemas()
    parts: dict[str, list[pl.DataFrame]] = {t: [] for t in schemas}
    batch = Batch(_key("|".join(r.meta["path"] for r in records)), {}, inputs=len(records))
    # HF list kinds are typed together (one pass per batch); the others one landing at a time.
    together = [r for r in records if KINDS[r.meta["kind"]].normalize is _listing_frames]
    outs = [_listing_batch_frames(together)] if together else []
    outs += [KINDS[r.meta["kind"]].normalize(r) for r in records if KINDS[r.meta["kind"]].normalize is not _listing_frames]
    for out in outs:
        for table in schemas:
            if table in out:
                parts[table].append(out[table])
        batch.items_in += out["items_in"]
        batch.warnings += out["warnings"]
        if "facts" in out:
            batch.facts.append(out["facts"])
    batch.frames = {t: _concat(p, schemas[t]) for t, p in parts.items() if p}
    if batch.loaded + batch.quarantined != batch.items_in:
        raise AssertionError(f"batch {batch.key}: {batch.items_in} items in but {batch.loaded} + {batch.quarantined} out")
    return batch


def unknown_kind_batch(records: list[RawRecord]) -> Batch:
    """Landings of a kind this papertrends does not know: each quarantined whole, never dropped."""
    rows = [{"origin": r.meta.get("url") or r.meta.get("original_path") or r.meta["path"], "raw_sha256": r.meta.get("sha256", ""),
             "position": None, "reason": f"no parser for raw kind {r.meta.get('kind')!r}", "raw_text": None} for r in records]
    return Batch(_key("unknown|" + "|".join(r.meta["path"] for r in records)),
                 {"quarantine": pl.DataFrame(rows, schema=QUARANTINE_SCHEMA)}, inputs=len(records), items_in=len(records))


def lake_batches(records: Iterable[RawRecord], batch_inputs: int = DEFAULT_BATCH_INPUTS) -> Iterator[Batch]:
    """Landings of "lake" kinds normalized `batch_inputs` at a time (memory bounded by a batch)."""
    chunk: list[RawRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= batch_inputs:
            yield _batch_of(chunk)
            chunk = []
    if chunk:
        yield _batch_of(chunk)


def stream_batches(record: RawRecord, lines_per_batch: int) -> Iterator[Batch]:
    """One streamed landing (the snapshot) as batches; the last batch's warnings name edited originals."""
    for number, item in enumerate(snapshot_line_batches(record, lines_per_batch)):
        if item[0] == "sha256":
            if item[1] != record.sha256:
                yield Batch(_key(f"{record.meta['path']}|changed"), {}, warnings=[
                    f"{record.path}: its bytes changed since they were landed (sha256 {item[1][:16]}, expected "
                    f"{record.sha256[:16]}); was the original edited in place? Ingest it again to land the new bytes."])
            return
        frames, items_in, bytes_read = item
        yield Batch(_key(f"{record.meta['path']}|batch{number}"), frames, inputs=1 if number == 0 else 0,
                    items_in=items_in, bytes_read=bytes_read)


def split_by_load(records: Iterable[RawRecord]) -> dict[str, list[RawRecord]]:
    """Landings grouped by how they load, in load order; unknown kinds under "unknown"."""
    groups: dict[str, list[RawRecord]] = {name: [] for name in (*_LOAD_ORDER, "unknown")}
    for record in records:
        kind = kind_of(record)
        groups[kind.loads if kind else "unknown"].append(record)
    return groups


# --- the lake -------------------------------------------------------------------------------------

def batch_written(lake_dir: Path, batch: Batch) -> dict[str, list[str]]:
    """Write a batch's frames once: one file per lake table and month; returns the files by table.

    File names derive from the batch's landings and the normalizer versions, so normalizing the
    same landings again finds the files written and writes nothing. The batch's files are made
    durable at one point (files_made_durable): all written to temporary names, then synced,
    renamed and their folders synced once, before the warehouse commit can refer to them.
    """
    planned: list[tuple[str, pl.DataFrame, Path]] = []
    for table, frame in batch.frames.items():
        if not frame.height:
            continue
        if table in _MONTH_PARTITION:
            column, date_column = _MONTH_PARTITION[table]
            months = frame.with_columns(pl.col(date_column).dt.strftime("%Y-%m").alias(column))
            for (month,), part in months.group_by(column, maintain_order=True):
                planned.append((table, part.drop(column), lake_dir / table / f"{column}={month}" / f"{batch.key}.parquet"))
        else:
            planned.append((table, frame, lake_dir / table / f"{batch.key}.parquet"))
    files_made_durable(lake_dir, [(frame, path) for _, frame, path in planned])
    written: dict[str, list[str]] = {}
    for table, _, path in planned:
        written.setdefault(table, []).append(str(path))
    return written


def _temporary(path: Path) -> Path:
    # Named like write_atomically's temporaries, so the next writer sweeps what a killed one left.
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def files_made_durable(lake_dir: Path, files: list[tuple[pl.DataFrame, Path]]) -> None:
    """Write lake files (frame, path) that do not exist yet, durable at one point for all of them.

    Every file is written to a temporary sibling first; then each temporary is synced and renamed
    into place, and each folder they sit in (and any folder made for them, up to the lake's parent)
    is synced once. A file exists under its name only complete, so a file found there (the same
    batch normalized before) is kept as it is. On an error no temporary is left behind.
    """
    import io

    pending: list[tuple[Path, Path]] = []
    folders: set[Path] = set()
    try:
        for frame, path in files:
            if path.exists():
                continue
            for folder in (path.parent, *path.parent.parents):
                if folder == lake_dir.parent:
                    break
                if not folder.exists():
                    folders.add(folder.parent)
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
            buffer = io.BytesIO()
            frame.write_parquet(buffer, compression="zstd", statistics=True)
            temporary = _temporary(path)
            pending.append((temporary, path))
            try:
                temporary.write_bytes(buffer.getbuffer())
            except OSError as error:
                if error.filename is None:  # a failed write() names no file: say which one
                    raise OSError(error.errno, error.strerror, str(path)) from error
                raise
        # The one durable point of the batch: contents first, then the names that point at them.
        for temporary, _ in pending:
            fsync_path(temporary)
        for temporary, path in pending:
            os.replace(temporary, path)
    except BaseException:
        for temporary, _ in pending:
            temporary.unlink(missing_ok=True)
        raise
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        fsync_path(folder, directory=True)


def files_by_table(files: Iterable[str]) -> dict[str, list[str]]:
    """Lake files sorted into their tables by folder (lake/<table>/...)."""
    tables: dict[str, list[str]] = {}
    for f in files:
        parts = Path(f).parts
        table = next((p for p in parts[::-1] if p in lake_schemas()), None)
        if table is None:
            raise ValueError(f"{f} is not a lake file (lake/<table>/...)")
        tables.setdefault(table, []).append(str(f))
    return tables


def lake_files_loaded(con, tables: dict[str, list[str]], run_id: int, checks=None) -> dict:
    """Merge lake files (by table) into the warehouse in one transaction; returns the load counts as a dict.

    The one place the pipeline calls the warehouse load: warehouse.loads.load_lake_files reads the
    files with read_parquet inside DuckDB, under its memory_limit, so Python never holds the rows.
    """
    from ..warehouse import loads

    return asdict(loads.load_lake_files(con, tables, run_id, checks))


def empty_summary() -> dict:
    return {"files": [], "items_in": 0, "loaded": 0, "quarantined": 0, "warnings": [], "facts": [], "batches": 0}


def summary_added(summary: dict, batch) -> dict:
    """Add a Batch (or another summary) to a running summary of normalized landings."""
    if isinstance(batch, Batch):
        summary["items_in"] += batch.items_in
        summary["loaded"] += batch.loaded
        summary["quarantined"] += batch.quarantined
        summary["warnings"] += batch.warnings
        summary["facts"] += batch.facts
        summary["batches"] += 1
    else:
        for name in summary:
            summary[name] += batch.get(name, 0 if name == "batches" else [])
    return summary


def landings_normalized(lake_dir: Path, landed: list[str], batch_inputs: int = DEFAULT_BATCH_INPUTS) -> dict:
    """Normalize landings (raw body paths) of "lake" kinds into lake Parquet, `batch_inputs` at a time.

    Returns the files written and the counts summed over the batches (items in = loaded +
    quarantined). Landings of an unknown kind are quarantined whole, never dropped.
    """
    records = [RawRecord.at(Path(p)) for p in landed]
    groups = split_by_load(records)
    misplaced = [r for name in ("stream", "details", "titles") for r in groups[name]]
    if misplaced:
        raise ValueError(f"{misplaced[0].path}: a {misplaced[0].meta['kind']} landing does not load through the lake")
    summary = empty_summary()
    batches = lake_batches(groups["lake"], batch_inputs)
    if groups["unknown"]:
        batches = [*batches, unknown_kind_batch(groups["unknown"])]
    for batch in batches:
        for files in batch_written(lake_dir, batch).values():
            summary["files"] += files
        summary_added(summary, batch)
    return summary


# DuckDB's buffer pool for a load (it spills beyond), so a load stays bounded whatever the batch.
LOAD_MEMORY_MB = 384


def bounded(con, home: Path) -> None:
    """Cap DuckDB's memory for a load at LOAD_MEMORY_MB, spilling beyond it to <data root>/tmp/duckdb-spill."""
    from ..warehouse import loads

    loads.bound_memory(con, LOAD_MEMORY_MB, Path(home) / loads.SPILL_FOLDER)


def warehouse_loaded(settings, files: list[str], run_id: int, checks=None) -> dict:
    """Open the warehouse (bounded memory), merge these lake files, close; returns the load counts."""
    from ..warehouse import connection

    con = connection.open_writer(settings.warehouse_path, settings.writer_wait)
    try:
        bounded(con, settings.home)
        return lake_files_loaded(con, files_by_table(files), run_id, checks)
    finally:
        con.close()
