"""Saved files are landed in batches made durable at one point: all written, then synced at once."""

import json
import os
from pathlib import Path

import pytest
from papertrends.sources import raw_archive
from papertrends.sources.files import files_landed
from papertrends.sources.kinds import KIND_HF_DAILY_FILE


def saved_files(folder: Path, count: int) -> list[tuple[Path, str, None, None]]:
    folder.mkdir(parents=True)
    files = []
    for day in range(1, count + 1):
        path = folder / f"2025-01-{day:02d}.json"
        path.write_text(json.dumps([{"paper": {"id": f"2501.{day:05d}", "title": f"Paper {day}"}}]))
        files.append((path, KIND_HF_DAILY_FILE, None, None))
    return files


def landed_files(raw: Path) -> list[str]:
    return sorted(p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file()) if raw.is_dir() else []


@pytest.fixture
def watched(monkeypatch, tmp_path):
    """The real os.fsync and syncfs, watched: what was synced, and what raw/ held at the first sync."""
    raw = tmp_path / "data" / "raw"
    seen = {"fsync": [], "syncfs": 0, "at_first_sync": None}
    real_fsync, real_syncfs = os.fsync, raw_archive._SYNCFS

    def first():
        if seen["at_first_sync"] is None:
            seen["at_first_sync"] = landed_files(raw)

    def watched_fsync(fd):
        first()
        seen["fsync"].append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def watched_syncfs(fd):
        first()
        seen["syncfs"] += 1
        return real_syncfs(fd)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    if real_syncfs is not None:
        monkeypatch.setattr(raw_archive, "_SYNCFS", watched_syncfs)
    return raw, seen


def test_a_batch_of_saved_files_is_written_whole_then_synced_at_one_point(watched, tmp_path):
    raw, seen = watched
    if raw_archive._SYNCFS is None:
        pytest.skip("this system's libc has no syncfs (the fsync fallback is tested below)")
    files = saved_files(tmp_path / "saved", 12)
    records = files_landed(raw, files)

    assert [r.meta["original_path"] for r in records] == [str(p.resolve()) for p, *_ in files]
    assert all(r.path.read_bytes() == p.read_bytes() for r, (p, *_) in zip(records, files))
    # Every body and sidecar was written (to its temporary) before anything was synced.
    assert len(seen["at_first_sync"]) == 24 and all(Path(n).name.endswith(".tmp") for n in seen["at_first_sync"])
    # One sync of the contents, one of the names: not one fsync per body and per sidecar.
    assert seen["syncfs"] == 2 and seen["fsync"] == []
    assert len(landed_files(raw)) == 24 and not list(raw.rglob("*.tmp"))

    # Landing the same files again writes and syncs nothing: the first landing's metadata stands.
    seen["syncfs"] = 0
    again = files_landed(raw, files)
    assert [r.meta for r in again] == [r.meta for r in records] and seen["syncfs"] == 0 and seen["fsync"] == []


def test_without_syncfs_each_file_then_each_folder_is_synced_once(watched, tmp_path, monkeypatch):
    raw, seen = watched
    monkeypatch.setattr(raw_archive, "_SYNCFS", None)
    files = saved_files(tmp_path / "saved", 3)
    records = files_landed(raw, files)

    assert len(seen["at_first_sync"]) == 6 and all(Path(n).name.endswith(".tmp") for n in seen["at_first_sync"])
    synced_files = [p for p in seen["fsync"] if not p.is_dir()]
    synced_folders = [p for p in seen["fsync"] if p.is_dir()]
    assert len(synced_files) == 6 and all(p.name.endswith(".tmp") for p in synced_files)
    # Every folder that gained an entry, once each, deepest first, up to raw/'s parent.
    folders = {r.path.parent for r in records} | {raw / "files", raw, raw.parent}
    assert set(synced_folders) == folders and len(synced_folders) == len(folders)
    assert seen["fsync"][:6] == synced_files  # contents before names
    assert len(landed_files(raw)) == 6 and not list(raw.rglob("*.tmp"))


def test_the_same_bytes_twice_in_one_batch_land_once(tmp_path):
    raw = tmp_path / "data" / "raw"
    files = saved_files(tmp_path / "saved", 1)
    twin = tmp_path / "other" / files[0][0].name
    twin.parent.mkdir()
    twin.write_bytes(files[0][0].read_bytes())
    records = files_landed(raw, [files[0], (twin, KIND_HF_DAILY_FILE, None, None)])
    assert records[0] == records[1] and len(landed_files(raw)) == 2


def test_a_failed_batch_leaves_no_temporary_and_names_the_file(tmp_path):
    raw = tmp_path / "data" / "raw"
    files = saved_files(tmp_path / "saved", 2)
    blocked = raw / "files" / "2025-01-02"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where a folder must go")
    with pytest.raises(OSError):
        files_landed(raw, files)
    assert not list(raw.rglob("*.tmp")) and not list(raw.rglob("*.meta.json"))
