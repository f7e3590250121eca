"""Where the warehouse lives: the embedded DuckDB file (default) or a DuckLake (catalog in PostgreSQL, data on S3 or a folder).

Every caller addresses a data root's warehouse by its path, `<home>/warehouse.duckdb`; the data
root's settings decide what that path stands for (`ducklake_for`). With the `warehouse` setting
empty it is the file itself. With `warehouse = "ducklake:postgres:<libpq conninfo>"` and
`ducklake_data_path` (s3://bucket/prefix/ or a folder every machine sees), connection.open_writer
and open_reader open an in-memory DuckDB that ATTACHes the DuckLake and makes it the default
catalog (USE), so the same SQL (tables, views, macros) runs on both.

DuckLake 1.5.5 differs from a DuckDB file; checked by experiment (docs/scale-out.md has the table):
- no PRIMARY KEY / UNIQUE / CHECK constraints, no indexes, no sequences: the migrations are
  translated by `ducklake_ddl`, which drops exactly those clauses and fails on anything it does
  not know how to translate; uniqueness on DuckLake rests on writers that MERGE by key;
- so `insert or replace` and `insert ... on conflict` do not bind (no constraint to conflict on),
  and `insert ... returning` is refused: every writer upserts with MERGE INTO or inserts what an
  anti join leaves (the same SQL on both backends), and run ids are the highest + 1;
- two transactions inserting the same new key both commit (no conflict is raised): writers hold
  a PostgreSQL advisory lock around each merge (warehouse/lake_locks.py) and retry a commit that
  conflicts;
- views and macros (scalar and table) are stored in the catalog and work as on a file;
- every commit is a snapshot; a read can attach the lake AT a snapshot (time travel, `as_of`).

DuckDB cannot download extensions here: ducklake, postgres and httpfs are loaded from their
wheels (the `ducklake` extra). S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
(/ AWS_SESSION_TOKEN), the PostgreSQL password from PGPASSWORD or ~/.pgpass (libpq): never from a
setting, never printed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..core.errors import WarehouseError
from ..core.settings import Settings, load_settings
from . import lake_locks
from .migrations import applied_versions
from .tables import use_internal_schema

EMBEDDED_FILE = "warehouse.duckdb"
LAKE_ALIAS = "lake"

# Writer runs (ingest, enrich, backfill, rebuild) load into a DuckLake: every write statement is one
# DuckLake takes (MERGE INTO, anti-join inserts, run ids without a sequence). `rebuild` builds an
# embedded file from raw/ and copies it into the lake in one snapshot (flows/rebuild.py).
WRITER_RUNS_ON_DUCKLAKE = True

# Extension name -> (wheel module, file stem) for what a DuckLake connection needs.
_EXTENSIONS = {
    "postgres": ("duckdb_extension_postgres", "postgres"),
    "httpfs": ("duckdb_extension_httpfs", "httpfs"),
    "ducklake": ("duckdb_extension_ducklake", "ducklake"),
}


@dataclass(frozen=True)
class DuckLake:
    """One DuckLake: its catalog (a DuckLake URL after 'ducklake:') and where its Parquet files go."""

    catalog: str                 # e.g. "postgres:host=db port=5432 dbname=papertrends user=papertrends"
    data_path: str               # s3://bucket/prefix/ or a folder path
    s3_endpoint: str = ""        # http(s)://host:port of an S3-compatible server; "" = AWS
    s3_region: str = "us-east-1"

    @property
    def url(self) -> str:
        return f"ducklake:{self.catalog}"

    def describe(self) -> str:
        """For messages and manifests: the catalog without any password, and the data path."""
        catalog = re.sub(r"password=\S+", "password=***", self.catalog)
        return f"ducklake:{catalog} (data {self.data_path})"


def parse_target(url: str, data_path: str = "", s3_endpoint: str = "", s3_region: str = "us-east-1") -> DuckLake | Path:
    """A warehouse named by the user: 'ducklake:<catalog>' (needs a data path) or a .duckdb file path."""
    if url.startswith("ducklake:"):
        catalog = url.removeprefix("ducklake:")
        if not catalog:
            raise WarehouseError("a DuckLake URL needs a catalog: ducklake:postgres:<conninfo> or ducklake:<file>.ducklake")
        if re.search(r"\b(host|dbname|user|port)=", catalog) and not catalog.startswith("postgres:"):
            # Without the prefix DuckLake takes the text as a DuckDB file name and creates it.
            raise WarehouseError(f"{url!r} looks like a PostgreSQL conninfo: write ducklake:postgres:<conninfo>")
        if not data_path:
            raise WarehouseError(f"{url.split(' ')[0]}... needs a data path (s3://bucket/prefix/ or a folder): set ducklake_data_path")
        return DuckLake(catalog=catalog, data_path=data_path, s3_endpoint=s3_endpoint, s3_region=s3_region)
    if "://" in url or url.startswith("postgres"):
        raise WarehouseError(f"unknown warehouse {url!r}: give ducklake:postgres:<conninfo> or a path to a .duckdb file")
    return Path(url)


def ducklake_of(settings: Settings) -> DuckLake | None:
    """The DuckLake the settings choose, or None for the embedded file."""
    chosen = (settings.warehouse or "").strip()
    if chosen in ("", "embedded", "duckdb"):
        return None
    target = parse_target(chosen, settings.ducklake_data_path, settings.s3_endpoint, settings.s3_region)
    if isinstance(target, Path):
        raise WarehouseError(f"setting warehouse = {chosen!r}: give ducklake:postgres:<conninfo>, or leave it empty for {EMBEDDED_FILE}")
    return target


def ducklake_for(path: Path) -> DuckLake | None:
    """The DuckLake a data root's warehouse path stands for, or None when it is the file itself.

    Only `<home>/warehouse.duckdb` can stand for a DuckLake; any other path (a rebuild's new file,
    a migration target) is always a file.
    """
    path = Path(path)
    if path.name != EMBEDDED_FILE:
        return None
    return ducklake_of(load_settings(path.parent))


def extension_path(name: str) -> str:
    """The .duckdb_extension file shipped in the extension's wheel."""
    import importlib

    module_name, stem = _EXTENSIONS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise WarehouseError(
            f"the DuckLake backend needs {module_name.replace('_', '-')}: install papertrends[ducklake]"
        ) from error
    found = sorted(Path(module.__file__).parent.rglob(f"{stem}.duckdb_extension"))
    if not found:
        raise WarehouseError(f"{module_name} is installed but holds no {stem}.duckdb_extension")
    return str(found[-1])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_extensions(con: duckdb.DuckDBPyConnection, lake: DuckLake) -> None:
    """Load what this lake needs from the wheels (INSTALL from a file works offline)."""
    needed = ["ducklake"]
    if lake.catalog.startswith("postgres"):
        needed.append("postgres")
    if lake.data_path.startswith(("s3://", "s3a://", "gcs://", "r2://", "http://", "https://")):
        needed.append("httpfs")
    for name in needed:
        con.execute(f"install {_literal(extension_path(name))}")
        con.execute(f"load {name}")


