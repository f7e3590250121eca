"""arXiv over HTTP and on disk: search queries, OAI-PMH harvest keys, and
landing the multi-GB metadata snapshot without reading it into memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

from .raw_archive import SIDECAR_SUFFIX, RawRecord, utc_now, write_atomically

MAX_PAGES = 100_000  # the full OAI list is ~3000 pages of 1000; more is a server loop


ATOM_ACCEPT = "application/atom+xml, application/xml;q=0.9"


HASH_CHUNK = 8 << 20


def search_query(query: str, since: dt.date | None, until: dt.date | None) -> str:
    """The API search_query: `query`, restricted to a submission window when one is given."""
    if since is None and until is None:
        return query
    low = (since or dt.date(1991, 1, 1)).strftime("%Y%m%d") + "0000"
    high = (until or dt.date(9999, 12, 31)).strftime("%Y%m%d") + "2359"
    return f"({query}) AND submittedDate:[{low} TO {high}]"


def harvest_key(endpoint: str, metadata_prefix: str, set_spec: str | None, since: dt.date | None, until: dt.date | None) -> str:
    """Names one harvest: the same endpoint and arguments resume the same saved state."""
    basis = "|".join(str(x or "") for x in (endpoint, metadata_prefix, set_spec, since, until))
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def land_large_file(raw_dir: Path, folder: str, source: Path, meta: dict) -> RawRecord:
    """Keep a (possibly multi-GB) file in the raw archive without reading it into memory.

    Content-addressed like every landing. A hard link when the raw archive is on the same
    filesystem (no copy of several GB; the bytes are re-hashed on every read, so an original
    edited in place is detected), else a streaming copy.
    """
    digest = file_sha256(source)
    path = raw_dir / folder / f"{source.stem[:80] or 'file'}-{digest[:16]}{source.suffix[:10]}"
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.exists():
        return RawRecord(path, json.loads(sidecar.read_text("utf-8")))
    path.parent.mkdir(parents=True, exist_ok=True)
    landed_by = "existing"
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            os.link(source, temporary)
            landed_by = "hardlink"
        except OSError:  # another filesystem, or linking someone else's file is not allowed
            shutil.copyfile(source, temporary)
            landed_by = "copy"
        os.replace(temporary, path)
    full_meta = {**meta, "sha256": digest, "bytes": path.stat().st_size, "path": path.relative_to(raw_dir).as_posix(),
                 "landed_by": landed_by}
    full_meta.setdefault("fetched_at", utc_now().isoformat())
    write_atomically(sidecar, json.dumps(full_meta, indent=2, sort_keys=True).encode("utf-8"))
    return RawRecord(path, full_meta)
