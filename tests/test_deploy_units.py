"""The systemd units of deploy/: valid for systemd, and each runs one program of `optout serve`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assets.config import REPO_ROOT
from orchestration.cli import build_parser
from orchestration.commands.serve import PROGRAMS

DEPLOY = REPO_ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("optout-*.service"))


@pytest.mark.quick
def test_one_unit_per_program_each_running_optout_serve_only_it():
    assert [unit.name for unit in UNITS] == sorted(f"optout-{program}.service" for program in PROGRAMS)
    for unit in UNITS:
        text = unit.read_text()
        (command,) = re.findall(r"^ExecStart=(.*)$", text, re.MULTILINE)
        program = unit.name.removeprefix("optout-").removesuffix(".service")
        assert command.endswith(f"/optout serve --only {program}")
        args = build_parser().parse_args(command.split()[1:])
        assert (args.command, args.only) == ("serve", program)
        assert "EnvironmentFile=/etc/optout/optout.env" in text
        assert "PartOf=optout.target" in text


@pytest.mark.quick
def test_systemd_accepts_the_units(tmp_path):
    """`systemd-analyze verify`, with the paths of this checkout in place of /opt/optout."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian's systemd) is needed to check the units"
    optout = Path(sys.executable).with_name("optout")
    env_file = tmp_path / "optout.env"
    shutil.copy(DEPLOY / "optout.env", env_file)
    for unit in [*UNITS, DEPLOY / "optout.target"]:
        text = unit.read_text().replace("/opt/optout/.venv/bin/optout", str(optout))
        text = text.replace("/opt/optout", str(REPO_ROOT)).replace("/etc/optout/optout.env", str(env_file))
        (tmp_path / unit.name).write_text(text)
    names = [str(tmp_path / unit.name) for unit in [*UNITS, DEPLOY / "optout.target"]]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *names], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
