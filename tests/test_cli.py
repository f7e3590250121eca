"""The command line, in process and as a real subprocess: outputs, exit codes, one-line errors."""

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from papertrends.cli.main import cli, main
from papertrends.devkit.sample_listings import generate_daily_lists, planted_truth, write_daily_files

REPO = Path(__file__).resolve().parents[1]
SINCE, UNTIL = dt.date(2025, 1, 1), dt.date(2025, 2, 28)


@pytest.fixture(scope="module")
def loaded_home(tmp_path_factory, prefect_harness):
    """A warehouse loaded through `papertrends ingest files` from generated daily files."""
    root = tmp_path_factory.mktemp("cli")
    lists = generate_daily_lists(SINCE, UNTIL, seed=11)
    write_daily_files(lists, root / "files")
    home = root / "data"
    assert main(["--home", str(home), "ingest", "files", str(root / "files")]) == 0
    return home, lists


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_trend_matches_what_the_generator_planted(loaded_home, capsys):
    home, lists = loaded_home
    code, out, err = run(capsys, "trend", "scaling", "tractable", "--home", str(home), "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["term"] for r in rows[:2]] == ["scaling", "tractable"]
    truth = planted_truth(lists)
    first_month = {}
    for day, items in sorted(lists.items()):
        for item in items:
            first_month.setdefault(item["paper"]["id"], day[:7])
    for row in rows:
        ids = [pid for pid, month in first_month.items() if month == row["period"]]
        assert int(row["total"]) == len(ids)
        assert int(row["matches"]) == sum(truth[pid][row["term"]] for pid in ids)
        assert float(row["share"]) == pytest.approx(int(row["matches"]) / int(row["total"]))


def test_trend_json_and_table_formats(loaded_home, capsys):
    home, _ = loaded_home
    code, out, _ = run(capsys, "--home", str(home), "trend", "inference-time scaling", "--by", "year", "--format", "json")
    assert code == 0
    (row,) = json.loads(out)
    assert set(row) == {"period", "term", "matches", "total", "share"} and row["period"] == "2025"
    code, out, _ = run(capsys, "--home", str(home), "trend", "tractab*", "--since", "2025-02-01")
    lines = out.splitlines()
    assert lines[0].split() == ["period", "term", "matches", "total", "share"]
    assert [line.split()[0] for line in lines[2:]] == ["2025-02"]


def test_sql_reads_and_refuses_writes(loaded_home, capsys):
    home, _ = loaded_home
    code, out, _ = run(capsys, "--home", str(home), "sql", "select count(*) as n from papers", "--format", "json")
    assert code == 0 and json.loads(out)[0]["n"] > 0
    code, out, err = run(capsys, "--home", str(home), "sql", "drop table papers")
    assert code == 1 and out == ""
    assert err == "papertrends: error: refused: DROP would change something; `papertrends sql` only reads\n"


def test_status_shows_what_is_loaded(loaded_home, capsys):
    home, _ = loaded_home
    code, out, _ = run(capsys, "--home", str(home), "status")
    assert code == 0
    assert "papers" in out and "recent runs" in out and "ingest-files" in out
    code, out, _ = run(capsys, "--home", str(home), "status", "--format", "json")
    state = json.loads(out)
    assert state["papers"] > 0 and state["recent_runs"][0]["status"] == "completed"
    # issue 15.8: numbers are numbers (run seconds were text)
    assert isinstance(state["recent_runs"][0]["seconds"], float)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trend", "!!"], "error: term '!!' has no letters or digits to match"),
        (["sql", "select * from nowhere"], "error: Catalog Error: Table with name nowhere does not exist!"),
        (["sql", "select 1; select 2"], "error: give exactly one SQL statement (got 2)"),
    ],
)
def test_errors_are_one_line(loaded_home, capsys, argv, message):
    home, _ = loaded_home
    code, out, err = run(capsys, "--home", str(home), *argv)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err


def test_read_commands_on_a_missing_warehouse_say_what_to_do(tmp_path, capsys):
    code, _, err = run(capsys, "--home", str(tmp_path / "nothing"), "trend", "scaling")
    assert code == 1 and "run `papertrends ingest" in err
    assert not (tmp_path / "nothing").exists()


def test_ingest_files_reports_missing_paths(tmp_path, capsys):
    code, _, err = run(capsys, "--home", str(tmp_path), "ingest", "files", str(tmp_path / "nope.json"))
    assert code == 1 and "no such file or folder" in err


def test_ingest_files_with_nothing_loadable_exits_non_zero(tmp_path, capsys, prefect_harness):
    bad = tmp_path / "2025-01-01.json"
    bad.write_text('{"error": "not a list"}')
    code, out, err = run(capsys, "--home", str(tmp_path / "data"), "ingest", "files", str(bad))
    assert code == 1
    assert "1 items in = 0 loaded + 1 quarantined" in out
    assert err == ("papertrends: quarantined 1 item(s): JSON is an object, not a list of items: error 'not a list'\n"
                   "papertrends: nothing could be loaded\n")


def test_a_run_that_loads_nothing_names_each_quarantine_reason(tmp_path, capsys, prefect_harness):
    """Issue 15.7: a .txt page without --date said only "nothing could be loaded"."""
    page = tmp_path / "page.txt"
    page.write_text("Daily Papers\n\nA Title About Scaling\n\nAn abstract about scaling.\n\n")
    code, _, err = run(capsys, "--home", str(tmp_path / "data"), "ingest", "files", str(page))
    assert code == 1
    lines = err.splitlines()
    assert lines[-1] == "papertrends: nothing could be loaded"
    assert len(lines) >= 2 and all(line.startswith("papertrends: quarantined ") for line in lines[:-1])
    assert "--date" in err


def test_usage_errors_exit_2_with_the_reason(capsys):
    assert main(["ingest", "hf", "--date", "2025-02-30"]) == 2
    assert "'2025-02-30' is not a date" in capsys.readouterr().err


def test_read_only_commands_neither_import_prefect_nor_write(loaded_home, tmp_path):
    home, _ = loaded_home
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in home.rglob("*") if p.is_file()}
    probe = (
        "import sys; from papertrends.cli.main import main; "
        "codes = [main(['--home', sys.argv[1], 'trend', 'scaling']), main(['--home', sys.argv[1], 'status']), "
        "main(['--home', sys.argv[1], 'sql', 'select 1']), main(['--home', sys.argv[1], 'config']), "
        "main(['--home', sys.argv[1], 'export', '--format', 'hf', '--out', sys.argv[2]])]; "
        "print('CODES', codes, 'prefect' in sys.modules, 'httpx' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(home), str(tmp_path / "export")],
        capture_output=True, text=True, cwd=REPO, env={**os.environ}, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "CODES [0, 0, 0, 0, 0] False False"
    assert (tmp_path / "export" / "manifest.json").is_file()
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in home.rglob("*") if p.is_file()}
    assert after == before
