"""Saved files given to `ingest files`: which paths are taken, and landing them in the raw archive."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from .kinds import KIND_HF_DAILY_FILE, KIND_HF_HTML, KIND_HF_PAPERS_TEXT, KIND_UNREADABLE
from .raw_archive import land, utc_now

FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
INGESTIBLE_SUFFIXES = {
    ".json": KIND_HF_DAILY_FILE,
    ".txt": KIND_HF_PAPERS_TEXT,
    ".html": KIND_HF_HTML,  # papers pages saved from a browser
    ".htm": KIND_HF_HTML,
}


def expanded_paths(paths: list[str]) -> list[Path]:
    """Files named, and the ingestible files inside folders named, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INGESTIBLE_SUFFIXES)
        else:
            found.append(path)
    return found


def _saved_at(path: Path) -> str | None:
    """When a file was saved (its modification time, UTC, ISO), or None if it cannot be read."""
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat()
    except OSError:
        return None


def files_landed(raw_dir: Path, paths: list[str], list_date: str | None) -> list[str]:
    """Copy each file into the raw archive (content-addressed), with what is needed to parse it."""
    landed = []
    for path in expanded_paths(paths):
        kind = INGESTIBLE_SUFFIXES.get(path.suffix.lower())
        named_date = FILE_DATE.fullmatch(path.stem)
        file_date = list_date or (named_date.group(1) if named_date else None)
        meta = {"original_path": str(path.resolve()), "list_date": file_date, "landed_at": utc_now().isoformat()}
        try:
            body = path.read_bytes()
        except OSError as error:
            body, kind = b"", KIND_UNREADABLE
            meta["reason"] = f"cannot read file: {error.strerror or error}"
        if kind is None:
            kind = KIND_UNREADABLE
            meta["reason"] = f"unsupported file type {path.suffix or '(none)'}: expected .json, .txt or .html"
        meta["kind"] = kind
        # A saved file was fetched by the browser that saved it: its modification time dates the
        # listing (and its upvote sightings) better than the moment we happened to ingest it.
        meta["fetched_at"] = _saved_at(path) or meta["landed_at"]
        folder = f"files/{file_date or 'undated'}"
        record = land(raw_dir, folder, path.stem[:80] or "file", path.suffix[:10], body, meta)
        landed.append(str(record.path))
    return landed
