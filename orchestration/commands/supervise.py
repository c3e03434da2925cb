"""Long-running programs of one command: started, restarted when they die, all stopped together.

`optout serve` (Dagster's code server, webserver and daemon) and `optout bi serve`
(Superset's web server) run their programs under a `Supervisor`:

- each program runs in its own session, so Ctrl-C in the terminal reaches the supervisor
  only, and it decides: every program is then asked to stop (SIGTERM to its process group),
  and whatever is left after a grace period is killed;
- the supervisor is the "child subreaper" of everything it starts (Linux prctl): a process
  a program started and left behind (a run worker whose code server died, say) is re-parented
  to the supervisor instead of init, so stopping finds and ends it too;
- a program that dies is restarted after a back-off (1 s, doubling to a minute; back to 1 s
  once it has run a minute), each restart logged; or, for a single server, its end is the
  command's end.

SIGINT, SIGTERM and SIGHUP only set a flag: the loop notices within a fraction of a second,
and nothing prints a traceback.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

POLL_SECONDS = 0.2
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
# a program that ran this long before it died gets the first back-off again
STABLE_SECONDS = 60.0
STOP_GRACE_SECONDS = 20.0
_PR_SET_CHILD_SUBREAPER = 36
_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


@dataclass
class Program:
    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path | None = None  # its output is appended there; None: this command's own output


@dataclass
class _Child:
    program: Program
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF_SECONDS
    start_at: float = 0.0  # when to (re)start it, once it is not running
    restarts: int = 0


@dataclass
class Supervisor:
    programs: list[Program]
    say: Callable[[str], None]
    restart: bool = True
    grace_seconds: float = STOP_GRACE_SECONDS
    on_tick: Callable[[], None] | None = None  # called every poll, e.g. to notice readiness
    _stop_reason: str | None = field(default=None, init=False)
    _children: list[_Child] = field(default_factory=list, init=False)

    def run(self) -> str:
        """Run the programs until a signal (or, without restarts, until one ends); say why it stopped."""
        _become_subreaper()
        with self._stopping_on_signals():
            self._children = [_Child(program) for program in self.programs]
            try:
                while self._stop_reason is None:
                    for child in self._children:
                        self._look_after(child)
                    _reap_adopted(self._children)
                    if self.on_tick is not None and self._stop_reason is None:
                        self.on_tick()
                    time.sleep(POLL_SECONDS)
            finally:
                self._stop_all()
        return self._stop_reason or "stopped"

    def running(self) -> dict[str, int]:
        """The pid of each program running now."""
        return {
            c.program.name: c.process.pid
            for c in self._children
            if c.process is not None and c.process.poll() is None
        }

    def _look_after(self, child: _Child) -> None:
        now = time.monotonic()
        if child.process is None:
            if now >= child.start_at and self._stop_reason is None:
                self._start(child)
            return
        code = child.process.poll()
        if code is None:
            return
        ran = now - child.started_at
        _kill_group(child.process.pid, signal.SIGKILL)  # what it started in its group goes with it
        child.process = None
        if not self.restart:
            self._stop_reason = f"{child.program.name} exited ({describe_exit(code)})"
            return
        delay = FIRST_BACKOFF_SECONDS if ran >= STABLE_SECONDS else child.backoff
        child.backoff = min(delay * 2, MAX_BACKOFF_SECONDS)  # the next one, should it die again soon
        child.start_at = now + delay
        where = f"; its log: {child.program.log}" if child.program.log else ""
        self.say(
            f"{child.program.name} exited ({describe_exit(code)}) after {ran:.0f} s; "
            f"restarting it in {delay:.0f} s{where}"
        )

    def _start(self, child: _Child) -> None:
        program = child.program
        output = None
        if program.log is not None:
            program.log.parent.mkdir(parents=True, exist_ok=True)
            output = program.log.open("ab")
        try:
            child.process = subprocess.Popen(
                program.command,
                cwd=program.cwd,
                env=program.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=True,  # its own process group: signals go to the supervisor
            )
        finally:
            if output is not None:
                output.close()
        child.started_at = time.monotonic()
        if child.restarts or child.start_at:
            self.say(f"{program.name} restarted (pid {child.process.pid})")
        child.restarts += 1

    @contextlib.contextmanager
    def _stopping_on_signals(self) -> Iterator[None]:
        def stop(signum, _frame) -> None:
            if self._stop_reason is None:
                self._stop_reason = _SIGNAL_NAMES.get(signum, f"signal {signum}")

        previous = {sig: signal.signal(sig, stop) for sig in _SIGNAL_NAMES}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop_all(self) -> None:
        """SIGTERM to every program's group, then SIGKILL to whatever is left, adopted orphans too."""
        live = [c.process for c in self._children if c.process is not None and c.process.poll() is None]
        for process in live:
            _kill_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline and any(p.poll() is None for p in live):
            time.sleep(POLL_SECONDS)
        for process in live:
            _kill_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        for pid in descendants(os.getpid()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        _reap_adopted([])


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _become_subreaper() -> None:
    """Orphans of the programs become this process's children (Linux); elsewhere a no-op."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process, from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the command name (field 2) may hold spaces: the fields after its closing parenthesis
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, ...)."""
    parents = _parents()
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, its_parent in parents.items() if its_parent == parent]
        found += children
        frontier += children
    return found


def _reap_adopted(children: list[_Child]) -> None:
    """Collect the exit status of adopted orphans (not of the programs: Popen does that)."""
    own = {c.process.pid for c in children if c.process is not None}
    parents = _parents()
    for pid, parent in parents.items():
        if parent == os.getpid() and pid not in own:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
