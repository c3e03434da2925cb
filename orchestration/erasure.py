"""`optout subject erase`: remove people from every copy the project holds, then suppress them.

The places, in the order they are swept (each one finished and recorded in the request's
work file before the next starts, so a cut-short erasure resumes where it stopped):

1. suppression list  their ids' salted hashes: every ingestion from now on leaves them out
2. landing           each raw file holding their records, rewritten without them
3. lake              each lake day (data and quarantine) holding their records, replaced
4. warehouse         a full-refresh `optout run` over the lake's days: the marts, the audit
                     tables, the exports of the run's presets, the report, the alerts and a
                     new serving snapshot, all built as if they had never been there
5. serving           every kept serving snapshot (the Parquet files and the DuckDB file)
6. exports           every opted-out user file (CSV, Parquet, manifest) and every other text
                     file under the export folder (reports, alert files)
7. spark             the Parquet files of Spark's warehouse, when there is one
8. dagster           Dagster's storage (SQLite files or PostgreSQL tables), its logs, optout's
                     run logs and dbt's logs: each mention of an id becomes `[erased]`
9. superset          Superset's own state (saved queries, chart parameters), when set up
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

from assets.config import REPO_ROOT, Settings
from assets.contract import TABLE_NAMES
from assets.exports.opted_out_users import unescaped_csv_cell
from assets.ingest import lake
from assets.privacy.landing import erase_from_landing
from assets.privacy.matching import Subjects, record_values
from assets.privacy.requests import PENDING, ErasureRequest, now, request_id
from assets.privacy.stores import (
    compact_duckdb,
    erase_from_duckdb_file,
    erase_from_lake,
    erase_from_parquet,
    redact_duckdb_audit_text,
    redact_sqlite,
    redact_text_file,
    rows_naming,
)
from assets.privacy.suppression import SaltMissingError, add_to_list, id_hash, load_salt
from assets.serving.copy import STORAGE_VERSION
from assets.serving.layout import SNAPSHOTS
from assets.shown_text import escape_controls
from orchestration.commands.common import CliError, progress

# files under the export folder and the logs whose text is redacted (charts are pictures of totals)
TEXT_SUFFIXES = (".html", ".json", ".jsonl", ".md", ".txt", ".log", ".csv", ".out", ".err", ".complete")
# a rotated log: dbt.log.1, superset.log.2
ROTATED_LOG = re.compile(r"\.log\.\d+$")
ID_COLUMNS = ("user_id", "external_id")


def read_id_file(path: Path) -> tuple[list[str], list[str]]:
    """User ids and external ids from a CSV file with a header naming `user_id` and/or `external_id`.

    A spreadsheet's "CSV UTF-8" (a byte-order mark first) and a file `optout export` wrote
    (formula cells escaped with a quote) read as the ids themselves; a named column with no
    id at all is an error, never an erasure of nobody."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            rows = [dict(zip(header, row, strict=False)) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    named = [column for column in ID_COLUMNS if column in header]
    if not named:
        raise CliError(f"{path}: expected a CSV file with a header naming user_id and/or external_id")
    ids = {
        column: [unescaped_csv_cell(row[column]) for row in rows if row.get(column)] for column in ID_COLUMNS
    }
    if not any(ids[column] for column in named):
        raise CliError(f"{path}: no id in its {' or '.join(named)} column")
    return ids["user_id"], ids["external_id"]


def resolve_people(
    lake_dir: Path, user_ids: list[str], external_ids: list[str]
) -> tuple[Subjects, list[str]]:
    """The people the ids name, each with all their ids (a user's external ids, an external id's users),
    and the ids that matched nobody in the lake."""
    files = sorted((lake_dir / "users").glob(f"dt=*/{lake.DATA_FILE}"))
    profiles = (
        pl.scan_parquet(files).select("user_id", "external_id").unique().collect()
        if files
        else pl.DataFrame(schema={"user_id": pl.String, "external_id": pl.String})
    )
    linked_users = profiles.filter(pl.col("external_id").is_in(external_ids))["user_id"].to_list()
    users = set(user_ids) | set(linked_users)
    externals = set(external_ids) | set(
        profiles.filter(pl.col("user_id").is_in(list(users)))["external_id"].drop_nulls().to_list()
    )
    seen = (
        _user_ids_in_lake(lake_dir, list(users))
        | set(profiles["external_id"].drop_nulls().to_list())
        # a person the lake knows only by refused records still has them there, to erase
        | _ids_in_quarantine(lake_dir, [*user_ids, *external_ids])
    )
    unmatched = [value for value in [*user_ids, *external_ids] if value not in seen]
    return Subjects(frozenset(users), frozenset(externals)), unmatched


