"""Session fixtures for the real servers of the scale-out tests: PostgreSQL, an S3-compatible server, a DuckLake.

Each server starts once per test session (a couple of seconds each) and stops after it; every
test that wants a DuckLake gets its own catalog database and bucket on them. Where a binary is
missing the tests that need it skip, naming what is missing. The servers themselves live in
papertrends.devkit.services, so benchmarks start them the same way.
"""

from __future__ import annotations

import itertools

import pytest
from papertrends.devkit.services import PostgresServer, S3Server, missing_postgres, missing_s3
from papertrends.warehouse.backends import DuckLake

_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server (the machine's binaries) in a temporary folder on a free 127.0.0.1 port."""
    reason = missing_postgres()
    if reason:
        pytest.skip(reason)
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server mode, a separate process on a free 127.0.0.1 port."""
    reason = missing_s3()
    if reason:
        pytest.skip(reason)
    with S3Server() as server:
        yield server


@pytest.fixture(scope="session")
def s3_credentials(s3_server):
    """The S3 keys in the environment, where papertrends (and its subprocesses) read them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
        patch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
        yield s3_server


def new_ducklake(postgres_server, s3_server) -> DuckLake:
    """A fresh DuckLake: its own catalog database and its own bucket."""
    name = f"lake{next(_names)}"
    catalog = postgres_server.create_database(name)
    bucket = s3_server.create_bucket(f"papertrends-{name}")
    return DuckLake(catalog=f"postgres:{catalog}", data_path=f"{bucket}/warehouse/",
                    s3_endpoint=s3_server.url, s3_region=s3_server.region)


@pytest.fixture
def ducklake(postgres_server, s3_credentials) -> DuckLake:
    """An empty DuckLake for one test: catalog in the session's PostgreSQL, data in a new bucket."""
    return new_ducklake(postgres_server, s3_credentials)
