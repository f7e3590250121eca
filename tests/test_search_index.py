"""Search off the critical path: loads only count how far BM25 is behind; status and search say so."""

from __future__ import annotations

import datetime as dt

import polars as pl
from papertrends.cli.main import main
from papertrends.transforms.hf_listings import QUARANTINE_SCHEMA
from papertrends.warehouse import connection, loads, term_index

from tests.test_analytics import listing_rows

NO_QUARANTINE = pl.DataFrame(schema=QUARANTINE_SCHEMA)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_says_when_its_index_is_behind_and_catches_up_on_request(tmp_path, capsys):
    home = tmp_path / "data"
    con = connection.open_writer(home / "warehouse.duckdb")
    loads.load(con, listing_rows([("2509.00001", dt.date(2025, 9, 1), "Probabilistic circuits at scale", "About circuits.", 3),
                                  ("2509.00002", dt.date(2025, 9, 1), "Scaling laws", "About scaling.", 1)]), NO_QUARANTINE, 1)
    assert term_index.search_lag(con).built is False  # a load never builds it
    con.close()

    code, out, _ = run(capsys, "--home", str(home), "status")
    assert code == 0 and "no search index yet" in out
    code, _, err = run(capsys, "--home", str(home), "search", "circuits")
    assert code == 1 and "search --refresh-index" in err

    code, out, err = run(capsys, "--home", str(home), "search", "circuits", "--refresh-index", "--format", "json")
    assert code == 0 and "search index rebuilt: 2 papers" in err and "2509.00001" in out and "warning" not in err
    code, out, _ = run(capsys, "--home", str(home), "status")
    assert "search index current" in out

    con = connection.open_writer(home / "warehouse.duckdb")
    loads.load(con, listing_rows([("2509.00003", dt.date(2025, 9, 2), "More circuits", "Circuits again.", 1)]), NO_QUARANTINE, 2)
    lag = term_index.search_lag(con)
    con.close()
    assert (lag.built, lag.papers_behind) == (True, 1) and lag.behind_since is not None

    code, out, err = run(capsys, "--home", str(home), "search", "circuits", "--format", "json")
    # Results of the index as built, and a warning that says by how much it is behind.
    assert code == 0 and "2509.00003" not in out and "behind the warehouse by 1 new or changed paper(s)" in err
    code, out, _ = run(capsys, "--home", str(home), "status")
    assert "behind the warehouse by 1" in out
    code, _, err = run(capsys, "--home", str(home), "search", "--refresh-index")
    assert code == 0 and "rebuilt: 3 papers" in err
    code, out, err = run(capsys, "--home", str(home), "search", "circuits", "--format", "json")
    assert "2509.00003" in out and "warning" not in err
