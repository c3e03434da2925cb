"""Small builders for hand-made landing folders."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from assets.config import REPO_ROOT
from assets.ingest.day import ingest_table_day
from assets.ingest.lake import DATA_FILE, QUARANTINE_FILE, day_dir


def day_folder(landing: Path, table: str, day: str) -> Path:
    folder = landing / table / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_csv(landing: Path, table: str, day: str, name: str, text: str) -> Path:
    path = day_folder(landing, table, day) / name
    data = text.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def write_jsonl(landing: Path, table: str, day: str, name: str, records: list[dict | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path = day_folder(landing, table, day) / name
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def ingest(landing: Path, lake: Path, table: str, day: str):
    return ingest_table_day(landing, lake, table, dt.date.fromisoformat(day))


def loaded(lake: Path, table: str, day: str) -> pl.DataFrame:
    return pl.read_parquet(day_dir(lake, table, dt.date.fromisoformat(day)) / DATA_FILE)


def quarantined(lake: Path, table: str, day: str) -> pl.DataFrame:
    return pl.read_parquet(day_dir(lake, table, dt.date.fromisoformat(day)) / QUARANTINE_FILE)


def message(event_id: str, **overrides) -> dict:
    record = {
        "event_id": event_id,
        "user_id": "u1",
        "campaign_id": "c1",
        "event_type": "delivered",
        "occurred_at": "2026-01-05T10:00:00Z",
        "error_code": None,
    }
    record.update(overrides)
    return record


def app_event(event_id: str, user_id: str, occurred_at: str, event_name: str = "session_start") -> dict:
    return {"event_id": event_id, "user_id": user_id, "event_name": event_name, "occurred_at": occurred_at}


def write_good_messages(landing: Path, days: list[str]) -> None:
    """One sound message per export day (a landing in which only what a test breaks is bad)."""
    for day in days:
        write_jsonl(
            landing, "messages", day, "good.jsonl", [message(f"m-{day}", occurred_at=f"{day}T10:00:00Z")]
        )


def chromium(profile: Path, url: str, *extra: str, window: str = "1400,900", budget_ms: int = 15000):
    """Debian's headless Chromium with the flags this closed network needs; returns the process."""
    import subprocess

    flags = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--window-size={window}", f"--virtual-time-budget={budget_ms}",
    ]  # fmt: skip
    return subprocess.run([*flags, *extra, url], capture_output=True, text=True, timeout=120)


def run_optout(
    env: dict[str, str], *args: str, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess:
    """The `optout` CLI in a fresh process with `env` over this environment, as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"optout {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result
