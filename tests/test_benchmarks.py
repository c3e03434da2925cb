"""Throughput benchmarks (slow: `pytest -m benchmark`). They print figures and check sanity."""

import datetime as dt
import json
import os
import subprocess
import sys
import time

import pytest

from assets.generator.run import generate

pytestmark = pytest.mark.benchmark

USERS = int(os.environ.get("OPTOUT_BENCH_USERS", "120000"))
DAYS = int(os.environ.get("OPTOUT_BENCH_DAYS", "30"))


def _ingest(landing, lake, *flags):
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.bench.ingest", str(landing), str(lake), *flags],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_ingestion_throughput_against_plain_polars_reads(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    started = time.perf_counter()
    summary = generate(landing, dt.date(2026, 1, 1), DAYS, USERS, seed=99)
    generated = sum(summary.records.values())
    generate_seconds = time.perf_counter() - started
    baseline = _ingest(landing, lake, "--baseline")
    ingestion = _ingest(landing, lake)
    print(
        f"\ngenerate: {generated:,} records ({USERS:,} users x {DAYS} days) in {generate_seconds:.1f}s "
        f"({generated / generate_seconds:,.0f} records/s)"
        f"\nbaseline (polars readers only, no validation): {baseline['records_per_second']:,.0f} records/s, "
        f"peak {baseline['peak_mib']:,.0f} MiB"
        f"\ningestion (parse, validate, quarantine, dedupe, write lake): {ingestion['records']:,} records in "
        f"{ingestion['seconds']:.1f}s = {ingestion['records_per_second']:,.0f} records/s, peak {ingestion['peak_mib']:,.0f} MiB"
    )
    assert ingestion["records"] == generated
    assert ingestion["records_per_second"] > 0.05 * baseline["records_per_second"]
