"""dbt's unit tests (hand-made rows in, exact rows out) run here, not in every pipeline run.

A daily run builds and data-tests the models; the unit tests check the SQL's logic, which
only a change of code can break, so they belong to the test suite, like any unit test.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from assets.config import REPO_ROOT

DBT_PROJECT = REPO_ROOT / "dbt_project"


def test_every_dbt_unit_test_passes(sample_run, dbt_manifest, tmp_path):
    manifest = json.loads(Path(dbt_manifest).read_text())
    unit_tests = set(manifest.get("unit_tests", {}))
    assert len(unit_tests) >= 5  # the project's own: pressure buckets, windows, periods, ...
    dbt = str(Path(sys.executable).with_name("dbt"))
    result = subprocess.run(
        [dbt, "test", "--select", "test_type:unit", "--project-dir", str(DBT_PROJECT),
         "--profiles-dir", str(DBT_PROJECT), "--target-path", str(tmp_path / "target")],
        env={**os.environ, **sample_run.env()},
        capture_output=True,
        text=True,
        cwd=DBT_PROJECT,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    # beside them: the project's on-run-start/end hooks (the Spark target's catalog work, no-ops here)
    tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert {r["unique_id"] for r in tests} == unit_tests
    assert {r["status"] for r in tests} == {"pass"}
    assert {r["status"] for r in results if r not in tests} <= {"success"}
