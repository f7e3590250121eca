"""`papertrends backfill --submit`: a backfill's dates as flow runs on a Prefect work pool.

    submit_backfill(settings, since="2025-01-01", until="2025-01-31")

One deployment, `backfill-hf/backfill-hf-pool` (the one prefect.yaml declares too), runs
`backfill_hf` on the work pool `settings.work_pool` (created as a process pool when missing).
Each flow run covers `dates_per_run` consecutive dates. Any number of `prefect worker start
--pool papertrends` processes, on machines that see the data root (and, on DuckLake, the catalog
and the storage), pick them up. On the embedded warehouse file only one process writes at a
time: runs of every worker queue on the writer lock, each waiting up to `pool_writer_wait`
seconds for it instead of failing after `writer_wait`.

What a date came to is read from the backfill ledger, the same truth a local backfill records;
a flow run that ended without recording its dates (crashed, cancelled) names its own state.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.settings import Settings
from ..warehouse import backfill_ledger, backends, connection
from .backfill import SOURCE_HF, backfill_hf, dates_planned, requested_dates
from .schedule import POOL_SUFFIX

DEPLOYMENT_NAME = "backfill-hf" + POOL_SUFFIX
FLOW_NAME = "backfill-hf"
# The label a worker gives every flow run it picks up (prefect.workers.base); names who ran a date.
WORKER_LABEL = "prefect.worker.name"
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# A run that crashes (its process or worker died, or the worker could not start it) is submitted
# again this many times: backfill_hf is resumable, so a new run only does what the crashed one did not.
RESUBMITS = 2
# A hint is printed once when runs are still scheduled this long after submission with no worker.
NO_WORKER_HINT_SECONDS = 30.0
NO_SERVER = ("--submit needs a Prefect server that the workers reach: set PREFECT_API_URL (e.g. "
             "http://127.0.0.1:4200/api after `prefect server start`), or run `papertrends server start`")


@dataclass
class SubmittedRun:
    """One flow run of the deployment: the dates it covers and, once known, how it ended and where."""

    dates: list[str]
    flow_run_id: str
    name: str
    state: str = "SCHEDULED"
    message: str = ""
    worker: str = ""
    parameters: dict = field(default_factory=dict)
    resubmitted: int = 0  # times it crashed and was submitted again

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


@dataclass
class PoolBackfillReport:
    """What `backfill --submit` did: the runs it submitted, the dates skipped, and each date's outcome."""

    pool: str
    deployment: str
    first: str | None
    last: str | None
    runs: list[SubmittedRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)  # date -> (done | failed | submitted, reason)
    waited: bool = True

    @property
    def failed(self) -> dict[str, str]:
        return {d: reason for d, (outcome, reason) in sorted(self.outcomes.items()) if outcome == "failed"}

    def summary(self) -> str:
        """The closing lines: what was submitted where, then (after waiting) dates done and failed with reasons."""
        span = f"{self.first}..{self.last}" if self.first else "no dates"
        submitted = sum(len(r.dates) for r in self.runs)
        lines = [f"backfill hf_daily {span} on work pool {self.pool!r} (deployment {FLOW_NAME}/{self.deployment}): "
                 f"{submitted} date(s) in {len(self.runs)} flow run(s), {len(self.skipped)} skipped (loaded after they closed)"]
        if not self.waited:
            lines += [f"submitted {run.name} ({run.flow_run_id}): {run.dates[0]}..{run.dates[-1]}" for run in self.runs]
            lines.append("not waiting (--no-wait): workers (`prefect worker start --pool "
                         f"{self.pool}`) run them; their outcomes go to the backfill ledger and the Prefect UI")
            return "\n".join(lines)
        done = [d for d, (outcome, _) in self.outcomes.items() if outcome == "done"]
        workers = sorted({r.worker for r in self.runs if r.worker})
        lines.append(f"{len(done)} done, {len(self.failed)} failed; ran on {len(workers)} worker(s)"
                     + (f": {', '.join(workers)}" if workers else ""))
        lines += [f"failed {day}: {reason}" for day, reason in self.failed.items()]
        if self.failed:
            lines.append("retry only the failed dates with: papertrends backfill --retry-failed --submit")
        return "\n".join(lines)


