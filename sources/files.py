"""Saved files given to `ingest files`: which paths are taken, and landing them in the raw archive."""

from __future__ import annotations

import re
import stat
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


def files_landed(raw_dir: Path, paths: list[str], list_date: str | None) -> list[str]:
    """Copy each file into the raw archive (content-addressed), with what is needed to parse it."""
    landed = []
    for path in expanded_paths(paths):
        kind = INGESTIBLE_SUFFIXES.get(path.suffix.lower())
        named_date = FILE_DATE.fullmatch(path.stem)
        file_date = list_date or (named_date.group(1) if named_date else None)
        meta = {"original_path": str(path.resolve()), "list_date": file_date, "landed_at": utc_now().isoformat()}
        special = not_a_regular_file(path)
        if special:  # never opened: a FIFO blocks forever, /dev/zero never ends
            body, kind = b"", KIND_UNREADABLE
            meta["reason"] = special
        else:
            try:
                body = path.read_bytes()
            except OSError as error:
                body, kind = b"", KIND_UNREADABLE
                meta["reason"] = f"cannot read file: {error.strerror or error}"
        if kind is None:
            kind = KIND_UNREADABLE
            meta["reason"] = f"unsupported file type {path.suffix or '(none)'}: expected .json, .txt or .html"
        meta["kind"] = kind
        meta["fetched_at"] = meta["landed_at"]
        folder = f"files/{file_date or 'undated'}"
        record = land(raw_dir, folder, path.stem[:80] or "file", path.suffix[:10], body, meta)
        landed.append(str(record.path))
    return landed
