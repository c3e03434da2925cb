"""Everything the project holds about some people, as one JSON-ready document (GDPR Art. 15).

From the lake: every profile version, consent event, message and app event, each with its
provenance (the landing file `<table>/dt=<export day>/<file>`, the record's line in it, and
when that export day was ingested), and the quarantined records naming them. From the
serving copy (what the last checked run published): their consent history and opt-outs
with the campaigns they are attributed to. From the export folder: each opted-out user
file that lists them, with its row. From the landing area: each of their records as it was
delivered, every field included, with its file.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl

from assets.contract import TABLE_NAMES
from assets.ingest import lake
from assets.privacy.landing import landing_records_of
from assets.privacy.matching import Subjects
from assets.privacy.stores import frame_mask
from assets.serving.layout import DATABASE_FILE

LINEAGE = ("export_date", "source_file", "record_number")
SECTIONS = {
    "users": "profile_versions",
    "subscriptions": "consent_events",
    "messages": "messages_received",
    "app_events": "app_events",
}
# the serving copy's tables, per user: the consent ledger, and the opt-outs with their campaigns
SERVED = {"consent_history": "marts.mart_consent_history", "opt_outs": "marts.fct_opt_outs"}


def subject_document(
    lake_dir: Path,
    serving_dir: Path,
    export_dir: Path,
    subjects: Subjects,
    asked: dict[str, list[str]],
    landing: tuple[Path, str] | None = None,
) -> dict:
    """The document; with `landing` (the landing folder and OPTOUT_SOURCE) their raw records too."""
    ingested = _ingested_at(lake_dir)
    document: dict = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "asked_for": asked,
        "user_ids": sorted(subjects.user_ids),
        "external_ids": sorted(subjects.external_ids),
    }
    for table, section in SECTIONS.items():
        document[section] = _lake_records(lake_dir, table, subjects, ingested)
    document["quarantined_records"] = _quarantined(lake_dir, subjects)
    document |= _served(serving_dir, subjects)
    document["export_files"] = _export_files(export_dir, subjects)
    if landing is not None:
        # as delivered: a vendor's records keep fields the lake never holds (device ids, push
        # tokens, time zones, event types the marts do not use)
        sweep = landing_records_of(landing[0], subjects, landing[1])
        document["landing_records"] = sweep.found
        document["landing_files_not_read"] = sweep.unreadable
    return json.loads(json.dumps(document, default=_jsonable))


def _ingested_at(lake_dir: Path) -> dict[tuple[str, dt.date], dt.datetime]:
    logs = sorted(lake_dir.glob(f"*/dt=*/{lake.LOG_FILE}"))
    if not logs:
        return {}
    frame = pl.scan_parquet(logs, missing_columns="insert", extra_columns="ignore").select(
        "table_name", "export_date", "ingested_at"
    )
    return {(t, d): at for t, d, at in frame.collect().iter_rows()}


def _lake_records(lake_dir: Path, table: str, subjects: Subjects, ingested: dict) -> list[dict]:
    files = sorted((lake_dir / table).glob(f"dt=*/{lake.DATA_FILE}"))
    if not files:
        return []
    frame = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    rows = frame.filter(frame_mask(frame, subjects)).sort("export_date", "source_file", "record_number")
    records = []
    for row in rows.iter_rows(named=True):
        provenance = {
            "landing_file": landing_file(table, row["export_date"], row["source_file"]),
            "export_date": row["export_date"],
            "record_number": row["record_number"],
            "ingested_at": ingested.get((table, row["export_date"])),
        }
        records.append({k: v for k, v in row.items() if k not in LINEAGE} | {"provenance": provenance})
    return records


def landing_file(table: str, export_date, file_name: str) -> str:
    """Where a record's file is in the landing folder: `<table>/dt=<day>/<file>` for the
    contract; a vendor's file is named by its path in the landing folder already."""
    return file_name if "/" in file_name else f"{table}/dt={export_date}/{file_name}"


def _quarantined(lake_dir: Path, subjects: Subjects) -> list[dict]:
    found = []
    for table in TABLE_NAMES:
        files = sorted((lake_dir / table).glob(f"dt=*/{lake.QUARANTINE_FILE}"))
        if not files:
            continue
        frame = pl.concat([pl.read_parquet(f) for f in files])
        for row in frame.filter(frame_mask(frame, subjects)).iter_rows(named=True):
            row["landing_file"] = landing_file(row["table_name"], row["export_date"], row["file_name"])
            found.append(row)
    return found


def _served(serving_dir: Path, subjects: Subjects) -> dict[str, list[dict]]:
    database = serving_dir / DATABASE_FILE
    if not database.exists():
        return {section: [] for section in SERVED}
    connection = duckdb.connect(str(database), read_only=True)
    try:
        served = {}
        existing = {
            f"{schema}.{name}"
            for schema, name in connection.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        for section, table in SERVED.items():
            if table not in existing:
                served[section] = []
                continue
            frame = connection.sql(f"select * from {table}").pl()
            served[section] = frame.filter(frame_mask(frame, subjects)).to_dicts()
        return served
    finally:
        connection.close()


def _export_files(export_dir: Path, subjects: Subjects) -> list[dict]:
    from assets.exports.existing_files import read_export_rows
    from assets.exports.opted_out_users import SUBFOLDER

    listed = []
    for manifest_path in sorted((export_dir / SUBFOLDER).glob("*.manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        rows = read_export_rows(manifest_path)
        for row in rows.filter(frame_mask(rows, subjects)).to_dicts():
            listed.append(
                {
                    "file": f"{SUBFOLDER}/{manifest_path.name.removesuffix('.manifest.json')}.csv",
                    "range": {"start": manifest.get("start"), "end": manifest.get("end")},
                    "generated_at": manifest.get("generated_at"),
                    "row": row,
                }
            )
    return listed


def _jsonable(value):
    if isinstance(value, bytes):  # an Avro or Parquet bytes field
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
