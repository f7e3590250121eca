"""arXiv transforms (transforms/arxiv.py) on the real samples and inline inputs, and the
HF + arXiv merge in a real DuckDB warehouse in both orders."""

import datetime as dt
import json
import re

import duckdb
import polars as pl
import pytest
from papertrends.transforms.arxiv import (
    arxiv_listings,
    arxiv_papers,
    arxiv_rows_normalized,
    atom_feed_extracted,
    author_names,
    oai_page_extracted,
    snapshot_lines_extracted,
    tex_accents_decoded,
)
from papertrends.transforms.hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA
from papertrends.transforms.papers import papers_from_listings, papers_merged
from papertrends.warehouse import connection, loads

UTC = dt.timezone.utc
FETCHED = dt.datetime(2026, 4, 12, 23, 0, tzinfo=UTC)


def normalized(extracted, origin="o"):
    return arxiv_rows_normalized(extracted, fetched_at=FETCHED, origin=origin, raw_sha256="sha")


def atom_files(samples):
    return sorted((samples / "arxiv").glob("api_atom_*/*.xml"))


def test_every_atom_sample_parses_with_exact_entry_counts(samples):
    files = atom_files(samples)
    assert len(files) == 7
    for path in files:
        body = path.read_bytes()
        # An independent count of the entries the feed holds.
        entries = len(re.findall(rb"<entry>", body))
        extracted = atom_feed_extracted(body, origin=path.name, raw_sha256="sha")
        rows, quarantine = normalized(extracted, path.name)
        if "error" in path.name:
            assert extracted.error == "incorrect id format for abc"
            assert (rows.height, quarantine.height, extracted.items_in) == (0, 1, 1)
            assert quarantine["reason"][0] == "arXiv API error: incorrect id format for abc"
            assert quarantine["raw_text"][0] == body.decode("utf-8")
        else:
            assert extracted.error is None, path.name
            assert (rows.height, quarantine.height, extracted.items_in) == (entries, 0, entries), path.name
            ids = re.findall(rb"<id>https?://arxiv\.org/abs/(\S+?)(?:v\d+)?</id>", body)
            assert sorted(rows["paper_id"].to_list()) == sorted(i.decode() for i in ids), path.name
            assert rows["paper_id"].str.contains(r"v\d+$").sum() == 0
            assert rows["title"].str.contains("\n").sum() == 0
            assert rows["published_at"].null_count() == 0
            assert (rows["list_date"] == rows["published_at"].dt.date()).all()


def test_totals_and_both_dialects(samples):
    new = atom_feed_extracted((samples / "arxiv/api_atom_2026/query_testing_start0_max10.xml").read_bytes(), origin="o", raw_sha256="s")
    old = atom_feed_extracted((samples / "arxiv/api_atom_2016/query_au_del_maestro.xml").read_bytes(), origin="o", raw_sha256="s")
    assert (new.total_results, new.start_index) == (214881, 0)
    assert old.total_results is not None and old.total_results >= 10
    rows, _ = normalized(new)
    first = rows.row(0, named=True)
    assert first["paper_id"] == "2202.12139"
    assert first["categories"] == ["cs.SE", "cs.LG"]  # primary first
    assert first["doi"] == "10.1109/ICSTW55395.2022.00035"
    assert first["versions"] == [{"version": "v1", "created": dt.datetime(2022, 2, 24, 15, 5, 19, tzinfo=UTC)}]
    assert first["authors"] == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]


def test_a_versioned_id_keeps_its_versions(samples):
    body = (samples / "arxiv/api_atom_2016/id_list_1111.2011v2.xml").read_bytes()
    rows, _ = normalized(atom_feed_extracted(body, origin="o", raw_sha256="s"))
    row = rows.row(0, named=True)
    assert row["paper_id"] == "1111.2011"
    assert [v["version"] for v in row["versions"]] == ["v1", "v2"]
    assert row["published_at"] == dt.datetime(2011, 11, 8, 18, 48, 36, tzinfo=UTC)
    assert row["updated_at"] == dt.datetime(2012, 4, 2, 12, 38, 54, tzinfo=UTC)
    assert row["journal_ref"] == "Phys. Rev. B 85, 115117 (2012)"
    assert row["categories"] == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert row["title"] == "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"


