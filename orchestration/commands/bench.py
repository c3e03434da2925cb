"""`optout bench`: measure the pipeline at a size, each figure beside its baseline and target.

Steps: the data set (generated once per size and seed), DuckDB's own scan of it (the
baseline), ingestion alone, a whole backfill with `optout run`, the daily run at the end of
it, and a daily run after K days in a second workspace. Every `optout run` is a process
of its own, timed from start-up to exit, with the peak memory of its process tree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from assets.config import load_settings, resolve_path
from orchestration.bench import dataset as datasets
from orchestration.bench.breakdown import breakdown_table
from orchestration.bench.reconcile import lake_records_read, reconcile
from orchestration.bench.report import (
    GIB,
    Figure,
    evaluate,
    missed_lines,
    shown_path,
    targets,
    text_table,
    write_outputs,
)
from orchestration.bench.runs import TimedProcess, Workspace, optout_run, run_timed
from orchestration.bench.scan import ScanResult, scan_landing
from orchestration.commands.common import CliError, progress

STEPS = 6


@dataclass(frozen=True)
class Plan:
    users: int
    days: int
    seed: int
    daily_after: int  # K, clipped so that day K + 1 is in the data set
    root: Path  # data sets and workspaces
    out: Path  # the JSON; the Markdown goes beside it

    @property
    def first_day(self) -> dt.date:
        return datasets.START

    @property
    def last_day(self) -> dt.date:
        return datasets.START + dt.timedelta(days=self.days - 1)

    @property
    def work(self) -> Path:
        return self.root / f"work-{self.users}u-{self.days}d-s{self.seed}"

    def workspace(self, name: str, data: datasets.Dataset) -> Workspace:
        """A fresh workspace reading the data set: nothing left from an earlier benchmark."""
        return Workspace(self.work / name, data.folder, self.first_day).fresh()


@dataclass(frozen=True)
class Ingestion:
    figures: dict  # records, seconds, records_per_second, peak_mib
    log: Path


def bench_dir() -> Path:
    return load_settings().bench_dir


def bench_command(args: argparse.Namespace) -> None:
    plan = make_plan(args)
    started_at = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()  # a shared machine: the figures are read against it
    data = data_set(plan)
    scan = baseline_scan(data)
    ingestion = ingestion_alone(plan, data)
    backfill, daily_end, lake_records = backfill_then_daily_run(plan, data)
    history, daily_after = daily_run_after_k(plan, data)

    runs = [run for run in (backfill, daily_end, history, daily_after) if run is not None]
    largest = max(runs, key=lambda run: run.peak_rss_bytes)
    measured = {
        "generator_rate": data.records_per_second,
        "duckdb_scan_rate": scan.records_per_second,
        "ingest_rate": ingestion.figures["records_per_second"],
        "backfill_rate": data.total_records / backfill.seconds,
        "daily_run_end": daily_end.seconds,
        "daily_run_after_k": daily_after.seconds,
        "peak_memory": largest.peak_rss_bytes / GIB,
    }
    notes = {
        "generator_rate": "cached" if data.cached else "",
        "backfill_rate": f"{backfill.seconds:,.1f} s",
        "peak_memory": largest.name,
    }
    figures = evaluate(targets(plan.users, plan.days, plan.daily_after), measured, notes)
    reconciliation = reconcile(data.records, scan.total_records, ingestion.figures["records"], lake_records)

    document = {
        "command": _command_line(args, plan),
        "parameters": {
            "users": plan.users,
            "days": plan.days,
            "seed": plan.seed,
            "daily_after": plan.daily_after,
            "first_day": plan.first_day.isoformat(),
            "last_day": plan.last_day.isoformat(),
        },
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": list(load_before),
            "python": platform.python_version(),
        },
        "dbt_target": _engine(),
        "dataset": _dataset_json(data),
        "duckdb_scan": _scan_json(scan),
        "ingest": {**ingestion.figures, "log": shown_path(ingestion.log)},
        "runs": [_run_json(run, figure=run is not history) for run in runs],
        "reconciliation": reconciliation,
    }
    title = f"optout bench: {plan.users:,} users x {plan.days} days (seed {plan.seed}), dbt on {_engine()}"
    details = _details(plan, data, scan, ingestion, runs, reconciliation)
    by_step = breakdown_table({_short_name(run.name): run.breakdown for run in runs if run.breakdown})
    markdown_path = write_outputs(plan.out, document, figures, title, details, by_step)
    _print_summary(title, figures, details, by_step, plan, markdown_path)
    problems = reconciliation["problems"] + missed_lines(figures)
    if problems:
        raise CliError("\n".join(problems))


def _engine() -> str:
    """The dbt target the runs build on (OPTOUT_DBT_TARGET, passed on to them)."""
    return load_settings().dbt_target


def make_plan(args: argparse.Namespace) -> Plan:
    root = bench_dir()
    engine = "" if _engine() == "duckdb" else f"-{_engine()}"
    out = resolve_path(args.out) if args.out else root / f"bench-{args.users}u-{args.days}d{engine}.json"
    if out.suffix.lower() == ".md":
        raise CliError(f"--out {args.out} names the JSON file; the Markdown is written beside it")
    plan = Plan(args.users, args.days, args.seed, min(args.daily_after, args.days - 1), root, out)
    # `optout run` refuses a day that is not over yet: find out before generating anything
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    if plan.last_day > yesterday:
        raise CliError(
            f"--days {plan.days} from {plan.first_day} ends on {plan.last_day}, "
            f"after the last complete export day {yesterday}"
        )
    return plan


def _step(number: int, message: str) -> None:
    progress(f"step {number}/{STEPS} {message}")


def data_set(plan: Plan) -> datasets.Dataset:
    folder = plan.root / datasets.folder_name(plan.users, plan.days, plan.seed)
    _step(
        1,
        f"data set: {plan.users} users x {plan.days} days ({plan.first_day} .. {plan.last_day}), "
        f"seed {plan.seed}, in {folder}",
    )
    data = datasets.ensure_dataset(folder, plan.users, plan.days, plan.seed, progress)
    per_table = ", ".join(f"{table} {count:,}" for table, count in data.records.items())
    progress(
        f"data set {'cached' if data.cached else 'generated'}: {data.total_records:,} records ({per_table}); "
        f"generator {data.records_per_second:,.0f} records/s{' (cached)' if data.cached else ''}"
    )
    return data


def baseline_scan(data: datasets.Dataset) -> ScanResult:
    _step(2, "baseline: DuckDB scan of the landing files (2 threads, counting every record)")
    scan = scan_landing(data.folder)
    progress(
        f"DuckDB counted {scan.total_records:,} records in {scan.seconds:.2f}s "
        f"= {scan.records_per_second:,.0f} records/s"
    )
    return scan


def ingestion_alone(plan: Plan, data: datasets.Dataset) -> Ingestion:
    workspace = plan.workspace("ingest", data)
    log = workspace.logs / "ingest.log"
    result = workspace.root / "ingest.json"
    arguments = ["-m", "orchestration.bench.ingest", str(data.folder), str(workspace.lake)]
    _step(3, f"ingestion alone: python -m orchestration.bench.ingest into a fresh lake (log: {log})")
    run_timed(
        "ingestion alone",
        [sys.executable, *arguments, "--result", str(result)],
        shlex.join(["python", *arguments]),
        workspace.env(),
        log,
    )
    figures = json.loads(result.read_text())
    progress(
        f"ingestion read {figures['records']:,} records in {figures['seconds']:.1f}s "
        f"= {figures['records_per_second']:,.0f} records/s"
    )
    return Ingestion(figures, log)


def backfill_then_daily_run(
    plan: Plan, data: datasets.Dataset
) -> tuple[TimedProcess, TimedProcess, dict[str, int]]:
    workspace = plan.workspace("backfill", data)
    first, last = plan.first_day, plan.last_day
    _step(4, f"whole backfill: optout run --start {first} --end {last} in {workspace.root}")
    backfill = optout_run("whole backfill", workspace, first, last, "backfill.log")
    _report_run(backfill)
    lake_records = lake_records_read(workspace.lake)
    _step(
        5,
        f"daily run at the end: optout run --start {last} --end {last} "
        f"(day {plan.days} delivered again, after {plan.days - 1} days)",
    )
    daily_end = optout_run("daily run at the end", workspace, last, last, "daily-end.log")
    _report_run(daily_end)
    return backfill, daily_end, lake_records


def daily_run_after_k(plan: Plan, data: datasets.Dataset) -> tuple[TimedProcess | None, TimedProcess]:
    workspace = plan.workspace(f"after-{plan.daily_after}d", data)
    day = plan.first_day + dt.timedelta(days=plan.daily_after)
    _step(6, f"daily run after {plan.daily_after} days: day {day} in {workspace.root}")
    history = None
    if plan.daily_after:
        history_end = day - dt.timedelta(days=1)
        progress(f"history first (not a figure): optout run --start {plan.first_day} --end {history_end}")
        history = optout_run("history backfill", workspace, plan.first_day, history_end, "history.log")
        _report_run(history)
    daily = optout_run(f"daily run after {plan.daily_after} days", workspace, day, day, "daily.log")
    _report_run(daily)
    return history, daily


def _report_run(run: TimedProcess) -> None:
    progress(
        f"{run.name}: {run.seconds:.1f}s, peak memory {run.peak_rss_bytes / GIB:.2f} GiB (log: {run.log})"
    )
    if run.breakdown:
        largest = sorted(run.breakdown.parts.items(), key=lambda part: -part[1])[:4]
        progress(f"{run.name}, largest parts: " + ", ".join(f"{name} {sec:.1f}s" for name, sec in largest))


def _command_line(args: argparse.Namespace, plan: Plan) -> str:
    words = [
        "optout",
        "bench",
        "--users",
        str(plan.users),
        "--days",
        str(plan.days),
        "--seed",
        str(plan.seed),
    ]
    return shlex.join([*words, "--daily-after", str(args.daily_after), "--out", shown_path(plan.out)])


def _dataset_json(data: datasets.Dataset) -> dict:
    return {
        "folder": shown_path(data.folder),
        "cached": data.cached,
        "records": data.records,
        "total_records": data.total_records,
        "generate_seconds": data.generate_seconds,
        "records_per_second": data.records_per_second,
    }


def _scan_json(scan: ScanResult) -> dict:
    return {
        "threads": scan.threads,
        "records": scan.total_records,
        "records_by_format": scan.records,
        "files_by_format": scan.files,
        "seconds_by_format": scan.seconds_by_format,
        "csv_rejected_lines": scan.csv_rejected_lines,
        "seconds": scan.seconds,
        "records_per_second": scan.records_per_second,
    }


def _run_json(run: TimedProcess, figure: bool) -> dict:
    return {
        "name": run.name,
        "command": run.command,
        "seconds": run.seconds,
        "peak_rss_bytes": run.peak_rss_bytes,
        "peak_rss_gib": run.peak_rss_bytes / GIB,
        "log": shown_path(run.log),
        "figure": figure,  # the history before the daily run is timed, but not a figure
        "breakdown": run.breakdown.to_json() if run.breakdown else None,
    }


def _details(
    plan: Plan,
    data: datasets.Dataset,
    scan: ScanResult,
    ingestion: Ingestion,
    runs: list[TimedProcess],
    reconciliation: dict,
) -> list[str]:
    """The lines under the table: where everything is, and what each figure was made of."""
    cached = " (cached: the generator figure is the one measured when it was made)" if data.cached else ""
    by_format = ", ".join(
        f"{fmt} {scan.records[fmt]:,} in {scan.seconds_by_format[fmt]:.2f}s ({scan.files[fmt]} files)"
        for fmt in scan.records
    )
    lines = [
        f"data set: {shown_path(data.folder)}, {data.total_records:,} records, "
        f"generated in {data.generate_seconds:.1f}s{cached}",
        f"DuckDB scan ({scan.threads} threads): {scan.total_records:,} records in {scan.seconds:.2f}s: "
        f"{by_format}; CSV lines counted from its rejects table (invalid UTF-8, too few fields): "
        f"{scan.csv_rejected_lines}",
        f"ingestion alone: {ingestion.figures['records']:,} records in {ingestion.figures['seconds']:.1f}s, "
        f"peak {ingestion.figures['peak_mib']:,.0f} MiB, log {shown_path(ingestion.log)}",
    ]
    for run in runs:
        extra = (
            f" (the {plan.daily_after} days before, not a figure)" if run.name == "history backfill" else ""
        )
        lines.append(
            f"{run.name}: `{run.command}` {run.seconds:.1f}s, peak memory "
            f"{run.peak_rss_bytes / GIB:.2f} GiB, log {shown_path(run.log)}{extra}"
        )
    lines.append(
        "records reconcile: generated = DuckDB scan = ingestion alone = backfill lake logs"
        if reconciliation["matches"]
        else "; ".join(reconciliation["problems"])
    )
    return lines


def _short_name(run_name: str) -> str:
    """A run's name as a column heading: `daily run after 30 days` -> `daily after 30 days`."""
    return run_name.replace("daily run", "daily").replace("whole backfill", "backfill")


def _print_summary(
    title: str, figures: list[Figure], details: list[str], by_step: list[str], plan: Plan, markdown: Path
) -> None:
    print(f"\n{title}\n{text_table(figures)}\n")
    for detail in details:
        print(f"  {detail}")
    if by_step:
        print("\nwhere each run spent its time (orchestration/bench/breakdown.py):")
        for line in by_step:
            print(f"  {line}")
    print(f"\n  JSON:       {plan.out}\n  Markdown:   {markdown}\n  workspaces: {plan.work}")
