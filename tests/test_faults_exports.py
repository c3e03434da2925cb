"""Export faults: a full disk, a killed writer's debris, ranges outside the checked days,
the messages a failed run prints, and who may read the files that hold user data."""

from __future__ import annotations

import datetime as dt
import errno
import subprocess

import pytest

from assets import atomic_files
from assets.atomic_files import FileWriteError
from assets.exports.opted_out_users import write_export
from assets.exports.ranges import between_range
from tests.helpers import write_good_messages

pytestmark = pytest.mark.faults

RANGE = between_range(dt.date(2026, 1, 5), dt.date(2026, 1, 6))
PAGE = 4096


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs where the test may mount one (root), else None."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True
    )
    yield mount_point if mounted.returncode == 0 else None
    if mounted.returncode == 0:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def _fill(folder, leave_pages: int) -> None:
    """Fill the file system of `folder` until `leave_pages` pages are free."""
    import os

    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    (folder / "filler").write_bytes(b"x" * (free - leave_pages * PAGE))


def _no_space_on_third_sync(monkeypatch):
    """Where no tmpfs can be mounted: the third file written (the manifest) meets a full disk."""
    calls = []
    real_fsync = atomic_files.os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(atomic_files.os, "fsync", fsync)


def test_a_full_disk_never_leaves_a_csv_without_its_manifest(sample_run, small_disk, tmp_path, monkeypatch):
    export_dir = small_disk or tmp_path / "exports"
    good = write_export(sample_run.warehouse, export_dir, RANGE)
    files = good.csv_path.read_bytes(), good.parquet_path.read_bytes(), good.manifest_path.read_bytes()
    assert all(len(data) < PAGE for data in files)
    if small_disk is not None:
        _fill(small_disk, leave_pages=2)  # room for the new CSV and Parquet file, none for the manifest
    else:
        _no_space_on_third_sync(monkeypatch)
    with pytest.raises(FileWriteError) as failure:
        write_export(sample_run.warehouse, export_dir, RANGE)
    assert str(failure.value) == f"cannot write {good.manifest_path}: No space left on device"
    assert (
        good.csv_path.read_bytes(),
        good.parquet_path.read_bytes(),
        good.manifest_path.read_bytes(),
    ) == files
    names = sorted(p.name for p in good.csv_path.parent.iterdir())
    # no temp file left
    assert names == [good.csv_path.name, good.manifest_path.name, good.parquet_path.name]


def test_a_killed_writers_temp_files_are_removed_by_the_next_writer(sample_run, tmp_path):
    folder = tmp_path / "opted_out_users"
    folder.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid whose process has ended
    debris = [
        folder / f".2026-01-05_2026-01-06.csv.{gone.pid}.0badc0de.tmp",
        folder / f".2026-01-05_2026-01-06.parquet.{gone.pid}.0badc0de.tmp",
        folder / f".2026-01-05_2026-01-06.manifest.json.{gone.pid}.0badc0de.tmp",
    ]
    alive = folder / f".2026-01-01_2026-01-02.csv.{subprocess.os.getppid()}.0badc0de.tmp"
    for path in [*debris, alive]:
        path.write_text("half")
    write_export(sample_run.warehouse, tmp_path, RANGE)
    assert not any(path.exists() for path in debris)
    assert alive.exists()  # a writer still at work keeps its file


def test_ranges_outside_the_checked_days_write_nothing(sample_run):
    for args in (
        ["--preset", "last_week", "--date", "2030-01-01"],
        ["--start", "2026-01-22", "--end", "2026-02-01"],
        ["--start", "2025-06-01", "--end", "2025-06-30"],
    ):
        result = sample_run.optout("export", *args, check=False)
        assert result.returncode == 1, args
        assert len(result.stderr.strip().splitlines()) == 1 and "checked marts" in result.stderr
    names = {p.name for p in (sample_run.exports / "opted_out_users").glob("*.csv")}
    assert not any(name.startswith(("2029", "2025-06", "2026-01-22")) for name in names)


def test_every_failed_day_is_listed_with_its_file(workspace, dbt_manifest):
    write_good_messages(workspace.landing, ["2026-01-01", "2026-01-02", "2026-01-03"])
    broken = {
        ("messages", "2026-01-01"): "a.csv.gz",
        ("messages", "2026-01-03"): "b.jsonl.gz",
        ("campaigns", "2026-01-02"): "c.parquet",
    }
    for (table, day), name in broken.items():
        folder = workspace.landing / table / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"\x1f\x8b\x08\x00 not what it claims")
    result = workspace.optout("run", "--start", "2026-01-01", "--end", "2026-01-03", check=False)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("optout run: ")]
    assert len(lines) == 3, result.stderr
    for (table, day), name in broken.items():
        assert sum(f"lake__{table}" in line and day in line and name in line for line in lines) == 1
    assert "nanobind" not in result.stderr and "Traceback" not in result.stderr


def test_files_holding_user_data_are_for_their_owner_only(sample_run):
    roots = [sample_run.lake, sample_run.warehouse.parent, sample_run.exports]
    paths = [path for root in roots for path in root.rglob("*")]
    assert len(paths) > 100
    exposed = [str(path) for path in paths if path.stat().st_mode & 0o077]
    assert exposed == []
