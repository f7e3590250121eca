"""Scheduled runs: one declared list of deployments, served by `papertrends serve` and written to prefect.yaml.

    hf-daily        ingest-hf-recent: the Hugging Face lists of yesterday and today (hf_daily_cron)
    arxiv-weekly    harvest-arxiv-recent: arXiv OAI-PMH records of the last eight days (arxiv_weekly_cron)
    export-nightly  export-nightly: the papers as a Hugging Face dataset under <data root>/exports (export_nightly_cron)
    backfill-hf     backfill-hf: on demand only, in prefect.yaml (no schedule)

Every cron is read in `schedule_timezone`; an empty cron turns that deployment off. The flows are
named here, never guessed. `serve` registers each deployment under its name; prefect.yaml (for
work pools, `prefect deploy --all`) registers the same flows under `<name>-pool`, so the two never
overwrite each other's schedule and time zone. prefect.yaml is generated from DEPLOYMENTS:
`python -m papertrends.flows.schedule > prefect.yaml` (tests/test_schedule.py checks it is current).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import zoneinfo
from dataclasses import dataclass
from typing import Callable

import polars as pl
from prefect import flow
from prefect.flows import Flow

from ..core.reports import ArxivRunReport, RunReport
from ..core.settings import Settings, load_settings
from .arxiv import harvest_arxiv_oai
from .backfill import backfill_hf
from .export import export_dataset_flow
from .ingest import ingest_hf_daily

# prefect.yaml's deployments are named <name><POOL_SUFFIX>: distinct from the served ones on purpose.
POOL_SUFFIX = "-pool"


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
    return ingest_hf_daily(recent_dates(days, timezone), base_url=base_url, home=home)


@flow(name="harvest-arxiv-recent", log_prints=False)
def harvest_arxiv_recent(
    days: int = 8, set_spec: str | None = "cs", timezone: str = "UTC", home: str | None = None,
    base_url: str | None = None,
) -> ArxivRunReport:
    """Harvest arXiv over OAI-PMH for the datestamps of the last `days` dates (today in `timezone`).

    The weekly deployment runs this with days=8, so consecutive weeks overlap by a day; records
    already loaded change nothing. `set_spec` (default ``cs``) limits the harvest to one arXiv set.
    """
    dates = recent_dates(days, timezone)
    return harvest_arxiv_oai("arXivRaw", set_spec, dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1]),
                             base_url=base_url, home=home)


@flow(name="export-nightly", log_prints=False)
def export_nightly(out: str | None = None, table: str = "papers", format: str = "hf", home: str | None = None) -> dict:
    """Export `table` (default the papers, as a Hugging Face dataset) to `out`, replacing the last export.

    `out` defaults to <data root>/exports/<table>; each run replaces the previous export atomically.
    """
    settings = load_settings(home)
    target = out or str(settings.home / "exports" / table)
    return export_dataset_flow(out=target, table=table, format=format, force=True, home=home)


@dataclass(frozen=True)
class Declared:
    """One deployment: its name, flow, the setting holding its cron (None: on demand), parameters."""

    name: str
    target: Flow
    cron_setting: str | None
    parameters: Callable[[Settings], dict]
    description: str


# The one list of deployments: `serve`, `serve --list` and prefect.yaml are all made from it.
DEPLOYMENTS: tuple[Declared, ...] = (
    Declared("hf-daily", ingest_hf_recent, "hf_daily_cron",
             lambda s: {"days": s.hf_daily_days, "timezone": s.schedule_timezone},
             "Hugging Face daily lists of yesterday and today (late additions land the next morning)"),
    Declared("arxiv-weekly", harvest_arxiv_recent, "arxiv_weekly_cron",
             lambda s: {"days": 8, "set_spec": "cs", "timezone": s.schedule_timezone},
             "arXiv OAI-PMH records (set cs) of the last eight days"),
    Declared("export-nightly", export_nightly, "export_nightly_cron",
             lambda s: {"table": "papers", "format": "hf"},
             "the papers as a Hugging Face dataset under <data root>/exports/papers, replaced each night"),
    Declared("backfill-hf", backfill_hf, None, lambda s: {},
             "Resumable backfill of Hugging Face daily lists (skips dates already done); run on demand"),
)


def entrypoint(target: Flow) -> str:
    """The module path of a flow, as Prefect's module entrypoints name it."""
    return f"{target.fn.__module__}.{target.fn.__name__}"


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
    """Scheduled deployments that are off, with the reason (every declared flow exists)."""
    return {d.name: f"{d.cron_setting} is empty" for d in DEPLOYMENTS
            if d.cron_setting and not getattr(settings, d.cron_setting)}


def planned_deployments(settings: Settings) -> list[Planned]:
    """The scheduled deployments the settings turn on (on-demand ones are prefect.yaml's only)."""
    home = str(settings.home.resolve())  # runs start in other processes and folders
    return [
        Planned(d.name, d.target, getattr(settings, d.cron_setting), {**d.parameters(settings), "home": home},
                d.description)
        for d in DEPLOYMENTS if d.cron_setting and getattr(settings, d.cron_setting)
    ]


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


def prefect_yaml(settings: Settings | None = None) -> str:
    """prefect.yaml for work pools, from DEPLOYMENTS and the default settings (names end in -pool)."""
    settings = settings or Settings()
    lines = [
        "# Generated by `python -m papertrends.flows.schedule > prefect.yaml` from flows/schedule.py",
        "# (DEPLOYMENTS, default settings); tests/test_schedule.py checks it is current. Do not edit by hand.",
        "#",
        "# Deploy papertrends' flows to a Prefect work pool instead of serving them from one process",
        "# (`papertrends serve`). From a checkout, with PREFECT_API_URL pointing at your server:",
        "#",
        "#   prefect work-pool create papertrends --type process",
        "#   prefect deploy --all                  # registers the deployments below",
        "#   prefect worker start --pool papertrends",
        "#",
        "# The worker runs each flow in the checkout named by PAPERTRENDS_CHECKOUT (papertrends installed",
        "# in its Python) with the data root PAPERTRENDS_HOME. These deployments are named <name>-pool so",
        "# that they never replace the schedules `papertrends serve` registers under <name>.",
        "name: papertrends",
        "prefect-version: 3.9.1",
        "",
        "build: null",
        "push: null",
        "pull:",
        "  - prefect.deployments.steps.set_working_directory:",
        '      directory: "{{ $PAPERTRENDS_CHECKOUT }}"',
        "",
        "deployments:",
    ]
    for d in DEPLOYMENTS:
        lines += [
            f"  - name: {d.name}{POOL_SUFFIX}",
            f"    description: {d.description}",
            f"    entrypoint: {entrypoint(d.target)}",
        ]
        parameters = d.parameters(settings)
        if parameters:
            lines.append("    parameters:")
            lines += [f"      {k}: {v}" for k, v in parameters.items()]
        cron = getattr(settings, d.cron_setting) if d.cron_setting else ""
        if cron:
            lines += ["    schedules:", f'      - cron: "{cron}"', f"        timezone: {settings.schedule_timezone}",
                      "        active: true"]
        elif d.cron_setting:
            lines += ["    # off by default: set a cron here (and in papertrends.toml for `serve`) to schedule it"]
        lines += [
            "    tags: [papertrends]",
            "    work_pool:",
            "      name: papertrends",
            "      job_variables:",
            "        env:",
            '          PAPERTRENDS_HOME: "{{ $PAPERTRENDS_HOME }}"',
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    from . import schedule  # under its real module name, so entrypoints do not read __main__

    sys.stdout.write(schedule.prefect_yaml())
