"""The dbt project, built once (kept apart from the @dbt_assets module: see STACK notes).

`dagster-dbt project prepare-and-package --file orchestration/dbt_project.py` writes the
manifest; `ensure_manifest()` does the same on demand for the CLI and tests. Both, and the
parse `dagster dev` runs on load, name the venv's dbt: importing this module leaves PATH alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtCliResource, DbtProject
from dagster_shared.record import replace

from assets.config import REPO_ROOT, Settings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def dbt_executable() -> str:
    """The dbt beside this Python (the venv's), whether or not the venv is on PATH."""
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


class VenvDbtPreparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer (`dagster dev` and `prepare-and-package` parse), with the venv's dbt.

    The default runs whichever `dbt` is on PATH: `.venv/bin/dagster dev` or
    `.venv/bin/dagster-dbt`, the venv not activated, would find none (or another one).
    """

    def _prepare_manifest(self, project: DbtProject) -> None:
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
        # as the default preparer does: seeds re-parsed at run time, with this checkout's paths
        self._invalidate_seeds_in_partial_parse(project)


DBT_TARGET = Settings.from_env().dbt_target

# DbtProject takes no preparer argument; `prepare-and-package` uses the project's own.
# A manifest per dbt target (`target/duckdb/`, `target/spark/`): each engine's Dagster
# definitions load their own, which a run on the other engine never overwrites
optout_dbt = replace(
    DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target=DBT_TARGET,
        target_path=Path("target") / DBT_TARGET,
    ),
    preparer=VenvDbtPreparer(),
)
optout_dbt.prepare_if_dev()


def prepare_dbt_environment() -> None:
    """dbt reads the same env vars: give it absolute paths, and a folder for the warehouse."""
    settings = Settings.from_env()
    os.environ.update(settings.export_env())
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # holds user data


def ensure_manifest() -> Path:
    """`dbt parse` once, so importing the Dagster definitions finds the manifest."""
    if not optout_dbt.manifest_path.exists():
        prepare_dbt_environment()
        command = [
            dbt_executable(),
            "parse",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target",
            DBT_TARGET,
            "--target-path",
            str(optout_dbt.project_dir / optout_dbt.target_path),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{result.stdout[-3000:]}")
    return optout_dbt.manifest_path