def _s3_secret(con: duckdb.DuckDBPyConnection, lake: DuckLake) -> None:
    if not lake.data_path.startswith("s3"):
        return
    options = [f"region {_literal(lake.s3_region)}"]
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        options += [f"key_id {_literal(key)}", f"secret {_literal(secret)}"]
        if os.environ.get("AWS_SESSION_TOKEN"):
            options.append(f"session_token {_literal(os.environ['AWS_SESSION_TOKEN'])}")
    if lake.s3_endpoint:
        endpoint = lake.s3_endpoint
        use_ssl = not endpoint.startswith("http://")
        endpoint = re.sub(r"^https?://", "", endpoint).rstrip("/")
        # S3-compatible servers (MinIO, moto, Ceph) address buckets by path, not by host name.
        options += [f"endpoint {_literal(endpoint)}", "url_style 'path'", f"use_ssl {str(use_ssl).lower()}"]
    con.execute(f"create or replace temporary secret papertrends_s3 (type s3, {', '.join(options)})")


def attach(con: duckdb.DuckDBPyConnection, lake: DuckLake, alias: str = LAKE_ALIAS, read_only: bool = False,
           snapshot: int | None = None, snapshot_time: dt.datetime | None = None) -> None:
    """ATTACH the lake into `con` under `alias` (extensions loaded, S3 secret set), optionally at a snapshot."""
    load_extensions(con, lake)
    _s3_secret(con, lake)
    options = [f"data_path {_literal(lake.data_path)}"]
    if read_only:
        options.append("read_only")
    if snapshot is not None:
        options.append(f"snapshot_version {int(snapshot)}")
    if snapshot_time is not None:
        options.append(f"snapshot_time {_literal(snapshot_time.isoformat())}")
    try:
        con.execute(f"attach {_literal(lake.url)} as {alias} ({', '.join(options)})")
    except duckdb.Error as error:
        raise WarehouseError(f"cannot open {lake.describe()}: {str(error).splitlines()[0]}") from error


