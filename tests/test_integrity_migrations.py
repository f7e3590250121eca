"""Schema migrations on real files: an old-schema warehouse upgrades in place with its data."""

import duckdb
import pytest
from papertrends.core import errors
from papertrends.warehouse import connection, ledger, migrations, reads


def test_a_warehouse_of_schema_001_upgrades_in_place_keeping_its_data(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    # Build what the first release made: only migration 001, then data written with its SQL.
    con = duckdb.connect(str(path))
    assert migrations.apply_migrations(con, up_to=1) == [1]
    con.execute(
        "insert into papers values ('2501.00001', 'Scaling laws', 'About scaling.', ['A'], null, null, null, null, "
        "'scaling laws | about scaling', now())"
    )
    con.execute("insert into listings values ('hf_daily', date '2025-01-10', '2501.00001', 0, 7, 1, now(), 'o', 'sha')")
    con.execute("insert into quarantine values ('k', 'o', 'sha', 3, 'bad', 'x', 1)")
    con.execute("insert into runs (flow, started_at, status, items_in) values ('ingest-files', now(), 'completed', 2)")
    # Later migrations may add columns; the data of the columns 001 had must survive unchanged.
    columns = {t: ", ".join(r[0] for r in con.execute(f"describe {t}").fetchall()) for t in ("papers", "listings", "quarantine", "runs")}
    before = {t: con.execute(f"select {c} from {t} order by all").fetchall() for t, c in columns.items()}
    con.close()

    with pytest.raises(errors.WarehouseError, match="older papertrends; run an ingest to upgrade it"):
        connection.open_reader(path)

    con = connection.open_writer(path)  # opening for writing applies every newer migration
    try:
        latest = max(v for v, _, _ in migrations.migrations())
        assert migrations.schema_version(con) == latest
        applied = [v for (v,) in con.execute("select version from schema_migrations order by version").fetchall()]
        assert applied == [v for v, _, _ in migrations.migrations()]
        assert {t: con.execute(f"select {c} from {t} order by all").fetchall() for t, c in columns.items()} == before
        # The upgraded warehouse takes new runs and their reports next to the old ones.
        run_id = ledger.start_run(con, "ingest-files", {})
        ledger.record_run_report(con, run_id, [{"stage": "land", "items": 1, "seconds": 0.1}], ["a warning"])
        assert run_id == 2
    finally:
        con.close()
    con = connection.open_reader(path)
    try:
        assert reads.status(con)["papers"] == 1
        assert ledger.run_report(con)["warnings"] == ["a warning"]
    finally:
        con.close()


def test_a_migration_that_fails_leaves_the_schema_where_it_was(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    migrations.apply_migrations(con, up_to=1)
    broken = [m for m in migrations.migrations() if m[0] == 1] + [(2, "broken", "create table run_checks (a int); select * from nowhere;")]
    monkeypatch.setattr(migrations, "migrations", lambda: broken)
    with pytest.raises(duckdb.Error):
        migrations.apply_migrations(con)
    assert migrations.schema_version(con) == 1
    assert con.execute("select count(*) from information_schema.tables where table_name = 'run_checks'").fetchone() == (0,)
    con.close()


def test_an_index_of_position_lists_upgrades_to_one_row_per_occurrence(tmp_path):
    """Migration 013: term postings made as (word, paper, positions[]) become one row per
    occurrence, sorted by word, and the phrase macro finds the same papers on them."""
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    before_013 = max(v for v, _, _ in migrations.migrations() if v < 13)
    migrations.apply_migrations(con, up_to=before_013)
    con.execute(
        "insert into papers by name select '2501.00001' as paper_id, 'Scaling laws' as title, "
        "'Test time scaling.' as abstract, ['A'] as authors, ' scaling laws | test time scaling ' as search_text, "
        "now() as observed_at"
    )
    # The index as the list layout held it: 'scaling' at 0 and 5 (the field break is position 2).
    con.execute("insert into term_words values (1, 'laws'), (2, 'scaling'), (3, 'test'), (4, 'time')")
    con.execute("insert into term_papers values (1, '2501.00001', date '2025-01-10', date '2025-01-10', null, null)")
    con.execute("insert into term_postings values (1, 1, [1]), (2, 1, [5, 0]), (3, 1, [3]), (4, 1, [4])")
    con.execute("insert into term_counts values (0, date '2025-01-10', 1), (1, date '2025-01-10', 1), "
                "(2, date '2025-01-10', 1), (3, date '2025-01-10', 1), (4, date '2025-01-10', 1)")
    con.close()

    con = connection.open_writer(path)
    try:
        assert con.execute("select * from term_postings").fetchall() == [(1, 1, 1), (2, 1, 0), (2, 1, 5), (3, 1, 3), (4, 1, 4)]
        matched = con.execute(
            "select term_order, count(*) from term_matches(term_query(['time scaling', 'scaling laws', 'laws test', "
            "'scaling'])) group by all order by all"
        ).fetchall()
        # 'laws test' would run from the title into the abstract: no match.
        assert matched == [(0, 1), (1, 1), (3, 1)]
    finally:
        con.close()
