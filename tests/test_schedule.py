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
from pathlib import Path

import pytest
import yaml
from papertrends.cli.main import main
from papertrends.core.settings import Settings, load_settings
from papertrends.devkit.hf_stub_server import DailyPapersServer
from papertrends.flows.schedule import (
    DEPLOYMENTS,
    POOL_SUFFIX,
    build_deployments,
    entrypoint,
    export_nightly,
    harvest_arxiv_recent,
    ingest_hf_recent,
    not_scheduled,
    prefect_yaml,
    recent_dates,
)

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


def test_every_declared_deployment_runs_a_real_flow_by_its_entrypoint():
    """Issue 15.3: no guessed names; every entrypoint imports to the very flow declared."""
    import importlib

    from prefect.flows import Flow

    for declared in DEPLOYMENTS:
        assert isinstance(declared.target, Flow), declared.name
        module, _, attribute = entrypoint(declared.target).rpartition(".")
        assert getattr(importlib.import_module(module), attribute) is declared.target


def test_arxiv_weekly_is_scheduled_by_default_and_export_nightly_when_its_cron_is_set(home):
    deployments = by_name(build_deployments(load_settings(home)))
    assert set(deployments) == {"hf-daily", "arxiv-weekly"}  # export is opt-in
    weekly = deployments["arxiv-weekly"]
    assert weekly.flow_name == "harvest-arxiv-recent" and cron_of(weekly) == ("0 6 * * 1", "UTC", True)
    assert weekly.parameters == {"days": 8, "set_spec": "cs", "timezone": "UTC", "home": str(home.resolve())}
    assert weekly.entrypoint == "papertrends.flows.schedule.harvest_arxiv_recent"
    settings = load_settings(home, export_nightly_cron="15 2 * * *")
    nightly = by_name(build_deployments(settings))["export-nightly"]
    assert nightly.flow_name == "export-nightly" and cron_of(nightly) == ("15 2 * * *", "UTC", True)
    assert not_scheduled(load_settings(home)) == {"export-nightly": "export_nightly_cron is empty"}


@pytest.mark.usefixtures("prefect_harness")
def test_the_weekly_arxiv_flow_harvests_the_last_days(home):
    from papertrends.devkit.arxiv_stub_server import ArxivServer, generate_arxiv_papers
    from testsupport import warehouse_rows, write_settings

    write_settings(home, backoff_base=0.05, max_attempts=2)
    papers = generate_arxiv_papers(12, seed=2)
    with ArxivServer(papers, oai_page_size=5) as server:
        report = harvest_arxiv_recent(days=8, set_spec=None, timezone="UTC", home=str(home), base_url=server.oai_url)
        first = server.requests[0]["query"]
    dates = recent_dates(8, "UTC")
    assert first["from"] == dates[0] and first["until"] == dates[-1] and first["metadataPrefix"] == "arXivRaw"
    assert not report.failures and report.items_loaded == 12
    assert warehouse_rows(home, "select count(*) from papers") == [(12,)]


@pytest.mark.usefixtures("prefect_harness")
def test_the_nightly_export_flow_replaces_its_last_export(home):
    from papertrends.devkit.hf_stub_server import DailyPapersServer
    from papertrends.devkit.sample_listings import generate_daily_lists

    lists = generate_daily_lists(dt.date(2025, 1, 1), dt.date(2025, 1, 3), seed=5)
    with DailyPapersServer(lists) as server:
        from papertrends.flows.hf import ingest_hf_lists

        ingest_hf_lists(sorted(lists), refresh=True, base_url=server.base_url, home=str(home))
    for _ in range(2):
        result = export_nightly(home=str(home))
    manifest = json.loads((home / "exports" / "papers" / "manifest.json").read_text())
    assert result["rows"] == manifest["rows"] > 0 and manifest["format"] == "hf"


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
        asked = sorted(r["query"]["date"] for r in server.requests)  # lists are fetched concurrently
    assert asked == expected or asked == recent_dates(2, "UTC")  # (the clock may pass midnight)
    assert report.inputs == 2 and not report.failures


def test_serve_list_prints_the_schedules(home, capsys):
    assert main(["--home", str(home), "serve", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["deployment", "flow", "cron", "timezone", "parameters"]
    assert lines[2].split()[:7] == ["hf-daily", "ingest-hf-recent", "0", "7", "*", "*", "*"]
    assert lines[3].split()[:2] == ["arxiv-weekly", "harvest-arxiv-recent"]
    assert main(["--home", str(home), "serve", "--list", "--format", "json"]) == 0
    row, weekly = json.loads(capsys.readouterr().out)
    assert weekly["deployment"] == "arxiv-weekly" and weekly["cron"] == "0 6 * * 1"
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
                    weekly = client.read_deployment_by_name("harvest-arxiv-recent/arxiv-weekly")
                except ObjectNotFound:
                    deployment = None
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
    (schedule,) = weekly.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * 1", "Europe/Paris")


def test_prefect_yaml_is_made_from_the_declared_list_under_names_serve_does_not_use():
    """prefect.yaml (work pools) is generated from DEPLOYMENTS; its names never collide with serve's."""
    import importlib

    text = (REPO / "prefect.yaml").read_text("utf-8")
    assert text == prefect_yaml(), "prefect.yaml is stale: python -m papertrends.flows.schedule > prefect.yaml"
    spec = yaml.safe_load(text)
    declared = {d["name"]: d for d in spec["deployments"]}
    assert set(declared) == {d.name + POOL_SUFFIX for d in DEPLOYMENTS}
    assert not set(declared) & {d.name for d in build_deployments(Settings(export_nightly_cron="0 2 * * *"))}
    defaults = Settings()
    daily = declared["hf-daily-pool"]
    module, _, attribute = daily["entrypoint"].rpartition(".")
    assert getattr(importlib.import_module(module), attribute) is ingest_hf_recent
    (schedule,) = daily["schedules"]
    assert (schedule["cron"], schedule["timezone"]) == (defaults.hf_daily_cron, defaults.schedule_timezone)
    assert daily["parameters"]["days"] == defaults.hf_daily_days
    assert daily["work_pool"]["name"]
    assert declared["arxiv-weekly-pool"]["schedules"][0]["cron"] == defaults.arxiv_weekly_cron
    backfill = declared["backfill-hf-pool"]
    assert backfill["entrypoint"].endswith(".backfill_hf") and "schedules" not in backfill
