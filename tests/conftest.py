"""Shared fixtures: isolated pipeline folders per test, a generated sample, the dbt manifest."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from assets.config import load_settings, read_settings
from assets.generator.run import generate
from tests.helpers import run_optout

SAMPLE_START = dt.date(2026, 1, 1)


@dataclass
class Workspace:
    root: Path
    landing: Path
    lake: Path
    warehouse: Path
    exports: Path
    serving: Path
    dagster_home: Path
    spark_warehouse: Path
    dbt_target: str | None = None  # None: whatever the caller's environment chooses (DuckDB by default)
    source: str | None = None  # OPTOUT_SOURCE (None: optout's own contract)

    def env(self) -> dict[str, str]:
        target = {"OPTOUT_DBT_TARGET": self.dbt_target} if self.dbt_target else {}
        target |= {"OPTOUT_SOURCE": self.source} if self.source else {}
        return target | {
            "OPTOUT_LANDING_DIR": str(self.landing),
            "OPTOUT_LAKE_DIR": str(self.lake),
            "OPTOUT_WAREHOUSE": str(self.warehouse),
            "OPTOUT_EXPORT_DIR": str(self.exports),
            "OPTOUT_SERVING_DIR": str(self.serving),
            "DAGSTER_HOME": str(self.dagster_home),
            "OPTOUT_SPARK_WAREHOUSE": str(self.spark_warehouse),
        }

    def optout(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run the `optout` CLI in a fresh process, as a user would."""
        return run_optout(self.env(), *args, check=check)


def make_workspace(root: Path, dbt_target: str | None = None, source: str | None = None) -> Workspace:
    return Workspace(
        root=root,
        landing=root / "landing",
        lake=root / "lake",
        warehouse=root / "warehouse" / "optout.duckdb",
        exports=root / "exports",
        serving=root / "serving",
        dagster_home=root / "dagster_home",
        spark_warehouse=root / "spark-warehouse",
        dbt_target=dbt_target,
        source=source,
    )


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Workspace:
    ws = make_workspace(tmp_path)
    for key, value in ws.env().items():
        monkeypatch.setenv(key, value)
    return ws


def pytest_configure(config):
    """The dbt manifest must exist before test modules import the Dagster definitions."""
    from orchestration.dbt_project import ensure_manifest

    ensure_manifest(read_settings().dbt_target)


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    from orchestration.dbt_project import ensure_manifest

    return ensure_manifest(read_settings().dbt_target)


@pytest.fixture(autouse=True)
def settings_read_again():
    """Each test reads the settings of its own environment (a process reads them once)."""
    load_settings.cache_clear()
    yield
    load_settings.cache_clear()


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory, dbt_manifest) -> Workspace:
    """A generated data set (600 users x 21 days) run through `optout run` once."""
    return generated_run(tmp_path_factory.mktemp("sample"), days=21, users=600, seed=11)


def generated_run(root: Path, days: int, users: int, seed: int) -> Workspace:
    """A generated data set from SAMPLE_START, run through `optout run` once."""
    ws = make_workspace(root)
    generate(ws.landing, SAMPLE_START, days, users, seed=seed)
    ws.optout("run")
    return ws


@pytest.fixture(autouse=True)
def serving_dir_outside_the_repository(tmp_path_factory, monkeypatch):
    """A run publishes a serving copy: never into the repository's data/serving from a test."""
    if not os.environ.get("OPTOUT_SERVING_DIR"):
        monkeypatch.setenv("OPTOUT_SERVING_DIR", str(tmp_path_factory.mktemp("serving")))
