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
from dataclasses import dataclass, field
from typing import TextIO

from dagster import DagsterEventType

from assets.shown_text import escape_controls

REDRAW_SECONDS = 0.5
WARNING_WIDTH = 70  # characters of a warning on its step's line
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
    if path == "lake/retention":
        return "retention"
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
    warnings: list[str] = field(default_factory=list)

    def line(self, now: float) -> str:
        seconds = (self.ended or now) - self.started
        count = (
            f"{self.done}/{self.total} {self.unit}"
            if self.total
            else f"{self.done} {self.unit}"
            if self.done
            else ""
        )
        return f"  {step_label(self.key):<34} {count:<16} {self.status:<8} {seconds:6.1f}s{self._warned()}"

    def _warned(self) -> str:
        """The step's first warning in a few words (the log has it whole), and how many more."""
        if not self.warnings:
            return ""
        more = f" (+{len(self.warnings) - 1} more in the log)" if len(self.warnings) > 1 else ""
        return f"  warning: {short_warning(self.warnings[0])}{more}"


def short_warning(message: str, width: int = WARNING_WIDTH) -> str:
    """A warning's first line, cut to `width` characters; control characters in it (a file
    name from the landing may hold an ESC sequence) shown escaped."""
    text = " ".join(message.strip().splitlines()[0].split()) if message.strip() else "see the log"
    text = escape_controls(text)
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


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
        """A message of the run's log (in process): step starts and ends, and warnings."""
        meta = getattr(record, "dagster_meta", None) or {}
        message = str(meta.get("orig_message") or record.getMessage())
        self.handle_event(meta.get("step_key"), meta.get("dagster_event"), record.levelno, message)

    def handle_entry(self, entry) -> None:
        """An entry of the run's event log (a run another process executes)."""
        self.handle_event(entry.step_key, entry.dagster_event, entry.level, entry.user_message)
        event = entry.dagster_event
        if event is not None and event.event_type_value == DagsterEventType.ASSET_MATERIALIZATION.value:
            with self._lock:
                step = self.steps.get(entry.step_key)
                if step is not None:  # a run in another process reports no progress: count its outputs
                    step.done += 1
                    step.unit = "assets" if step.done > 1 else "asset"

    def handle_event(self, step_key: str | None, event, level: int, message: str) -> None:
        if not step_key:
            return
        with self._lock:
            now = time.monotonic()
            if event is None:
                if level >= logging.WARNING and step_key in self.steps:
                    self.steps[step_key].warnings.append(message)
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

    def note(self, message: str) -> None:
        """A line of its own above the steps (e.g. why the run waits)."""
        with self._lock:
            if self.live and self._drawn:  # over the live view, which is drawn again below it
                self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
                self._drawn = 0
            self._print(f"  {message}")

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


def note(message: str) -> None:
    """A line for the terminal if one is watching (e.g. why the run waits)."""
    console = current()
    if console is not None:
        console.note(message)


def progress(step_key: str, done: int, total: int, unit: str) -> None:
    """An asset's progress (e.g. days done of total), for the terminal if one is watching."""
    console = current()
    if console is not None:
        console.progress(step_key, done, total, unit)
