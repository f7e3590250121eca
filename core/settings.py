"""Settings: one object, read from defaults, an optional TOML file and environment variables.

Settings are data: each is a row of (name, default, env var, help). Every path derives from the
data root. Secrets (HF_TOKEN) have no default and are never printed.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

HOME_ENV = "PAPERTRENDS_HOME"
DEFAULT_HOME = "./data"
SETTINGS_FILE = "papertrends.toml"


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know; build it with `load_settings`."""

    home: Path = field(default=Path(DEFAULT_HOME), metadata={"help": "data root: raw archive, lake, warehouse"})
    hf_base_url: str = field(
        default="https://huggingface.co",
        metadata={"env": "PAPERTRENDS_HF_BASE_URL", "help": "Hugging Face API base URL"},
    )
    page_limit: int = field(default=50, metadata={"env": "PAPERTRENDS_PAGE_LIMIT", "help": "items per API page"})
    connect_timeout: float = field(default=10.0, metadata={"env": "PAPERTRENDS_CONNECT_TIMEOUT", "help": "seconds"})
    read_timeout: float = field(default=30.0, metadata={"env": "PAPERTRENDS_READ_TIMEOUT", "help": "seconds"})
    max_attempts: int = field(default=5, metadata={"env": "PAPERTRENDS_MAX_ATTEMPTS", "help": "tries per request"})
    backoff_base: float = field(default=1.0, metadata={"env": "PAPERTRENDS_BACKOFF_BASE", "help": "first retry wait, s"})
    max_retry_wait: float = field(
        default=60.0, metadata={"env": "PAPERTRENDS_MAX_RETRY_WAIT", "help": "cap on any wait, Retry-After included"}
    )
    # Schedules for `papertrends serve` (cron strings in schedule_timezone); an empty cron turns one off.
    hf_daily_cron: str = field(
        default="0 7 * * *", metadata={"env": "PAPERTRENDS_HF_DAILY_CRON", "help": "daily Hugging Face ingest (cron)"}
    )
    hf_daily_days: int = field(
        default=2, metadata={"env": "PAPERTRENDS_HF_DAILY_DAYS", "help": "days the daily ingest covers, today included"}
    )
    arxiv_weekly_cron: str = field(
        default="0 6 * * 1", metadata={"env": "PAPERTRENDS_ARXIV_WEEKLY_CRON", "help": "weekly arXiv harvest (cron)"}
    )
    export_nightly_cron: str = field(
        default="", metadata={"env": "PAPERTRENDS_EXPORT_NIGHTLY_CRON", "help": "nightly export (cron); empty = off"}
    )
    schedule_timezone: str = field(
        default="UTC", metadata={"env": "PAPERTRENDS_SCHEDULE_TIMEZONE", "help": "IANA time zone of the crons"}
    )
    # `papertrends backfill`: dates fetched at once, and whole-date retries on top of per-request tries.
    backfill_workers: int = field(
        default=4, metadata={"env": "PAPERTRENDS_BACKFILL_WORKERS", "help": "dates fetched concurrently"}
    )
    backfill_retries: int = field(
        default=2, metadata={"env": "PAPERTRENDS_BACKFILL_RETRIES", "help": "retries of a whole date"}
    )
    backfill_retry_delay: float = field(
        default=30.0, metadata={"env": "PAPERTRENDS_BACKFILL_RETRY_DELAY", "help": "seconds before a date is retried"}
    )
    rate_limits: str = field(
        default="huggingface.co=1,arxiv.org=3",
        metadata={"env": "PAPERTRENDS_RATE_LIMITS", "help": "host=seconds between requests, comma-separated; subdomains included"},
    )
    settled_days: int = field(
        default=3,
        metadata={"env": "PAPERTRENDS_SETTLED_DAYS", "help": "lists older than this many days are served from the raw archive"},
    )
    writer_wait: float = field(
        default=60.0,
        metadata={"env": "PAPERTRENDS_WRITER_WAIT", "help": "seconds a writer waits for another writer's lock"},
    )
    reader_wait: float = field(
        default=30.0,
        metadata={"env": "PAPERTRENDS_READER_WAIT", "help": "seconds a reader waits while a writer holds the file"},
    )
    arxiv_api_url: str = field(
        default="https://export.arxiv.org/api/query",
        metadata={"env": "PAPERTRENDS_ARXIV_API_URL", "help": "arXiv API query endpoint"},
    )
    arxiv_oai_url: str = field(
        default="https://export.arxiv.org/oai2",
        metadata={"env": "PAPERTRENDS_ARXIV_OAI_URL", "help": "arXiv OAI-PMH endpoint"},
    )
    arxiv_request_interval: float = field(
        default=3.0,
        metadata={"env": "PAPERTRENDS_ARXIV_REQUEST_INTERVAL", "help": "seconds between arXiv requests (arXiv asks for 3)"},
    )
    arxiv_page_size: int = field(
        default=200, metadata={"env": "PAPERTRENDS_ARXIV_PAGE_SIZE", "help": "entries per arXiv API page"}
    )
    snapshot_batch_lines: int = field(
        default=20_000, metadata={"env": "PAPERTRENDS_SNAPSHOT_BATCH_LINES", "help": "snapshot lines per batch"}
    )
    # The warehouse backend (warehouse/backends.py, docs/scale-out.md): empty = the embedded file
    # <home>/warehouse.duckdb; "ducklake:postgres:<libpq conninfo>" = a DuckLake whose catalog is in
    # PostgreSQL and whose Parquet files go to ducklake_data_path. Passwords and keys come from
    # PGPASSWORD / AWS_* environment variables, never from here.
    warehouse: str = field(
        default="", metadata={"env": "PAPERTRENDS_WAREHOUSE", "help": "empty = warehouse.duckdb; or ducklake:postgres:<conninfo>"}
    )
    ducklake_data_path: str = field(
        default="", metadata={"env": "PAPERTRENDS_DUCKLAKE_DATA_PATH", "help": "DuckLake data files: s3://bucket/prefix/ or a shared folder"}
    )
    s3_endpoint: str = field(
        default="", metadata={"env": "PAPERTRENDS_S3_ENDPOINT", "help": "S3-compatible endpoint URL (http://host:port); empty = AWS"}
    )
    s3_region: str = field(default="us-east-1", metadata={"env": "PAPERTRENDS_S3_REGION", "help": "S3 region"})

    @property
    def raw_dir(self) -> Path:
        """Raw archive: every response and file, untouched, content-addressed."""
        return self.home / "raw"

    @property
    def lake_dir(self) -> Path:
        """Parquet lake: normalized rows, partitioned by list month."""
        return self.home / "lake"

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB warehouse file."""
        return self.home / "warehouse.duckdb"

    @property
    def hf_token(self) -> str | None:
        """Hugging Face token from HF_TOKEN; read when needed, never stored or printed."""
        return os.environ.get("HF_TOKEN") or None


def type_of(annotation) -> type:
    """The Python type a field's (string) annotation names."""
    return {"Path": Path, "str": str, "int": int, "float": float}[str(annotation)]


def load_settings(home: str | os.PathLike | None = None, **overrides) -> Settings:
    """Settings from defaults < home/papertrends.toml < environment < explicit arguments."""
    root = Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME)
    values: dict = {}
    toml_path = root / SETTINGS_FILE
    if toml_path.is_file():
        with toml_path.open("rb") as handle:
            values.update(tomllib.load(handle))
    for f in fields(Settings):
        env = f.metadata.get("env")
        if env and os.environ.get(env):
            values[f.name] = os.environ[env]
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f for f in fields(Settings)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown settings in {toml_path}: {', '.join(unknown)}")
    typed = {name: type_of(known[name].type)(value) for name, value in values.items()}
    return replace(Settings(), home=root, **typed)
