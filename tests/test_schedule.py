"""Scheduled deployments: built from settings with the intended crons, time zone and parameters.

The deployments are inspected as built, as `papertrends serve` registers them with a real Prefect
API (the session harness), and as prefect.yaml declares them for work pools.
"""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import yaml
from papertrends.cli.main import main
from papertrends.core.settings import Settings, load_settings
from papertrends.devkit.hf_stub_server import DailyPapersServer
from papertrends.flows.schedule import build_deployments, ingest_hf_recent, not_scheduled, recent_dates

REPO = Path(__file__).resolve().parents[1]


def by_name(deployments):
    return {d.name: d for d in deployments}


def cron_of(deployment):
    (schedule,) = deployment.schedules
    return schedule.schedule.cron, schedule.schedule.timezone, schedule.active


def test_default_deployments_run_the_daily_ingest_at_seven_utc_over_two_days(home):
    deployments = by_name(build_deployments(load_settings(home)))
    daily = deployments["hf-daily"]
    assert daily.flow_name == "ingest-hf-recent"
    assert cron_of(daily) == ("0 7 * * *", "UTC", True)
    assert daily.parameters == {"days": 2, "timezone": "UTC", "home": str(home.resolve())}
    assert daily.entrypoint == "papertrends.flows.schedule.ingest_hf_recent"
    # the optional ones appear only when their flows exist (export is also off by default)
    assert "export-nightly" not in deployments


def test_settings_move_the_schedules_and_time_zone(home, monkeypatch):
    (home / "papertrends.toml").write_text('hf_daily_cron = "30 6 * * 1-5"\nhf_daily_days = 3\n')
    monkeypatch.setenv("PAPERTRENDS_SCHEDULE_TIMEZONE", "Europe/Paris")
    daily = by_name(build_deployments(load_settings(home)))["hf-daily"]
    assert cron_of(daily) == ("30 6 * * 1-5", "Europe/Paris", True)
    assert daily.parameters["days"] == 3 and daily.parameters["timezone"] == "Europe/Paris"


def test_an_empty_cron_turns_a_deployment_off_and_bad_values_are_refused(home, monkeypatch):
    monkeypatch.setenv("PAPERTRENDS_HF_DAILY_CRON", "")  # an empty env var is ignored: the default stands
    assert "hf-daily" in by_name(build_deployments(load_settings(home)))
    (home / "papertrends.toml").write_text('hf_daily_cron = ""\n')
    assert "hf-daily" not in by_name(build_deployments(load_settings(home)))
    with pytest.raises(ValueError, match="not an IANA time zone"):
        build_deployments(load_settings(home, schedule_timezone="Mars/Olympus", hf_daily_cron="0 7 * * *"))
    with pytest.raises(ValueError, match="Invalid cron"):
        build_deployments(load_settings(home, hf_daily_cron="every day at 7"))


def test_optional_arxiv_and_export_flows_are_scheduled_when_present(home, monkeypatch):
    from prefect import flow

    @flow(name="harvest-arxiv")
    def harvest_arxiv(home: str | None = None, categories: str = "cs.LG"):
        return home

    @flow(name="export-nightly")
    def export_nightly(output: str = "exports"):
        return output

    monkeypatch.setitem(sys.modules, "papertrends.flows.arxiv", types.SimpleNamespace(harvest_arxiv=harvest_arxiv))
    monkeypatch.setitem(sys.modules, "papertrends.flows.export", types.SimpleNamespace(export_nightly=export_nightly))
    deployments = by_name(build_deployments(load_settings(home)))
    assert set(deployments) == {"hf-daily", "arxiv-weekly"}  # export is opt-in
    assert cron_of(deployments["arxiv-weekly"]) == ("0 6 * * 1", "UTC", True)
    assert deployments["arxiv-weekly"].flow_name == "harvest-arxiv"
    assert deployments["arxiv-weekly"].parameters == {"home": str(home.resolve())}  # only what the flow accepts

    deployments = by_name(build_deployments(load_settings(home, export_nightly_cron="15 2 * * *")))
    assert cron_of(deployments["export-nightly"]) == ("15 2 * * *", "UTC", True)
    assert deployments["export-nightly"].parameters == {}


