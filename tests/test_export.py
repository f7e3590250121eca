"""Dataset exports on a real warehouse file: round trips, byte-identical reruns, manifest, hf layout, safety."""

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from papertrends.cli.main import main
from papertrends.devkit.sample_listings import generate_daily_lists
from papertrends.transforms.hf_listings import daily_papers_extracted, listings_normalized
from papertrends.transforms.query import PERIODS, parse_query
from papertrends.transforms.terms import TermError, parse_term
from papertrends.warehouse import analytics, connection, ledger, loads, reads
from papertrends.warehouse.export import ExportError, ExportRequest, export_dataset, verify_manifest

REPO = Path(__file__).resolve().parents[1]
SINCE, UNTIL = dt.date(2025, 1, 1), dt.date(2025, 2, 28)
ARXIV_PAPERS = 3


def build_warehouse(path: Path, since: dt.date, until: dt.date, seed: int) -> None:
    """Load generated daily lists through the real normalizer and loads.load (no Prefect needed)."""
    listings, quarantine = [], []
    for day, items in sorted(generate_daily_lists(since, until, seed=seed).items()):
        origin = f"generated:{day}"
        extracted = daily_papers_extracted(json.dumps(items).encode(), origin=origin, raw_sha256="0" * 64)
        fetched_at = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(6), dt.timezone.utc)
        rows, bad = listings_normalized(
            extracted, source="hf_daily", list_date=dt.date.fromisoformat(day), fetched_at=fetched_at,
            origin=origin, raw_sha256="0" * 64,
        )
        listings.append(rows)
        quarantine.append(bad)
    con = connection.open_writer(path)
    run_id = ledger.start_run(con, "test-load", {})
    loads.load(con, pl.concat(listings), pl.concat(quarantine), run_id)
    ledger.finish_run(con, run_id, "completed")
    # A few arXiv listings of existing papers, as the arXiv source will add them.
    con.execute(
        "insert into listings (source, list_date, paper_id, position, upvotes, num_comments, fetched_at, origin, raw_sha256) "
            "select 'arxiv_new', list_date + 1, paper_id, 0, null, null, fetched_at, 'arxiv-test', raw_sha256 "
        "from listings order by paper_id limit ?",
        [ARXIV_PAPERS],
    )
    con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("export") / "data"
    build_warehouse(home / "warehouse.duckdb", SINCE, UNTIL, seed=11)
    return home / "warehouse.duckdb"


@pytest.fixture(scope="module", params=["file", "ducklake"])
def any_warehouse(request, tmp_path_factory, warehouse) -> Path:
    """The same warehouse on both backends: `warehouse`, then its twin loaded into a DuckLake (PostgreSQL + S3)."""
    if request.param == "file":
        return warehouse
    from services import new_ducklake
    from testsupport import write_settings

    lake = new_ducklake(request.getfixturevalue("postgres_server"), request.getfixturevalue("s3_credentials"))
    home = tmp_path_factory.mktemp("export-lake") / "data"
    home.mkdir()
    write_settings(home, warehouse=lake.url, ducklake_data_path=lake.data_path, s3_endpoint=lake.s3_endpoint)
    build_warehouse(home / "warehouse.duckdb", SINCE, UNTIL, seed=11)
    return home / "warehouse.duckdb"


def query(warehouse: Path, sql: str, parameters=None) -> pl.DataFrame:
    con = connection.open_reader(warehouse)  # the file, or the DuckLake its data root's settings choose
    try:
        return con.execute(sql, parameters or []).pl()
    finally:
        con.close()


def all_papers(warehouse: Path) -> pl.DataFrame:
    """The papers as the export should give them, by a query written independently of export.py."""
    return query(
        warehouse,
        "select p.* exclude (search_text), f.first_list_date, "
        "(select upvotes from listings l where l.paper_id = p.paper_id and upvotes is not null "
        " order by fetched_at desc, upvotes desc limit 1) as upvotes_latest, "
        "(select max(upvotes) from listings l where l.paper_id = p.paper_id) as upvotes_max "
        "from papers p "
        "join (select paper_id, min(list_date) as first_list_date from listings group by 1) f using (paper_id) "
        "order by paper_id",
    )


