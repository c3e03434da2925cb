"""The landing area of optout's own contract: `<table>/dt=<day>/` folders, and which of their entries are read.

Nothing outside the landing area is read, and nothing but regular files: the listing
sorts each folder's entries into files to read, unknown ones (reported) and ones skipped
for safety (symlinks leading out, FIFOs, devices).
"""

from __future__ import annotations

import datetime as dt
import re
import stat
from pathlib import Path
from typing import NamedTuple

from assets.ingest.readers import UnreadableFileError, file_format, is_ignored

_DAY_FOLDER_NAME = re.compile(r"dt=\d{4}-\d{2}-\d{2}")


class LandingDay(NamedTuple):
    readable: list[Path]  # files to read, in name order
    unknown: list[str]  # names of files with an extension the contract does not accept
    skipped: list[str]  # "<name>: <why>" for entries not read for safety


def landing_files(landing_dir: Path, table: str, day: dt.date) -> LandingDay:
    """The entries of a table's day folder, sorted into files to read, unknown and skipped ones.

    Nothing outside the landing area is read: a symlink leading out of it (the file, the
    day folder or the table folder) is skipped, as is anything but a regular file (a FIFO
    would block the read forever).
    """
    folder = landing_dir / table / f"dt={day.isoformat()}"
    if not folder.is_dir():
        return LandingDay([], [], [])
    landing_area = landing_dir.resolve()
    for level, path in (("table folder", folder.parent), ("day folder", folder)):
        if not path.resolve().is_relative_to(landing_area):
            # not an empty delivery: the day fails and keeps what it held before
            raise UnreadableFileError(
                f"cannot read {folder}: the {level} is a symlink to a folder outside the landing area "
                "(not followed; the day keeps its previous version)"
            )
    readable, unknown, skipped = [], [], []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if is_ignored(path.name):
            continue
        unsafe = why_not_read(path, landing_area)
        if unsafe:
            skipped.append(f"{path.name}: {unsafe}")
        elif file_format(path.name):
            readable.append(path)
        else:
            unknown.append(path.name)
    return LandingDay(readable, unknown, skipped)


def why_not_read(path: Path, landing_area: Path) -> str | None:
    """Why an entry of a day folder must not be opened, or None for a regular file inside the landing area."""
    try:
        target = path.resolve(strict=True)
        mode = target.stat().st_mode
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        return "symlink that leads nowhere (broken or a loop)"
    if not target.is_relative_to(landing_area):
        return "symlink to a file outside the landing area"
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if not stat.S_ISREG(mode):
        return f"not a regular file ({_file_kind(mode)})"
    return None


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISFIFO: "FIFO",
        stat.S_ISSOCK: "socket",
        stat.S_ISCHR: "character device",
        stat.S_ISBLK: "block device",
    }
    return next((name for test, name in kinds.items() if test(mode)), "special file")


def unrecognised_day_folders(landing_dir: Path, table: str) -> list[str]:
    """Folders under a table folder that are not export days (`dt=YYYY-MM-DD`, a real date).

    They are never read; listing them lets the run say so instead of ignoring them silently.
    """
    folder = landing_dir / table
    if not folder.is_dir():
        return []
    return sorted(
        child.name
        for child in folder.iterdir()
        if child.is_dir() and not is_ignored(child.name) and not is_export_day_folder(child.name)
    )


def landed_day_folders(landing_dir: Path, tables: tuple[str, ...]) -> list[tuple[str, dt.date, Path]]:
    """(table, export day, folder) of every export day folder that has landed, by table and day.

    The one walk of the landing area: `optout run` takes its default range from it, the
    landing sensor fingerprints the folders it finds.
    """
    found = []
    for table in tables:
        folder = landing_dir / table
        if folder.is_dir():
            found += [
                (table, dt.date.fromisoformat(child.name.removeprefix("dt=")), child)
                for child in folder.glob("dt=*")
                if is_export_day_folder(child.name)
            ]
    return sorted(found)


def is_export_day_folder(name: str) -> bool:
    # fullmatch first: Python's fromisoformat also takes `20260105` and `2026-W02-1`,
    # which the ingestion never looks for
    if not _DAY_FOLDER_NAME.fullmatch(name):
        return False
    try:
        dt.date.fromisoformat(name.removeprefix("dt="))
    except ValueError:
        return False
    return True
