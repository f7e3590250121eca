"""Faults of the machine said in one line: a full disk, whatever layer hit it first."""

from __future__ import annotations

import errno
import re

_NO_SPACE = "No space left on device"
_QUOTED_PATH = re.compile(r'"(/[^"]+)"|\'(/[^\']+)\'')


def _chain(error: BaseException):
    """The error and every error it was raised from or while handling (a failed rollback hides
    the disk-full error that caused it in __context__)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def disk_full_message(error: BaseException) -> str | None:
    """'disk full writing <path>; nothing was committed; free space and rerun', or None when no
    error in the chain is ENOSPC (an OSError, or DuckDB's or Polars' wording of it)."""
    full = [link for link in _chain(error)
            if (isinstance(link, OSError) and link.errno == errno.ENOSPC) or _NO_SPACE in str(link) or "os error 28" in str(link)]
    if not full:
        return None
    # The innermost one is the first write that failed (later ones, such as recording the failed
    # run, happen while handling it); name the first path found from there outwards.
    paths = [getattr(link, "filename", None) or _path_in(str(link)) for link in reversed(full)]
    return _line(next((p for p in paths if p), None))


def _path_in(text: str) -> str | None:
    match = _QUOTED_PATH.search(text)
    return (match.group(1) or match.group(2)) if match else None


def _line(path) -> str:
    return f"disk full writing {path or 'the data root'}; nothing was committed; free space and rerun"
