"""One direction: the pure packages (assets/) know nothing of Dagster or of orchestration/.

orchestration/ holds the Dagster definitions and the CLI that drives them; it imports the
pure packages, never the reverse. Read from the sources (every import statement) and proven
by importing every pure module with Dagster made unimportable.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from assets.config import REPO_ROOT

pytestmark = pytest.mark.quick

PURE = REPO_ROOT / "assets"
FORBIDDEN = ("dagster", "dagster_dbt", "dagster_webserver", "dagster_shared", "orchestration")


def forbidden_imports(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """`file:line module` of every import of Dagster or orchestration in a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in FORBIDDEN or top.startswith("dagster"):
                found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    return found


def test_no_pure_module_imports_dagster_or_orchestration():
    sources = sorted(PURE.rglob("*.py"))
    assert len(sources) > 20  # the whole package was read
    assert [hit for path in sources for hit in forbidden_imports(path)] == []


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "assets" / "leaky.py"
    module.parent.mkdir()
    module.write_text("import os\nfrom dagster import asset\nimport orchestration.cli as cli\n")
    assert forbidden_imports(module, tmp_path) == [
        "assets/leaky.py:2 dagster",
        "assets/leaky.py:3 orchestration.cli",
    ]


BLOCKED_IMPORT = """
import importlib, pkgutil, sys

def forbidden(name):
    top = name.split(".")[0]
    return top.startswith("dagster") or top == "orchestration"

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if forbidden(name):
            raise ImportError(f"{name} is not importable here")
        return None

# a module loaded before the finder (a .pth file, say) would never reach it
assert not [name for name in sys.modules if forbidden(name)], "loaded before the check"
sys.meta_path.insert(0, Blocked())
import assets
modules = [m.name for m in pkgutil.walk_packages(assets.__path__, "assets.")]
for name in modules:
    importlib.import_module(name)
print(len(modules))
"""


def test_every_pure_module_imports_without_dagster():
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORT], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split()[-1]) > 20
