"""The CLI surface with click's CliRunner: exact outputs, validation, documentation kept current;
and the settings model (precedence, secrets, origins) behind `papertrends config`."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import click
import polars as pl
import pytest
from click.testing import CliRunner
from papertrends.cli.docs import generated_docs
from papertrends.cli.main import cli, main, with_verdicts
from papertrends.cli.output import write_frame
from papertrends.core.settings import Settings, effective_settings, env_name, load_settings
from papertrends.transforms.hf_listings import QUARANTINE_SCHEMA
from papertrends.warehouse import connection, loads

from tests.test_analytics import listing_rows

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A small warehouse: 150 HF papers, 120 of them about scaling, none with categories."""
    root = tmp_path_factory.mktemp("surface") / "data"
    day = dt.date(2025, 1, 6)
    rows = [(f"2501.{i:05d}", day + dt.timedelta(days=i % 40), f"Paper {i} on {'scaling' if i < 120 else 'other'} laws",
             "An abstract.", i % 7) for i in range(150)]
    con = connection.open_writer(root / "warehouse.duckdb")
    loads.load(con, listing_rows(rows), pl.DataFrame(schema=QUARANTINE_SCHEMA), 1)
    con.close()
    return root


def invoke(*argv):
    result = CliRunner().invoke(cli, list(argv), prog_name="papertrends", catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# --- exact outputs ----------------------------------------------------------------------------

def test_version_and_formats_exactly(home):
    code, out, _ = invoke("--version")
    assert code == 0 and re.fullmatch(r"papertrends \d+\.\d+\.\d+\S*\n", out)
    query = "select 1 as n, 'a b' as t, [1, 2] as l"
    assert invoke("--home", str(home), "sql", query, "--format", "csv")[1] == 'n,t,l\n1,a b,"[1, 2]"\n'
    assert invoke("--home", str(home), "sql", query, "--format", "tsv")[1] == "n\tt\tl\n1\ta b\t[1, 2]\n"
    assert invoke("--home", str(home), "sql", query, "--format", "ndjson")[1] == '{"n": 1, "t": "a b", "l": [1, 2]}\n'
    assert json.loads(invoke("--home", str(home), "sql", query, "--format", "json")[1]) == [{"n": 1, "t": "a b", "l": [1, 2]}]
    assert invoke("--home", str(home), "sql", query)[1] == "n  t    l\n-  ---  ----\n1  a b  1, 2\n"


def test_sql_csv_writes_list_columns_as_json_text(home, capsys):
    """Issue 15.21: `sql ... --format csv` with list columns failed with a ComputeError."""
    assert main(["--home", str(home), "sql", "select paper_id, ['x', 'y'] as authors from papers order by paper_id limit 1",
                 "--format", "csv"]) == 0
    assert capsys.readouterr().out == 'paper_id,authors\n2501.00000,"[""x"", ""y""]"\n'


def test_sql_binds_named_parameters(home):
    code, out, _ = invoke("--home", str(home), "sql", "select count(*) as n from papers where title like $t",
                          "-p", "t", "%scaling%", "--format", "csv")
    assert (code, out) == (0, "n\n120\n")


def test_install_is_refused_by_its_own_name(home, capsys):
    """Issue 15.8: INSTALL was refused as 'LOAD would change something'."""
    assert main(["--home", str(home), "sql", "INSTALL httpfs"]) == 1
    assert capsys.readouterr().err == "papertrends: error: refused: INSTALL would change something; `papertrends sql` only reads\n"


def test_papers_says_when_the_limit_cut_the_list(home, capsys):
    """Issue 15.8: `papers` stopped at 100 rows without saying so."""
    assert main(["--home", str(home), "papers", "--term", "scaling", "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 101
    assert captured.err == "papertrends: 100 of 120 papers (use --limit)\n"
    assert main(["--home", str(home), "papers", "--term", "scaling", "--limit", "500", "--format", "csv"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv", [
    ["trend", "scaling", "--smooth", "0"],
    ["papers", "--term", "scaling", "--limit", "-1"],
    ["search", "scaling", "--limit", "0"],
    ["rising", "--window", "0"],
    ["trend", "scaling", "--min-upvotes", "-3"],
])
def test_bad_numbers_are_usage_errors(home, capsys, argv):
    assert main(["--home", str(home), *argv]) == 2
    err = capsys.readouterr().err
    assert "Invalid value" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["trend", "scaling", "--since", "2025-03-01", "--until", "2025-02-01"],
    ["search", "scaling", "--since", "2025-03-01", "--until", "2025-02-01"],
    ["export", "--out", "x", "--since", "2025-03-01", "--until", "2025-02-01"],
    ["ingest", "hf", "--since", "2025-03-01", "--until", "2025-02-01"],
    ["ingest", "arxiv", "--query", "cat:cs.LG", "--since", "2025-03-01", "--until", "2025-02-01"],
    ["demo", "--since", "2025-03-01", "--until", "2025-02-01"],
    ["backfill", "--since", "2025-03-01", "--until", "2025-02-01"],
])
def test_since_after_until_is_refused_everywhere(home, capsys, argv):
    assert main(["--home", str(home), *argv]) == 1
    assert capsys.readouterr().err == "papertrends: error: --until 2025-02-01 is before --since 2025-03-01\n"


def test_category_on_hf_only_data_says_why_nothing_matches(home, capsys):
    """Issue 15.10: --category on HF-only data returned nothing without a hint."""
    assert main(["--home", str(home), "trend", "scaling", "--category", "cs.LG", "--format", "csv"]) == 0
    assert "Hugging Face papers carry none" in capsys.readouterr().err
    assert main(["--home", str(home), "trend", "scaling", "--format", "csv"]) == 0
    assert capsys.readouterr().err == ""


def test_verdict_machine_formats_carry_rows_and_verdicts(home, capsys):
    """Issue 15.6: `trend --verdict --format csv|json` printed the verdicts only."""
    assert main(["--home", str(home), "trend", "scaling", "--by", "week", "--verdict", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) > 1 and {"period", "term", "matches", "total", "share", "verdict", "verdict_matches"} <= set(rows[0])
    assert main(["--home", str(home), "trend", "scaling", "--by", "week", "--verdict", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("period,term,matches,total,share,verdict,") and len(out) == len(rows) + 1


def test_with_verdicts_keeps_row_order_and_prefixes_clashing_names():
    from papertrends.transforms.trend_stats import verdict

    rows = pl.DataFrame({"period": ["2025-01", "2025-02"], "term": ["a", "a"], "matches": [1, 2], "total": [10, 10],
                         "share": [0.1, 0.2], "period_start": [dt.date(2025, 1, 1), dt.date(2025, 2, 1)]})
    joined = with_verdicts(rows.drop("period_start"), [verdict(rows, "a")])
    assert joined["period"].to_list() == ["2025-01", "2025-02"]
    assert joined["verdict"].to_list() == ["too little data"] * 2 and "verdict_total" in joined.columns


@pytest.mark.parametrize("out", ["", "."])
def test_export_refuses_the_current_directory(home, tmp_path, monkeypatch, capsys, out):
    """Issue 15.22: `export --out ''` (or `.`) replaced the current directory."""
    monkeypatch.chdir(tmp_path)
    assert main(["--home", str(home), "export", "--out", out]) == 1
    assert "names the current directory" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_write_frame_rejects_an_unknown_format():
    with pytest.raises(ValueError, match="--format must be one of"):
        write_frame(pl.DataFrame({"a": [1]}), "xml")


def test_completion_script():
    code, out, _ = invoke("completion", "bash")
    assert code == 0 and "_PAPERTRENDS_COMPLETE" in out


# --- documentation ---------------------------------------------------------------------------

def _commands(group: click.Group, path=()):
    for name, command in group.commands.items():
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from _commands(command, path + (name,))


def test_every_command_and_option_has_help_and_is_documented():
    reference = (REPO / "docs" / "commands.md").read_text("utf-8")
    for path, command in _commands(cli):
        assert command.help, path
        assert f"## `papertrends {' '.join(path)}`" in reference or isinstance(command, click.Group), path
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, (path, param.name)
                assert param.opts[-1] in reference, (path, param.opts)


def test_generated_docs_are_current():
    for path, text in generated_docs(REPO).items():
        assert path.read_text("utf-8") == text, f"{path.name} is out of date: run python -m papertrends.cli.docs"


def test_every_setting_and_its_environment_variable_is_documented():
    reference = (REPO / "docs" / "settings.md").read_text("utf-8")
    for name in Settings.model_fields:
        assert f"`{env_name(name)}`" in reference, name
    assert "HF_TOKEN" in reference


def test_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text("utf-8")
    assert "make demo" in readme and "make test" in readme and "## Layout" in readme
    assert len(readme.splitlines()) < 150
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / link).is_file(), link


# --- settings ----------------------------------------------------------------------------------

def test_settings_precedence_and_origins(tmp_path, monkeypatch):
    (tmp_path / "papertrends.toml").write_text('page_limit = 7\nread_timeout = 9.0\n[rate_limits]\n"example.org" = 2\n')
    monkeypatch.setenv("PAPERTRENDS_READ_TIMEOUT", "5")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    settings = load_settings(tmp_path)
    assert (settings.page_limit, settings.read_timeout, settings.connect_timeout) == (7, 5.0, 10.0)
    assert settings.rate_limits == {"example.org": 2.0} and settings.hf_token == "hf_secret_value"
    assert "hf_secret_value" not in repr(settings) and "hf_secret_value" not in settings.model_dump_json()
    origins = {row.name: row.origin for row in effective_settings(tmp_path)}
    assert origins["page_limit"].startswith("TOML ") and origins["read_timeout"] == "environment PAPERTRENDS_READ_TIMEOUT"
    assert origins["connect_timeout"] == "default" and origins["HF_TOKEN"] == "environment HF_TOKEN"
    monkeypatch.setenv("PAPERTRENDS_RATE_LIMITS", "a.org=1,b.org=0.5")
    assert load_settings(tmp_path).rate_limits == {"a.org": 1.0, "b.org": 0.5}
    assert load_settings(tmp_path, page_limit=3).page_limit == 3


def test_config_prints_masked_settings_with_origins(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    (tmp_path / "papertrends.toml").write_text("settled_days = 4\n")
    code, out, _ = invoke("--home", str(tmp_path), "config", "--format", "json")
    assert code == 0 and "hf_secret_value" not in out
    rows = {row["setting"]: row for row in json.loads(out)}
    assert rows["HF_TOKEN"]["value"] == "**********"
    assert rows["settled_days"]["value"] == "4" and rows["settled_days"]["origin"].startswith("TOML ")
    assert rows["writer_wait"] == {"setting": "writer_wait", "value": "60.0", "origin": "default", "env": "PAPERTRENDS_WRITER_WAIT"}


@pytest.mark.parametrize(("toml", "message"), [
    ("nonsense = 1\n", "unknown settings in"),
    ("page_limit = 'many'\n", "setting page_limit (TOML"),
    ("page_limit = 0\n", "setting page_limit (TOML"),
    ("rate_limits = 'huggingface.co'\n", "is not host=seconds"),
])
def test_bad_settings_are_one_line_errors(tmp_path, capsys, toml, message):
    (tmp_path / "papertrends.toml").write_text(toml)
    assert main(["--home", str(tmp_path), "config"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