def test_optional_flows_that_cannot_run_on_a_schedule_are_named_with_the_reason(home, monkeypatch, capsys):
    from prefect import flow

    @flow(name="harvest-arxiv")
    def harvest_arxiv(query: str, home: str | None = None):
        return query

    monkeypatch.setitem(sys.modules, "papertrends.flows.arxiv", types.SimpleNamespace(harvest_arxiv=harvest_arxiv))
    monkeypatch.setitem(sys.modules, "papertrends.flows.export", types.SimpleNamespace())
    settings = load_settings(home, export_nightly_cron="15 2 * * *")
    assert set(by_name(build_deployments(settings))) == {"hf-daily"}
    assert main(["--home", str(home), "serve", "--list"]) == 0
    err = capsys.readouterr().err
    assert "arxiv-weekly is not scheduled: flow harvest-arxiv needs parameters a schedule cannot give: query" in err
    assert "export-nightly is not scheduled: no flow found in papertrends.flows.export" not in err  # cron off by default
    assert not_scheduled(settings)["export-nightly"] == "no flow found in papertrends.flows.export"


def test_recent_dates_are_today_and_yesterday_in_the_schedule_time_zone():
    late_evening_utc = dt.datetime(2025, 3, 3, 23, 30, tzinfo=dt.timezone.utc)
    assert recent_dates(2, "UTC", late_evening_utc) == ["2025-03-02", "2025-03-03"]
    assert recent_dates(2, "Asia/Tokyo", late_evening_utc) == ["2025-03-03", "2025-03-04"]
    assert recent_dates(1, "America/New_York", late_evening_utc) == ["2025-03-03"]
    with pytest.raises(ValueError):
        recent_dates(0, "UTC")


@pytest.mark.usefixtures("prefect_harness")
def test_the_daily_flow_fetches_yesterday_and_today(home):
    expected = recent_dates(2, "UTC")
    with DailyPapersServer({}) as server:
        report = ingest_hf_recent(days=2, timezone="UTC", home=str(home), base_url=server.base_url)
        asked = [r["query"]["date"] for r in server.requests]
    assert asked == expected or asked == recent_dates(2, "UTC")  # (the clock may pass midnight)
    assert report.inputs == 2 and not report.failures


def test_serve_list_prints_the_schedules(home, capsys):
    assert main(["--home", str(home), "serve", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["deployment", "flow", "cron", "timezone", "parameters"]
    assert lines[2].split()[:7] == ["hf-daily", "ingest-hf-recent", "0", "7", "*", "*", "*"]
    assert main(["--home", str(home), "serve", "--list", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row == {"deployment": "hf-daily", "flow": "ingest-hf-recent", "cron": "0 7 * * *", "timezone": "UTC",
                   "parameters": f"days=2, timezone=UTC, home={home.resolve()}"}


@pytest.mark.usefixtures("prefect_harness")
def test_serve_registers_the_scheduled_deployment_with_the_prefect_api(home):
    """A real `papertrends serve` process registers hf-daily; the API holds its cron and time zone."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    (home / "papertrends.toml").write_text('schedule_timezone = "Europe/Paris"\nhf_daily_cron = "5 7 * * *"\n')
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    process = subprocess.Popen([sys.executable, "-m", "papertrends.cli.main", "--home", str(home), "serve"], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deployment = None
    try:
        with get_client(sync_client=True) as client:
            deadline = time.monotonic() + 60
            while deployment is None and time.monotonic() < deadline and process.poll() is None:
                try:
                    deployment = client.read_deployment_by_name("ingest-hf-recent/hf-daily")
                except ObjectNotFound:
                    time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
    assert deployment is not None, err
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == ("5 7 * * *", "Europe/Paris", True)
    assert deployment.parameters == {"days": 2, "timezone": "Europe/Paris", "home": str(home.resolve())}
    assert "papertrends" in deployment.tags


def test_prefect_yaml_declares_the_same_flows_and_schedules():
    """prefect.yaml (work-pool deployments) agrees with the defaults `serve` uses."""
    import importlib

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text("utf-8"))
    declared = {d["name"]: d for d in spec["deployments"]}
    defaults = Settings()
    daily = declared["hf-daily"]
    module, _, attribute = daily["entrypoint"].replace(":", ".").rpartition(".")
    assert getattr(importlib.import_module(module.replace("/", ".").removesuffix(".py")), attribute) is ingest_hf_recent
    (schedule,) = daily["schedules"]
    assert (schedule["cron"], schedule["timezone"]) == (defaults.hf_daily_cron, defaults.schedule_timezone)
    assert daily["parameters"]["days"] == defaults.hf_daily_days
    assert daily["work_pool"]["name"]
    backfill = declared["backfill-hf"]
    assert backfill["entrypoint"].endswith(".backfill_hf") and "schedules" not in backfill
