"""Every setting of the project, read from the environment in one place (docs/reference.md).

`load_settings()` reads the `OPTOUT_*` variables once per process and hands out one
frozen `Settings`; nothing else in the project reads them (dbt reads the same variables in
profiles.yml, with the same defaults). Relative paths are resolved against the repository
root, so every command, Dagster subprocess and dbt run sees the same absolute location
wherever it was started from.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]

# the dbt targets of dbt_project/profiles.yml: DuckDB (the default), Spark (extra `spark`)
DBT_TARGETS = ("duckdb", "spark")
# the first export day when OPTOUT_FIRST_DAY is unset and nothing has landed yet
FALLBACK_FIRST_DAY = dt.date(2025, 1, 1)

# what OPTOUT_DAGSTER_POSTGRES_URL may start with (the driver is chosen by orchestration/instance.py)
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2")

# files and folders that hold user data (lake, quarantine, warehouse, exports) are for
# their owner only: 0600 / 0700
PRIVATE_UMASK = 0o077


def keep_new_files_private() -> None:
    """Every file this process (and the dbt it starts) creates: no group or world access."""
    os.umask(PRIVATE_UMASK)


class SettingError(ValueError):
    """An environment variable with a value the project cannot use (a user's mistake)."""


def resolve_path(value: str | Path) -> Path:
    path = Path(value)  # no ~: dbt, which reads the same variables, could not expand it
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


class Settings(BaseSettings):
    """The pipeline's settings: `OPTOUT_<FIELD NAME>` in the environment, else the default."""

    model_config = SettingsConfigDict(
        env_prefix="OPTOUT_", env_ignore_empty=True, frozen=True, extra="ignore"
    )

    landing_dir: Path = Field(Path("data/landing"), description="raw exports as the platform delivers them")
    lake_dir: Path = Field(Path("data/lake"), description="typed Parquet per table and export day")
    warehouse: Path = Field(Path("data/warehouse/optout.duckdb"), description="the DuckDB file of the marts")
    export_dir: Path = Field(Path("data/exports"), description="opted-out user files, reports, alerts")
    serving_dir: Path = Field(Path("data/serving"), description="the read-only copy BI tools read")
    bi_dir: Path = Field(Path("data/bi"), description="Apache Superset's own venv and state")
    bench_dir: Path = Field(Path("data/bench"), description="`optout bench` workspaces and figures")
    privacy_dir: Path = Field(
        Path("data/privacy"),
        description="the suppression list of erased people (salted hashes), its salt and the erasure request log",
    )
    dbt_target: Literal["duckdb", "spark"] = Field("duckdb", description="the engine dbt builds on")
    source: Literal["optout", "braze_currents", "onesignal", "airship"] = Field(
        "optout",
        description="the landing folder's format: optout's contract or a vendor's export (docs/sources/)",
    )
    spark_warehouse: Path = Field(Path("data/spark-warehouse"), description="the spark target's tables")
    first_day: dt.date | None = Field(
        None, description="first export day of the daily partitions (default: the first landed day)"
    )
    max_quarantine_share: float = Field(
        0.25, ge=0, le=1, description="largest quarantined share of a table's records before the marts stop"
    )
    max_file_bytes: int = Field(
        2 * 1024**3, gt=0, description="largest landing file, decompressed (a bigger one fails its day)"
    )
    alert_webhook: str = Field("", description="Slack-compatible incoming webhook for new early warnings")
    bi_password: str = Field("", description="the Superset admin password `optout bi setup` sets first")
    # a secret: shown as '**********' by repr and in errors; only orchestration/instance.py reads it
    dagster_postgres_url: SecretStr | None = Field(
        None, description="postgresql://user[:password]@host:port/db: the Dagster instance in PostgreSQL"
    )
    ui_url: str = Field(
        "http://127.0.0.1:3000", description="where people open the Dagster UI (links in messages)"
    )
    retention_days: int | None = Field(
        None,
        gt=0,
        description="landing, lake and quarantine days older than this many days are removed by each run "
        "(default: keep everything)",
    )
    max_staleness_hours: float = Field(
        30,
        gt=0,
        description="hours after the end of the newest export day in the marts before the freshness check warns",
    )

    @field_validator(
        "landing_dir",
        "lake_dir",
        "warehouse",
        "export_dir",
        "serving_dir",
        "bi_dir",
        "bench_dir",
        "privacy_dir",
        "spark_warehouse",
    )
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return resolve_path(value)

    @field_validator("alert_webhook", "bi_password")
    @classmethod
    def _stripped(cls, value: str) -> str:
        return value.strip()

    @field_validator("ui_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @field_validator("dagster_postgres_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        from urllib.parse import urlsplit

        url = value.get_secret_value().strip()
        parts = urlsplit(url)
        if parts.scheme not in POSTGRES_SCHEMES or not parts.hostname or not parts.path.strip("/"):
            # the value is never repeated: it may hold a password
            raise ValueError("must be postgresql://user[:password]@host[:port]/database")
        return SecretStr(url)

    @property
    def partitions_start(self) -> dt.date:
        """First daily partition: OPTOUT_FIRST_DAY, else the first day that landed, else 2025-01-01."""
        if self.first_day is not None:
            return self.first_day
        return first_landed_day(self.landing_dir, self.source) or FALLBACK_FIRST_DAY

    def fingerprint(self) -> str:
        """What a run writes where, in 16 characters: two processes with the same fingerprint
        write the same lake, warehouse, exports and serving copy with the same engine."""
        where = [self.landing_dir, self.lake_dir, self.warehouse, self.export_dir, self.serving_dir]
        read_as = [] if self.source == "optout" else [self.source]  # the default keeps older fingerprints
        text = "\n".join([*map(str, where), self.dbt_target, str(self.spark_warehouse), *read_as])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def first_landed_day(landing_dir: Path, source: str = "optout") -> dt.date | None:
    """The earliest export day folder of the landing area (any table or vendor file kind), if any."""
    from assets.sources.layouts import layout_for  # imported here: ingestion reads these settings

    return min((folder.day for folder in layout_for(source).landed(landing_dir)), default=None)


def read_settings() -> Settings:
    """The settings from the environment now; a value the project cannot use is one line."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingError("; ".join(_problem(error) for error in exc.errors())) from None


def _problem(error) -> str:
    """One setting a user got wrong, in words: `OPTOUT_X='value' is not ...`."""
    name = f"OPTOUT_{str(error['loc'][0]).upper()}"
    kind = error["type"]
    if name == "OPTOUT_DAGSTER_POSTGRES_URL":  # never echo a value that may hold a password
        return f"{name} {error['msg'].removeprefix('Value error, ')}"
    if kind == "literal_error":
        reason = f"is not one of {', '.join(DBT_TARGETS)}"
    elif kind.startswith("date"):
        reason = "is not a date (YYYY-MM-DD)"
    elif kind.startswith("int"):
        reason = "is not a whole number"
    elif kind.startswith("float"):
        reason = "is not a number"
    else:  # a bound: "must be ..." in pydantic's own words
        reason = error["msg"].lower().replace("input should be", "must be")
    return f"{name}={error.get('input')!r} {reason}"


@functools.cache
def load_settings() -> Settings:
    """The settings of this process, read once (`load_settings.cache_clear()` reads them again)."""
    return read_settings()
