"""Remove a person's rows or mentions from the stores the pipeline writes after the landing area.

- the lake: each day's data and quarantine without their records (the day swapped in whole,
  its ingestion log counting what is left);
- Parquet files (the serving snapshots, the export files): rows whose id columns or raw
  record name them;
- DuckDB files (the serving snapshots): a filtered copy swapped in for the file;
- SQLite databases (Dagster's storage, Superset's state): every text value mentioning them
  gets `[erased]` in place of the id, then VACUUM so no freed page keeps the old text;
- text files (logs, reports, alerts): the same redaction.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import duckdb
import polars as pl

from assets.atomic_files import replace_all, temp_name, write_temp_beside
from assets.contract import TABLE_NAMES
from assets.ingest import lake
from assets.privacy.matching import Subjects, redact

ID_COLUMNS = ("user_id", "external_id")
RAW_COLUMN = "raw_record"


def frame_mask(frame: pl.DataFrame, subjects: Subjects) -> pl.Series:
    """Per row: does it belong to one of the people (by id column, or by a raw record naming them)?"""
    mask = pl.Series([False] * frame.height, dtype=pl.Boolean)
    for column in ID_COLUMNS:
        if column in frame.columns:
            wanted = subjects.external_ids if column == "external_id" else subjects.user_ids
            mask = mask | frame[column].cast(pl.String).is_in(list(wanted)).fill_null(False)
    if RAW_COLUMN in frame.columns:
        raw = frame[RAW_COLUMN].cast(pl.String).to_list()
        mask = mask | pl.Series([subjects.mentioned_in_record(value) for value in raw], dtype=pl.Boolean)
    return mask


def erase_from_lake(lake_dir: Path, subjects: Subjects) -> dict[str, int]:
    """Rows removed per table (data and quarantine); each touched day is replaced atomically."""
    removed: dict[str, int] = {}
    for table in TABLE_NAMES:
        # a day whose swap a killed run cut short is put back first, or its old copy (which may
        # hold their rows) would come back at the next ingestion, after this sweep
        lake.clean_leftovers(lake_dir, table)
        for day in lake.ingested_days(lake_dir, table):
            folder = lake.day_dir(lake_dir, table, day)
            data = pl.read_parquet(folder / lake.DATA_FILE)
            quarantine = pl.read_parquet(folder / lake.QUARANTINE_FILE)
            data_mask, quarantine_mask = frame_mask(data, subjects), frame_mask(quarantine, subjects)
            gone_data, gone_quarantine = int(data_mask.sum()), int(quarantine_mask.sum())
            if not gone_data and not gone_quarantine:
                continue
            log = pl.read_parquet(folder / lake.LOG_FILE).with_columns(
                pl.col("records_read") - (gone_data + gone_quarantine),
                pl.col("records_loaded") - gone_data,
                pl.col("records_quarantined") - gone_quarantine,
            )
            files = {
                lake.DATA_FILE: data.filter(~data_mask),
                lake.QUARANTINE_FILE: quarantine.filter(~quarantine_mask),
                lake.LOG_FILE: log,
            }
            if (folder / lake.SOURCE_FILES_FILE).exists():
                # counts only (a vendor's files): kept; the erasure's rebuild counts them again
                files[lake.SOURCE_FILES_FILE] = pl.read_parquet(folder / lake.SOURCE_FILES_FILE)
            lake.replace_day(lake_dir, table, day, files)
            removed[table] = removed.get(table, 0) + gone_data + gone_quarantine
    return removed


def erase_from_parquet(path: Path, subjects: Subjects) -> int:
    frame = pl.read_parquet(path)
    mask = frame_mask(frame, subjects)
    removed = int(mask.sum())
    if removed:
        temp = temp_name(path)
        frame.filter(~mask).write_parquet(temp)
        _swap(temp, path)
        # Hadoop's checksum of the old bytes (Spark's tables): Spark would refuse the new file
        path.with_name(f".{path.name}.crc").unlink(missing_ok=True)
    return removed


def erase_from_duckdb_file(path: Path, subjects: Subjects, storage_version: str | None = None) -> int:
    """Rows removed from every table of a DuckDB file; the file is replaced by a filtered copy.

    A copy, not DELETE in place: DuckDB keeps deleted rows' bytes in free blocks, and a
    reader may hold the old file open (it keeps reading the old inode, never a mix).
    """
    source = duckdb.connect(str(path), read_only=True)
    try:
        tables = source.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        frames = {
            (schema, name): source.sql(f'select * from "{schema}"."{name}"').pl() for schema, name in tables
        }
    finally:
        source.close()
    removed, kept = 0, {}
    for (schema, name), frame in frames.items():
        mask = frame_mask(frame, subjects)
        removed += int(mask.sum())
        kept[schema, name] = frame.filter(~mask)
        if schema == AUDIT_SCHEMA:
            kept[schema, name], redacted = _redact_frame_text(kept[schema, name], subjects)
            removed += redacted
    if not removed:
        return 0
    temp = temp_name(path)
    target = duckdb.connect()
    try:
        storage = f" (storage_version '{storage_version}')" if storage_version else ""
        target.execute(f"attach '{_sql_text(temp)}' as copy{storage}")
        for schema in sorted({schema for schema, _ in kept}):
            target.execute(f'create schema if not exists copy."{schema}"')
        for (schema, name), frame in kept.items():
            target.register("rows_kept", frame)
            target.execute(f'create table copy."{schema}"."{name}" as select * from rows_kept')
            target.unregister("rows_kept")
        target.execute("detach copy")
    finally:
        target.close()
    _swap(temp, path)
    return removed


# The schema of the tables a run writes itself (the build log's error text, for one), which no
# rebuild replaces: their free text is redacted like a log's.
AUDIT_SCHEMA = "audit"


def _redact_frame_text(frame: pl.DataFrame, subjects: Subjects) -> tuple[pl.DataFrame, int]:
    """Ids in the frame's free-text columns (not the id columns) replaced by `[erased]`."""
    pattern, forms, changed = subjects.text_pattern(), subjects.text_forms(), 0
    for column, dtype in frame.schema.items():
        if dtype != pl.String or column in (*ID_COLUMNS, RAW_COLUMN):
            continue
        values = frame[column].to_list()
        for index, value in enumerate(values):
            if value is not None and any(form in value for form in forms):
                values[index], count = redact(value, pattern)
                changed += bool(count)
        frame = frame.with_columns(pl.Series(column, values, dtype=pl.String))
    return frame, changed


