"""Normalization batches on Dask (prefect-dask's DaskTaskRunner) with real clusters: a LocalCluster
the test starts and names by address, and the one `dask_workers` asks for. Same files, same counts,
same warehouse as the batches run one by one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from prefect import flow
from papertrends.core.settings import load_settings
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from papertrends.flows.ingest import land_files, load_warehouse, normalize_to_lake
from papertrends.flows.parallel import dask_runner
from papertrends.flows.runs import recorded_run
from testsupport import warehouse_rows as rows
from testsupport import write_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

TABLES = ("papers", "listings", "paper_sources", "quarantine", "upvote_history")
BATCH = 4  # 14 files: four batches


@flow(name="test-normalize-on-dask")
def ingest_in_batches(home: str, folder: str) -> dict:
    """The steps of an ingest (land, normalize in batches, load) with small batches."""
    settings = load_settings(home)
    with recorded_run(settings, "test-normalize-on-dask", {}) as report:
        landed = sorted(land_files(settings, [folder], None))
        normalized = normalize_to_lake(settings, landed, batch_inputs=BATCH)
        loaded = load_warehouse(settings, normalized["files"], report.run_id)
    return {"normalized": normalized, "loaded": loaded}


def table_rows(home: Path, table: str) -> list[tuple]:
    """A table's rows without the columns that name a run or a moment (they differ between runs by nature)."""
    columns = [name for name, kind in rows(home, f"select column_name, data_type from information_schema.columns "
                                                 f"where table_name = '{table}' order by ordinal_position")
               if "TIMESTAMP" not in kind and "run_id" not in name]
    return rows(home, f"select {', '.join(columns)} from {table} order by all")


def relative(result: dict, home: Path) -> dict:
    normalized = dict(result["normalized"])
    normalized["files"] = [str(Path(f).relative_to(home)) for f in normalized["files"]]
    return {"normalized": normalized, "loaded": result["loaded"]}


def test_batches_on_dask_give_the_same_warehouse(tmp_path):
    from distributed import Client, LocalCluster

    folder = tmp_path / "files"
    write_daily_files(generate_daily_lists(dt.date(2025, 2, 1), dt.date(2025, 2, 14), seed=9), folder)
    homes = {name: tmp_path / name for name in ("one-by-one", "address", "local")}
    for home in homes.values():
        home.mkdir()
    write_settings(homes["local"], dask_workers=2)

    results = {"one-by-one": ingest_in_batches(str(homes["one-by-one"]), str(folder))}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        write_settings(homes["address"], dask_address=cluster.scheduler_address)
        assert type(dask_runner(load_settings(homes["address"]))).__name__ == "DaskTaskRunner"
        results["address"] = ingest_in_batches(str(homes["address"]), str(folder))
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert sum(executed.values()) >= 4  # the four batches ran on the cluster's workers
    results["local"] = ingest_in_batches(str(homes["local"]), str(folder))

    expected = relative(results["one-by-one"], homes["one-by-one"])
    assert len(expected["normalized"]["files"]) >= 4 and expected["normalized"]["items_in"] > 0
    for name in ("address", "local"):
        assert relative(results[name], homes[name]) == expected, name
        for table in TABLES:
            assert table_rows(homes[name], table) == table_rows(homes["one-by-one"], table), (name, table)
        lake = sorted(p.relative_to(homes[name]) for p in (homes[name] / "lake").rglob("*.parquet"))
        assert lake == sorted(p.relative_to(homes["one-by-one"]) for p in (homes["one-by-one"] / "lake").rglob("*.parquet"))


def test_only_a_dask_setting_brings_dask(tmp_path):
    """No Dask setting: batches stay in the process; dask_workers: a LocalCluster on 127.0.0.1 only."""
    assert dask_runner(load_settings(tmp_path)) is None
    runner = dask_runner(load_settings(tmp_path, dask_workers=3))
    assert runner.cluster_kwargs["n_workers"] == 3 and runner.cluster_kwargs["host"] == "127.0.0.1"
    with pytest.raises(ValueError, match="dask_workers"):
        load_settings(tmp_path, dask_workers=-1)
