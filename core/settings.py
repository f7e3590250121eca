"""Settings: one typed model (pydantic-settings), read from defaults < `<home>/papertrends.toml`
< environment < explicit arguments.

Every field is documented by its `description`; the environment variable of a field is
`PAPERTRENDS_<NAME>` (the Hugging Face token is `HF_TOKEN`). docs/settings.md is generated from
this model (`python -m papertrends.cli.docs`) and a test keeps the two equal. Every path derives
from the data root. Secrets are `SecretStr`: masked in every dump, repr and `papertrends config`.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, TomlConfigSettingsSource

HOME_ENV = "PAPERTRENDS_HOME"
ENV_PREFIX = "PAPERTRENDS_"
DEFAULT_HOME = "./data"
SETTINGS_FILE = "papertrends.toml"
TOKEN_ENV = "HF_TOKEN"

# The one "settled" rule (see Settings.settled_days); importable where no Settings object is at hand.
DEFAULT_SETTLED_DAYS = 2

# The TOML file of the load in progress (load_settings sets it; a plain Settings() reads none).
_toml_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar("papertrends_toml_file", default=None)


def parse_rate_limits(value: Any) -> dict[str, float]:
    """`{"host": seconds}` from a mapping or from the text form "host=seconds,host=seconds"."""
    if isinstance(value, Mapping):
        return {str(host).strip().lower(): float(seconds) for host, seconds in value.items()}
    limits: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in str(value).split(","))):
        name, sep, seconds = entry.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            limits[name.strip().lower()] = float(seconds)
        except ValueError:
            raise ValueError(f"rate_limits entry {entry!r} is not host=seconds") from None
    return limits


def is_settled(day: dt.date, today: dt.date, settled_days: int = DEFAULT_SETTLED_DAYS) -> bool:
    """A list whose last day is at least `settled_days` before `today` is final."""
    return (today - day).days >= settled_days


class Settings(BaseSettings):
    """Everything a run needs to know; build it with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid", frozen=True, validate_by_name=True,
    )

    home: Path = Field(Path(DEFAULT_HOME), description="data root: raw archive, lake, warehouse (also `--home`)")
    hf_base_url: str = Field("https://huggingface.co", description="Hugging Face API base URL")
    page_limit: int = Field(50, ge=1, description="items per Hugging Face API page")
    connect_timeout: float = Field(10.0, gt=0, description="seconds to connect before a try fails")
    read_timeout: float = Field(30.0, gt=0, description="seconds of silence while reading before a try fails")
    max_attempts: int = Field(5, ge=1, description="tries per request")
    backoff_base: float = Field(1.0, ge=0, description="first retry wait in seconds (doubles per try, with jitter)")
    max_retry_wait: float = Field(60.0, ge=0, description="cap in seconds on any retry wait, Retry-After included")
    request_deadline: float = Field(
        180.0, gt=0, description="seconds one request may take in all (every try, wait and body byte)"
    )
    max_response_bytes: int = Field(
        64_000_000, ge=1, description="largest answer parsed; a bigger one is kept in raw/ and quarantined"
    )
    hf_token_host: str = Field(
        "huggingface.co", description="the only host HF_TOKEN is sent to (https; http://host allows plain http)"
    )
    # Schedules for `papertrends serve` (cron strings in schedule_timezone); an empty cron turns one off.
    hf_daily_cron: str = Field("0 7 * * *", description="daily Hugging Face ingest (cron); empty = off")
    hf_daily_days: int = Field(2, ge=1, description="days the daily ingest covers, today included")
    arxiv_weekly_cron: str = Field("0 6 * * 1", description="weekly arXiv harvest (cron); empty = off")
    export_nightly_cron: str = Field("", description="nightly export (cron); empty = off")
    schedule_timezone: str = Field("UTC", description="IANA time zone of the crons")
    # `papertrends backfill`: dates fetched at once, and whole-date retries on top of per-request tries.
    backfill_workers: int = Field(4, ge=1, description="dates a backfill fetches concurrently")
    backfill_retries: int = Field(2, ge=0, description="retries of a whole backfill date")
    backfill_retry_delay: float = Field(30.0, ge=0, description="seconds before a backfill date is retried")
    # Normalization batches on Dask (flows/parallel.py, docs/scale-out.md): an existing cluster, or a local one.
    dask_address: str = Field("", description="Dask scheduler (`tcp://host:8786`) that normalization batches run on; "
                                              "empty = this process (or a local cluster, see dask_workers)")
    dask_workers: int = Field(0, ge=0, description="without dask_address: worker processes of a local Dask cluster "
                                                   "for normalization batches; 0 = batches run one by one in this process")
    # `papertrends backfill --submit` (flows/pool.py, docs/scale-out.md): dates as flow runs on a work pool.
    work_pool: str = Field("papertrends", min_length=1, description="Prefect work pool `backfill --submit` sends its flow runs to")
    pool_writer_wait: float = Field(
        3600.0, ge=0,
        description="seconds a submitted backfill flow run waits for the writer lock (runs of every worker queue on it)",
    )
    rate_limits: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=lambda: {"huggingface.co": 1.0, "arxiv.org": 3.0},
        description="seconds between requests per host (subdomains included): a TOML table or "
                    "`host=seconds,host=seconds` in the environment",
    )
    settled_days: int = Field(
        DEFAULT_SETTLED_DAYS, ge=0,
        description="a list this many days past its last day is final: served from the raw archive, "
                    "skipped by a resumed backfill, and an empty weekday list is suspicious",
    )
    writer_wait: float = Field(60.0, ge=0, description="seconds a writer waits for another writer's lock")
    reader_wait: float = Field(30.0, ge=0, description="seconds a reader waits while a writer holds the file")
    arxiv_api_url: str = Field("https://export.arxiv.org/api/query", description="arXiv API query endpoint")
    arxiv_oai_url: str = Field("https://export.arxiv.org/oai2", description="arXiv OAI-PMH endpoint")
    arxiv_page_size: int = Field(200, ge=1, description="entries per arXiv API page")
    snapshot_batch_lines: int = Field(20_000, ge=1, description="arXiv snapshot lines per batch")
    hf_token_secret: SecretStr | None = Field(
        None, validation_alias=TOKEN_ENV,
        description="Hugging Face token, sent as a bearer token; never printed, logged or stored",
    )
    # The warehouse backend (warehouse/backends.py, docs/scale-out.md): empty = the embedded file
    # <home>/warehouse.duckdb; "ducklake:postgres:<libpq conninfo>" = a DuckLake whose catalog is in
    # PostgreSQL and whose Parquet files go to ducklake_data_path. Passwords and keys come from
    # PGPASSWORD / AWS_* environment variables, never from here.
    warehouse: str = Field("", description="warehouse backend: empty = `<home>/warehouse.duckdb`; "
                                           "`ducklake:postgres:<libpq conninfo>` = a DuckLake (docs/scale-out.md)")
    ducklake_data_path: str = Field("", description="where a DuckLake's Parquet files go: `s3://bucket/prefix/` or a shared folder")
    s3_endpoint: str = Field("", description="S3-compatible endpoint URL (`http://host:port`) for DuckLake data; empty = AWS")
    s3_region: str = Field("us-east-1", description="S3 region of the DuckLake data")

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _rate_limits(cls, value):
        return parse_rate_limits(value)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        # Precedence, highest first: explicit arguments, environment, <home>/papertrends.toml, defaults.
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_toml_file.get())

    def __hash__(self) -> int:  # frozen, but a dict field: hash the JSON form (secrets masked)
        return hash(self.model_dump_json())

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
        """The Hugging Face token (HF_TOKEN) in clear, for the one header that needs it."""
        return self.hf_token_secret.get_secret_value() if self.hf_token_secret else None

    def is_settled(self, day: dt.date, today: dt.date | None = None) -> bool:
        """The one "settled" rule: a list whose last day is `settled_days` or more before today (UTC)."""
        return is_settled(day, today or dt.datetime.now(dt.timezone.utc).date(), self.settled_days)


