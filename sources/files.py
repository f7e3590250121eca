"""Saved files given to `ingest files`: which paths are looked at, and landing one in the raw archive.

Which kind a file is (and so whether it is taken) is decided by the raw-kind registry
(pipeline/registry.py), by content; this module only walks folders and lands bytes.
"""

from __future__ import annotations

import datetime as dt
import re
import stat
from pathlib import Path

from .arxiv import land_large_file
from .kinds import KIND_ARXIV_SNAPSHOT, KIND_UNREADABLE
from .raw_archive import Landing, RawRecord, landed_together, utc_now

FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
# Larger files are landed by hard link or streaming copy, never read whole into memory.
LARGE_FILE_BYTES = 64 << 20
# Saved files landed together, durable at one point (bounded: at most this many, or this many bytes).
LAND_BATCH_FILES = 256
LAND_BATCH_BYTES = 128 << 20


def expanded_paths(paths: list[str]) -> list[tuple[Path, bool]]:
    """(path, named): files named, and every file inside folders named, in a stable order.

    `named` is False for files found inside a folder: those that are not a known kind are
    skipped (and reported); a file named on its own is always accounted for.
    """
    found: list[tuple[Path, bool]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += [(p, False) for p in sorted(path.rglob("*")) if not p.is_dir()]
        else:
            found.append((path, True))
    return found


def _saved_at(path: Path) -> str | None:
    """When a file was saved (its modification time, UTC, ISO), or None if it cannot be read."""
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat()
    except OSError:
        return None


def is_regular_file(path: Path) -> bool:
    """True for a regular file (a FIFO or a device would block or never end)."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


_SPECIAL_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def not_a_regular_file(path: Path) -> str | None:
    """Why `path` (symlinks followed) is refused without being opened, or None for a regular file
    (or one that cannot be examined: reading it then says why)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    what = next((name for test, name in _SPECIAL_KINDS if test(mode)), "not a regular file")
    return f"not a regular file: {path.name} is {what}; only regular files are ingested"


def file_landed(raw_dir: Path, path: Path, kind: str, list_date: str | None, reason: str | None = None) -> RawRecord:
    """Land one saved file (content-addressed) with what is needed to parse it: its kind and list date.

    `kind` comes from the registry; KIND_UNREADABLE with `reason` records a file that cannot be
    read or recognised, so it is quarantined with that reason rather than dropped.
    """
    return files_landed(raw_dir, [(path, kind, list_date, reason)])[0]


def files_landed(raw_dir: Path, files: list[tuple[Path, str, str | None, str | None]]) -> list[RawRecord]:
    """Land saved files, each (path, kind, list date, reason) as file_landed does; one record each, in order.

    Small files are read and landed together, durable at one point per LAND_BATCH_FILES files
    or LAND_BATCH_BYTES bytes (raw_archive.landed_together); large ones one by one, never read whole.
    """
    records: list[RawRecord | None] = []
    pending: list[tuple[int, Landing]] = []
    pending_bytes = 0

    def flush() -> None:
        nonlocal pending_bytes
        for (at, _), record in zip(pending, landed_together(raw_dir, [landing for _, landing in pending])):
            records[at] = record
        pending.clear()
        pending_bytes = 0

    for path, kind, list_date, reason in files:
        landing = _file_landing(raw_dir, Path(path), kind, list_date, reason)
        if isinstance(landing, RawRecord):
            records.append(landing)
            continue
        records.append(None)
        pending.append((len(records) - 1, landing))
        pending_bytes += len(landing.body)
        if len(pending) >= LAND_BATCH_FILES or pending_bytes >= LAND_BATCH_BYTES:
            flush()
    if pending:
        flush()
    return records


def _file_landing(raw_dir: Path, path: Path, kind: str, list_date: str | None, reason: str | None) -> Landing | RawRecord:
    """What to land for one saved file, or its record when it is landed at once (large files)."""
    if kind == KIND_ARXIV_SNAPSHOT:
        # Several GB, listed on each paper's v1 date: no list date, never read whole.
        now = utc_now().isoformat()
        return land_large_file(raw_dir, "arxiv_snapshot", path, {
            "kind": kind, "original_path": str(path.resolve()), "landed_at": now, "fetched_at": now})
    named_date = FILE_DATE.fullmatch(path.stem)
    file_date = list_date or (named_date.group(1) if named_date else None)
    meta = {"original_path": str(path.resolve()), "list_date": file_date, "landed_at": utc_now().isoformat()}
    # A saved file was fetched by the browser that saved it: its modification time dates the
    # listing (and its upvote sightings) better than the moment we happened to ingest it.
    meta["fetched_at"] = _saved_at(path) or meta["landed_at"]
    folder = f"files/{file_date or 'undated'}"
    if kind != KIND_UNREADABLE and is_regular_file(path) and path.stat().st_size > LARGE_FILE_BYTES:
        return land_large_file(raw_dir, folder, path, {**meta, "kind": kind})
    body = b""
    if kind != KIND_UNREADABLE:
        try:
            body = path.read_bytes()
        except OSError as error:
            kind, reason = KIND_UNREADABLE, f"cannot read file: {error.strerror or error}"
    if kind == KIND_UNREADABLE:
        meta["reason"] = reason or "unreadable"
    meta["kind"] = kind
    return Landing(folder, path.stem[:80] or "file", path.suffix[:10], body, meta)
