"""The raw archive: every response and every ingested file, kept byte for byte.

A landing is a body file plus a JSON sidecar describing where it came from. Body names carry
the first 16 hex digits of the body's SHA-256, so the same bytes land once and different bytes
never overwrite each other; the sidecar is written once, when its body first lands. Files are
written to a temporary name and renamed, so a reader never sees half a file. Many landings at
once (landed_together, for `ingest files`) are made durable at one point for all of them.

Layout under <home>/raw:
    hf_daily/<date>/p<page>-l<limit>-<sha16>.json        API responses, by request
    files/<list date or 'undated'>/<stem>-<sha16><suffix> files given to `ingest files`
Each body has a sidecar named <body>.meta.json.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

SIDECAR_SUFFIX = ".meta.json"


@dataclass(frozen=True)
class RawRecord:
    """One landed body and its sidecar metadata."""

    path: Path
    meta: dict

    @property
    def sha256(self) -> str:
        return self.meta["sha256"]

    @property
    def fetched_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.meta["fetched_at"])

    def read(self) -> bytes:
        return self.path.read_bytes()

    def head(self, limit: int) -> bytes:
        """The first `limit` bytes of the body (a bounded excerpt, whatever its size)."""
        with self.path.open("rb") as handle:
            return handle.read(limit)

    @classmethod
    def at(cls, body: Path) -> "RawRecord":
        """The landing whose body is at `body`, with its sidecar's metadata."""
        body = Path(body)
        return cls(body, json.loads(body.with_name(body.name + SIDECAR_SUFFIX).read_text("utf-8")))


def utc_now() -> dt.datetime:
    """The current time in UTC, to the microsecond."""
    return dt.datetime.now(dt.timezone.utc)


def write_atomically(path: Path, data: bytes) -> None:
    """Write bytes to a temporary sibling, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        temporary.unlink(missing_ok=True)  # a partial file would only hold space on a full disk
        if error.filename is None:  # a failed write() names no file: say which one
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    os.replace(temporary, path)


def _file_sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def land(raw_dir: Path, folder: str, stem: str, suffix: str, body: bytes, meta: dict, spool: Path | None = None) -> RawRecord:
    """Keep `body` under raw_dir/folder, content-addressed; never overwrite what is there.

    `spool` (a file on the same filesystem, holding the whole body) replaces `body` for answers
    too big to hold in memory: it is hashed in blocks and renamed into place.
    """
    if spool is not None:
        digest, size = _file_sha256(spool)
    else:
        digest, size = hashlib.sha256(body).hexdigest(), len(body)
    path = raw_dir / folder / f"{stem}-{digest[:16]}{suffix}"
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.exists():
        # Same request (or file context) and same bytes: already landed; first landing's metadata stands.
        if spool is not None:
            spool.unlink(missing_ok=True)
        return RawRecord(path, json.loads(sidecar.read_text("utf-8")))
    if spool is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(spool, path)
    elif not path.exists():
        write_atomically(path, body)
    full_meta = {**meta, "sha256": digest, "bytes": size, "path": path.relative_to(raw_dir).as_posix()}
    full_meta.setdefault("fetched_at", utc_now().isoformat())
    write_atomically(sidecar, json.dumps(full_meta, indent=2, sort_keys=True).encode("utf-8"))
    return RawRecord(path, full_meta)


def _libc_syncfs():
    """syncfs(2) (Linux): flush one filesystem in a single call; None where libc has none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
    return function


# Syncing a filesystem once costs about what syncing one file does (one journal commit), so a
# batch of landings is made durable by one syncfs where the system has it: thousands of small
# saved files otherwise pay one commit each (measured: 5,848 fsyncs were half of landing 2,924 files).
_SYNCFS = _libc_syncfs()


