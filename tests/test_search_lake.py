"""BM25 search on a DuckLake (PostgreSQL catalog, moto S3 data): the same ranking as on the embedded file.

DuckLake 1.5.5 cannot store the fts extension's macros, so a lake's index is built by the same
extension in a scratch file and only its plain tables (dict, docs, stats, term_tf) are copied into
the lake (warehouse/term_index.py). These tests compare the two backends answer for answer.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl
from polars.testing import assert_frame_equal
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.transforms.hf_listings import daily_papers_extracted, listings_normalized
from papertrends.warehouse import analytics, backends, connection, ledger, loads, term_index
from papertrends.warehouse.migrate import migrate
from services import new_ducklake
from test_export import build_warehouse
from testsupport import write_settings

SINCE, UNTIL = dt.date(2025, 1, 1), dt.date(2025, 1, 31)
QUERIES = ["model", "language model", "diffusion transformer", "reasoning agents benchmark", "zzzunknownword"]


def lake_home(tmp_path: Path, lake: backends.DuckLake) -> Path:
    home = tmp_path / "lakehome"
    home.mkdir()
    write_settings(home, warehouse=lake.url, ducklake_data_path=lake.data_path, s3_endpoint=lake.s3_endpoint)
    return home


def cli(capsys, home: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv, "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def load_days(warehouse: Path, since: dt.date, until: dt.date, seed: int) -> None:
    """More generated daily lists through the real loads (which count what the search index lacks)."""
    listings, quarantine = [], []
    for day, items in sorted(generate_daily_lists(since, until, seed=seed).items()):
        extracted = daily_papers_extracted(json.dumps(items).encode(), origin=f"later:{day}", raw_sha256="1" * 64)
        rows, bad = listings_normalized(
            extracted, source="hf_daily", list_date=dt.date.fromisoformat(day),
            fetched_at=dt.datetime.combine(dt.date.fromisoformat(day), dt.time(6), dt.timezone.utc),
            origin=f"later:{day}", raw_sha256="1" * 64,
        )
        listings.append(rows)
        quarantine.append(bad)
    con = connection.open_writer(warehouse)
    try:
        run_id = ledger.start_run(con, "test-later", {})
        loads.load(con, pl.concat(listings), pl.concat(quarantine), run_id)
        ledger.finish_run(con, run_id, "completed")
    finally:
        con.close()


def same_answers(embedded: Path, home: Path, queries: list[str], filters: list[dict]) -> bool:
    """analytics.search gives equal frames (papers, order, scores) on the file and on the lake, none empty."""
    on_file = connection.open_reader(embedded)
    on_lake = connection.open_reader(home / "warehouse.duckdb")
    try:
        for query in queries:
            for given in filters:
                expected = analytics.search(on_file, query, **given)
                assert_frame_equal(analytics.search(on_lake, query, **given), expected)
                assert expected.height or query == "zzzunknownword", (query, given)
    finally:
        on_file.close()
        on_lake.close()
    return True


def test_the_tokenize_expression_is_the_fts_macro():
    """search tokenizes its query with FTS_TOKENIZE_SQL: the body of the macro fts makes with FTS_OPTIONS."""
    con = duckdb.connect()
    term_index.load_fts(con)
    con.execute("create table papers (paper_id varchar, title varchar, abstract varchar)")
    con.execute("insert into papers values ('1', 'Ünïcode Models', 'of language-models')")
    con.execute(f"pragma create_fts_index('papers', 'paper_id', 'title', 'abstract', {term_index.FTS_OPTIONS})")
    body = con.execute("select macro_definition from duckdb_functions() "
                       "where schema_name = 'fts_main_papers' and function_name = 'tokenize'").fetchone()[0]
    assert body == term_index.FTS_TOKENIZE_SQL == term_index.fts_tokenize_sql("s")


def test_search_on_a_ducklake_ranks_as_on_the_file(tmp_path, postgres_server, s3_credentials, capsys):
    """Same queries, same top-k papers and scores on both backends; lag, refresh and status work on the lake."""
    embedded = tmp_path / "file" / "warehouse.duckdb"
    build_warehouse(embedded, SINCE, UNTIL, seed=5)
    lake = new_ducklake(postgres_server, s3_credentials)
    migrate(embedded, lake)
    home = lake_home(tmp_path, lake)

    # No index yet: said plainly, on the lake as on a file.
    code, out, err = cli(capsys, home, "search", "model")
    assert code != 0 and "no search index yet" in err and "Traceback" not in err
    code, out, _ = cli(capsys, home, "status", "--format", "json")
    assert code == 0 and json.loads(out)["search_index"].startswith("no search index yet")

    for side in (embedded.parent, home):
        code, _, err = cli(capsys, side, "search", "--refresh-index")
        assert code == 0 and "search index rebuilt" in err, err
    code, out, _ = cli(capsys, home, "status", "--format", "json")
    assert json.loads(out)["search_index"].startswith("search index current")
    # Only the plain tables are in the lake (no macro could be stored there).
    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        tables = {t for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = 'fts_main_papers'").fetchall()}
        assert tables == set(term_index.FTS_LAKE_TABLES)
    finally:
        con.close()

    assert same_answers(embedded, home, QUERIES, [{}, {"limit": 50}, {"since": dt.date(2025, 1, 10), "until": dt.date(2025, 1, 20)}])
    on_file = cli(capsys, embedded.parent, "search", "language model", "--format", "csv")
    assert cli(capsys, home, "search", "language model", "--format", "csv") == on_file and on_file[1].count("\n") == 21

    # Loads into the lake count what the index lacks; a refresh catches up, and finds the new papers.
    load_days(home / "warehouse.duckdb", dt.date(2025, 2, 1), dt.date(2025, 2, 3), seed=9)
    load_days(embedded, dt.date(2025, 2, 1), dt.date(2025, 2, 3), seed=9)
    code, out, _ = cli(capsys, home, "status", "--format", "json")
    assert "search index behind the warehouse by" in json.loads(out)["search_index"]
    code, out, err = cli(capsys, home, "search", "model", "--format", "csv")
    assert code == 0 and "warning: search index behind" in err
    for side in (embedded.parent, home):
        assert cli(capsys, side, "search", "--refresh-index")[0] == 0
    code, _, err = cli(capsys, home, "search", "--refresh-index")
    assert code == 0 and "already current" in err
    assert same_answers(embedded, home, QUERIES[:3], [{"since": dt.date(2025, 2, 1)}])
    code, out, err = cli(capsys, home, "search", "model")
    assert code == 0 and "warning" not in err
