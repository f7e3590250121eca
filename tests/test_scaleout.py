"""The DuckLake backend on real servers: PostgreSQL catalog, moto S3 data path, migrate, --as-of, read commands.

Servers come from tests/services.py (once per session); each test gets its own catalog database
and bucket. Without PostgreSQL binaries or moto[server] these tests skip, naming what is missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from papertrends.cli.main import main
from papertrends.core.errors import WarehouseError
from papertrends.warehouse import backends, connection, ledger
from papertrends.warehouse.export import ExportRequest, export_dataset
from papertrends.warehouse.migrate import migrate, tables_differing
from papertrends.warehouse.migrations import migrations
from test_export import build_warehouse
from services import new_ducklake
from testsupport import write_settings

SINCE, UNTIL = dt.date(2025, 1, 1), dt.date(2025, 2, 28)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> Path:
    """An embedded warehouse loaded through the real loads (generated HF daily lists + a few arXiv rows)."""
    home = tmp_path_factory.mktemp("scaleout") / "data"
    build_warehouse(home / "warehouse.duckdb", SINCE, UNTIL, seed=5)
    return home / "warehouse.duckdb"


@pytest.fixture(scope="module")
def migrated_lake(embedded, postgres_server, s3_credentials) -> backends.DuckLake:
    """A DuckLake holding a copy of `embedded`, shared by the tests that only read it."""
    lake = new_ducklake(postgres_server, s3_credentials)
    migrate(embedded, lake)
    return lake


def lake_home(tmp_path: Path, lake: backends.DuckLake) -> Path:
    """A data root whose settings choose `lake` as the warehouse."""
    home = tmp_path / "lakehome"
    home.mkdir()
    write_settings(home, warehouse=lake.url, ducklake_data_path=lake.data_path, s3_endpoint=lake.s3_endpoint)
    return home


def data_files(folder: Path) -> dict[str, str]:
    """sha256 of every data file of an export (the manifest, which records when, left out)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def test_every_migration_translates_for_ducklake():
    """Keys, unique, checks, sequences and macros go; columns and NOT NULL stay; nothing else is touched."""
    con = duckdb.connect()
    for version, name, sql in migrations():
        translated = backends.ducklake_ddl(sql, con).lower()
        assert "primary key" not in translated and "nextval" not in translated and "create sequence" not in translated
        assert "create macro" not in translated, name
    initial = backends.ducklake_ddl(migrations()[0][2], con)
    assert "paper_id      varchar not null" in initial  # listings keeps its NOT NULL columns
    assert "create table runs" in initial and "run_id             bigint," in initial


def test_translation_refuses_what_it_cannot_translate():
    con = duckdb.connect()
    with pytest.raises(WarehouseError, match="cannot translate"):
        backends.ducklake_ddl("create table t (a int references u (x), b int)", con)
    kept = backends.ducklake_ddl("create table t (a int not null, b int, primary key (a), unique (b))", con)
    assert kept == "create table t (a int not null, b int);"


def test_migrate_round_trip_embedded_ducklake_embedded(embedded, ducklake, s3_credentials, tmp_path):
    there = migrate(embedded, ducklake)
    assert there.rows["papers"] > 50 and there.rows["listings"] > there.rows["papers"]
    assert there.snapshot is not None
    assert tables_differing(embedded, ducklake) == {}
    # The rows are Parquet files in the S3 bucket, not in the catalog.
    bucket = ducklake.data_path.removeprefix("s3://").split("/")[0]
    assert any(key.endswith(".parquet") for key in s3_credentials.list_keys(bucket))

    back = tmp_path / "back" / "warehouse.duckdb"
    returned = migrate(ducklake, back)
    assert returned.rows == there.rows
    assert tables_differing(embedded, back) == {}
    # The file made on the way back is a full embedded warehouse: keys, sequence past the copied runs.
    con = connection.open_writer(back)
    try:
        highest = con.execute("select max(run_id) from runs").fetchone()[0]
        assert ledger.start_run(con, "after-migrate", {}) > highest
        with pytest.raises(duckdb.ConstraintException):
            con.execute("insert into papers select * from papers limit 1")
    finally:
        con.close()


def test_migrate_never_fills_a_warehouse_that_has_rows(embedded, ducklake, tmp_path):
    migrate(embedded, ducklake)
    with pytest.raises(WarehouseError, match="already holds rows"):
        migrate(embedded, ducklake)
    with pytest.raises(WarehouseError, match="exists"):
        migrate(ducklake, embedded)
    with pytest.raises(WarehouseError, match="same warehouse"):
        migrate(ducklake, ducklake)
    assert tables_differing(embedded, ducklake) == {}


def test_writer_runs_open_a_ducklake_with_its_schema(ducklake, tmp_path):
    """Writers load into DuckLake (tests/test_ducklake_writers.py); opening one migrates the empty lake."""
    home = lake_home(tmp_path, ducklake)
    con = connection.open_writer(home / "warehouse.duckdb")
    try:
        assert backends.snapshot_of(con) is not None
        assert ledger.start_run(con, "first", {}) == 1 and ledger.start_run(con, "second", {}) == 2
    finally:
        con.close()


def test_a_conninfo_without_postgres_prefix_is_refused_not_made_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WarehouseError, match="ducklake:postgres:"):
        backends.parse_target("ducklake:host=127.0.0.1 dbname=x", data_path=str(tmp_path / "data"))
    assert list(tmp_path.iterdir()) == []


