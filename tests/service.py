"""`optout serve` in the tests: started on free ports, waited for, stopped, its processes checked."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assets.config import REPO_ROOT
from orchestration.commands.supervise import descendants
from tests.dagster_ui import _LOADED, _free_port, graphql

free_port = _free_port


@dataclass
class Service:
    process: subprocess.Popen
    port: int
    code_port: int
    output: Path

    def pids(self) -> list[int]:
        """`optout serve` and every process below it."""
        return [self.process.pid, *descendants(self.process.pid)]

    def program_pid(self, marker: str) -> int | None:
        """The pid of the supervised program whose command line holds `marker` (e.g. dagster-daemon)."""
        for pid in descendants(self.process.pid):
            if marker in command_line(pid) and _parent(pid) == self.process.pid:
                return pid
        return None


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` still running (zombies count as gone)."""
    found = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            found.append(pid)
    return found


def wait_until(predicate, timeout: float, what: str, poll: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def workspace_loaded(port: int) -> bool:
    try:
        entries = graphql(port, _LOADED)["workspaceOrError"]["locationEntries"]
        return bool(entries) and entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation"
    except (OSError, KeyError, IndexError, TypeError, ValueError):
        return False


@contextlib.contextmanager
def optout_serve(env: dict[str, str], output: Path) -> Iterator[Service]:
    """`optout serve` with `env` on free ports; yields once the UI shows the code location;
    stops it with SIGTERM and fails when a process of it is left."""
    port, code_port = _free_port(), _free_port()
    with output.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestration.cli",
                "serve",
                "--port",
                str(port),
                "--code-port",
                str(code_port),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = Service(process, port, code_port, output)
    try:
        wait_until(lambda: workspace_loaded(port) or process.poll() is not None, 180, "the UI")
        assert process.poll() is None, output.read_text()[-3000:]
        yield service
    finally:
        tree = service.pids()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            for pid in alive(tree):
                os.kill(pid, signal.SIGKILL)
            raise AssertionError("optout serve did not stop within 60 s of SIGTERM") from None
        assert_all_gone(tree)


def assert_all_gone(pids: list[int], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = alive(pids)
    assert not left, f"processes left: {[command_line(pid) for pid in left]}"


def stop_in_a_terminal(
    args: list[str], env: dict[str, str], ready: str, stop: str, seconds: float = 300, settle: float = 0
) -> tuple[str, int, list[int]]:
    """`optout ARGS` on a pseudo-terminal, as a user runs it; once its output shows `ready`,
    stopped with Ctrl-C typed on the terminal (`stop` = "ctrl-c") or SIGTERM ("sigterm").
    `settle` seconds after `ready`. Returns its whole output, its wait status and the processes it had at that moment."""
    pid, master = pty.fork()
    if pid == 0:  # the child: the terminal's foreground process
        os.chdir(REPO_ROOT)
        os.environ.update(env)
        os.execv(sys.executable, [sys.executable, "-m", "orchestration.cli", *args])
    try:
        output = read_until(master, ready, seconds)
        assert ready in output, output[-3000:]
        output += read_until(master, "\0never", settle)  # `settle` seconds more of its output
        tree = [pid, *descendants(pid)]
        if stop == "ctrl-c":
            os.write(master, b"\x03")  # the terminal sends SIGINT to its foreground process group
        else:
            os.kill(pid, signal.SIGTERM)
        output += read_until(master, "\0never", 60)  # until the terminal closes
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    return output, status, tree


def read_until(master: int, pattern: str, seconds: float) -> str:
    """What the terminal shows until `pattern`, the program's end, or `seconds`."""
    seen = b""
    deadline = time.monotonic() + seconds
    while pattern.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: the program ended
                break
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")