def test_snapshot_sample_lines(samples):
    lines = (samples / "arxiv/kaggle_arxiv_metadata_snapshot_head100.jsonl").read_bytes().splitlines()
    extracted = snapshot_lines_extracted(lines, first_position=0, origin="snap", raw_sha256="s")
    rows, quarantine = normalized(extracted)
    assert (extracted.items_in, rows.height, quarantine.height) == (len(lines), len(lines), 0)
    originals = [json.loads(line) for line in lines]
    assert rows["paper_id"].to_list() == [o["id"] for o in originals]
    assert rows["categories"].to_list() == [o["categories"].split() for o in originals]
    assert rows["versions"].list.len().to_list() == [len(o["versions"]) for o in originals]
    first = rows.row(0, named=True)
    assert first["authors"][:2] == ["C. Balázs", "E. L. Berger"]
    assert first["title"] == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert first["abstract"].startswith("A fully differential calculation")
    assert first["published_at"] == dt.datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert first["list_date"] == dt.date(2007, 4, 2)
    assert first["doi"] == "10.1103/PhysRevD.76.013009" and first["license"] is None


def test_bad_snapshot_lines_are_quarantined_by_line():
    good = json.dumps({"id": "cond-mat/0412498", "title": "Old style", "categories": "cond-mat.str-el",
                       "versions": [{"version": "v1", "created": "Mon, 20 Dec 2004 10:00:00 GMT"}],
                       "authors": "A. B\\\"ohm and C. D", "authors_parsed": None, "abstract": "  x\n y"})
    lines = [good.encode(), b"", b"not json", b'{"id": 5, "title": "t"}', b"[1, 2]",
             json.dumps({"id": "0704.0001", "title": "No versions", "categories": "hep-ph", "versions": []}).encode()]
    extracted = snapshot_lines_extracted(lines, first_position=100, origin="snap", raw_sha256="s")
    rows, quarantine = normalized(extracted)
    assert extracted.items_in == 5  # the blank line is not an item
    assert rows["paper_id"].to_list() == ["cond-mat/0412498"]
    assert rows["authors"][0].to_list() == ["A. Böhm", "C. D"]
    assert rows["abstract"][0] == "x y"
    assert sorted(quarantine["position"].to_list()) == [102, 103, 104, 105]
    reasons = dict(zip(quarantine["position"].to_list(), quarantine["reason"].to_list()))
    assert reasons[102].startswith("line 103: not valid JSON")
    assert reasons[103] == "line 104: line has no id"
    assert reasons[104] == "line 105: line is a JSON list, not an object"
    assert reasons[105] == "0704.0001: no v1 date"
    assert rows.height + quarantine.height == extracted.items_in


OAI_PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-01-01T00:00:00Z</responseDate>
<request verb="ListRecords">http://export.arxiv.org/oai2</request><ListRecords>
<record><header><identifier>oai:arXiv.org:0704.0001</identifier><datestamp>2008-11-13</datestamp></header>
<metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>0704.0001</id><created>2007-04-02</created>
<updated>2008-11-13</updated><authors><author><keyname>Bal\\'azs</keyname><forenames>C.</forenames></author>
<author><keyname>Yuan</keyname><forenames>C. -P.</forenames><suffix>Jr</suffix></author></authors>
<title>Calculation of prompt diphoton production cross sections at Tevatron and
  LHC energies</title><categories>hep-ph physics.data-an</categories><license>http://l/</license>
