"""Run dbt against a test workspace, in its own process like Dagster does."""

from __future__ import annotations

import json
import os
import subprocess

from assets.config import read_settings
from orchestration.dbt_project import DBT_PROJECT_DIR, dbt_executable


def dbt(*args: str, vars: dict | None = None) -> None:
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    if vars:
        command += ["--vars", json.dumps(vars)]
    # the pipeline's dbt asset makes the warehouse's folder; a test that runs dbt alone does too
    read_settings().warehouse.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        command, capture_output=True, text=True, env=dict(os.environ), timeout=600, cwd=DBT_PROJECT_DIR
    )
    if result.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")