def open_ducklake(lake: DuckLake, read_only: bool, as_of: str | int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached and in USE, so unqualified names resolve in it."""
    snapshot, snapshot_time = parse_as_of(as_of)
    if (snapshot is not None or snapshot_time is not None) and not read_only:
        raise WarehouseError("--as-of reads an old snapshot; it cannot be written")
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set enable_progress_bar = false")
        attach(con, lake, read_only=read_only, snapshot=snapshot, snapshot_time=snapshot_time)
        if not read_only:
            lake_locks.register(con, lake.catalog)
        con.execute(f"use {LAKE_ALIAS}")
        use_internal_schema(con)  # after USE: the search path names the lake's schemas
        # Table macros bind their tables when created: an empty lake gets them after its migrations,
        # a lake of an older schema those of its own migrations (a reader then refuses it as older).
        session_macros(con, applied_versions(con))
    except BaseException:
        con.close()
        raise
    return con


def parse_as_of(as_of: str | int | None) -> tuple[int | None, dt.datetime | None]:
    """'12' -> snapshot 12; '2026-03-01T12:00:00+00:00' (or a date) -> the snapshot current at that time."""
    if as_of is None or as_of == "":
        return None, None
    if isinstance(as_of, int) or str(as_of).strip().isdigit():
        return int(as_of), None
    try:
        moment = dt.datetime.fromisoformat(str(as_of).strip())
    except ValueError:
        raise WarehouseError(f"--as-of takes a snapshot number or an ISO timestamp, not {as_of!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return None, moment


def snapshot_of(con: duckdb.DuckDBPyConnection) -> int | None:
    """The DuckLake snapshot this connection reads (None on an embedded file)."""
    attached = con.execute(
        "select count(*) from duckdb_databases() where database_name = ? and type = 'ducklake'", [LAKE_ALIAS]
    ).fetchone()[0]
    if not attached:
        return None
    return con.execute(f"select id from {LAKE_ALIAS}.current_snapshot()").fetchone()[0]


def snapshots(con: duckdb.DuckDBPyConnection) -> list[tuple[int, dt.datetime]]:
    """(snapshot id, time) of every snapshot of the attached lake, oldest first."""
    return con.execute(f"select snapshot_id, snapshot_time from {LAKE_ALIAS}.snapshots() order by snapshot_id").fetchall()


# What DuckLake has no notion of, and what each becomes. Anything else DuckLake refuses makes the
# migration fail loudly (ducklake_ddl checks what is left).
_DROPPED_STATEMENTS = re.compile(r"^\s*create\s+(unique\s+)?(sequence|index)\b", re.IGNORECASE)
_CLAUSES = [
    (re.compile(r",\s*primary\s+key\s*\([^)]*\)", re.IGNORECASE), ""),        # table-level key
    (re.compile(r"\s+primary\s+key\b", re.IGNORECASE), ""),                   # column-level key
    (re.compile(r",\s*unique\s*\([^)]*\)", re.IGNORECASE), ""),             # table-level unique
    (re.compile(r"\s+unique\b", re.IGNORECASE), ""),
    (re.compile(r"\s+default\s+nextval\s*\(\s*'[^']*'\s*\)", re.IGNORECASE), ""),
    (re.compile(r"\s+check\s*\((?:[^()]|\([^()]*\))*\)", re.IGNORECASE), ""),
]
# Foreign keys have no DuckLake translation that keeps their meaning: refuse them by name.
_UNTRANSLATED = re.compile(r"\b(primary\s+key|unique|nextval|check\s*\(|references|foreign\s+key)", re.IGNORECASE)


def _without_comments(sql: str) -> str:
    """SQL with `--` comments removed (quotes respected: '--' inside a string stays)."""
    out, quoted, i = [], False, 0
    while i < len(sql):
        ch = sql[i]
        if ch == "'":
            quoted = not quoted
        if not quoted and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_MACRO = re.compile(r"^\s*create\s+(or\s+replace\s+)?(temp\w*\s+)?macro\b", re.IGNORECASE)


def ducklake_ddl(sql: str, con: duckdb.DuckDBPyConnection) -> str:
    """A migration's SQL as DuckLake takes it: keys, unique, checks, sequences, indexes and macros dropped.

    Macros are left out of the catalog because DuckLake 1.5.5 cannot store a macro parameter
    whose default is NULL (commit fails: 'unsupported type "NULL"'; a typed NULL::date default
    is stored but breaks later reads). `session_macros` creates them in each connection instead.
    """
    statements = []
    for statement in con.extract_statements(_without_comments(sql)):
        text = statement.query.strip()
        if not text or _DROPPED_STATEMENTS.match(text) or _MACRO.match(text):
            continue
        if statement.type.name == "CREATE" and re.match(r"create\s+(or\s+replace\s+)?(temp\w*\s+)?table", text, re.I):
            for pattern, replacement in _CLAUSES:
                text = pattern.sub(replacement, text)
            left = _UNTRANSLATED.search(text)
            if left:
                raise WarehouseError(f"cannot translate for DuckLake ({left.group(0)!r} left): {text[:120]}")
        statements.append(text.rstrip(";"))
    return ";\n".join(statements) + (";" if statements else "")


def open_writer_ducklake(lake: DuckLake, writer_run: bool = False) -> duckdb.DuckDBPyConnection:
    """The lake opened for writing, with every migration applied (translated by `ducklake_ddl`).

    `writer_run` is True for ingest/enrich/backfill/rebuild (connection.open_writer): refused until
    the loads can write to DuckLake (WRITER_RUNS_ON_DUCKLAKE). `papertrends migrate` passes False.
    """
    from .migrations import apply_migrations

    if writer_run and not WRITER_RUNS_ON_DUCKLAKE:
        raise WarehouseError(
            f"this papertrends cannot yet load into DuckLake ({lake.describe()}): its loads need primary keys "
            "DuckLake lacks. Ingest into the embedded warehouse (unset `warehouse`) and copy it over with "
            "`papertrends migrate --to <ducklake url>`; reads (trend, papers, sql, status, export, --as-of) work here"
        )
    con = open_ducklake(lake, read_only=False)
    try:
        # Two writers opening a new lake at once would both create its tables: one migrates, the other waits.
        with lake_locks.writer_section(con):
            migrated = apply_migrations(con, translate=lambda sql: ducklake_ddl(sql, con))
        if migrated:
            session_macros(con, applied_versions(con))
    except BaseException:
        con.close()
        raise
    return con


_MACRO_NAME = re.compile(r"^\s*create\s+(?:or\s+replace\s+)?(?:temp\w*\s+)?macro\s+(\w+)", re.IGNORECASE)


def session_macros(con: duckdb.DuckDBPyConnection, versions: set[int]) -> None:
    """Create the macros of the migrations `versions` (those the lake has applied) as temporary macros of
    this connection: each macro as its last migration defines it.

    On DuckLake the macros live in each session, not in the catalog (see `ducklake_ddl`); the
    SQL is the same text the embedded file stores, so both answer alike. Only the last definition
    is created: a table macro binds its tables when created, and an earlier one may name tables or
    columns a later migration replaced (005's term_matches read term_postings.positions, gone since
    013). A macro that calls one not yet created is retried once the others exist.
    """
    from .migrations import migrations

    final: dict[str, str] = {}
    for version, _, sql in migrations():
        if version not in versions:
            continue
        for statement in con.extract_statements(_without_comments(sql)):
            text = statement.query.strip()
            match = _MACRO_NAME.match(text)
            if match:
                final.pop(match.group(1).lower(), None)  # keep definition order: the last one goes last
                final[match.group(1).lower()] = _MACRO.sub("create or replace temp macro", text, count=1)
    pending = list(final.values())
    while pending:
        failed = []
        for text in pending:
            try:
                con.execute(text)
            except duckdb.Error as error:
                failed.append((text, error))
        if len(failed) == len(pending):
            raise failed[0][1]
        pending = [text for text, _ in failed]


def lock_down_reader(con: duckdb.DuckDBPyConnection, memory_limit: str | None = None,
                     temp_directory: Path | None = None) -> None:
    """A DuckLake reader's counterpart of connection._lock_down: no file but the lake's own, settings locked.

    External access is turned off after the lake is attached, with the lake's data path the one
    allowed directory (its Parquet files must still be read); then no statement can read or write
    any other file or URL, attach, install or load, or turn access back on.
    """
    from .term_index import load_fts

    data_path = con.execute(f"select value from {LAKE_ALIAS}.options() where option_name = 'data_path'").fetchone()
    load_fts(con)  # BM25 search stems its query (the index's tables are in the lake)
    if memory_limit is not None:
        con.execute(f"set memory_limit = {_literal(memory_limit)}")
    if temp_directory is not None:
        con.execute(f"set temp_directory = {_literal(str(temp_directory))}")
    if not data_path or not data_path[0]:
        raise WarehouseError("the attached DuckLake names no data path: cannot open it read-only safely")
    con.execute(f"set allowed_directories = [{_literal(data_path[0])}]")
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")


_SPAN = re.compile(r"\s*(\d+)\s*([smhdw])\s*", re.IGNORECASE)
_SPAN_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_span(text: str, option: str) -> dt.timedelta:
    """'0s', '30m', '36h', '7d', '2w' as a timedelta; anything else is a one-line WarehouseError."""
    match = _SPAN.fullmatch(text or "")
    if not match:
        raise WarehouseError(f"{option} {text!r} is not a number of seconds, minutes, hours, days or weeks (e.g. 30m, 36h, 7d)")
    return dt.timedelta(seconds=int(match.group(1)) * _SPAN_SECONDS[match.group(2).lower()])


@dataclass(frozen=True)
class LakeMaintenance:
    """What `papertrends maintain` did (or, with dry_run, would do) on a DuckLake."""

    orphaned_files: list[str]    # data files no snapshot refers to (a killed writer's): deleted
    snapshots_expired: int       # snapshots expired (time travel to them ends)
    old_files: list[str]         # files of expired snapshots, scheduled for deletion earlier: deleted
    dry_run: bool

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (f"maintain: {verb} {len(self.orphaned_files)} orphaned data file(s) and {len(self.old_files)} file(s) "
                f"of expired snapshots; {'would expire' if self.dry_run else 'expired'} {self.snapshots_expired} snapshot(s)")


def maintain_ducklake(con: duckdb.DuckDBPyConnection, grace: dt.timedelta, expire_older_than: dt.timedelta | None = None,
                      dry_run: bool = False) -> LakeMaintenance:
    """Delete a DuckLake's orphaned data files, and optionally expire old snapshots, with DuckLake's own functions.

    A writer killed between writing its Parquet files and committing leaves files no snapshot
    refers to (ducklake_delete_orphaned_files finds them by listing the data path). papertrends
    writers write lake files only inside the lake's merge section, so this runs inside it: no
    papertrends writer is between writing and committing meanwhile. `grace` spares files younger
    than that anyway (a writer that does not take the section: `migrate`, an older papertrends);
    files of snapshots expired earlier are deleted once scheduled longer ago than `grace` (a read
    that started before then may still scan them). Expiring is opt-in: it ends time travel (--as-of)
    to those snapshots.
    """
    catalog = con.execute("select current_database()").fetchone()[0]
    dry = "true" if dry_run else "false"
    cutoff = f"now() - to_seconds({int(grace.total_seconds())})"
    with lake_locks.writer_section(con):
        orphaned = [path for (path,) in con.execute(
            f"call ducklake_delete_orphaned_files({_literal(catalog)}, dry_run => {dry}, older_than => {cutoff})").fetchall()]
        expired = 0
        if expire_older_than is not None:
            expired = len(con.execute(
                f"call ducklake_expire_snapshots({_literal(catalog)}, dry_run => {dry}, "
                f"older_than => now() - to_seconds({int(expire_older_than.total_seconds())}))").fetchall())
        old = [path for (path,) in con.execute(
            f"call ducklake_cleanup_old_files({_literal(catalog)}, dry_run => {dry}, older_than => {cutoff})").fetchall()]
    return LakeMaintenance(orphaned, expired, old, dry_run)