def redact_duckdb_audit_text(path: Path, subjects: Subjects) -> int:
    """Ids in the free text of a DuckDB file's audit tables replaced by `[erased]`; returns the values changed."""
    if not path.exists():
        return 0
    pattern, forms, changed = subjects.text_pattern(), subjects.text_forms(), 0
    connection = duckdb.connect(str(path))
    try:
        columns = connection.execute(
            "select c.table_name, c.column_name from information_schema.columns c "
            "join information_schema.tables t using (table_schema, table_name) "
            "where c.table_schema = ? and t.table_type = 'BASE TABLE' and c.data_type = 'VARCHAR'",
            [AUDIT_SCHEMA],
        ).fetchall()
        for table, column in columns:
            if column in (*ID_COLUMNS, RAW_COLUMN):
                continue
            relation = f'"{AUDIT_SCHEMA}"."{table}"'
            condition = " or ".join(f'contains("{column}", ?)' for _ in forms)
            rows = connection.execute(
                f'select rowid, "{column}" from {relation} where {condition}', forms
            ).fetchall()
            for rowid, value in rows:
                new, count = redact(value, pattern)
                if count:
                    connection.execute(f'update {relation} set "{column}" = ? where rowid = ?', [new, rowid])
                    changed += 1
    finally:
        connection.close()
    return changed


def redact_sqlite(path: Path, subjects: Subjects) -> int:
    """Ids in every text value of an SQLite database replaced by `[erased]`; returns the values changed."""
    pattern = subjects.text_pattern()
    needles = subjects.text_forms()  # as stored: Dagster's JSON escapes quotes and non-ASCII
    changed = 0
    connection = sqlite3.connect(path, timeout=60)
    try:
        tables = [row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            columns = [row[1] for row in connection.execute(f'pragma table_info("{table}")')]
            for column in columns:
                condition = " or ".join(f'instr(cast("{column}" as text), ?) > 0' for _ in needles)
                rows = connection.execute(
                    f'select rowid, "{column}" from "{table}" where {condition}', needles
                ).fetchall()
                for rowid, value in rows:
                    text = (
                        value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)
                    )
                    new, count = redact(text, pattern)
                    if count:
                        stored = new.encode("utf-8", "surrogateescape") if isinstance(value, bytes) else new
                        connection.execute(
                            f'update "{table}" set "{column}" = ? where rowid = ?', (stored, rowid)
                        )
                        changed += 1
        connection.commit()
        if changed:
            connection.execute("vacuum")
    finally:
        connection.close()
    return changed


def redact_text_file(path: Path, subjects: Subjects, pattern: re.Pattern[str] | None = None) -> int:
    """Ids in a text file replaced by `[erased]` (the file swapped in whole); returns how many."""
    data = path.read_bytes()
    if not any(form.encode() in data for form in subjects.text_forms()):
        return 0
    text = data.decode("utf-8", errors="surrogateescape")
    new, count = redact(text, pattern or subjects.text_pattern())
    if count:
        _swap(write_temp_beside(path, new.encode("utf-8", errors="surrogateescape")), path)
    return count


def _swap(temp: Path, path: Path) -> None:
    status = path.stat()
    os.chmod(temp, status.st_mode & 0o7777)
    replace_all([(temp, path)])


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def compact_duckdb(path: Path, wait_seconds: float = 600.0) -> int:
    """Rewrite a DuckDB file into a fresh one (COPY FROM DATABASE) and swap it in; returns bytes freed.

    Deleted or replaced rows leave their bytes in the file's free blocks until DuckDB
    happens to reuse them; a fresh copy holds only what the tables and views hold now. The
    file stays open for writing throughout, so no run can change it between copy and swap.
    """
    from assets.warehouse_holder import check_warehouse_writable

    if not path.exists():
        return 0
    check_warehouse_writable(path, wait_seconds)
    before = path.stat().st_size
    temp = temp_name(path)
    connection = duckdb.connect(str(path))
    try:
        connection.execute("checkpoint")
        catalog = connection.execute("select current_database()").fetchone()[0]
        connection.execute(f"attach '{_sql_text(temp)}' as compacted")
        connection.execute(f'copy from database "{catalog}" to compacted')
        connection.execute("detach compacted")
        _swap(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        connection.close()
    return max(0, before - path.stat().st_size)


def rows_naming(path: Path, subjects: Subjects) -> int:
    """Rows of a DuckDB file's tables that belong to the people (read-only)."""
    if not path.exists():
        return 0
    connection = duckdb.connect(str(path), read_only=True)
    try:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        return sum(
            int(frame_mask(connection.sql(f'select * from "{schema}"."{name}"').pl(), subjects).sum())
            for schema, name in tables
        )
    finally:
        connection.close()
