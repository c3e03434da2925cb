"""The supervisor of `optout serve` and `optout bi serve`, on real processes: restarts with
back-off, and a stop that leaves nothing behind, not even a process that escaped its group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from assets.config import REPO_ROOT
from orchestration.commands.supervise import describe_exit
from tests.service import alive, assert_all_gone, wait_until

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from orchestration.commands.supervise import Program, Supervisor

    env = dict(os.environ)
    here = Path.cwd()
    programs = [
        Program("steady", ["sleep", "1000"], env, here),
        Program("crashing", ["sh", "-c", "sleep 0.3; exit 3"], env, here),
        # leaves a process in a session of its own: re-parented to the supervisor, not init
        Program("escaping", ["sh", "-c", "(setsid sleep 1001 &); exec sleep 1000"], env, here),
    ]
    reason = Supervisor(programs, lambda line: print(line, flush=True)).run()
    print(f"stopped: {reason}", flush=True)
    """
)


def _sleepers() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if command[:2] == [b"sleep", b"1001"]:
                found.append(int(entry))
    return found


@pytest.mark.quick
def test_a_dying_program_is_restarted_with_back_off_and_a_stop_ends_everything(tmp_path):
    output = tmp_path / "supervisor.out"
    with output.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # 0.3 s of life, then 1 s, 2 s and 4 s of back-off: the third restart after about 8 s
        def third_restart() -> bool:
            return output.read_text().count("crashing restarted") >= 3

        wait_until(third_restart, 30, "three restarts", poll=0.2)
        escaped = _sleepers()
        assert len(escaped) == 1
        from orchestration.commands.supervise import descendants

        tree = [process.pid, *descendants(process.pid)]
        assert escaped[0] in tree  # adopted by the supervisor
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    lines = output.read_text().splitlines()
    delays = [line.split("restarting it in ")[1] for line in lines if "restarting it in" in line]
    assert delays[:3] == ["1 s", "2 s", "4 s"], lines
    assert "crashing exited (exit code 3)" in lines[0]
    assert lines[-1] == "stopped: SIGTERM"
    assert time.monotonic() - started < 10  # sleep stops at SIGTERM: no grace period used up
    assert_all_gone(tree)
    assert not alive(escaped)


@pytest.mark.quick
def test_exits_are_described_in_words():
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
