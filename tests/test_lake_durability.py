"""A batch's lake files are made durable at one point: all written, then synced once each with their folders."""

import datetime as dt
import os
from pathlib import Path

import polars as pl
from papertrends.pipeline import registry
from papertrends.transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA

UTC = dt.timezone.utc


def listing(paper_id: str, list_date: dt.date) -> dict:
    row = {name: None for name in LISTING_SCHEMA}
    row.update(source="hf_daily", list_date=list_date, paper_id=paper_id, position=0, title=f"Paper {paper_id}",
               fetched_at=dt.datetime(2025, 3, 9, tzinfo=UTC), origin="o", raw_sha256="s")
    return row


def a_batch() -> registry.Batch:
    """Listings over three months and a quarantined item: four lake files in four new folders."""
    rows = [listing("2501.00001", dt.date(2025, 1, 3)), listing("2502.00001", dt.date(2025, 2, 3)),
            listing("2503.00001", dt.date(2025, 3, 3))]
    quarantine = [{"origin": "o", "raw_sha256": "s", "position": 1, "reason": "bad", "raw_text": "x"}]
    frames = {"listings": pl.DataFrame(rows, schema=LISTING_SCHEMA), "quarantine": pl.DataFrame(quarantine, schema=QUARANTINE_SCHEMA)}
    return registry.Batch("k" * 24, frames, inputs=1, items_in=4)


def test_a_batch_is_written_whole_then_synced_once(tmp_path, monkeypatch):
    lake = tmp_path / "data" / "lake"
    synced: list[Path] = []
    present_at_first_sync: list[str] = []
    real_fsync = os.fsync

    def watched_fsync(fd):  # the real fsync, watched: which file, and what was on disk by then
        if not synced:
            present_at_first_sync.extend(sorted(p.name for p in lake.rglob("*") if p.is_file()))
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    written = registry.batch_written(lake, a_batch())

    files = [Path(f) for table in written.values() for f in table]
    assert len(files) == 4 and all(f.is_file() for f in files)
    # Every file was written (to its temporary) before anything was synced: one durable point.
    assert len(present_at_first_sync) == 4 and all(name.endswith(".tmp") for name in present_at_first_sync)
    # Each file's contents synced once, then each folder that gained an entry once (deepest first).
    folders = {f.parent for f in files} | {lake / "listings", lake / "quarantine", lake, lake.parent}
    assert len(synced) == len(files) + len(folders) and len(set(synced)) == len(synced)
    assert {p for p in synced if p.is_dir()} == folders
    assert not [p for p in lake.rglob("*.tmp")]

    # The same batch again writes and syncs nothing: its files are there, complete.
    synced.clear()
    assert registry.batch_written(lake, a_batch()) == written
    assert synced == []