def fsync_path(path: Path, directory: bool = False) -> None:
    """fsync one file (or, with `directory`, one folder's entries)."""
    handle = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _synced(folder: Path, files: list[Path], folders: set[Path]) -> None:
    """Make `files` (contents) or `folders` (their entries) durable: one syncfs of `folder`'s
    filesystem where there is one, else an fsync of each."""
    if _SYNCFS is not None:
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _SYNCFS(handle) != 0:
                number = ctypes.get_errno()
                raise OSError(number, os.strerror(number), str(folder))
        finally:
            os.close(handle)
        return
    for path in files:
        fsync_path(path)
    for path in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        fsync_path(path, directory=True)


@dataclass(frozen=True)
class Landing:
    """One body to land with landed_together: where (folder, stem, suffix), its bytes and its metadata."""

    folder: str
    stem: str
    suffix: str
    body: bytes
    meta: dict


def landed_together(raw_dir: Path, landings: list[Landing]) -> list[RawRecord]:
    """Land many bodies as land() does, durable at one point for all of them.

    Every new body and sidecar is written to a temporary first; then all are synced at once, the
    bodies renamed into place, then their sidecars (a sidecar is never there before its body),
    and the new names synced at once, before this returns and anything can refer to them. What
    is already landed (its sidecar is there) is kept as it is; a crash leaves only whole files
    and temporaries the next writer sweeps. Returns one record per landing, in order.
    """
    records: list[RawRecord] = []
    planned: dict[Path, RawRecord] = {}
    bodies: list[tuple[Path, Path]] = []
    sidecars: list[tuple[Path, Path]] = []
    folders: set[Path] = set()
    try:
        for landing in landings:
            digest = hashlib.sha256(landing.body).hexdigest()
            path = raw_dir / landing.folder / f"{landing.stem}-{digest[:16]}{landing.suffix}"
            if path in planned:  # the same bytes twice in one batch: landed once, first metadata stands
                records.append(planned[path])
                continue
            sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
            if sidecar.exists():
                planned[path] = RawRecord(path, json.loads(sidecar.read_text("utf-8")))
                records.append(planned[path])
                continue
            for folder in (path.parent, *path.parent.parents):
                if folder == raw_dir.parent or folder.exists():
                    break
                folders.add(folder.parent)
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
            if not path.exists():
                bodies.append((_written_temporary(path, landing.body), path))
            full_meta = {**landing.meta, "sha256": digest, "bytes": len(landing.body),
                         "path": path.relative_to(raw_dir).as_posix()}
            full_meta.setdefault("fetched_at", utc_now().isoformat())
            sidecars.append((_written_temporary(sidecar, json.dumps(full_meta, indent=2, sort_keys=True).encode("utf-8")), sidecar))
            planned[path] = RawRecord(path, full_meta)
            records.append(planned[path])
        if not sidecars:
            return records
        # The batch's one durable point: contents first, then the names that point at them.
        _synced(raw_dir, [temporary for temporary, _ in bodies + sidecars], set())
        for temporary, path in bodies + sidecars:
            os.replace(temporary, path)
    except BaseException:
        for temporary, _ in bodies + sidecars:
            temporary.unlink(missing_ok=True)
        raise
    _synced(raw_dir, [], folders)
    return records


def _written_temporary(path: Path, data: bytes) -> Path:
    """`data` written (not yet synced) to the temporary sibling of `path` that write_atomically uses."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
    except OSError as error:
        temporary.unlink(missing_ok=True)  # a partial file would only hold space on a full disk
        if error.filename is None or error.filename == str(temporary):  # name the file meant, not the temporary
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    return temporary


def iter_raw(raw_dir: Path):
    """Every landed body with its sidecar, in a stable order (for rebuilds from raw)."""
    for sidecar in sorted(raw_dir.rglob(f"*{SIDECAR_SUFFIX}")):
        body = sidecar.with_name(sidecar.name.removesuffix(SIDECAR_SUFFIX))
        yield RawRecord(body, json.loads(sidecar.read_text("utf-8")))
