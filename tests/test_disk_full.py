"""A full disk (issue 15.19): one line naming the file, nothing committed, and a later run on a
bigger disk recovers exactly. Uses a real size-limited tmpfs (root only; skipped otherwise)."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from testsupport import warehouse_rows as rows

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_disk(tmp_path):
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mountpoint)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def papertrends(home: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "papertrends.cli.main", "--home", str(home), *argv],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_a_full_disk_is_one_line_and_a_bigger_disk_recovers_exactly(small_disk, tmp_path):
    lists = generate_daily_lists(dt.date(2024, 1, 1), dt.date(2024, 6, 30), seed=3)
    write_daily_files(lists, tmp_path / "files")
    home = small_disk / "data"
    full = papertrends(home, "ingest", "files", str(tmp_path / "files"))
    assert full.returncode == 1
    last = full.stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"papertrends: error: disk full writing {re.escape(str(home))}/\S+; nothing was committed; "
                        r"free space and rerun", last), last
    assert "unexpected" not in full.stderr and "cannot rollback" not in last
    subprocess.run(["mount", "-o", "remount,size=300m", str(small_disk)], check=True)
    again = papertrends(home, "ingest", "files", str(tmp_path / "files"))
    assert again.returncode == 0, again.stderr
    listings = sum(len(items) for items in lists.values())
    papers = len({item["paper"]["id"] for items in lists.values() for item in items})
    assert rows(home, "select count(*) from listings") == [(listings,)]
    assert rows(home, "select count(*) from papers") == [(papers,)]
    assert rows(home, "select count(*) from quarantine") == [(0,)]
    assert rows(home, "select status from runs order by run_id")[-1] == ("completed",)