def data_files(folder: Path) -> dict[str, str]:
    """sha256 of every file in an export except manifest.json (which holds created_at)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"
    }


def test_parquet_round_trip_keeps_rows_and_types(any_warehouse, tmp_path):
    warehouse = any_warehouse
    result = export_dataset(warehouse, ExportRequest(out=tmp_path / "papers"))
    expected = all_papers(warehouse)
    assert result.rows == expected.height > 100
    by_polars = pl.read_parquet(tmp_path / "papers" / "*.parquet")
    assert by_polars.schema == expected.schema
    assert by_polars.equals(expected)
    by_pyarrow = pq.read_table(tmp_path / "papers" / "part-00000.parquet")
    assert pl.from_arrow(by_pyarrow).equals(expected)
    manifest = json.loads((tmp_path / "papers" / "manifest.json").read_text())
    assert [c["name"] for c in manifest["schema"]] == expected.columns
    assert manifest["table"] == "papers" and manifest["rows"] == expected.height


def test_csv_and_jsonl_round_trip(warehouse, tmp_path):
    expected = all_papers(warehouse)
    export_dataset(warehouse, ExportRequest(out=tmp_path / "csv", format="csv"))
    export_dataset(warehouse, ExportRequest(out=tmp_path / "jsonl", format="jsonl"))
    from_csv = pl.read_csv(tmp_path / "csv" / "part-00000.csv", infer_schema=False)
    assert from_csv.columns == expected.columns and from_csv.height == expected.height
    assert from_csv["paper_id"].to_list() == expected["paper_id"].to_list()
    assert from_csv["abstract"].to_list() == expected["abstract"].to_list()
    # Lists have no CSV form: they are JSON text, and the manifest says which columns.
    assert [json.loads(a) for a in from_csv["authors"]] == [a.to_list() for a in expected["authors"]]
    manifest = json.loads((tmp_path / "csv" / "manifest.json").read_text())
    list_columns = [name for name, dtype in expected.schema.items() if isinstance(dtype, (pl.List, pl.Struct))]
    assert "authors" in list_columns and manifest["csv_json_columns"] == list_columns
    from_jsonl = pl.read_ndjson(tmp_path / "jsonl" / "part-00000.jsonl", schema=expected.schema)
    assert from_jsonl.equals(expected)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "hf"])
def test_reruns_are_byte_identical(warehouse, tmp_path, fmt):
    request = dict(table="listings", format=fmt, rows_per_file=300)
    first = export_dataset(warehouse, ExportRequest(out=tmp_path / "a", **request))
    second = export_dataset(warehouse, ExportRequest(out=tmp_path / "b", **request))
    assert len(first.files) == 4  # 912 listings over files of 300 rows
    assert data_files(tmp_path / "a") == data_files(tmp_path / "b")
    strip = lambda m: {k: v for k, v in m.items() if k != "created_at"}  # noqa: E731
    assert strip(first.manifest) == strip(second.manifest)


def test_manifest_checksums_match_the_files(warehouse, tmp_path):
    out = tmp_path / "listings"
    result = export_dataset(warehouse, ExportRequest(out=out, table="listings", rows_per_file=250))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["warehouse"]["last_run_id"] == 1 and manifest["warehouse"]["schema_version"] >= 1
    assert manifest["papertrends_version"] and manifest["created_at"]
    assert sum(f["rows"] for f in manifest["files"]) == result.rows == query(warehouse, "select * from listings").height
    for entry in manifest["files"]:
        path = out / entry["path"]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["bytes"] == path.stat().st_size
        assert entry["rows"] == pq.ParquetFile(path).metadata.num_rows
    assert verify_manifest(out) == []
    damaged = out / manifest["files"][1]["path"]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert verify_manifest(out) == [f"{manifest['files'][1]['path']}: sha256 differs from the manifest"]


def test_hf_layout_card_parses_and_files_load(warehouse, tmp_path):
    out = tmp_path / "hf"
    result = export_dataset(warehouse, ExportRequest(out=out, format="hf", rows_per_file=400, terms=("scaling",)))
    names = sorted(p.name for p in (out / "data").iterdir())
    assert names == [f"train-{i:05d}-of-{len(names):05d}.parquet" for i in range(len(names))] and len(names) >= 1
    text = (out / "README.md").read_text("utf-8")
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}]
    features = header["dataset_info"]["features"]
    table = pq.read_table(out / "data")
    assert [f["name"] for f in features] == table.schema.names
    assert {f["name"]: f.get("dtype") or f.get("sequence") for f in features}["authors"] == "string"
    assert {f["name"]: f.get("dtype") for f in features}["first_list_date"] == "date32"
    assert header["dataset_info"]["splits"][0]["num_examples"] == table.num_rows == result.rows
    assert header["license"] == "other" and "CC0" in text
    assert result.manifest["query"] in text  # the query that made it
    loaded = pl.read_parquet(out / "data" / "train-*.parquet")
    assert loaded.height == result.rows
    needle = parse_term("scaling")
    assert all(needle.matches(t, a) for t, a in loaded.select("title", "abstract").iter_rows())


def test_filters_pick_the_papers_they_say(warehouse, tmp_path):
    papers = all_papers(warehouse)
    term = parse_term("tractab*")
    since, until = dt.date(2025, 1, 15), dt.date(2025, 2, 10)
    expected = sorted(
        r["paper_id"] for r in papers.iter_rows(named=True)
        if since <= r["first_list_date"] <= until and term.matches(r["title"], r["abstract"])
    )
    result = export_dataset(warehouse, ExportRequest(out=tmp_path / "f", terms=("tractab*",), since=since, until=until))
    got = pl.read_parquet(tmp_path / "f" / "*.parquet")
    assert got["paper_id"].to_list() == expected and result.rows == len(expected) > 0
    filters = json.loads((tmp_path / "f" / "manifest.json").read_text())["filters"]
    assert filters == {"terms": ["tractab*"], "since": "2025-01-15", "until": "2025-02-10", "source": None, "category": None, "by": None}


def test_source_filter_selects_papers_and_their_listings(warehouse, tmp_path):
    arxiv_ids = query(warehouse, "select paper_id from listings where source = 'arxiv_new' order by 1")["paper_id"].to_list()
    assert len(arxiv_ids) == ARXIV_PAPERS
    export_dataset(warehouse, ExportRequest(out=tmp_path / "p", source="arxiv"))
    assert pl.read_parquet(tmp_path / "p" / "*.parquet")["paper_id"].to_list() == arxiv_ids
    export_dataset(warehouse, ExportRequest(out=tmp_path / "l", table="listings", source="hf"))
    hf = pl.read_parquet(tmp_path / "l" / "*.parquet")
    assert set(hf["source"]) == {"hf_daily"}
    assert hf.height == query(warehouse, "select * from listings where source = 'hf_daily'").height


def test_a_filter_matching_nothing_gives_an_empty_typed_file(warehouse, tmp_path):
    result = export_dataset(warehouse, ExportRequest(out=tmp_path / "e", terms=("zzzzunlikelyword",)))
    assert result.rows == 0 and len(result.files) == 1
    frame = pl.read_parquet(tmp_path / "e" / "part-00000.parquet")
    assert frame.height == 0 and frame.schema == all_papers(warehouse).schema


def test_category_filter_when_no_paper_has_categories_is_empty(warehouse, tmp_path):
    # Hugging Face listings carry no arXiv categories: the filter keeps nothing, and says so by counts.
    result = export_dataset(warehouse, ExportRequest(out=tmp_path / "c", category="cs.LG"))
    assert result.rows == 0


def test_trends_export_equals_the_trend_query(any_warehouse, tmp_path):
    warehouse = any_warehouse
    terms = ("scaling", "tractable")
    export_dataset(warehouse, ExportRequest(out=tmp_path / "t", table="trends", terms=terms, by="month"))
    got = pl.read_parquet(tmp_path / "t" / "*.parquet")
    con = connection.open_reader(warehouse)
    expected = analytics.trend(con, list(terms), by="month").drop("period_start").sort("period", "term")
    scan = reads.trend(con, list(terms), by="month").sort("period", "term")
    con.close()
    assert got.equals(expected)
    # The term index and the full scan agree on every period that has papers.
    assert got.filter(pl.col("total") > 0).equals(scan)


def test_export_term_alternatives_are_alternatives_not_a_phrase(warehouse, tmp_path):
    # Issue 12: `export --term 'scaling|tractable'` searched the phrase "scaling tractable".
    papers = all_papers(warehouse)
    query = parse_query("scaling|tractable")
    expected = sorted(r["paper_id"] for r in papers.iter_rows(named=True) if query.matches(r["title"], r["abstract"]))
    either = set(expected)
    assert either > {r["paper_id"] for r in papers.iter_rows(named=True) if parse_term("scaling").matches(r["title"], r["abstract"])}
    result = export_dataset(warehouse, ExportRequest(out=tmp_path / "alt", terms=("scaling|tractable",)))
    assert pl.read_parquet(tmp_path / "alt" / "*.parquet")["paper_id"].to_list() == expected
    assert result.rows == len(expected) > 0


def test_export_trends_by_every_period_trend_knows(warehouse, tmp_path):
    # Issue 12: `export --by quarter` was refused while `trend --by quarter` worked.
    for by in PERIODS:
        out = tmp_path / by
        # The export opens its own reader (with its memory limit): no other reader open meanwhile.
        export_dataset(warehouse, ExportRequest(out=out, table="trends", terms=("scaling|tractable", "tractab*"), by=by))
        got = pl.read_parquet(out / "*.parquet")
        con = connection.open_reader(warehouse)
        try:
            expected = analytics.trend(con, ["scaling|tractable", "tractab*"], by=by).drop("period_start")
            scan = reads.trend(con, ["scaling|tractable", "tractab*"], by=by).sort("period", "term")
        finally:
            con.close()
        assert got.equals(expected.sort("period", "term")), by
        assert got.filter(pl.col("total") > 0).equals(scan), by
    with pytest.raises(ExportError, match="--by must be one of day, week, month, quarter, year"):
        export_dataset(warehouse, ExportRequest(out=tmp_path / "decade", table="trends", terms=("scaling",), by="decade"))


@pytest.mark.parametrize("bad", ["*scaling", "scal**", "scal*ing", "scaling||tractable", "(scaling|tractable) laws", "--"])
def test_export_refuses_unsupported_term_syntax_before_writing(warehouse, tmp_path, bad):
    with pytest.raises(TermError):
        export_dataset(warehouse, ExportRequest(out=tmp_path / "bad", terms=(bad,)))
    assert not (tmp_path / "bad").exists()


def test_partitioned_listings_read_back_as_the_table(warehouse, tmp_path):
    out = tmp_path / "part"
    result = export_dataset(warehouse, ExportRequest(out=out, table="listings", partition_by=("source", "list_date")))
    folders = {p.parent.relative_to(out).as_posix() for p in out.rglob("*.parquet")}
    assert "source=hf_daily/list_date=2025-01-01" in folders and any(f.startswith("source=arxiv_new/") for f in folders)
    back = pl.read_parquet(out / "**" / "*.parquet", hive_partitioning=True)
    expected = query(warehouse, "select * from listings order by source, list_date, paper_id")
    assert back.height == expected.height == result.rows
    assert back.select("paper_id", "upvotes").equals(expected.select("paper_id", "upvotes"))
    assert back["list_date"].cast(pl.Date).to_list() == expected["list_date"].to_list()


def test_query_export_and_partition_values_cannot_escape_the_folder(warehouse, tmp_path):
    out = tmp_path / "q" / "out"
    sql = "select k, v from (values ('../../evil', 1), ('a/b', 2), (null, 3)) t(k, v) order by v;"
    result = export_dataset(warehouse, ExportRequest(out=out, table=None, query=sql, partition_by=("k",), format="jsonl"))
    assert result.rows == 3
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert all(w.startswith("q/out/") for w in written)
    assert "q/out/k=..%2F..%2Fevil/part-00000.jsonl" in written
    assert "q/out/k=__HIVE_DEFAULT_PARTITION__/part-00000.jsonl" in written


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"table": None, "query": "drop table papers"}, "refused: --query must be a SELECT"),
        ({"table": None, "query": "select 1; select 2"}, "exactly one SQL statement"),
        ({"table": None, "query": "select 1", "terms": ("x",)}, "filters go with --table"),
        ({"table": "trends"}, "needs at least one --term"),
        ({"table": "runs", "since": dt.date(2025, 1, 1)}, "do not apply to --table runs"),
        ({"partition_by": ("nope",)}, "--partition-by nope: no such column"),
        ({"partition_by": ("authors",)}, "cannot name a folder"),
        ({"format": "hf", "partition_by": ("paper_id",)}, "--partition-by goes with"),
    ],
)
def test_bad_requests_are_refused_before_writing(warehouse, tmp_path, request_args, message):
    with pytest.raises(ExportError, match=message.replace("(", r"\(")):
        export_dataset(warehouse, ExportRequest(out=tmp_path / "x", **request_args))
    assert list(tmp_path.iterdir()) == []
    assert query(warehouse, "select count(*) as n from papers")["n"][0] > 0  # the drop did nothing


def test_a_non_empty_target_is_refused_without_force(warehouse, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="is not empty; use --force"):
        export_dataset(warehouse, ExportRequest(out=out))
    with pytest.raises(ExportError, match="holds no manifest.json: --force only replaces an earlier export"):
        export_dataset(warehouse, ExportRequest(out=out, force=True))
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    (out / "keep.txt").unlink()
    first = export_dataset(warehouse, ExportRequest(out=out, table="listings"))
    with pytest.raises(ExportError, match="is not empty; use --force"):
        export_dataset(warehouse, ExportRequest(out=out))
    second = export_dataset(warehouse, ExportRequest(out=out, format="csv", force=True))
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "part-00000.csv"]
    assert first.manifest["table"] == "listings" and second.manifest["table"] == "papers"
    assert pl.read_csv(out / "part-00000.csv").height == second.rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing left beside it


def test_the_data_root_is_never_a_target_even_with_force(warehouse, tmp_path):
    home = warehouse.parent
    for target in (home, home.parent, home / "lake"):
        with pytest.raises(ExportError, match="overlaps"):
            export_dataset(warehouse, ExportRequest(out=target, force=True),
                           protected=[warehouse, home / "raw", home / "lake"])
    assert warehouse.exists()


KILLED_EXPORT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from papertrends.warehouse.export import ExportRequest, export_dataset

    def stall_after_first_file(path, rows):
        Path(sys.argv[3]).write_text(path)
        time.sleep(120)  # the test kills us here, midway through the export

    export_dataset(Path(sys.argv[1]), ExportRequest(out=Path(sys.argv[2]), table="listings", rows_per_file=100),
                   on_file=stall_after_first_file)
    """
)