def env_name(name: str) -> str:
    """The environment variable of a setting."""
    return TOKEN_ENV if name == "hf_token_secret" else ENV_PREFIX + name.upper()


def setting_name(name: str) -> str:
    """The name a user sees for a setting (the token is known by its variable)."""
    return TOKEN_ENV if name == "hf_token_secret" else name


def _root(home) -> Path:
    return Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME)


def _toml_values(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from None
    unknown = sorted(set(values) - (set(Settings.model_fields) - {"home", "hf_token_secret"}))
    if unknown:
        raise ValueError(f"unknown settings in {path}: {', '.join(unknown)}")
    return values


def load_settings(home: str | os.PathLike | None = None, **overrides) -> Settings:
    """Settings from defaults < home/papertrends.toml < environment < explicit arguments (None = not given)."""
    root = _root(home)
    toml_path = root / SETTINGS_FILE
    _toml_values(toml_path)  # unknown names and bad TOML: one clear line before pydantic's report
    given = {k: v for k, v in overrides.items() if v is not None}
    token = _toml_file.set(toml_path if toml_path.is_file() else None)
    try:
        return Settings(home=root, **given)
    except ValidationError as error:
        first = error.errors()[0]
        name = setting_name(str(first["loc"][0])) if first["loc"] else "settings"
        origin = _origin(name if name != TOKEN_ENV else "hf_token_secret", given, toml_path)
        raise ValueError(f"setting {name} ({origin}): {first['msg']}") from None
    finally:
        _toml_file.reset(token)


def _origin(name: str, given: dict, toml_path: Path, home_given: bool = False) -> str:
    if name == "home":
        return "argument --home" if home_given else f"environment {HOME_ENV}" if os.environ.get(HOME_ENV) else "default"
    if name in given:
        return "argument"
    if os.environ.get(env_name(name)):
        return f"environment {env_name(name)}"
    if name in _toml_values(toml_path):
        return f"TOML {toml_path}"
    return "default"


@dataclass(frozen=True)
class EffectiveSetting:
    """One row of `papertrends config`: a setting's value (secrets masked) and where it came from."""

    name: str
    value: str
    origin: str
    env: str


def _shown(value) -> str:
    if isinstance(value, SecretStr):
        return "**********"
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v:g}" for k, v in value.items())
    return str(value)


def effective_settings(home: str | os.PathLike | None = None, **overrides) -> list[EffectiveSetting]:
    """Every setting's effective value (secrets masked) and its origin: default, TOML, environment, argument."""
    settings = load_settings(home, **overrides)
    given = {k: v for k, v in overrides.items() if v is not None}
    toml_path = settings.home / SETTINGS_FILE
    return [
        EffectiveSetting(setting_name(name), _shown(getattr(settings, name)),
                         _origin(name, given, toml_path, home_given=home is not None), env_name(name))
        for name in Settings.model_fields
    ]
