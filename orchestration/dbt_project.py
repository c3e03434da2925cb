"""The dbt project of a target, its manifest, and the project's dbt vars.

Nothing here runs at import: `dbt_project(target)` describes the project for the target the
settings name (`target/<target>/manifest.json`, so each engine keeps its own), and
`ensure_manifest` parses it with the venv's dbt when the manifest is missing, or always
under `dagster dev`, which reloads code to pick up model changes.
"""

from __future__ import annotations

import fcntl
import functools
import subprocess
from pathlib import Path
from typing import Any

import yaml
from dagster_dbt import DbtProject, DbtProjectPreparer

from assets.config import REPO_ROOT
from assets.processes import venv_program

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def dbt_executable() -> str:
    """The venv's dbt, whether or not the venv is on PATH."""
    return venv_program("dbt")


def dbt_project(target: str) -> DbtProject:
    return DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target=target,
        target_path=Path("target") / target,
    )


def _edited_since(manifest: Path) -> bool:
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "seeds", "tests"):
        sources += (DBT_PROJECT_DIR / folder).rglob("*")
    return any(path.is_file() and path.stat().st_mtime > built for path in sources)


@functools.cache
def project_vars() -> dict[str, Any]:
    """The `vars:` of dbt_project.yml: the metric parameters Python reads too (one place)."""
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def ensure_manifest(target: str, refresh: bool | None = None) -> Path:
    """`dbt parse` for the target when its manifest is missing (or `refresh`), with the venv's dbt.

    By default the manifest is parsed again under `dagster dev`, as dagster-dbt's own
    preparer does, so an edited model shows after a reload; everywhere else when a file
    of the project is newer than it (a model added or edited since).
    """
    project = dbt_project(target)
    if refresh is None:
        refresh = DbtProjectPreparer().using_dagster_dev()
    target_dir = project.project_dir / project.target_path
    target_dir.mkdir(parents=True, exist_ok=True)
    # one process parses at a time: a second one then finds the manifest fresh
    with (target_dir.parent / f".{target}.parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if refresh or not project.manifest_path.exists() or _edited_since(project.manifest_path):
            _parse(target, target_dir)
    return project.manifest_path


def _parse(target: str, target_dir: Path) -> None:
    command = [
        dbt_executable(),
        "parse",
        "--quiet",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target",
        target,
        "--target-path",
        str(target_dir),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=DBT_PROJECT_DIR)
    if result.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{result.stdout[-3000:]}")


def forget_run_results(target: Path) -> None:
    """The previous build's run results out of the way: a build that stops before writing its
    own (a parse error) must not be reported with the last one's failures."""
    (target / "run_results.json").unlink(missing_ok=True)
