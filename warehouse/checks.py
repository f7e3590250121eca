"""Declared data checks: run each inside a load, record results.

The checks are declared with the columns they guard (transforms/tables.py, `Table.checks`); this
module only runs them. A check passes when its query returns no rows.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

import duckdb

from ..core.errors import WarehouseError
from ..transforms import tables
from ..transforms.tables import Check

_PARAMETER = re.compile(r"\$(\w+)")


@dataclass(frozen=True)
class CheckContext:
    """What a run asked for, for checks that compare against it (None = not stated)."""

    since: dt.date | None = None
    until: dt.date | None = None
    items_in: int | None = None


@dataclass(frozen=True)
class CheckResult:
    """How one check came out: passed, how many rows offended, the first of them."""

    name: str
    passed: bool
    offending: int
    example: str | None = None

    def describe(self) -> str:
        return f"{self.name}: {'passed' if self.passed else f'{self.offending} offending row(s), e.g. {self.example}'}"


class ChecksFailed(WarehouseError):
    """One or more data checks failed; the load was rolled back."""

    def __init__(self, results: list[CheckResult]):
        self.results = results
        failed = [r.describe() for r in results if not r.passed]
        super().__init__(f"data checks failed, load rolled back: {'; '.join(failed)}")


def declared_checks() -> list[Check]:
    """Every check declared with the tables (transforms/tables.py), in table order."""
    return tables.declared_checks()


def run_check(con: duckdb.DuckDBPyConnection, check: Check, context: CheckContext) -> CheckResult:
    """Run one check; the batch views it reads must be registered on `con`."""
    values = {"since": context.since, "until": context.until, "items_in": context.items_in}
    wanted = set(_PARAMETER.findall(check.sql))
    unknown = wanted - set(values)
    if unknown:
        raise ValueError(f"check {check.name} uses unknown parameters: {sorted(unknown)}")
    cursor = con.execute(f"select * from ({check.sql}) as offending", {k: values[k] for k in wanted})
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    example = json.dumps(dict(zip(columns, rows[0])), default=str) if rows else None
    return CheckResult(check.name, not rows, len(rows), example)


def run_checks(con: duckdb.DuckDBPyConnection, context: CheckContext, checks: list[Check] | None = None) -> list[CheckResult]:
    """Run every declared check (or `checks`) and return all results, failed ones included."""
    return [run_check(con, check, context) for check in (declared_checks() if checks is None else checks)]


def record_results(con: duckdb.DuckDBPyConnection, run_id: int, results: list[CheckResult]) -> None:
    """Store a run's check results (replacing any earlier ones of the same run)."""
    for result in results:
        # MERGE, not INSERT OR REPLACE: DuckLake has no key to replace by (warehouse/backends.py).
        con.execute(
            """
            merge into run_checks as t
            using (select ?::bigint as run_id, ?::varchar as check_name, ?::boolean as passed, ?::bigint as offending,
                          ?::varchar as example, now() as checked_at) as s
            on t.run_id = s.run_id and t.check_name = s.check_name
            when matched then update by name
            when not matched then insert by name
            """,
            [run_id, result.name, result.passed, result.offending, result.example],
        )


def results_of_run(con: duckdb.DuckDBPyConnection, run_id: int) -> list[CheckResult]:
    """The check results stored for one run."""
    rows = con.execute(
        "select check_name, passed, offending, example from run_checks where run_id = ? order by check_name", [run_id]
    ).fetchall()
    return [CheckResult(*row) for row in rows]
