"""Files users act on appear whole or not at all, and a killed writer leaves nothing behind.

Everything is written beside its target under a hidden name that carries the writer's pid
(`.<name>.<pid>.<random>.tmp`), then renamed over the target. A writer killed in between
leaves that hidden file; the next writer in the same folder removes the ones whose process
is gone, and never the files of a writer that is still at work.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

from assets.processes import process_alive

_DEBRIS = re.compile(r"^\..+\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


class FileWriteError(OSError):
    """A file could not be written; the message names it (disk full, permissions, ...)."""


def temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_temp_beside(target: Path, data: bytes) -> Path:
    """Write `data` to a hidden file beside `target`, synced to disk; returns its path."""
    temp = temp_name(target)
    try:
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise FileWriteError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return temp


def make_folder(folder: Path) -> None:
    """The folder files are written into (and its parents), or a FileWriteError saying why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(f"cannot create {folder}: {exc.strerror or exc}") from exc


def make_staging_dir(folder: Path, stem: str) -> Path:
    """A hidden folder for files that must appear together (renamed in one by one, last the index)."""
    staging = temp_name(folder / stem)
    try:
        staging.mkdir(mode=0o700)
    except OSError as exc:
        raise FileWriteError(f"cannot write {staging}: {exc.strerror or exc}") from exc
    return staging


def replace_all(pairs: list[tuple[Path, Path]]) -> None:
    """Rename each written temp file over its target, in order (put the one that announces the rest last)."""
    for temp, target in pairs:
        try:
            os.replace(temp, target)
        except OSError as exc:
            raise FileWriteError(f"cannot write {target}: {exc.strerror or exc}") from exc


def remove_debris(folder: Path) -> list[Path]:
    """Remove the hidden temp files and folders of writers that were killed; returns them."""
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = _DEBRIS.match(path.name)
        if match is None or process_alive(int(match["pid"])):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
