"""dbt's unit tests (hand-made rows in, exact rows out) run here, not in every pipeline run.

A daily run builds and data-tests the models; the unit tests check the SQL's logic, which
only a change of code can break, so they belong to the test suite, like any unit test.
They need no data: their models' parents are built empty (`dbt run --empty`) over a lake
holding one empty file per table, with the contract's columns and types.
"""

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import polars as pl
import pytest

from assets.contract import TABLE_NAMES, TABLES
from assets.ingest.day import LOG_SCHEMA
from assets.ingest.lake import DATA_FILE, LOG_FILE, QUARANTINE_FILE, day_dir
from assets.ingest.validate import QUARANTINE_SCHEMA, typed_schema
from orchestration.dbt_project import DBT_PROJECT_DIR, dbt_executable

pytestmark = pytest.mark.quick


def write_empty_lake(lake: Path) -> None:
    """One export day per table with no records: every source dbt reads exists, with its columns."""
    for table in TABLE_NAMES:
        folder = day_dir(lake, table, dt.date(2026, 1, 1))
        folder.mkdir(parents=True)
        pl.DataFrame(schema=typed_schema(TABLES[table])).write_parquet(folder / DATA_FILE)
        pl.DataFrame(schema=QUARANTINE_SCHEMA).write_parquet(folder / QUARANTINE_FILE)
        pl.DataFrame(schema=LOG_SCHEMA).write_parquet(folder / LOG_FILE)


def _dbt(env: dict, target: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(target)],
        env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR, timeout=600,
    )  # fmt: skip


def test_every_dbt_unit_test_passes_on_an_empty_target(dbt_manifest, tmp_path):
    manifest = json.loads(Path(dbt_manifest).read_text())
    unit_tests = set(manifest.get("unit_tests", {}))
    assert len(unit_tests) >= 5  # the project's own: pressure buckets, windows, periods, ...
    write_empty_lake(tmp_path / "lake")
    env = {
        **os.environ,
        "OPTOUT_DBT_TARGET": "duckdb",
        "OPTOUT_LAKE_DIR": str(tmp_path / "lake"),
        "OPTOUT_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
    }
    target = tmp_path / "target"
    parents = _dbt(
        env, target, "run", "--empty", "--select", "+test_type:unit", "--exclude", "test_type:unit"
    )
    assert parents.returncode == 0, parents.stdout[-3000:]
    result = _dbt(env, target, "test", "--select", "test_type:unit")
    assert result.returncode == 0, result.stdout[-3000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    # beside them: the project's on-run-start/end hooks (the Spark target's catalog work, no-ops here)
    tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert {r["unique_id"] for r in tests} == unit_tests
    assert {r["status"] for r in tests} == {"pass"}
    assert {r["status"] for r in results if r not in tests} <= {"success"}
