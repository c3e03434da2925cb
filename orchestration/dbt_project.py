"""The dbt project, built once (kept apart from the @dbt_assets module: see STACK notes).

`dagster-dbt project prepare-and-package --file orchestration/dbt_project.py` writes the
manifest; `ensure_manifest()` does the same on demand for the CLI and tests.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster_dbt import DbtProject

from assets.config import REPO_ROOT, Settings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

optout_dbt = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target=Settings.from_env().dbt_target,
)
optout_dbt.prepare_if_dev()


def prepare_dbt_environment() -> None:
    """dbt reads the same env vars: give it absolute paths, and a folder for the warehouse."""
    settings = Settings.from_env()
    os.environ.update(settings.export_env())
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)


def ensure_manifest() -> Path:
    if not optout_dbt.manifest_path.exists():
        prepare_dbt_environment()
        optout_dbt.preparer.prepare(optout_dbt)
    return optout_dbt.manifest_path