def _ids_in_quarantine(lake_dir: Path, ids: list[str]) -> set[str]:
    """Those of `ids` that a quarantined record holds as one of its values."""
    files = sorted(lake_dir.glob(f"*/dt=*/{lake.QUARANTINE_FILE}"))
    if not files or not ids:
        return set()
    raw = (
        pl.scan_parquet(files)
        .select(pl.col("raw_record").cast(pl.String))
        .filter(pl.any_horizontal(pl.col("raw_record").str.contains(value, literal=True) for value in ids))
        .collect()["raw_record"]
    )
    wanted = set(ids)
    return {value for record in raw.to_list() for value in record_values(record) if value in wanted}


def _user_ids_in_lake(lake_dir: Path, user_ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for table in TABLE_NAMES:
        files = sorted((lake_dir / table).glob(f"dt=*/{lake.DATA_FILE}"))
        if files and "user_id" in pl.read_parquet_schema(files[0]):
            found = (
                pl.scan_parquet(files).filter(pl.col("user_id").is_in(user_ids)).select("user_id").unique()
            )
            seen |= set(found.collect()["user_id"].to_list())
    return seen


def erase(config: Settings, user_ids: list[str], external_ids: list[str], reason: str) -> dict:
    """Erase the people, resuming a request with the same ids cut short before; returns the log entry."""
    started = time.monotonic()
    privacy = config.privacy_dir
    try:
        salt = load_salt(privacy, create=True)
    except SaltMissingError as exc:
        raise CliError(str(exc)) from None
    this_request = request_id(salt, user_ids, external_ids)
    request = ErasureRequest.resume(privacy, this_request)
    for other in sorted((privacy / PENDING).glob("*.json")):
        if other.stem != this_request:
            progress(f"warning: erasure {other.stem} was cut short; run its command again to complete it")
    if request is None:
        subjects, unmatched = resolve_people(config.lake_dir, user_ids, external_ids)
        request = ErasureRequest(
            this_request,
            reason,
            now(),
            sorted(set(user_ids)),
            sorted(set(external_ids)),
            sorted(subjects.user_ids),
            sorted(subjects.external_ids),
            unmatched,
        )
        request.save(privacy)
    else:
        progress(
            f"resuming {request.request_id} (done before: {', '.join(request.places_done) or 'nothing'})"
        )
    subjects = Subjects(frozenset(request.user_ids), frozenset(request.external_ids))
    for value in request.matched_nobody:
        progress(f"{value!r} matches nobody in the lake (its hash is suppressed all the same)")
    hashes = _hashes(salt, request)
    for place, sweep in _places(config, subjects, hashes, request.request_id):
        if place in request.places_done:
            continue
        progress(f"erasing from {place} ...")
        removed = sweep()
        request.done(privacy, place, removed)
        progress(f"  {place}: {removed} removed")
    entry = request.complete(
        privacy, hashes, [id_hash(salt, "id", value) for value in request.matched_nobody]
    )
    entry["seconds"] = round(time.monotonic() - started, 1)
    return entry


def _hashes(salt: bytes, request: ErasureRequest) -> list[dict[str, str]]:
    pairs = [("user_id", u) for u in request.user_ids] + [("external_id", x) for x in request.external_ids]
    return [{"kind": kind, "hash": id_hash(salt, kind, value)} for kind, value in pairs]


def _places(
    config: Settings, subjects: Subjects, hashes: list[dict[str, str]], request: str
) -> list[tuple[str, Callable[[], int]]]:
    return [
        (
            "suppression list",
            lambda: add_to_list(config.privacy_dir, [(h["kind"], h["hash"]) for h in hashes], request),
        ),
        ("landing", lambda: _erase_from_landing(config, subjects)),
        ("lake", lambda: sum(erase_from_lake(config.lake_dir, subjects).values())),
        ("warehouse", lambda: _rebuild(config, subjects)),
        ("serving", lambda: _erase_from_snapshots(config.serving_dir, subjects)),
        ("exports", lambda: _erase_from_exports(config.export_dir, subjects)),
        ("spark", lambda: _erase_from_parquet_tree(config.spark_warehouse, subjects)),
        ("dagster", lambda: _erase_from_dagster(config, subjects)),
        ("superset", lambda: _erase_from_superset(config.bi_dir / "superset", subjects)),
    ]


def _erase_from_landing(config: Settings, subjects: Subjects) -> int:
    sweep = erase_from_landing(config.landing_dir, subjects, config.source)
    progress(f"  {len(sweep.files_rewritten)} landing files rewritten")
    for entry in sweep.unreadable:
        progress(f"  warning: cannot read {escape_controls(entry)}: not changed, look at it by hand")
    for name in sweep.unreadable_mentions:
        # optout never reads them, so cannot tell records apart in them: a person decides
        progress(
            f"  warning: {escape_controls(name)} (a file optout does not read) mentions one of the ids: "
            "remove it by hand"
        )
    return sweep.records_removed


def _rebuild(config: Settings, subjects: Subjects) -> int:
    """A full-refresh run over the lake's export days (what a run needs, through Dagster's queue)."""
    from orchestration.commands.run import run_command
    from orchestration.ingest_assets import KEEP_INGESTION_TIMES_TAG

    first, last = lake.export_day_span(config.lake_dir, list(TABLE_NAMES))
    if first is None:
        return 0
    if config.retention_days is not None and (kept_from := _first_staged_day(config)) and kept_from < first:
        progress(
            f"  note: the warehouse holds events of export days from {kept_from} on, which the retention "
            f"(OPTOUT_RETENTION_DAYS={config.retention_days}) removed from the lake; the full-refresh "
            f"rebuild covers the lake's days from {first} on, so those older rows go, for everyone "
            "(as with `optout run --full-refresh`, docs/privacy.md#what-the-warehouse-keeps)"
        )
    before = rows_naming(config.warehouse, subjects)
    run_command(
        argparse.Namespace(
            start=first,
            end=last,
            full_refresh=True,
            undelivered_as_zero=False,
            wait=None,
            tags={KEEP_INGESTION_TIMES_TAG: "true"},
        )
    )
    # what no rebuild replaces: the build log's text (a failed build's error may quote an id)
    before += redact_duckdb_audit_text(config.warehouse, subjects)
    freed = compact_duckdb(config.warehouse)
    progress(f"  warehouse rewritten into a fresh file ({freed / 1e6:.1f} MB of old blocks dropped)")
    left = rows_naming(config.warehouse, subjects)
    if left:  # a model that keeps rows a full refresh does not rebuild: a bug to fix, never to hide
        raise CliError(f"the warehouse still holds {left} rows of them after a full refresh")
    return before


def _first_staged_day(config: Settings) -> dt.date | None:
    """The first export day of the warehouse's staged messages (DuckDB; None when there are none)."""
    if config.dbt_target != "duckdb" or not config.warehouse.exists():
        return None
    try:
        with duckdb.connect(str(config.warehouse), read_only=True) as connection:
            return connection.execute("select min(export_date) from staging.stg_lake__messages").fetchone()[0]
    except duckdb.Error:  # no build yet
        return None


def _erase_from_snapshots(serving_dir: Path, subjects: Subjects) -> int:
    removed = 0
    for snapshot in sorted((serving_dir / SNAPSHOTS).glob("[!.]*")):
        removed += _erase_from_parquet_tree(snapshot, subjects)
        for database in snapshot.glob("*.duckdb"):
            removed += erase_from_duckdb_file(database, subjects, STORAGE_VERSION)
    return removed


def _erase_from_exports(export_dir: Path, subjects: Subjects) -> int:
    from assets.exports.existing_files import erase_from_export_files

    removed = erase_from_export_files(export_dir, subjects)
    return removed + _redact_text_tree(export_dir, subjects, skip=("opted_out_users",))


def _erase_from_parquet_tree(root: Path, subjects: Subjects) -> int:
    if not root.is_dir():
        return 0
    return sum(
        erase_from_parquet(path, subjects) for path in sorted(root.rglob("*.parquet")) if path.is_file()
    )


def _files_under(root: Path, skip: tuple[str, ...]) -> list[Path]:
    """Every file under `root`, less those inside a folder (or named) as in `skip`."""
    return [
        path
        for path in sorted(root.rglob("*"))
        if path.is_file() and not set(path.relative_to(root).parts) & set(skip)
    ]


def _is_text_file(path: Path) -> bool:
    return path.name.endswith(TEXT_SUFFIXES) or ROTATED_LOG.search(path.name) is not None


def _redact_text_tree(root: Path, subjects: Subjects, skip: tuple[str, ...] = ()) -> int:
    if not root.is_dir():
        return 0
    pattern = subjects.text_pattern()
    return sum(
        redact_text_file(path, subjects, pattern) for path in _files_under(root, skip) if _is_text_file(path)
    )


def _erase_from_sqlite_tree(root: Path, subjects: Subjects, skip: tuple[str, ...] = ()) -> int:
    if not root.is_dir():
        return 0
    return sum(
        redact_sqlite(path, subjects)
        for path in _files_under(root, skip)
        if path.name.endswith(".db") and _is_sqlite(path)
    )


def _erase_from_superset(home: Path, subjects: Subjects) -> int:
    """Superset's database (saved queries, chart parameters) and its log; never its own venv."""
    skip = ("venv",)
    return _erase_from_sqlite_tree(home, subjects, skip) + _redact_text_tree(home, subjects, skip)


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def _erase_from_dagster(config: Settings, subjects: Subjects) -> int:
    """Dagster's runs, event log and schedule storage, its compute logs, optout's and dbt's logs."""
    from orchestration.instance import ensure_home

    home = ensure_home()
    changed = _erase_from_sqlite_tree(home, subjects) + _redact_text_tree(home, subjects)
    if config.dagster_postgres_url is not None:
        from orchestration.postgres_storage import redact_postgres

        changed += redact_postgres(config.dagster_postgres_url.get_secret_value(), subjects)
    dbt_project = REPO_ROOT / "dbt_project"
    for folder in (dbt_project / "logs", dbt_project / "target"):
        changed += _redact_text_tree(folder, subjects)
    return changed
