"""One writer at a time: an advisory lock file under the data root that names its holder.

DuckDB lets one process open the warehouse read-write. Rather than let a second ingest fail at
its first open (or interleave with the first one's runs), every writer (ingest, rebuild) takes
`<home>/writer.lock` with flock for its whole run. A second writer waits a bounded time, then
fails with a message naming the holder: pid, command line and since when. The kernel drops the
lock when its process dies, however it dies, so a killed ingest never leaves a stale lock; the
file's text only describes the latest holder.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import WarehouseError

LOCK_FILE = "writer.lock"
_POLL_SECONDS = 0.1

# Locks this process holds, by lock path: flock is per open file, so a nested acquire in the same
# process must reuse the held one instead of waiting on itself.
_held: dict[Path, "WriterLock"] = {}


class WriterBusy(WarehouseError):
    """Another process kept the writer lock for longer than we were willing to wait."""


@dataclass
class WriterLock:
    """A held writer lock; release() it (or use writer_lock() as a context manager)."""

    path: Path
    handle: object
    holder: dict
    depth: int = 1

    def release(self) -> None:
        """Release one hold; the lock goes when the outermost hold is released."""
        self.depth -= 1
        if self.depth > 0:
            return
        _held.pop(self.path, None)
        try:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
        finally:
            self.handle.close()

    def __enter__(self) -> "WriterLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def lock_path(home: Path) -> Path:
    return Path(home) / LOCK_FILE


def current_holder(home: Path) -> dict | None:
    """What the lock file says about its latest holder (None when it says nothing readable)."""
    try:
        text = lock_path(home).read_text("utf-8")
        return json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None


def held_by(home: Path) -> dict | None:
    """The holder of the writer lock if some process holds it now, else None (reads, never writes)."""
    try:
        handle = lock_path(home).open("r", encoding="utf-8")
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return current_holder(home) or {}
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return None


def describe_holder(holder: dict | None) -> str:
    if not holder:
        return "another process (it has not written its name yet)"
    return f"pid {holder.get('pid')} (`{holder.get('command')}`, {holder.get('purpose')}) since {holder.get('since')}"


def acquire_writer(home: Path, wait_seconds: float, purpose: str) -> WriterLock:
    """Take the writer lock, waiting up to `wait_seconds` for its holder; raise WriterBusy after."""
    path = lock_path(home)
    if path in _held:
        _held[path].depth += 1
        return _held[path]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    deadline = time.monotonic() + max(wait_seconds, 0.0)
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise WriterBusy(
                    f"the warehouse under {home} is being written by {describe_holder(current_holder(home))}; "
                    f"waited {wait_seconds:g}s for it (setting writer_wait); try again when it has finished"
                ) from None
            time.sleep(_POLL_SECONDS)
    holder = {
        "pid": os.getpid(),
        "command": shlex.join(sys.argv)[:300],
        "purpose": purpose,
        "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(holder))
    handle.flush()
    lock = WriterLock(path, handle, holder)
    _held[path] = lock
    return lock


def writer_lock(home: Path, wait_seconds: float, purpose: str) -> WriterLock:
    """The writer lock as a context manager: `with writer_lock(home, 60, "ingest"): ...`."""
    return acquire_writer(home, wait_seconds, purpose)