def test_as_of_needs_ducklake(embedded):
    with pytest.raises(WarehouseError, match="needs the DuckLake backend"):
        connection.open_reader(embedded, as_of=1)


def later_load(lake: backends.DuckLake, papers: int) -> None:
    """More data arriving after a snapshot: copies of some papers under new ids, listed on a new date."""
    con = backends.open_writer_ducklake(lake)
    try:
        con.execute("begin transaction")
        con.execute(
            "insert into papers by name select * replace ('9999.' || paper_id as paper_id) "
            "from papers order by paper_id limit ?", [papers])
        con.execute(
            "insert into listings by name select * replace ('9999.' || paper_id as paper_id, date '2025-03-01' as list_date) "
            "from listings where source = 'hf_daily' qualify row_number() over (partition by paper_id order by list_date) = 1 "
            "order by paper_id limit ?", [papers])
        con.execute("commit")
    finally:
        con.close()


def test_export_as_of_a_snapshot_is_byte_identical_after_later_loads(embedded, ducklake, tmp_path):
    snapshot = migrate(embedded, ducklake).snapshot
    home = lake_home(tmp_path, ducklake)
    warehouse = home / "warehouse.duckdb"

    def export(name: str, as_of=None):
        out = tmp_path / name
        result = export_dataset(warehouse, ExportRequest(out=out, table="papers", as_of=as_of))
        return out, result

    before, first = export("before", as_of=str(snapshot))
    assert first.manifest["warehouse"]["ducklake_snapshot"] == snapshot
    assert ducklake.catalog not in json.dumps(first.manifest)  # published: no catalog address in it
    later_load(ducklake, papers=7)
    again, second = export("again", as_of=str(snapshot))
    latest, third = export("latest")
    assert data_files(before) == data_files(again)
    assert second.rows == first.rows
    assert third.rows == first.rows + 7 and third.manifest["warehouse"]["ducklake_snapshot"] > snapshot


def run_cli(capsys, home: Path, *argv: str) -> str:
    capsys.readouterr()
    code = main([*argv, "--home", str(home)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


READ_COMMANDS = [
    ("trend", "model", "--by", "month"),
    ("trend", "language model|diffusion", "--by", "week", "--format", "csv"),
    ("papers", "--term", "model", "--period", "2025-01", "--format", "csv"),
    ("sql", "select source, count(*) as n, min(list_date) as first from listings group by 1 order by 1", "--format", "csv"),
    ("status", "--format", "json"),
    ("rising", "--by", "week", "--window", "2", "--min-support", "1", "--format", "csv"),
]


@pytest.mark.parametrize("argv", READ_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_read_commands_answer_alike_on_both_backends(embedded, migrated_lake, tmp_path, capsys, argv):
    on_file = run_cli(capsys, embedded.parent, *argv)
    on_lake = run_cli(capsys, lake_home(tmp_path, migrated_lake), *argv)
    if argv[0] == "status":
        on_file, on_lake = json.loads(on_file), json.loads(on_lake)
        # The difference: the lake names the snapshot it read. (Neither has built its search index.)
        assert on_file.pop("snapshot") is None and isinstance(on_lake.pop("snapshot"), int)
    assert on_lake == on_file and on_file


def test_sql_as_of_reads_the_old_snapshot_and_never_writes(embedded, ducklake, tmp_path, capsys):
    snapshot = migrate(embedded, ducklake).snapshot
    home = lake_home(tmp_path, ducklake)
    count = "select count(*) as n from papers"
    now = run_cli(capsys, home, "sql", count, "--format", "csv")
    later_load(ducklake, papers=3)
    assert run_cli(capsys, home, "sql", count, "--format", "csv", "--as-of", str(snapshot)) == now
    assert run_cli(capsys, home, "sql", count, "--format", "csv") != now
    # The reader's attach is read-only and it reaches no file but the lake's: even SQL that slipped
    # past the statement check can neither write nor read elsewhere, nor unlock itself.
    con = connection.open_reader(home / "warehouse.duckdb")
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("delete from papers")
        with pytest.raises(duckdb.Error, match="disabled by configuration"):
            con.execute("select * from read_text(?)", [str(tmp_path / "lakehome" / "papertrends.toml")])
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("set enable_external_access = true")
        assert con.execute("select count(*) from listings").fetchone()[0] > 0
    finally:
        con.close()


def test_missing_postgres_binaries_give_a_reason_to_skip(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERTRENDS_POSTGRES_BIN", str(tmp_path))
    from papertrends.devkit.services import PostgresServer, ServiceError, missing_postgres

    reason = missing_postgres()
    assert reason and str(tmp_path / "initdb") in reason
    with pytest.raises(ServiceError, match="not found"):
        PostgresServer().start()


def test_postgres_server_runs_and_stops(postgres_server):
    """The session's server answers SQL; a second cluster starts on its own port and leaves nothing behind."""
    from papertrends.devkit.services import PostgresServer

    assert postgres_server.psql("select 6 * 7").strip() == "42"
    with PostgresServer() as other:
        assert other.port != postgres_server.port
        assert other.psql("show listen_addresses").strip() == "127.0.0.1"
        root = other.root
    assert not root.exists()
