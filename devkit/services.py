"""Real servers for tests and benchmarks: a PostgreSQL server and an S3-compatible server, on 127.0.0.1.

    with PostgresServer() as pg, S3Server() as s3:
        pg.create_database("catalog")
        s3.create_bucket("lake")
        ...  # pg.conninfo("catalog"), s3.endpoint

Each starts a real server process in a temporary folder on a free port and stops it (and removes
the folder) on exit. `missing_postgres()` / `missing_s3()` say why one cannot start here (None when
it can), so tests skip with that reason instead of failing.

PostgreSQL's initdb, pg_ctl and postgres refuse to run as root, so as root they run as the
`postgres` system user (`runuser -u postgres --`) in a folder that user owns; as anyone else they
run as that user. The S3 server is moto's server mode (`moto_server`, from `moto[server]`): a
separate process speaking the S3 HTTP protocol, with any access key accepted.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

POSTGRES_BIN_ENV = "PAPERTRENDS_POSTGRES_BIN"
DEFAULT_POSTGRES_BIN = "/usr/lib/postgresql/15/bin"
POSTGRES_USER = "postgres"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path:
    """Folder of the PostgreSQL server binaries (PAPERTRENDS_POSTGRES_BIN, else the Debian path of 15)."""
    return Path(os.environ.get(POSTGRES_BIN_ENV) or DEFAULT_POSTGRES_BIN)


def _running_as_root() -> bool:
    return os.geteuid() == 0


def missing_postgres() -> str | None:
    """Why a PostgreSQL server cannot be started here, or None when it can."""
    binaries = postgres_bin()
    for name in ("initdb", "pg_ctl", "postgres"):
        if not (binaries / name).is_file():
            return f"PostgreSQL server binaries not found: no {binaries / name} (set {POSTGRES_BIN_ENV})"
    if _running_as_root():
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            return f"running as root but there is no '{POSTGRES_USER}' user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root but `runuser` is not installed (PostgreSQL refuses to run as root)"
    return None


def moto_server_command() -> list[str] | None:
    """The command that starts moto's S3 server, or None when moto[server] is not installed."""
    beside = Path(sys.executable).parent / "moto_server"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("moto_server")
    return [found] if found else None


def missing_s3() -> str | None:
    """Why the S3-compatible server cannot be started here, or None when it can."""
    if moto_server_command() is None:
        return "moto_server not found: install the test extra (`moto[server]`)"
    try:
        import flask  # noqa: F401 - moto's server mode needs it; without it moto_server exits at once
    except ImportError:
        return "moto is installed without its server extra: install `moto[server]`"
    return None


class ServiceError(RuntimeError):
    """A server did not start or answer; the message carries its log."""


class _Service:
    """A server process used as a context manager: started on entry (stopped again if starting
    fails half-way), stopped on exit."""

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


class PostgresServer(_Service):
    """A throwaway PostgreSQL cluster: initdb in a temporary folder, started on a free 127.0.0.1 port."""

    def __init__(self, port: int | None = None, start_timeout: float = 60.0):
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.root: Path | None = None
        self.user = POSTGRES_USER  # the superuser initdb creates; trust auth on 127.0.0.1 only
        self._as_root = _running_as_root()

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(postgres_bin() / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", POSTGRES_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if check and result.returncode != 0:
            log = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise ServiceError(f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip()} {log}")
        return result

    def start(self) -> "PostgresServer":
        reason = missing_postgres()
        if reason:
            raise ServiceError(reason)
        self.root = Path(tempfile.mkdtemp(prefix="papertrends-postgres-"))
        if self._as_root:
            entry = pwd.getpwnam(POSTGRES_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        # Unix socket in our own folder (the default /var/run/postgresql may not exist or be writable);
        # TCP on 127.0.0.1 only. fsync off: a test cluster never needs to survive a power cut.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options,
                  "-w", "-t", str(int(self.start_timeout)), "start")
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL through psql as the superuser (for setup: creating databases)."""
        result = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", database,
                           "-v", "ON_ERROR_STOP=1", "-At", "-c", sql)
        return result.stdout

    def create_database(self, name: str) -> str:
        """Create a database (dropping one of that name first); returns its libpq conninfo."""
        self.psql(f'drop database if exists "{name}" with (force)')
        self.psql(f'create database "{name}"')
        return self.conninfo(name)

    def conninfo(self, database: str = "postgres") -> str:
        """libpq key=value connection string, as DuckDB's postgres extension and DuckLake take it."""
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={database}"


class S3Server(_Service):
    """moto's S3 server mode as a separate process on a free 127.0.0.1 port."""

    # Any key is accepted by moto; these only make signed requests well-formed.
    access_key_id = "papertrends-test"
    secret_access_key = "papertrends-test-secret"
    region = "us-east-1"

    def __init__(self, port: int | None = None, start_timeout: float = 30.0):
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self.root: Path | None = None

    @property
    def endpoint(self) -> str:
        """host:port, as DuckDB's S3 secret ENDPOINT takes it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self) -> "S3Server":
        command = moto_server_command()
        reason = missing_s3()
        if reason:
            raise ServiceError(reason)
        self.root = Path(tempfile.mkdtemp(prefix="papertrends-s3-"))
        log = (self.root / "server.log").open("wb")
        self.process = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                                        env={**os.environ, "AWS_DEFAULT_REGION": self.region})
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(f"moto_server exited ({self.process.returncode}): {self._log()}")
            try:
                if httpx.get(self.url + "/", timeout=1.0).status_code < 500:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise ServiceError(f"moto_server did not answer on {self.url} within {self.start_timeout:g}s: {self._log()}")

    def _log(self) -> str:
        path = self.root / "server.log" if self.root else None
        return path.read_text(errors="replace")[-2000:] if path and path.exists() else ""

    def create_bucket(self, name: str) -> str:
        """Create a bucket (path-style PUT; moto takes unsigned requests); returns its s3:// URL."""
        answer = httpx.put(f"{self.url}/{name}", timeout=10.0)
        if answer.status_code not in (200, 409):
            raise ServiceError(f"creating bucket {name} failed: {answer.status_code} {answer.text[:300]}")
        return f"s3://{name}"

    def list_keys(self, bucket: str) -> list[str]:
        """Keys in a bucket (first 1000), for tests that check where files went."""
        import xml.etree.ElementTree as ET

        answer = httpx.get(f"{self.url}/{bucket}", params={"list-type": "2"}, timeout=10.0)
        answer.raise_for_status()
        ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
        return [key.text for key in ET.fromstring(answer.content).findall(".//s3:Contents/s3:Key", ns)]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

