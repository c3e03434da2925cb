"""The serving folder's layout, and how a new snapshot replaces the old one in one step.

    $OPTOUT_SERVING_DIR/
      optout.duckdb -> current/optout.duckdb     stable names BI tools point at
      marts         -> current/marts              (written once, never changed)
      audit         -> current/audit
      reporting     -> current/reporting          (the reporting views, per period)
      serving       -> current/serving
      current       -> .snapshots/<id>            the one link a publish swaps
      .snapshots/<id>/{optout.duckdb, marts/*.parquet, audit/*.parquet, reporting/*.parquet,
                       serving/*.parquet}

A snapshot is written whole in a hidden staging folder, renamed to its id, and published
by renaming a new `current` link over the old one: every path a reader opens resolves
through `current` at that moment, so it reads the old snapshot or the new one, never a
mix, and nothing a reader holds open is ever written to (the writer never waits for a
reader). Readers that keep a file open keep the old snapshot until they reopen it; the
previous snapshot stays on disk so a reader that resolved `current` just before a swap
can still open its files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from assets.atomic_files import FileWriteError, make_folder, make_staging_dir, remove_debris, temp_name

SNAPSHOTS = ".snapshots"
CURRENT = "current"
DATABASE_FILE = "optout.duckdb"
# the names a reader uses; each is a link into the current snapshot
ENTRIES = (DATABASE_FILE, "marts", "audit", "reporting", "serving")
# the current snapshot and the one before it (a reader may have resolved it just before the swap)
SNAPSHOTS_KEPT = 2


def new_snapshot_folder(serving_dir: Path, snapshot_id: str) -> Path:
    """A hidden folder to write the snapshot into; leftovers of killed writers are removed first."""
    snapshots = serving_dir / SNAPSHOTS
    make_folder(snapshots)
    remove_debris(snapshots)
    return make_staging_dir(snapshots, snapshot_id)


def publish_snapshot(serving_dir: Path, staging: Path, snapshot_id: str) -> Path:
    """Make the written snapshot the one readers see; returns its folder."""
    # the stable names first: a folder in their way fails the publish before anything changed
    for entry in ENTRIES:
        _ensure_link(serving_dir / entry, Path(CURRENT) / entry)
    final = serving_dir / SNAPSHOTS / snapshot_id
    try:
        os.rename(staging, final)
    except OSError as exc:
        raise FileWriteError(f"cannot publish {final}: {exc.strerror or exc}") from exc
    _replace_link(serving_dir / CURRENT, Path(SNAPSHOTS) / snapshot_id)
    _prune(serving_dir / SNAPSHOTS, keep=final.name)
    return final


def current_snapshot(serving_dir: Path) -> Path | None:
    """The folder of the published snapshot, or None before the first publish."""
    link = serving_dir / CURRENT
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def _replace_link(link: Path, target: Path) -> None:
    """Point `link` at `target` in one rename (a reader never finds it missing)."""
    temp = temp_name(link)
    try:
        os.symlink(target, temp)
        os.replace(temp, link)
    except IsADirectoryError:
        temp.unlink(missing_ok=True)
        raise FileWriteError(
            f"{link} is a folder optout did not write: move it out of the serving folder"
        ) from None
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise FileWriteError(f"cannot write {link}: {exc.strerror or exc}") from exc


def _ensure_link(link: Path, target: Path) -> None:
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    _replace_link(link, target)


def _prune(snapshots: Path, keep: str) -> None:
    """Remove all but the newest SNAPSHOTS_KEPT snapshots (ids sort by publish time)."""
    published = sorted(p for p in snapshots.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in published[:-SNAPSHOTS_KEPT]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
