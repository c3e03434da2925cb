"""Facts about other processes on this machine: are they alive, what are they.

Used to name who holds the warehouse and to tell a run whose process was killed from one
that is still going. A pid alone is not enough (pids are reused), so liveness can be
tied to a moment: the process must have started by then.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

_PROC = Path("/proc")


def process_start_epoch(pid: int) -> float | None:
    """When the process started (seconds since the epoch), from /proc; None if unknown."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in (_PROC / "stat").read_text().splitlines()
            if line.startswith("btime")
        )
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    # the command name (field 2) may hold spaces: fields after its closing parenthesis
    fields = stat.rsplit(")", 1)[1].split()
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def process_alive(pid: int, started_by: float | None = None) -> bool:
    """Whether `pid` runs; with `started_by`, only if it started by then (not a reused pid)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if _is_zombie(pid):
        return False
    if started_by is not None:
        started = process_start_epoch(pid)
        # clock ticks and btime are coarse: a second of slack
        if started is not None and started > started_by + 1.0:
            return False
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def describe_process(pid: int | None) -> str:
    """`PID 123 (python -m orchestration.cli run)`, as much as can be known."""
    if not pid:
        return "an unknown process"
    try:
        command = (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        command = ""
    command = " ".join(command.split())  # one line, whatever the arguments held
    if len(command) > 120:
        command = command[:117] + "..."
    return f"PID {pid} ({command})" if command else f"PID {pid}"


def venv_program(name: str) -> str:
    """A program installed beside this Python (the venv's), whether or not the venv is on
    PATH; else whichever `name` PATH finds."""
    beside_python = Path(sys.executable).with_name(name)
    return str(beside_python) if beside_python.exists() else (shutil.which(name) or name)