<abstract>  A fully differential calculation.</abstract></arXiv></metadata></record>
<record><header status="deleted"><identifier>oai:arXiv.org:cond-mat/0412498</identifier><datestamp>2010-01-02</datestamp></header></record>
<record><header><identifier>oai:arXiv.org:0704.0002</identifier><datestamp>2008-12-13</datestamp></header>
<metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>0704.0002</id>
<version version="v1"><date>Sat, 31 Mar 2007 02:26:18 GMT</date></version>
<version version="v2"><date>Sat, 13 Dec 2008 17:26:00 GMT</date></version>
<title>Sparsity-certifying Graph Decompositions</title><authors>Ileana Streinu and Louis Theran (MIT, USA)</authors>
<categories>math.CO cs.CG</categories><abstract>We describe</abstract></arXivRaw></metadata></record>
<record><header><identifier>oai:arXiv.org:x</identifier></header><metadata><other/></metadata></record>
<resumptionToken cursor="0" completeListSize="2000">6960524|1001</resumptionToken>
</ListRecords></OAI-PMH>"""


def test_oai_page_both_formats_deleted_records_and_token():
    extracted = oai_page_extracted(OAI_PAGE.encode(), origin="oai", raw_sha256="s", position_offset=1000)
    rows, quarantine = normalized(extracted)
    assert (extracted.resumption_token, extracted.complete_list_size, extracted.items_in) == ("6960524|1001", 2000, 4)
    assert extracted.deleted.to_dicts() == [{"position": 1001, "id_raw": "cond-mat/0412498", "datestamp": "2010-01-02"}]
    assert quarantine["reason"].to_list() == ["record has no arXiv or arXivRaw metadata"]
    assert quarantine["position"].to_list() == [1003]
    by_id = {r["paper_id"]: r for r in rows.to_dicts()}
    arxiv, raw = by_id["0704.0001"], by_id["0704.0002"]
    assert arxiv["authors"] == ["C. Balázs", "C. -P. Yuan Jr"]
    assert arxiv["versions"] is None and arxiv["published_at"] == dt.datetime(2007, 4, 2, tzinfo=UTC)
    assert arxiv["categories"] == ["hep-ph", "physics.data-an"] and arxiv["license"] == "http://l/"
    assert arxiv["title"].endswith("Tevatron and LHC energies")
    assert raw["authors"] == ["Ileana Streinu", "Louis Theran"]
    assert raw["published_at"] == dt.datetime(2007, 3, 31, 2, 26, 18, tzinfo=UTC)
    assert raw["updated_at"] == dt.datetime(2008, 12, 13, 17, 26, tzinfo=UTC)


def test_oai_errors():
    def page(code):
        return (f'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><error code="{code}">msg</error></OAI-PMH>').encode()

    empty = oai_page_extracted(page("noRecordsMatch"), origin="o", raw_sha256="s")
    assert (empty.error, empty.items_in, empty.resumption_token) == (None, 0, None)
    bad = oai_page_extracted(page("badResumptionToken"), origin="o", raw_sha256="s")
    assert bad.error == "OAI-PMH error badResumptionToken: msg" and bad.quarantine.height == 1
    broken = oai_page_extracted(b"<OAI-PMH", origin="o", raw_sha256="s")
    assert broken.quarantine["reason"][0].startswith("not well-formed XML")


def test_author_names_and_tex_accents():
    assert author_names("C. Bal\\'azs, E. L. Berger (ANL (Argonne)), P. M. Nadolsky and C.-P. Yuan") == [
        "C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert tex_accents_decoded('G{\\"o}del and \\c{C}elik and Erd\\H{o}s') == "Gödel and Çelik and Erdős"


# --- HF + arXiv in one warehouse, in both orders ---

def hf_listing(paper_id, fetched):
    row = {name: None for name in LISTING_SCHEMA}
    row.update(source="hf_daily", list_date=dt.date(2025, 3, 3), paper_id=paper_id, position=0,
               title="HF copy of the title", abstract="HF abstract", authors=["A. Person"],
               published_at=dt.datetime(2025, 2, 27, tzinfo=UTC), upvotes=42, num_comments=3,
               github_repo="https://github.com/o/r", ai_keywords=["scaling"], fetched_at=fetched, origin="hf", raw_sha256="h")
    return pl.DataFrame([row], schema=LISTING_SCHEMA)


def arxiv_rows(paper_id, fetched):
    line = json.dumps({"id": paper_id, "title": "The arXiv\n  title", "abstract": "  arXiv abstract", "categories": "cs.LG stat.ML",
                       "authors": "A. Person, B. Other", "authors_parsed": [["Person", "A.", ""], ["Other", "B.", ""]],
                       "versions": [{"version": "v1", "created": "Wed, 26 Feb 2025 18:00:00 GMT"},
                                    {"version": "v2", "created": "Mon, 10 Mar 2025 09:00:00 GMT"}],
                       "doi": "10.1/x", "license": "http://l/"})
    extracted = snapshot_lines_extracted([line.encode()], first_position=0, origin="snap", raw_sha256="a")
    rows, _ = arxiv_rows_normalized(extracted, fetched_at=fetched, origin="snap", raw_sha256="a")
    return rows


@pytest.mark.parametrize("hf_is_newer", [True, False])
def test_hf_and_arxiv_merge_to_the_same_paper_in_either_order(tmp_path, hf_is_newer):
    early, late = dt.datetime(2025, 3, 4, tzinfo=UTC), dt.datetime(2025, 3, 20, tzinfo=UTC)
    hf, arxiv = hf_listing("2502.12345", late if hf_is_newer else early), arxiv_rows("2502.12345", early if hf_is_newer else late)
    empty_q = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    results = []
    for order in (("hf", "arxiv"), ("arxiv", "hf")):
        con = connection.open_writer(tmp_path / f"{'-'.join(order)}-{hf_is_newer}.duckdb")
        for run_id, source in enumerate(order):
            if source == "hf":
                loads.load(con, hf, empty_q, run_id)
            else:
                loads.load(con, arxiv_listings(arxiv), empty_q, run_id, papers=arxiv_papers(arxiv))
        results.append({
            table: con.execute(f"select * from {table} order by all").fetchall()
            for table in ("papers", "listings", "paper_sources")
        })
        con.close()
    assert results[0] == results[1]
    con = duckdb.connect(str(tmp_path / f"hf-arxiv-{hf_is_newer}.duckdb"), read_only=True)
    paper = con.execute("select * from papers").pl().row(0, named=True)
    upvotes = con.execute("select source, list_date, upvotes from listings order by source").fetchall()
    sources = con.execute("select source from paper_sources order by source").fetchall()
    con.close()
    # arXiv is authoritative for what both say, whichever is newer ...
    assert paper["title"] == "The arXiv title" and paper["abstract"] == "arXiv abstract"
    assert paper["authors"] == ["A. Person", "B. Other"]
    assert paper["published_at"] == dt.datetime(2025, 2, 26, 18, tzinfo=UTC)
    assert paper["search_text"] == " the arxiv title | arxiv abstract "
    # ... and the fields only one source has survive.
    assert paper["categories"] == ["cs.LG", "stat.ML"] and [v["version"] for v in paper["versions"]] == ["v1", "v2"]
    assert paper["github_repo"] == "https://github.com/o/r" and paper["ai_keywords"] == ["scaling"]
    assert paper["observed_at"] == late
    assert upvotes == [("arxiv", dt.date(2025, 2, 26), None), ("hf_daily", dt.date(2025, 3, 3), 42)]
    assert sources == [("arxiv",), ("hf_daily",)]


def test_newer_hf_fields_win_over_older_ones_even_after_an_arxiv_observation():
    """HF-only fields follow the newest HF observation, not the newest observation of any source."""
    t1, t2, t3 = (dt.datetime(2025, 3, d, tzinfo=UTC) for d in (1, 2, 3))
    old_hf = papers_from_listings(hf_listing("2502.10001", t1).with_columns(github_repo=pl.lit("https://github.com/old/r")))
    new_hf = papers_from_listings(hf_listing("2502.10001", t2).with_columns(github_repo=pl.lit("https://github.com/new/r")))
    arxiv = arxiv_papers(arxiv_rows("2502.10001", t3))
    assert arxiv.height == 1
    orders = [(old_hf, arxiv, new_hf), (new_hf, arxiv, old_hf), (arxiv, old_hf, new_hf), (old_hf, new_hf, arxiv)]
    results = []
    for first, second, third in orders:
        results.append(papers_merged(papers_merged(papers_merged(old_hf.clear(), first), second), third))
    assert all(r.equals(results[0]) for r in results)
    row = results[0].row(0, named=True)
    assert row["github_repo"] == "https://github.com/new/r"
    assert row["title"] == "The arXiv title"
    assert (row["hf_observed_at"], row["arxiv_observed_at"], row["observed_at"]) == (t2, t3, t3)


@pytest.mark.parametrize("argv, message", [
    (["--query", "cat:cs.LG", "--set", "cs"], "--set and --restart go with --oai"),
    (["--oai", "--max-results", "5"], "--max-results goes with --query"),
    (["--query", "cat:cs.LG", "--since", "2025-02-01", "--until", "2025-01-01"], "--until 2025-01-01 is before --since 2025-02-01"),
])
def test_ingest_arxiv_refuses_contradictory_arguments(tmp_path, capsys, argv, message):
    from papertrends.cli.main import main

    assert main(["ingest", "arxiv", "--home", str(tmp_path), *argv]) == 1
    assert capsys.readouterr().err.strip() == f"papertrends: error: {message}"
    assert list(tmp_path.iterdir()) == []  # nothing written
