"""Scheduled runs: the deployments `papertrends serve` serves, built from settings.

    hf-daily        ingest-hf-recent: the Hugging Face lists of yesterday and today (hf_daily_cron)
    arxiv-weekly    the arXiv harvest flow, when flows.arxiv provides one (arxiv_weekly_cron)
    export-nightly  the export flow, when flows.export provides one and export_nightly_cron is set

Every cron is read in `schedule_timezone`. An empty cron turns that deployment off. prefect.yaml
declares the same flows for teams that deploy to work pools instead of serving from one process.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import os
import zoneinfo
from dataclasses import dataclass

import polars as pl
from prefect import flow
from prefect.flows import Flow

from ..core.reports import RunReport
from ..core.settings import Settings
from .hf import ingest_hf_lists

# Optional flows other modules may provide: (deployment, module, flow attribute names tried in order).
OPTIONAL_FLOWS = {
    "arxiv-weekly": ("papertrends.flows.arxiv", ("harvest_arxiv", "arxiv_harvest", "ingest_arxiv")),
    "export-nightly": ("papertrends.flows.export", ("export_nightly", "export_dataset", "export_flow", "export")),
}


def recent_dates(days: int, timezone: str, now: dt.datetime | None = None) -> list[str]:
    """The last `days` dates ending today in `timezone`, oldest first."""
    if days < 1:
        raise ValueError(f"days must be at least 1 (got {days})")
    today = (now or dt.datetime.now(dt.timezone.utc)).astimezone(zoneinfo.ZoneInfo(timezone)).date()
    return [(today - dt.timedelta(days=n)).isoformat() for n in reversed(range(days))]


@flow(name="ingest-hf-recent", log_prints=False)
def ingest_hf_recent(days: int = 2, timezone: str = "UTC", home: str | None = None, base_url: str | None = None) -> RunReport:
    """Ingest the Hugging Face lists of the last `days` dates (today in `timezone` included).

    The daily deployment runs this with days=2: yesterday's list is fetched again so papers
    added to it late still land; unchanged pages dedupe in the raw archive and change no row.
    """
    return ingest_hf_lists(recent_dates(days, timezone), refresh=True, base_url=base_url, home=home)


def optional_flow(deployment: str) -> Flow | None:
    """The flow behind an optional deployment, or None when its module or flow is absent."""
    module_name, names = OPTIONAL_FLOWS[deployment]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:  # the module exists but is broken: say so
            raise
        return None
    for name in names:
        candidate = getattr(module, name, None)
        if isinstance(candidate, Flow):
            return candidate
    return None


def _parameters_for(target: Flow, **wanted) -> dict:
    """The wanted parameters the flow accepts (optional flows have their own signatures)."""
    accepted = inspect.signature(target.fn).parameters
    return {name: value for name, value in wanted.items() if name in accepted and value is not None}


def _missing_parameters(target: Flow, given: dict) -> list[str]:
    """Parameters the flow requires (no default) that a scheduled run would not get."""
    required = [p.name for p in inspect.signature(target.fn).parameters.values() if p.default is inspect.Parameter.empty]
    return [name for name in required if name not in given]


def _check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"schedule_timezone {name!r} is not an IANA time zone (e.g. UTC, Europe/Paris)") from None
    return name


@dataclass(frozen=True)
class Planned:
    """One deployment to build: its name, flow, cron and parameters."""

    name: str
    target: Flow
    cron: str
    parameters: dict
    description: str


def not_scheduled(settings: Settings) -> dict[str, str]:
    """Deployments turned on by a cron setting that cannot be scheduled, with the reason."""
    reasons = {}
    for name, cron in (("arxiv-weekly", settings.arxiv_weekly_cron), ("export-nightly", settings.export_nightly_cron)):
        if not cron:
            continue
        target = optional_flow(name)
        if target is None:
            reasons[name] = f"no flow found in {OPTIONAL_FLOWS[name][0]}"
        elif missing := _missing_parameters(target, _parameters_for(target, home="")):
            reasons[name] = f"flow {target.name} needs parameters a schedule cannot give: {', '.join(missing)}"
    return reasons


def planned_deployments(settings: Settings) -> list[Planned]:
    """The deployments the settings turn on, with their flows found (optional ones may be absent)."""
    home = str(settings.home.resolve())  # runs start in other processes and folders
    planned = []
    if settings.hf_daily_cron:
        parameters = {"days": settings.hf_daily_days, "timezone": settings.schedule_timezone, "home": home}
        planned.append(Planned("hf-daily", ingest_hf_recent, settings.hf_daily_cron, parameters,
                               "Hugging Face daily lists of yesterday and today"))
    for name, cron, description in (
        ("arxiv-weekly", settings.arxiv_weekly_cron, "weekly arXiv harvest"),
        ("export-nightly", settings.export_nightly_cron, "nightly export"),
    ):
        target = optional_flow(name) if cron else None
        if target is not None and not _missing_parameters(target, _parameters_for(target, home=home)):
            planned.append(Planned(name, target, cron, _parameters_for(target, home=home), description))
    return planned


def build_deployments(settings: Settings) -> list:
    """Prefect RunnerDeployments with cron schedules in the configured time zone (not yet served)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    timezone = _check_timezone(settings.schedule_timezone)
    built = []
    for plan in planned_deployments(settings):
        built.append(
            plan.target.to_deployment(
                name=plan.name,
                schedules=[Cron(plan.cron, timezone=timezone)],
                parameters=plan.parameters,
                description=plan.description,
                tags=["papertrends"],
                # a module path works wherever papertrends is installed, unlike a file path
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return built


def describe(settings: Settings) -> pl.DataFrame:
    """One row per deployment `serve` would run: name, flow, cron, timezone, parameters."""
    rows = []
    for deployment in build_deployments(settings):
        (schedule,) = deployment.schedules
        rows.append({
            "deployment": deployment.name,
            "flow": deployment.flow_name,
            "cron": schedule.schedule.cron,
            "timezone": schedule.schedule.timezone,
            "parameters": ", ".join(f"{k}={v}" for k, v in deployment.parameters.items()),
        })
    schema = {"deployment": pl.String, "flow": pl.String, "cron": pl.String, "timezone": pl.String, "parameters": pl.String}
    return pl.DataFrame(rows, schema=schema)


def serve_deployments(settings: Settings) -> None:
    """Serve every deployment from this process until interrupted (Prefect's `serve`)."""
    from prefect import serve

    deployments = build_deployments(settings)
    for name, reason in not_scheduled(settings).items():
        print(f"papertrends: {name} is not scheduled: {reason}", flush=True)
    if not deployments:
        raise ValueError("no deployment is scheduled: every cron setting is empty")
    if not os.environ.get("PREFECT_API_URL"):
        print(
            "papertrends: PREFECT_API_URL is not set: runs go to a temporary local Prefect server that ends with "
            "this process; run `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api to keep "
            "them and watch them in the UI",
            flush=True,
        )
    serve(*deployments)
