"""Paths and settings from the environment (docs/reference.md), one place for all of them.

Relative paths are resolved against the repository root, so every command, Dagster
subprocess and dbt run sees the same absolute location wherever it was started from.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULTS = {
    "OPTOUT_LANDING_DIR": "data/landing",
    "OPTOUT_LAKE_DIR": "data/lake",
    "OPTOUT_WAREHOUSE": "data/warehouse/optout.duckdb",
    "OPTOUT_EXPORT_DIR": "data/exports",
    "OPTOUT_SERVING_DIR": "data/serving",
    "OPTOUT_DBT_TARGET": "duckdb",
    # the Spark target's tables (Parquet, Spark's layout) and catalog: dbt_project/profiles.yml
    "OPTOUT_SPARK_WAREHOUSE": "data/spark-warehouse",
    "OPTOUT_FIRST_DAY": "2025-01-01",
    # the BI tool's own environment and state (`optout bi`), not read by the pipeline
    "OPTOUT_BI_DIR": "data/bi",
}

# the dbt targets of dbt_project/profiles.yml: DuckDB (the default), Spark (extra `spark`)
DBT_TARGETS = ("duckdb", "spark")

# files and folders that hold user data (lake, quarantine, warehouse, exports) are for
# their owner only: 0600 / 0700
PRIVATE_UMASK = 0o077


def keep_new_files_private() -> None:
    """Every file this process (and the dbt it starts) creates: no group or world access."""
    os.umask(PRIVATE_UMASK)


class SettingError(ValueError):
    """An environment variable with a value the project cannot use (a user's mistake)."""


def setting(name: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or DEFAULTS[name]


def resolve_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    lake_dir: Path
    warehouse: Path
    export_dir: Path
    serving_dir: Path
    dbt_target: str
    spark_warehouse: Path
    first_day: dt.date

    @classmethod
    def from_env(cls) -> Settings:
        first_day_text = setting("OPTOUT_FIRST_DAY")
        try:
            first_day = dt.date.fromisoformat(first_day_text)
        except ValueError as exc:
            raise SettingError(f"OPTOUT_FIRST_DAY={first_day_text!r} is not a date (YYYY-MM-DD)") from exc
        dbt_target = setting("OPTOUT_DBT_TARGET")
        if dbt_target not in DBT_TARGETS:
            raise SettingError(f"OPTOUT_DBT_TARGET={dbt_target!r} is not one of {', '.join(DBT_TARGETS)}")
        return cls(
            landing_dir=resolve_path(setting("OPTOUT_LANDING_DIR")),
            lake_dir=resolve_path(setting("OPTOUT_LAKE_DIR")),
            warehouse=resolve_path(setting("OPTOUT_WAREHOUSE")),
            export_dir=resolve_path(setting("OPTOUT_EXPORT_DIR")),
            serving_dir=resolve_path(setting("OPTOUT_SERVING_DIR")),
            dbt_target=dbt_target,
            spark_warehouse=resolve_path(setting("OPTOUT_SPARK_WAREHOUSE")),
            first_day=first_day,
        )

    def export_env(self) -> dict[str, str]:
        """The absolute values, for subprocesses (dbt) that must agree with this process."""
        return {
            "OPTOUT_LANDING_DIR": str(self.landing_dir),
            "OPTOUT_LAKE_DIR": str(self.lake_dir),
            "OPTOUT_WAREHOUSE": str(self.warehouse),
            "OPTOUT_EXPORT_DIR": str(self.export_dir),
            "OPTOUT_SERVING_DIR": str(self.serving_dir),
            "OPTOUT_DBT_TARGET": self.dbt_target,
            "OPTOUT_SPARK_WAREHOUSE": str(self.spark_warehouse),
            "OPTOUT_FIRST_DAY": self.first_day.isoformat(),
        }