def chunked(dates: list[str], size: int) -> list[list[str]]:
    """Consecutive calendar dates grouped into runs of at most `size` (a gap starts a new run)."""
    if size < 1:
        raise ValueError(f"dates per run must be at least 1 (got {size})")
    chunks: list[list[str]] = []
    for day in sorted(dates):
        last = chunks[-1][-1] if chunks else None
        follows = last is not None and dt.date.fromisoformat(day) - dt.date.fromisoformat(last) == dt.timedelta(days=1)
        if follows and len(chunks[-1]) < size:
            chunks[-1].append(day)
        else:
            chunks.append([day])
    return chunks


def api_url() -> str:
    """The Prefect API the runs go to; a ValueError when none is set (a temporary server dies with us)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise ValueError(NO_SERVER)
    return str(url)


def ensure_pool(client, name: str) -> bool:
    """Create the work pool as a process pool when it does not exist; True when it was created."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        client.read_work_pool(name)
        return False
    except ObjectNotFound:
        pass
    try:
        client.create_work_pool(WorkPoolCreate(
            name=name, type=ProcessWorker.type, base_job_template=ProcessWorker.get_default_base_job_template(),
            description="papertrends: backfill flow runs (papertrends backfill --submit)",
        ))
    except ObjectAlreadyExists:  # another submitter created it in between
        return False
    return True


