"""The targets, and every output made from them: the figures, the JSON, the Markdown, the exit.

`targets()` is the one table of thresholds. Each figure is a measured value, the value
of the same run it is best read against (its baseline), and a target that is either an
absolute limit or a share of that baseline. The JSON, the Markdown and the exit code
all come from `evaluate()`, so they cannot disagree.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from assets.config import REPO_ROOT

GIB = 1024**3


@dataclass(frozen=True)
class Target:
    figure: str  # name in the JSON and on stderr
    label: str
    measure: str  # key of the measured value
    unit: str
    comparison: str  # ">=" or "<="
    limit: float  # absolute, or a factor of the baseline when relative
    baseline: str | None = None  # key of the value shown beside it
    baseline_label: str = ""
    relative: bool = False


def targets(users: int, days: int, daily_after: int) -> list[Target]:
    """The thresholds: one row per figure (a measured value may serve two targets)."""
    # a large backfill should spread its fixed costs (start-up, dbt) over many records
    backfill_share = 0.25 if users >= 100_000 and days >= 365 else 0.10
    scan = ("duckdb_scan_rate", "DuckDB scan")
    after_k = ("daily_run_after_k", f"daily run after {daily_after} days")
    end = f"daily run at the end (day {days})"
    # fmt: off
    return [
        Target("generator_rate", "generator", "generator_rate", "records/s", ">=", 1_000_000, *scan),
        Target("ingest_rate", "ingestion alone", "ingest_rate", "records/s", ">=", 0.5, *scan, relative=True),
        Target("backfill_rate", f"backfill of {days} days", "backfill_rate", "records/s", ">=", backfill_share,
               *scan, relative=True),
        Target("daily_run_end", end, "daily_run_end", "s", "<=", 15, *after_k),
        Target("daily_run_end_vs_after_k", f"{end} vs after {daily_after} days", "daily_run_end", "s", "<=", 1.5,
               *after_k, relative=True),
        Target("daily_run_after_k", after_k[1], "daily_run_after_k", "s", "<=", 15),
        Target("peak_memory", "peak memory of a run", "peak_memory", "GiB", "<=", 4),
    ]
    # fmt: on


@dataclass(frozen=True)
class Figure:
    name: str
    label: str
    unit: str
    value: float
    baseline: dict | None  # {"name", "label", "value"}
    target: dict  # {"comparison", "limit", "relative", "threshold", "text"}
    met: bool
    note: str = ""


def _number(value: float, unit: str) -> str:
    if unit == "records/s":
        return f"{value:,.0f} records/s"
    if unit == "GiB":
        return f"{value:.2f} GiB"
    return f"{value:,.1f} s"


def evaluate(
    target_table: list[Target], measured: dict[str, float], notes: dict[str, str] | None = None
) -> list[Figure]:
    notes = notes or {}
    figures = []
    for target in target_table:
        value = measured[target.measure]
        baseline_value = measured.get(target.baseline) if target.baseline else None
        baseline = (
            {"name": target.baseline, "label": target.baseline_label, "value": baseline_value}
            if target.baseline
            else None
        )
        if target.relative:
            threshold = target.limit * baseline_value
            factor = f"{target.limit:.0%} of" if target.unit == "records/s" else f"{target.limit:g} x"
            text = f"{target.comparison} {factor} {target.baseline_label} = {_number(threshold, target.unit)}"
        else:
            threshold = target.limit
            text = f"{target.comparison} {_number(threshold, target.unit)}"
        met = value >= threshold if target.comparison == ">=" else value <= threshold
        target_json = {
            "comparison": target.comparison,
            "limit": target.limit,
            "relative": target.relative,
            "threshold": threshold,
            "text": text,
        }
        note = notes.get(target.figure, "")
        figures.append(
            Figure(target.figure, target.label, target.unit, value, baseline, target_json, bool(met), note)
        )
    return figures


def missed_lines(figures: list[Figure]) -> list[str]:
    """One line per missed target, for stderr."""
    return [
        f"{f.name}: {f.label} {_number(f.value, f.unit)} misses its target {f.target['text']}"
        for f in figures
        if not f.met
    ]


def shown_path(path: Path) -> str:
    """Relative to the repository root when inside it (as the settings are given), else as is."""
    path = Path(path)
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _rows(figures: list[Figure]) -> list[list[str]]:
    rows = []
    for f in figures:
        baseline = "—"
        if f.baseline is not None:
            baseline = f"{f.baseline['label']} {_number(f.baseline['value'], f.unit)}"
        measured = _number(f.value, f.unit) + (f" ({f.note})" if f.note else "")
        rows.append([f.label, measured, baseline, f.target["text"], "yes" if f.met else "**no**"])
    return rows


HEADER = ["figure", "measured", "baseline (same run)", "target", "met"]


def text_table(figures: list[Figure]) -> str:
    rows = [HEADER, *[[cell.replace("**", "") for cell in row] for row in _rows(figures)]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown(title: str, figures: list[Figure], details: list[str], breakdown: list[str]) -> str:
    lines = [f"# {title}", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in _rows(figures)]
    lines += ["", *[f"- {detail}" for detail in details], ""]
    if breakdown:
        lines += ["## Where each run spent its time", "", "```", *breakdown, "```", ""]
    return "\n".join(lines)


def _clean(value):
    """JSON has no NaN or infinity: write null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write_outputs(
    json_path: Path,
    document: dict,
    figures: list[Figure],
    title: str,
    details: list[str],
    breakdown: list[str],
) -> Path:
    """Write the JSON (with the figures) and the Markdown beside it; returns the Markdown's path."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        **document,
        "figures": [asdict(f) for f in figures],
        "missed": [f.name for f in figures if not f.met],
        "all_targets_met": all(f.met for f in figures),
    }
    markdown_path = json_path.with_suffix(".md")
    for path, text in (
        (json_path, json.dumps(_clean(document), indent=2) + "\n"),
        (markdown_path, markdown(title, figures, details, breakdown)),
    ):
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(text)
        temporary.rename(path)
    return markdown_path
