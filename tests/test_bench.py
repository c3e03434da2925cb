"""`optout bench` at a tiny size, for real: every step runs (4 `optout run` processes).

The figures themselves say little at this size (start-up dominates); what is checked is
that they are all there, that every count reconciles with the generator, and that the
JSON, the Markdown, stderr and the exit code agree with each other.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from assets.config import REPO_ROOT
from assets.contract import TABLE_NAMES
from assets.generator.run import generate
from orchestration.bench.dataset import MARKER, START, ensure_dataset, folder_name
from orchestration.bench.memory import PeakTreeMemory
from orchestration.bench.report import targets
from orchestration.bench.scan import scan_landing

USERS, DAYS, SEED, DAILY_AFTER = 200, 4, 7, 2


def run_bench(bench_dir: Path, out: Path, **env: str) -> subprocess.CompletedProcess:
    command = [
        *(sys.executable, "-m", "orchestration.cli", "bench"),
        *("--users", str(USERS), "--days", str(DAYS), "--seed", str(SEED)),
        *("--daily-after", str(DAILY_AFTER), "--out", str(out)),
    ]
    return subprocess.run(
        command,
        env={**os.environ, "OPTOUT_BENCH_DIR": str(bench_dir), **env},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=900,
    )


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    out = root / "results" / "tiny.json"
    result = run_bench(root / "bench", out)
    if not out.exists():
        pytest.fail(f"optout bench wrote no JSON:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return root, out, result, json.loads(out.read_text())


def test_json_holds_every_figure_with_value_baseline_target_and_met(bench):
    _, _, _, document = bench
    figures = {f["name"]: f for f in document["figures"]}
    assert list(figures) == [t.figure for t in targets(USERS, DAYS, DAILY_AFTER)]
    for target in targets(USERS, DAYS, DAILY_AFTER):
        figure = figures[target.figure]
        assert isinstance(figure["value"], float) and math.isfinite(figure["value"]) and figure["value"] > 0
        assert figure["target"]["comparison"] == target.comparison
        assert figure["target"]["relative"] == target.relative
        if target.baseline:
            assert figure["baseline"]["name"] == target.baseline and figure["baseline"]["value"] > 0
        else:
            assert figure["baseline"] is None
        threshold = target.limit * figure["baseline"]["value"] if target.relative else target.limit
        assert figure["target"]["threshold"] == pytest.approx(threshold)
        value = figure["value"]
        assert figure["met"] == (value >= threshold if target.comparison == ">=" else value <= threshold)
    # the figures are the measurements of the same document
    assert figures["ingest_rate"]["baseline"]["value"] == document["duckdb_scan"]["records_per_second"]
    assert figures["ingest_rate"]["value"] == document["ingest"]["records_per_second"]
    runs = {run["name"]: run for run in document["runs"]}
    assert figures["daily_run_end"]["value"] == runs["daily run at the end"]["seconds"]
    assert figures["daily_run_after_k"]["value"] == runs[f"daily run after {DAILY_AFTER} days"]["seconds"]
    assert figures["backfill_rate"]["value"] == pytest.approx(
        document["dataset"]["total_records"] / runs["whole backfill"]["seconds"]
    )
    # every optout run: its own log, a sampled peak; the memory figure is the largest
    assert set(runs) == {
        "whole backfill",
        "daily run at the end",
        "history backfill",
        f"daily run after {DAILY_AFTER} days",
    }
    assert all(run["peak_rss_bytes"] > 50 * 2**20 for run in runs.values())
    largest = max(run["peak_rss_bytes"] for run in runs.values())
    assert figures["peak_memory"]["value"] == pytest.approx(largest / 2**30)
    assert document["dataset"]["cached"] is False


def test_each_run_is_broken_down_by_step_and_the_parts_add_up_to_its_time(bench):
    _, out, result, document = bench
    for run in document["runs"]:
        parts = run["breakdown"]["parts_seconds"]
        assert sum(parts.values()) == pytest.approx(run["seconds"], rel=1e-6), run["name"]
        assert all(seconds >= 0 for seconds in parts.values())
        # every group of the job took time, and dbt's own time is part of its step
        for part in (
            "start-up",
            "ingest",
            "lake checks",
            "dbt: build (dbt's own time)",
            "report",
            "serving copy",
        ):
            assert parts[part] > 0, (run["name"], part)
        steps = run["breakdown"]["steps_seconds"]
        assert parts["ingest"] == pytest.approx(
            sum(v for k, v in steps.items() if k.startswith("lake__") and k.count("_ge_") == 0)
            - steps["lake__retention"]
        )
        assert parts["dbt: build (dbt's own time)"] + parts["dbt: start-up and events"] == pytest.approx(
            steps["optout_dbt_models"]
        )
    # the same table in the Markdown and on stdout
    markdown = out.with_suffix(".md").read_text()
    assert "## Where each run spent its time" in markdown
    assert "dbt: build (dbt's own time)" in result.stdout
    assert markdown.count("Dagster bookkeeping") == 1


def test_every_count_reconciles_with_the_generator(bench, tmp_path):
    root, _, _, document = bench
    # the generator is deterministic for a seed: its own counts, made again here
    generated = dict(generate(tmp_path / "landing", START, DAYS, USERS, SEED).records)
    assert document["dataset"]["records"] == generated
    total = sum(generated.values())
    # DuckDB counted every record, malformed lines included
    assert document["duckdb_scan"]["records"] == total
    assert document["duckdb_scan"]["csv_rejected_lines"] >= 0
    assert document["ingest"]["records"] == total
    # what the backfill's lake logs say was read, read here from the lake itself
    lake = root / "bench" / f"work-{USERS}u-{DAYS}d-s{SEED}" / "backfill" / "lake"
    read = {
        table: int(
            pl.read_parquet(sorted((lake / table).glob("dt=*/ingestion_log.parquet")))["records_read"].sum()
        )
        for table in TABLE_NAMES
    }
    assert read == generated
    assert document["reconciliation"]["backfill_lake_records_read"] == read
    assert document["reconciliation"]["matches"] is True


def test_exit_code_and_stderr_name_exactly_the_missed_targets(bench):
    _, _, result, document = bench
    missed = [f["name"] for f in document["figures"] if not f["met"]]
    assert document["missed"] == missed
    assert (result.returncode == 0) == (not missed) == document["all_targets_met"]
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("optout bench: ") for line in lines), result.stderr
    assert [line.removeprefix("optout bench: ").split(":", 1)[0] for line in lines] == missed


def test_markdown_has_one_row_per_figure(bench):
    _, out, result, document = bench
    markdown = out.with_suffix(".md").read_text()
    rows = [line for line in markdown.splitlines() if line.startswith("|")][2:]  # header, separator
    assert len(rows) == len(document["figures"])
    for row, figure in zip(rows, document["figures"], strict=True):
        assert row.startswith(f"| {figure['label']} |")
        assert row.endswith("| yes |" if figure["met"] else "| **no** |")
    # and the terminal saw the same table and where the files are
    assert str(out) in result.stdout and str(out.with_suffix(".md")) in result.stdout
    for figure in document["figures"]:
        assert figure["label"] in result.stdout


def test_a_second_run_reuses_the_cached_data_set(tmp_path):
    """Both runs stop at ingestion on purpose (every file is over OPTOUT_MAX_FILE_BYTES): they
    get past the data set and the scan in seconds, and show how a failed step is reported."""
    bench_dir = tmp_path / "bench"
    marker = bench_dir / folder_name(USERS, DAYS, SEED) / MARKER
    log = bench_dir / f"work-{USERS}u-{DAYS}d-s{SEED}" / "ingest" / "logs" / "ingest.log"
    outputs = []
    for _ in range(2):
        result = run_bench(bench_dir, tmp_path / "out.json", OPTOUT_MAX_FILE_BYTES="1")
        assert result.returncode == 1, result.stdout + result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("optout bench: ingestion alone: ") and line.endswith(f"see {log}")
        assert "OPTOUT_MAX_FILE_BYTES" in log.read_text()
        assert not (tmp_path / "out.json").exists()
        outputs.append((result.stdout, marker.read_bytes(), marker.stat().st_mtime_ns))
    (first, first_marker, first_time), (second, second_marker, second_time) = outputs
    assert "data set generated" in first and "(cached)" not in first
    assert "data set cached" in second and "records/s (cached)" in second
    assert (second_marker, second_time) == (first_marker, first_time)
    # the generator figure of a cached data set is the one stored when it was made
    stored = json.loads(first_marker)
    rate = sum(stored["records"].values()) / stored["generate_seconds"]
    assert f"generator {rate:,.0f} records/s (cached)" in second


def test_data_set_is_generated_again_when_its_marker_is_missing_or_differs(tmp_path):
    folder = tmp_path / "landing"
    first = ensure_dataset(folder, 30, 2, 1, print)
    assert not first.cached and (folder / MARKER).exists()
    again = ensure_dataset(folder, 30, 2, 1, print)
    assert again.cached and again.records == first.records
    assert again.generate_seconds == first.generate_seconds  # the figure measured back then
    # an interrupted generation: no marker; a stray file shows the folder is made anew
    (folder / MARKER).unlink()
    (folder / "users" / "stray.csv").write_text("left over\n")
    remade = ensure_dataset(folder, 30, 2, 1, print)
    assert not remade.cached and not (folder / "users" / "stray.csv").exists()
    assert remade.records == first.records
    other = ensure_dataset(folder, 30, 2, 2, print)
    assert not other.cached and json.loads((folder / MARKER).read_text())["parameters"]["seed"] == 2
    assert scan_landing(folder).total_records == other.total_records


def test_peak_memory_counts_the_children_of_a_process():
    child = "import time; block = b'x' * (300 * 2**20); time.sleep(1.0)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    process = subprocess.Popen([sys.executable, "-c", parent])
    with PeakTreeMemory(process.pid) as memory:
        process.wait()
    assert memory.peak_bytes > 300 * 2**20
    assert memory.samples >= 5


def test_bench_refuses_days_that_are_not_complete_yet(tmp_path):
    days = (dt.datetime.now(dt.UTC).date() - START).days + 1
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "bench", "--users", "10", "--days", str(days)],
        env={**os.environ, "OPTOUT_BENCH_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("optout bench: --days") and "last complete export day" in result.stderr
    assert not any(tmp_path.iterdir())