def test_an_export_killed_midway_leaves_nothing_under_the_final_name(warehouse, tmp_path):
    out, marker = tmp_path / "exports" / "listings", tmp_path / "first-file-written"
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_EXPORT, str(warehouse), str(out), str(marker)], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the export never wrote its first file"
            time.sleep(0.05)
        partials = list(out.parent.glob(".listings.partial-*"))
        assert len(partials) == 1 and (partials[0] / marker.read_text()).is_file()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not out.exists()
    # The next export completes, and clears what the killed one left beside the target.
    export_dataset(warehouse, ExportRequest(out=out, table="listings", rows_per_file=100))
    assert verify_manifest(out) == []
    assert [p.name for p in out.parent.iterdir()] == ["listings"]


def test_cli_export_writes_and_reports(warehouse, tmp_path, capsys):
    home = warehouse.parent
    out = tmp_path / "cli"
    code = main(["--home", str(home), "export", "--table", "listings", "--format", "csv", "--partition-by", "list_date",
                 "--since", "2025-02-01", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(f"exported {json.loads((out / 'manifest.json').read_text())['rows']} rows (listings, csv) to {out}")
    assert verify_manifest(out) == []
    dates = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert dates[0] == "list_date=2025-02-01"
    code = main(["--home", str(home), "export", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err == f"papertrends: error: refused: --out {out} is not empty; use --force to replace it\n"


def test_cli_export_query_from_stdin(warehouse, tmp_path, capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("select paper_id, upvotes from listings order by upvotes desc, paper_id limit 5"))
    code = main(["--home", str(warehouse.parent), "export", "--query", "-", "--format", "jsonl", "--out", str(tmp_path / "q")])
    assert code == 0, capsys.readouterr().err
    lines = (tmp_path / "q" / "part-00000.jsonl").read_text().splitlines()
    expected = query(warehouse, "select paper_id, upvotes from listings order by upvotes desc, paper_id limit 5")
    assert [json.loads(line) for line in lines] == expected.to_dicts()


def test_export_flow_runs_under_prefect(warehouse, tmp_path, prefect_harness):
    from papertrends.flows.export import export_dataset_flow

    summary = export_dataset_flow(out=str(tmp_path / "flow"), format="hf", terms=["scaling"], home=str(warehouse.parent))
    assert summary["rows"] > 0 and summary["files"] == 1
    assert verify_manifest(tmp_path / "flow") == []
    direct = export_dataset(warehouse, ExportRequest(out=tmp_path / "direct", format="hf", terms=("scaling",)))
    assert data_files(tmp_path / "flow") == data_files(tmp_path / "direct") and direct.rows == summary["rows"]


def test_export_needs_no_write_access_to_the_warehouse(warehouse, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in warehouse.parent.rglob("*")}
    mode = warehouse.stat().st_mode
    os.chmod(warehouse, 0o444)
    try:
        export_dataset(warehouse, ExportRequest(out=tmp_path / "ro", table="listings"))
    finally:
        os.chmod(warehouse, mode)
    assert {p: p.stat().st_mtime_ns for p in warehouse.parent.rglob("*")} == before


def test_a_target_filled_during_the_export_is_not_replaced_without_force(warehouse, tmp_path):
    out = tmp_path / "out"

    def someone_else_writes(path, rows):
        out.mkdir(exist_ok=True)
        (out / "theirs.txt").write_text("not ours")

    with pytest.raises(ExportError, match="filled while exporting"):
        export_dataset(warehouse, ExportRequest(out=out), on_file=someone_else_writes)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]


@pytest.mark.parametrize("value", ["['cs.LG', 'cs.CL']"])
def test_category_filter_once_the_warehouse_has_categories(tmp_path, value):
    path = tmp_path / "data" / "warehouse.duckdb"
    build_warehouse(path, dt.date(2025, 1, 1), dt.date(2025, 1, 5), seed=5)
    con = duckdb.connect(str(path))
    con.execute(f"update papers set categories = {value} where paper_id in (select paper_id from papers order by 1 limit 4)")
    expected = [r[0] for r in con.execute("select paper_id from papers where categories is not null order by 1").fetchall()]
    con.close()
    result = export_dataset(path, ExportRequest(out=tmp_path / "cl", category="cs.CL"))
    assert pl.read_parquet(tmp_path / "cl" / "*.parquet")["paper_id"].to_list() == expected and result.rows == 4
    assert export_dataset(path, ExportRequest(out=tmp_path / "cv", category="cs.CV")).rows == 0


def test_cli_export_trends_by_quarter_with_alternatives(warehouse, tmp_path, capsys):
    # Issue 12: the CLI refused `export --by quarter` (its choices had no quarter) while `trend --by quarter` worked.
    out = tmp_path / "quarters"
    code = main(["--home", str(warehouse.parent), "export", "--table", "trends", "--term", "scaling|tractable",
                 "--by", "quarter", "--format", "csv", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    got = pl.read_csv(out / "*.csv")
    assert got["period"].to_list() == ["2025-Q1"] and got["term"].to_list() == ["scaling|tractable"]
    con = connection.open_reader(warehouse)
    try:
        expected = analytics.trend(con, ["scaling|tractable"], by="quarter").drop("period_start")
    finally:
        con.close()
    assert got.rows() == expected.rows()


def test_exports_carry_no_local_path(tmp_path):
    """Issue 15.2: origins relative to the raw archive, the manifest names the warehouse by schema and snapshot."""
    from papertrends.pipeline.lake import normalized_record
    from papertrends.sources.files import file_landed
    from papertrends.sources.kinds import KIND_HF_DAILY_FILE
    from papertrends.sources.raw_archive import RawRecord

    saved = tmp_path / "saved" / "2025-01-10.json"
    saved.parent.mkdir()
    saved.write_text(json.dumps(generate_daily_lists(dt.date(2025, 1, 10), dt.date(2025, 1, 10), seed=3)["2025-01-10"]))
    home = tmp_path / "data"
    landed = file_landed(home / "raw", saved, KIND_HF_DAILY_FILE, None).path
    normalized = normalized_record(RawRecord.at(Path(landed)))
    con = connection.open_writer(home / "warehouse.duckdb")
    run_id = ledger.start_run(con, "test-load", {})
    loads.load(con, normalized.listings, normalized.quarantine, run_id)
    ledger.finish_run(con, run_id, "completed")
    con.close()
    for table in ("listings", "papers"):
        out = tmp_path / f"out-{table}"
        export_dataset(home / "warehouse.duckdb", ExportRequest(out=out, table=table, format="hf"))
        for path in out.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert str(tmp_path).encode() not in data, f"{path.name} holds a local path"
        manifest = json.loads((out / "manifest.json").read_text())
        assert "path" not in manifest["warehouse"]
        assert manifest["warehouse"]["snapshot"].startswith(f"schema {manifest['warehouse']['schema_version']}, run {run_id}")
    origins = query(home / "warehouse.duckdb", "select distinct origin from listings")["origin"].to_list()
    assert origins == [Path(landed).relative_to(home / "raw").as_posix()]


def test_hf_card_describes_every_column_and_counts_as_datasets_does(warehouse, tmp_path):
    """Issue 15.2b: descriptions, language, size category, and num_bytes equal to what `datasets` computes."""
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "hf"
    result = export_dataset(warehouse, ExportRequest(out=out, format="hf", rows_per_file=400))
    text = (out / "README.md").read_text("utf-8")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["language"] == ["en"]
    assert header["size_categories"] == ["n<1K" if result.rows < 1000 else "1K<n<10K"]
    columns = text.split("## Columns\n\n")[1].split("\n\n")[0].splitlines()
    assert len(columns) == len(header["dataset_info"]["features"])
    assert all(line.split("): ", 1)[1] and "of the papers table" not in line for line in columns)
    loaded = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    info = header["dataset_info"]
    assert info["splits"][0]["num_examples"] == loaded.num_rows == result.rows
    assert info["splits"][0]["num_bytes"] == loaded.info.splits["train"].num_bytes
    assert info["dataset_size"] == loaded.info.dataset_size


def test_papers_export_carries_latest_and_maximum_upvotes(warehouse, tmp_path):
    """Issue 15.2b: the papers export has the upvotes a user expects, by an independent query."""
    export_dataset(warehouse, ExportRequest(out=tmp_path / "papers"))
    exported = pl.read_parquet(tmp_path / "papers" / "*.parquet").select("paper_id", "upvotes_latest", "upvotes_max")
    expected = query(
        warehouse,
        "select paper_id, "
        "(select upvotes from listings l2 where l2.paper_id = p.paper_id and upvotes is not null "
        " order by fetched_at desc, upvotes desc limit 1) as upvotes_latest, "
        "(select max(upvotes) from listings l3 where l3.paper_id = p.paper_id) as upvotes_max "
        "from papers p order by paper_id",
    )
    assert exported["upvotes_max"].null_count() < exported.height
    assert exported.equals(expected.cast(exported.schema))


@pytest.mark.parametrize("request_args", [
    dict(table="papers"), dict(table="listings", format="csv", rows_per_file=300),
    dict(table="trends", terms=("scaling", "model|diffusion"), by="week"),
    dict(table="papers", format="hf", since=dt.date(2025, 2, 1)),
], ids=["papers", "listings-csv", "trends", "papers-hf"])
def test_an_export_is_byte_identical_on_both_backends(warehouse, any_warehouse, tmp_path, request_args):
    """The same rows loaded into a file and into a DuckLake export to the same bytes."""
    on_file = export_dataset(warehouse, ExportRequest(out=tmp_path / "file", **request_args))
    on_lake = export_dataset(any_warehouse, ExportRequest(out=tmp_path / "lake", **request_args))
    assert on_file.rows == on_lake.rows > 0
    assert data_files(tmp_path / "file") == data_files(tmp_path / "lake")
