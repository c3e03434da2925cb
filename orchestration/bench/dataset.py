"""The benchmark's landing data: generated once per size and seed, then reused.

Generating a year of a large platform takes a while, and the figures compare runs over
the same files, so a data set is kept in its own folder with a marker written only after
the generator finished. A folder whose marker is missing (an interrupted generation) or
names other parameters is deleted and generated again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assets.config import REPO_ROOT
from assets.generator.run import generate
from assets.throughput import Throughput

# Fixed, so every day is complete (long before today) and none is before the default
# OPTOUT_FIRST_DAY.
START = dt.date(2025, 1, 1)
MARKER = "bench-dataset.json"
# The generator's own progress line per day would be one line per day: say it this often.
PROGRESS_EVERY_SECONDS = 15.0


@dataclass(frozen=True)
class Dataset(Throughput):
    folder: Path
    users: int
    days: int
    seed: int
    records: dict[str, int]  # per table, as the generator counted them
    generate_seconds: float
    cached: bool

    @property
    def first_day(self) -> dt.date:
        return START

    @property
    def last_day(self) -> dt.date:
        return START + dt.timedelta(days=self.days - 1)

    @property
    def seconds(self) -> float:  # the generator's rate is the one Throughput reports
        return self.generate_seconds


def folder_name(users: int, days: int, seed: int) -> str:
    return f"landing-{users}u-{days}d-s{seed}"


def generator_fingerprint() -> str:
    """A hash of the generator's code: other code may write other files for the same seed."""
    digest = hashlib.sha256()
    sources = sorted((REPO_ROOT / "assets" / "generator").glob("*.py"))
    for path in [*sources, REPO_ROOT / "assets" / "contract.py"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _parameters(users: int, days: int, seed: int) -> dict:
    return {
        "users": users,
        "days": days,
        "seed": seed,
        "start": START.isoformat(),
        "generator": generator_fingerprint(),
    }


def read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def ensure_dataset(
    folder: Path, users: int, days: int, seed: int, progress: Callable[[str], None]
) -> Dataset:
    """The data set in `folder`, generated unless a complete one with these parameters is there."""
    parameters = _parameters(users, days, seed)
    marker = read_marker(folder)
    if marker is not None and marker.get("parameters") == parameters:
        return Dataset(folder, users, days, seed, marker["records"], marker["generate_seconds"], cached=True)
    if folder.exists():
        why = "its generation did not finish" if marker is None else "it was made with other parameters"
        progress(f"removing {folder} ({why})")
        shutil.rmtree(folder)
    started = time.perf_counter()
    summary = generate(folder, START, days, users, seed, _every(PROGRESS_EVERY_SECONDS, progress))
    seconds = time.perf_counter() - started
    records = {table: int(count) for table, count in summary.records.items()}
    _write_marker(folder, {"parameters": parameters, "records": records, "generate_seconds": seconds})
    return Dataset(folder, users, days, seed, records, seconds, cached=False)


def _write_marker(folder: Path, content: dict) -> None:
    # whole or absent: a half-written marker must not pass for a finished data set
    temporary = folder / f".{MARKER}.{os.getpid()}"
    temporary.write_text(json.dumps(content, indent=2) + "\n")
    temporary.rename(folder / MARKER)


def _every(seconds: float, progress: Callable[[str], None]) -> Callable[[str], None]:
    last = time.monotonic()

    def maybe(message: str) -> None:
        nonlocal last
        if time.monotonic() - last >= seconds:
            last = time.monotonic()
            progress(f"generator: {message}")

    return maybe
