"""Nothing the project writes under data/ can be staged: user data and secrets stay out of git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from assets.config import REPO_ROOT, Settings
from orchestration.instance import DEFAULT_HOME


def _ignored(path: Path) -> bool:
    relative = path.relative_to(REPO_ROOT)
    # past a symbolic link (the serving copy's `current` once a run made it) git stages the
    # link itself, never what is beyond it, and refuses to be asked about the latter
    for depth in range(1, len(relative.parts)):
        prefix = Path(*relative.parts[:depth])
        if (REPO_ROOT / prefix).is_symlink():
            relative = prefix
            break
    result = subprocess.run(["git", "check-ignore", "-q", str(relative)], cwd=REPO_ROOT, check=False)
    assert result.returncode in (0, 1), "git check-ignore failed"
    return result.returncode == 0


@pytest.mark.quick
def test_every_default_output_folder_under_data_is_ignored(monkeypatch):
    for name in [n for n in os.environ if n.startswith("OPTOUT_")]:
        monkeypatch.delenv(name)
    defaults = Settings()
    folders = [
        defaults.landing_dir,
        defaults.lake_dir,
        defaults.warehouse.parent,
        defaults.export_dir,
        defaults.serving_dir,
        defaults.bi_dir,
        defaults.bench_dir,
        defaults.privacy_dir,
        defaults.spark_warehouse,
        DEFAULT_HOME,
    ]
    for folder in folders:
        assert folder.is_relative_to(REPO_ROOT / "data"), folder
        for inside in ("some-file", "superset/admin-password", "current/optout.duckdb"):
            assert _ignored(folder / inside), folder / inside
    assert _ignored(REPO_ROOT / "data" / "a-folder-added-later" / "file")
    assert not _ignored(REPO_ROOT / "data" / "README.md")
