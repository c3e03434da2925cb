"""The terminal during `optout run`: each step once, with its progress; the full log in a file.

Dagster's log of the run (every event, the assets' own lines, dbt's output) goes to a file
whose path is printed. The terminal shows one line per step: redrawn in place while the
run goes on when it is a terminal, printed once when the step ends otherwise (CI, pipes).
The assets report their progress (days done of total, dbt nodes built) through `progress`;
the steps' starts and ends come from Dagster's own events.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TextIO

from dagster import DagsterEventType

REDRAW_SECONDS = 0.5
ENDED = {
    DagsterEventType.STEP_SUCCESS.value: "done",
    DagsterEventType.STEP_FAILURE.value: "failed",
    DagsterEventType.STEP_SKIPPED.value: "skipped",
}


def step_label(step_key: str) -> str:
    """`lake__users` -> `ingest users`, `lake__users_ge_lake_suite` -> `check lake/users`, ..."""
    path = step_key.replace("__", "/")
    if path.endswith("_ge_lake_suite") or path.endswith("_ge_marts_suite"):
        return "check " + path.rsplit("_ge_", 1)[0]
    if path.startswith("lake/"):
        return "ingest " + path.removeprefix("lake/")
    if path == "optout_dbt_models":
        return "dbt build"
    if path == "early_warning_checks":
        return "check early warnings"
    return path


@dataclass
class Step:
    key: str
    started: float
    ended: float | None = None
    status: str = "running"
    done: int = 0
    total: int = 0
    unit: str = ""
    warnings: int = 0

    def line(self, now: float) -> str:
        seconds = (self.ended or now) - self.started
        count = f"{self.done}/{self.total} {self.unit}" if self.total else ""
        warned = f"  {self.warnings} warning(s), see the log" if self.warnings else ""
        return f"  {step_label(self.key):<34} {count:<16} {self.status:<8} {seconds:6.1f}s{warned}"


class RunConsole:
    """What the terminal shows of one run."""

    def __init__(self, stream: TextIO, live: bool) -> None:
        self.stream = stream
        self.live = live
        self.started = time.monotonic()
        self.steps: dict[str, Step] = {}
        self._lock = threading.Lock()
        self._drawn = 0  # lines of the last live drawing, redrawn in place
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True) if live else None

    def __enter__(self) -> RunConsole:
        global _current
        _current = self
        if self._ticker is not None:
            self._ticker.start()
        return self

    def __exit__(self, *exc_info) -> None:
        global _current
        _current = None
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self._draw()

    def handle(self, record: logging.LogRecord) -> None:
        """A message of the run's log: step starts and ends, and warnings, change the view."""
        meta = getattr(record, "dagster_meta", None) or {}
        step_key = meta.get("step_key")
        event = meta.get("dagster_event")
        if not step_key:
            return
        with self._lock:
            now = time.monotonic()
            if event is None:
                if record.levelno >= logging.WARNING and step_key in self.steps:
                    self.steps[step_key].warnings += 1
            elif event.event_type_value == DagsterEventType.STEP_START.value:
                self.steps[step_key] = Step(step_key, now)
            elif event.event_type_value in ENDED:
                step = self.steps.setdefault(step_key, Step(step_key, now))  # a skipped one never started
                step.ended, step.status = now, ENDED[event.event_type_value]
                if not self.live:
                    self._print(step.line(now))

    def progress(self, step_key: str, done: int, total: int, unit: str) -> None:
        with self._lock:
            step = self.steps.get(step_key)
            if step is not None:
                step.done, step.total, step.unit = done, total, unit

    def _print(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(REDRAW_SECONDS):
            self._draw()

    def _draw(self) -> None:
        """Live only: the steps so far and the elapsed time, over the previous drawing."""
        if not self.live:
            return
        with self._lock:
            now = time.monotonic()
            lines = [step.line(now) for step in self.steps.values()]
            lines.append(f"  elapsed {now - self.started:6.1f}s")
            # up to the first line of the last drawing, clear to the end, draw again
            prefix = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
            self.stream.write(prefix + "\n".join(lines) + "\n")
            self.stream.flush()
            self._drawn = len(lines)


_current: RunConsole | None = None


def current() -> RunConsole | None:
    """The console of the `optout run` in this process, if any (a UI run has none)."""
    return _current


def progress(step_key: str, done: int, total: int, unit: str) -> None:
    """An asset's progress (e.g. days done of total), for the terminal if one is watching."""
    console = current()
    if console is not None:
        console.progress(step_key, done, total, unit)
