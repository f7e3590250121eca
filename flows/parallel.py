"""Normalization batches on a Dask cluster through prefect-dask's DaskTaskRunner (or one by one).

    settings.dask_address = "tcp://scheduler:8786"  # an existing cluster
    settings.dask_workers = 4                       # no address: a LocalCluster of 4 processes

Without either, batches run one after another in the flow's process, as always: memory stays
bounded by one batch. With Dask, each batch is a task run on a Dask worker (the Prefect UI shows
them as usual); results come back in batch order, so the load that follows sees exactly the
files and counts of the sequential path. Dask workers write lake files only (never the
warehouse), so they must see the data root's raw/ and lake/ folders (a shared folder).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..core.settings import Settings


def dask_runner(settings: Settings):
    """The DaskTaskRunner the settings ask for, or None (batches run in this process)."""
    if not settings.dask_address and settings.dask_workers < 1:
        return None
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ValueError("the settings dask_address / dask_workers need Dask: pip install 'papertrends[dask]'") from None

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    # A cluster of this machine's own: processes (Polars holds the GIL little, but a process per
    # worker keeps one batch's memory per worker), listening on 127.0.0.1 only, no dashboard.
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": settings.dask_workers, "threads_per_worker": 1, "processes": True,
                        "host": "127.0.0.1", "dashboard_address": None},
    )


def batch_results(task, settings: Settings, batches: list[list[str]]) -> Iterator[dict]:
    """`task(settings, batch)` for each batch, in batch order: on Dask when the settings ask for it."""
    runner = dask_runner(settings) if len(batches) > 1 else None
    if runner is None:
        for batch in batches:
            yield task(settings, batch)
        return
    with runner:
        futures = [runner.submit(task, parameters={"settings": settings, "landed": batch}) for batch in batches]
        for future in futures:
            yield future.result()
