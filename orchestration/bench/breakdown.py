"""Where a timed `optout run` spent its time, step by step, from Dagster's own records.

The process's wall time (measured by the benchmark) is split into:

- start-up: from the process's start to the run's start in Dagster's records: Python, the
  imports, the code location's definitions, the pre-run checks, and Dagster recording the
  run with its planned materializations (one per asset and day: most of a backfill's);
- each group of steps (ingest, lake checks, dbt, alerts, exports, report, serving copy),
  from the steps' start and end in the run's event log;
- dbt's own build time, out of the dbt step: the elapsed time in dbt's run results; the
  rest of that step is dbt starting (its imports, the parsed project) and Dagster taking
  in its events (materializations, checks, the tables' row counts);
- Dagster bookkeeping: the run's duration less its steps (the events around and between
  steps, the run's start and end);
- summary and exit: from the run's end to the process's exit (the summary printed, the
  instance closed).

The parts add up to the wall time; a step Dagster did not record (a run that failed before
it) is simply absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance

# step key -> group, first match wins: (how the key is matched, text, group); the keys are the job's
# (orchestration/jobs.py): `lake__<table>`, `lake__<table>_ge_lake_suite`, ...
GROUPS = (
    ("suffix", "_ge_lake_suite", "lake checks"),
    ("prefix", "lake__retention", "retention"),
    ("prefix", "lake__", "ingest"),
    ("prefix", "optout_dbt_models", "dbt"),
    ("suffix", "_ge_marts_suite", "marts checks"),
    ("prefix", "early_warning", "alerts"),
    ("prefix", "alerts__", "alerts"),
    ("prefix", "exports__", "exports"),
    ("prefix", "reports__", "report"),
    ("prefix", "serving__", "serving copy"),
)
ORDER = (
    "start-up",
    "retention",
    "ingest",
    "lake checks",
    "dbt: start-up and events",
    "dbt: build (dbt's own time)",
    "marts checks",
    "alerts",
    "exports",
    "report",
    "serving copy",
    "Dagster bookkeeping",
    "summary and exit",
)


@dataclass(frozen=True)
class Breakdown:
    run_id: str
    parts: dict[str, float]  # seconds per part, in ORDER (unknown steps after)
    steps: dict[str, float]  # seconds per step key, as Dagster recorded them

    def to_json(self) -> dict:
        return {"run_id": self.run_id, "parts_seconds": self.parts, "steps_seconds": self.steps}


def group_of(step_key: str) -> str:
    for kind, text, group in GROUPS:
        if (kind == "prefix" and step_key.startswith(text)) or (kind == "suffix" and step_key.endswith(text)):
            return group
    return f"other: {step_key}"


def run_breakdown(
    dagster_home: Path, process_started: float, process_ended: float, dbt_results: Path | None
) -> Breakdown | None:
    """The breakdown of the latest run of the instance in `dagster_home`, timed by the caller
    from `process_started` to `process_ended` (epoch seconds); None when it holds no run."""
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return None
        run_id = runs[0].run_id
        stats = instance.get_run_stats(run_id)
        steps = {
            step.step_key: step.end_time - step.start_time
            for step in instance.get_run_step_stats(run_id)
            if step.start_time is not None and step.end_time is not None
        }
    run_start = stats.start_time or process_started
    run_end = stats.end_time or process_ended
    parts: dict[str, float] = dict.fromkeys(ORDER, 0.0)
    parts["start-up"] = max(run_start - process_started, 0.0)
    for key, seconds in steps.items():
        group = group_of(key)
        parts[group] = parts.get(group, 0.0) + seconds
    dbt_step = parts.pop("dbt", 0.0)
    dbt_own = min(dbt_build_seconds(dbt_results), dbt_step) if dbt_step else 0.0
    parts["dbt: build (dbt's own time)"] = dbt_own
    parts["dbt: start-up and events"] = dbt_step - dbt_own
    parts["Dagster bookkeeping"] = max((run_end - run_start) - sum(steps.values()), 0.0)
    parts["summary and exit"] = max(process_ended - run_end, 0.0)
    ordered = {name: parts[name] for name in ORDER} | {k: v for k, v in parts.items() if k not in ORDER}
    return Breakdown(run_id, ordered, steps)


def dbt_build_seconds(run_results: Path | None) -> float:
    """dbt's own elapsed time of its last invocation (run_results.json), 0 if it has none."""
    if run_results is None or not run_results.exists():
        return 0.0
    try:
        return float(json.loads(run_results.read_text())["elapsed_time"])
    except (ValueError, KeyError, TypeError):
        return 0.0


def breakdown_table(columns: dict[str, Breakdown]) -> list[str]:
    """Text lines: one row per part, one column per run, the total last."""
    names = list(ORDER) + sorted({k for b in columns.values() for k in b.parts if k not in ORDER})
    headers = ["part of the run", *columns]
    rows = [[name, *(f"{b.parts.get(name, 0.0):.1f} s" for b in columns.values())] for name in names]
    rows.append(["total (wall time)", *(f"{sum(b.parts.values()):.1f} s" for b in columns.values())])
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
    ]
    return lines
