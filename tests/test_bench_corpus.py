"""The benchmark corpus generator (bench/corpus.py): valid real-format input, deterministic, true answers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from papertrends.core.settings import load_settings
from papertrends.flows import ingest, runs
from papertrends.pipeline import registry
from papertrends.transforms.terms import parse_term
from papertrends.warehouse import connection, reads

from bench import corpus

SIZE = 400
# Two months of lists: ~60 files keep the ingest in this test fast; the trend is by month.
FIRST, LAST = dt.date(2024, 11, 1), dt.date(2024, 12, 31)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, corpus.generate(folder, SIZE, seed=11, first=FIRST, last=LAST)


def test_generation_is_deterministic_and_seeded(generated, tmp_path):
    folder, manifest = generated
    again = corpus.generate(tmp_path / "again", SIZE, seed=11, first=FIRST, last=LAST)
    other = corpus.generate(tmp_path / "other", SIZE, seed=12, first=FIRST, last=LAST)
    names = sorted(p.name for p in (folder / "hf").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again" / "hf").iterdir())
    for name in names[:: max(1, len(names) // 20)]:
        assert (folder / "hf" / name).read_bytes() == (tmp_path / "again" / "hf" / name).read_bytes()
    assert (folder / "arxiv" / "snapshot.jsonl").read_bytes() == (tmp_path / "again" / "arxiv" / "snapshot.jsonl").read_bytes()
    assert (folder / "arxiv" / "snapshot.jsonl").read_bytes() != (tmp_path / "other" / "arxiv" / "snapshot.jsonl").read_bytes()
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in manifest.items() if k != "seconds"}


def test_files_have_the_real_shapes(generated, samples):
    folder, manifest = generated
    items = [item for path in sorted((folder / "hf").glob("*.json")) for item in json.loads(path.read_text("utf-8"))]
    assert len(items) == manifest["listing_rows"] == SIZE + manifest["relisted"]
    assert len({item["paper"]["id"] for item in items}) == SIZE
    real_item = json.loads(sorted((samples / "hf_daily").glob("2025-0[6-9]*.json"))[0].read_text("utf-8"))[0]
    required = {"paper", "publishedAt", "title", "summary", "thumbnail", "numComments", "submittedBy"}
    assert required <= set(real_item) and all(required <= set(item) for item in items)
    assert all({"id", "authors", "publishedAt", "title", "summary", "upvotes"} <= set(item["paper"]) for item in items)
    lengths = sorted(len(item["paper"]["summary"]) for item in items)
    assert 400 < lengths[len(lengths) // 2] < 1600
    real_line = json.loads((samples / "arxiv" / "kaggle_arxiv_metadata_snapshot_head100.jsonl").open().readline())
    lines = (folder / "arxiv" / "snapshot.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == SIZE
    for line in lines[:: SIZE // 10]:
        record = json.loads(line)
        assert set(record) == set(real_line)
        assert record["abstract"].startswith("  ") and "\n" in record["abstract"]


def test_pipeline_answers_equal_the_planted_truth(generated, tmp_path):
    folder, manifest = generated
    settings = load_settings(tmp_path / "home")
    run_id = runs.begin_writer_run(settings, "ingest-files", {"paths": [str(folder)]})
    landed = ingest.land_files.fn(settings, [str(folder / "hf")], None)
    normalized = registry.landings_normalized(settings.lake_dir, landed)
    assert normalized["quarantined"] == 0 and normalized["items_in"] == manifest["listing_rows"]
    ingest.load_warehouse.fn(settings, normalized["files"], run_id)
    truth = json.loads((folder / "truth.json").read_text())["month"]
    assert sum(truth["papers"].values()) == SIZE
    con = connection.open_reader(settings.warehouse_path)
    try:
        for query in corpus.QUERIES:
            frame = reads.trend(con, [parse_term(query)], by="month")
            got = {row["period"]: row["matches"] for row in frame.iter_rows(named=True)}
            assert got == {year: count for year, count in truth["matches"][query].items()}, query
            totals = {row["period"]: row["total"] for row in frame.iter_rows(named=True)}
            assert totals == truth["papers"]
    finally:
        con.close()
    # The trends are planted: "scaling" rises, "tractable" does not vanish, the near miss is present.
    scaling = truth["matches"]["scaling"]
    years = sorted(scaling)
    assert scaling[years[-1]] / truth["papers"][years[-1]] > 2 * scaling[years[0]] / truth["papers"][years[0]]
    assert sum(truth["matches"]["scalable"].values()) > 0


def test_new_day_adds_fresh_papers(tmp_path):
    import datetime as dt

    path = corpus.new_day(tmp_path, dt.date(2026, 3, 2), count=7)
    items = json.loads(path.read_text("utf-8"))
    assert path.name == "2026-03-02.json" and len(items) == 7
    assert len({item["paper"]["id"] for item in items}) == 7