def apply_deployment(pool: str):
    """Create or update the backfill deployment on `pool`; returns its id.

    The entrypoint is a module path: a worker imports the installed papertrends, wherever it runs.
    """
    from prefect.deployments.runner import EntrypointType

    deployment = backfill_hf.to_deployment(
        name=DEPLOYMENT_NAME, work_pool_name=pool, tags=["papertrends"],
        description="Resumable backfill of Hugging Face daily lists (papertrends backfill --submit)",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    return deployment.apply()


def ledger_state(settings: Settings) -> tuple[set[str], dict[str, str]]:
    """(dates done after they closed, failed dates with reasons) from the ledger; empty before any warehouse."""
    lake = backends.ducklake_of(settings)
    if lake is None and not settings.warehouse_path.exists():
        return set(), {}
    if lake is not None:
        # A reader cannot create a lake: a new one gets its tables here (as any writer would make
        # them), once, before the workers load it.
        backends.open_writer_ducklake(lake).close()
    con = connection.open_reader(settings.warehouse_path, settings.reader_wait)
    try:
        return backfill_ledger.done_dates(con, SOURCE_HF), backfill_ledger.failed_dates(con, SOURCE_HF)
    finally:
        con.close()


def date_outcomes(settings: Settings, dates: list[str]) -> dict[str, tuple[str, str]]:
    """Each date's last recorded outcome: (status, reason) from the backfill ledger."""
    if not dates or (backends.ducklake_of(settings) is None and not settings.warehouse_path.exists()):
        return {}
    con = connection.open_reader(settings.warehouse_path, settings.reader_wait)
    try:
        return backfill_ledger.outcomes(con, SOURCE_HF, min(dates), max(dates))
    finally:
        con.close()


def submit_backfill(
    settings: Settings,
    since: str | None,
    until: str | None = None,
    *,
    base_url: str | None = None,
    refresh: bool = False,
    retry_failed: bool = False,
    dates_per_run: int = 1,
    wait: bool = True,
    poll_seconds: float = 2.0,
    on_finished: Callable[[SubmittedRun], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> PoolBackfillReport:
    """Submit a backfill's dates as flow runs of the pool deployment; wait for them unless `wait` is False.

    Dates are planned like a local backfill (done ones skipped unless `refresh`; `retry_failed`
    takes only the failed ones); each run is `backfill_hf` over `dates_per_run` consecutive dates
    with the data root's absolute path, so a worker anywhere reads the same settings file.
    `on_finished` hears each run as it ends; `on_note` hears hints (no worker yet).
    """
    from prefect.client.orchestration import get_client

    if dates_per_run < 1:
        raise ValueError(f"--dates-per-run must be at least 1 (got {dates_per_run})")
    api_url()
    done_before, failed_before = ledger_state(settings)
    requested = requested_dates(since, until, failed_before)
    to_fetch, skipped = dates_planned(requested, done_before, failed_before, refresh=refresh, retry_failed=retry_failed)
    report = PoolBackfillReport(settings.work_pool, DEPLOYMENT_NAME, requested[0] if requested else None,
                                requested[-1] if requested else None, skipped=skipped, waited=wait)
    if not to_fetch:
        return report
    home = str(settings.home.resolve())
    submission = uuid.uuid4().hex  # idempotency keys: a retried create never makes a second run
    with get_client(sync_client=True) as client:
        if ensure_pool(client, settings.work_pool) and on_note:
            on_note(f"created the process work pool {settings.work_pool!r}")
        deployment_id = apply_deployment(settings.work_pool)
        for dates in chunked(to_fetch, dates_per_run):
            parameters = {"since": dates[0], "until": dates[-1], "home": home, "base_url": base_url,
                          "refresh": refresh, "retry_failed": False, "writer_wait": settings.pool_writer_wait}
            name = f"backfill-hf {dates[0]}" + (f"..{dates[-1]}" if len(dates) > 1 else "")
            run = _created_run(client, deployment_id, parameters, name, f"{submission}:{name}:0")
            report.runs.append(SubmittedRun(dates, str(run.id), name, parameters=parameters))
        report.outcomes = {day: ("submitted", "") for run in report.runs for day in run.dates}
        if not wait:
            return report
        _wait_for(client, deployment_id, submission, settings.work_pool, report.runs, poll_seconds, on_finished, on_note)
    recorded = date_outcomes(settings, to_fetch)
    for run in report.runs:
        for day in run.dates:
            status, reason = recorded.get(day, ("", ""))
            if run.state == "COMPLETED" and status in (backfill_ledger.DONE, backfill_ledger.FAILED):
                report.outcomes[day] = (status, reason)
            else:  # the run ended without its usual record of this date
                report.outcomes[day] = ("failed", f"flow run {run.name!r} ended {run.state}" + (f": {run.message}" if run.message else ""))
    return report


def _wait_for(client, deployment_id, submission: str, pool: str, runs: list[SubmittedRun], poll_seconds: float,
              on_finished: Callable[[SubmittedRun], None] | None, on_note: Callable[[str], None] | None) -> None:
    """Poll the API until every run is in a final state, recording state, message and worker of each.

    A crashed run is submitted again (RESUBMITS times at most), named in an `on_note`.
    """
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    by_id = {run.flow_run_id: run for run in runs}
    started = time.monotonic()
    hinted = False
    while any(not run.finished for run in runs):
        pending = [run.flow_run_id for run in runs if not run.finished]
        for found in client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=pending)), limit=len(pending)):
            run = by_id[str(found.id)]
            run.worker = (found.labels or {}).get(WORKER_LABEL, "") or run.worker
            state = found.state
            if state is None or state.type.value not in FINAL_STATES:
                run.state = state.type.value if state else run.state
                continue
            run.state, run.message = state.type.value, (state.message or "")
            if run.state == "CRASHED" and run.resubmitted < RESUBMITS:
                again = _created_run(client, deployment_id, run.parameters, run.name,
                                     f"{submission}:{run.name}:{run.resubmitted + 1}")
                if on_note:
                    on_note(f"flow run {run.name!r} crashed ({run.message or 'no reason given'}); submitted it again")
                del by_id[run.flow_run_id]
                run.flow_run_id, run.state, run.message, run.worker = str(again.id), "SCHEDULED", "", ""
                run.resubmitted += 1
                by_id[run.flow_run_id] = run
                continue
            if on_finished:
                on_finished(run)
        if not hinted and on_note and time.monotonic() - started > NO_WORKER_HINT_SECONDS \
                and all(run.state == "SCHEDULED" for run in runs) and not _online_workers(client, pool):
            on_note(f"no worker polls the work pool {pool!r} yet: start one with `prefect worker start --pool {pool}` "
                    "(runs wait until one does)")
            hinted = True
        if any(not run.finished for run in runs):
            time.sleep(poll_seconds)


def _online_workers(client, pool: str) -> list:
    return [w for w in client.read_workers_for_work_pool(pool) if str(getattr(w, "status", "")).upper().endswith("ONLINE")]


def _created_run(client, deployment_id, parameters: dict, name: str, key: str, attempts: int = 4):
    """A flow run of the deployment, created once: a server busy past the client's own retries
    (a Prefect server on SQLite under load answers 503) is asked again with the same idempotency key."""
    from prefect.exceptions import PrefectHTTPStatusError

    for attempt in range(1, attempts + 1):
        try:
            return client.create_flow_run_from_deployment(
                deployment_id, parameters=parameters, name=name, tags=["papertrends", "backfill"], idempotency_key=key)
        except PrefectHTTPStatusError as error:
            if error.response.status_code != 503 or attempt == attempts:
                raise
            time.sleep(5.0 * attempt)
