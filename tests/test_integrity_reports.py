"""Run reports: stages, checks and warnings stored per run, shown by `status`, published to Prefect."""

import datetime as dt
import json

import pytest
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists, write_daily_files
from papertrends.flows.ingest import ingest_files
from papertrends.warehouse import connection, ledger

pytestmark = pytest.mark.usefixtures("prefect_harness")

PAGE = "Daily Papers\nby AK and the research community\nMar 4\n\nA tractable title\n\nIts abstract.\n"


def artifacts(key):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    # Newest first: other tests of the session publish under the same keys.
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC
        )


def test_a_run_stores_its_stages_checks_and_warnings_and_publishes_them(tmp_path, capsys):
    home = tmp_path / "data"
    write_daily_files(generate_daily_lists(dt.date(2025, 3, 3), dt.date(2025, 3, 5), seed=6), tmp_path / "files")
    (tmp_path / "page.txt").write_text(PAGE)
    report = ingest_files([str(tmp_path / "page.txt")], list_date="2025-03-05", home=str(home))
    assert report.warnings and "the page says 'Mar 4'" in report.warnings[0]
    report = ingest_files([str(tmp_path / "files")], home=str(home))

    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        first = ledger.run_report(con, 1)
        last = ledger.run_report(con)
    finally:
        con.close()
    assert len(first["warnings"]) == 1 and "the page says 'Mar 4'" in first["warnings"][0]
    assert last["run"]["run_id"] == report.run_id and last["warnings"] == []
    stages = last["stages"].to_dicts()
    assert [s["stage"] for s in stages] == ["land", "normalize", "load+checks"]
    assert stages[0]["items"] == report.inputs and stages[1]["items"] == report.items_in
    assert all(s["seconds"] >= 0 for s in stages)
    assert last["checks"].height == 5 and last["checks"]["passed"].all()

    code = main(["--home", str(home), "status", "--format", "json"])
    state = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [s["stage"] for s in state["last_run_stages"]] == ["land", "normalize", "load+checks"]
    assert {c["check_name"] for c in state["last_run_checks"]} >= {"items_accounted_for", "title_not_empty"}

    (markdown,) = artifacts("papertrends-run-ingest-files")[:1]
    assert "items in =" in markdown.data
    tables = artifacts("papertrends-run-ingest-files-table")
    assert tables, "no table artifact was published"
    rows = tables[0].data if isinstance(tables[0].data, list) else json.loads(tables[0].data)
    assert {r["kind"] for r in rows} == {"stage", "check"}
    assert {r["name"] for r in rows if r["kind"] == "check"} >= {"listing_paper_exists", "title_not_empty"}
