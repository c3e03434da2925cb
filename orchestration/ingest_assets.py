"""Dagster assets: one per raw table, partitioned by export day, writing the Parquet lake."""

import datetime as dt

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    TableColumn,
    TableSchema,
    asset,
)

from assets.contract import TABLE_NAMES, TABLES
from assets.ingest.day import ingest_days
from assets.ingest.delivered import day_spans, undelivered_days
from assets.ingest.lake import clean_leftovers
from assets.ingest.readers import UnreadableFileError
from assets.ingest.retention import past_retention, today_utc
from assets.ingest.validate import typed_schema
from assets.privacy.suppression import SaltMissingError, SuppressionList
from assets.sources.layouts import layout_for
from assets.warehouse_holder import WarehouseBusyError, check_warehouse_writable
from orchestration import console
from orchestration.partitions import partition_days
from orchestration.resources import OptoutPaths
from orchestration.run_queue import SETTINGS_TAG, wait_for_earlier_runs

LAKE_KEY_PREFIX = "lake"
# the step before every ingestion: removes the days older than the retention (retention_asset.py)
RETENTION_KEY = AssetKey([LAKE_KEY_PREFIX, "retention"])
# a run with this tag records the export days no table delivered as days of zero records
# (`optout run --undelivered-as-zero`); without it, it leaves them out (assets/ingest/delivered.py)
UNDELIVERED_TAG = "optout/undelivered"
UNDELIVERED_AS_ZERO = "zero"
# the five ingest steps may probe at the same moment; each probe holds the file for milliseconds
WRITABLE_PROBE_SECONDS = 10.0


# An erasure's rebuild reads the same deliveries again, less the erased people's records: each
# day keeps the time it was first ingested (the consent ledger's provenance), not the rebuild's.
KEEP_INGESTION_TIMES_TAG = "optout/keep_ingestion_times"


def lake_asset_key(table: str) -> AssetKey:
    return AssetKey([LAKE_KEY_PREFIX, table])


def lake_column_schema(table: str) -> TableSchema:
    """The typed lake columns as Dagster shows them (contract columns, then lineage)."""
    return TableSchema(
        columns=[
            TableColumn(name, str(dtype), description=LINEAGE.get(name, ""))
            for name, dtype in typed_schema(TABLES[table]).items()
        ]
    )


LINEAGE = {
    "export_date": "export day whose folder delivered the record",
    "source_file": "landing file the record came from",
    "record_number": "1-based record position in that file",
}


def _ingest_asset(table: str, partitions: PartitionsDefinition) -> AssetsDefinition:
    columns = ", ".join(TABLES[table].column_names)

    @asset(
        key=lake_asset_key(table),
        deps=[RETENTION_KEY],
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        group_name="ingest",
        kinds={"polars", "parquet"},
        owners=["team:data-engineering"],
        description=(
            f"Raw `{table}` exports of each export day, parsed, typed and validated against "
            f"the contract ({columns}). Bad records go to the quarantine with their reason, "
            "duplicate event ids are kept once; the day is replaced whole and atomically."
        ),
        metadata={
            "contract": MetadataValue.md(f"Columns: `{columns}`"),
            "dagster/column_schema": lake_column_schema(table),
        },
    )
    def ingest(context: AssetExecutionContext, paths: OptoutPaths) -> MaterializeResult:
        days = partition_days(context)
        expired = past_retention(days, paths.settings.retention_days, today_utc())
        if expired:  # never brought back into the lake (a selection without lake/retention)
            raise Failure(description=f"{table}: nothing ingested: {expired}")
        before_writing(context, paths, table)
        clean_leftovers(paths.lake, table)
        layout = layout_for(paths.settings.source)
        ignored_folders = layout.unrecognised_folders(paths.landing, table)
        if ignored_folders:
            context.log.warning(ignored_folders_warning(table, ignored_folders))
        # after the wait for earlier runs: what has landed is read when the run's turn comes
        not_delivered = days_left_out(context, paths, table, days)
        days = sorted(set(days) - set(not_delivered))
        totals = {"read": 0, "loaded": 0, "quarantined": 0, "duplicate": 0, "files": 0, "suppressed": 0}
        try:
            suppression = SuppressionList.load(paths.settings.privacy_dir)
        except SaltMissingError as exc:
            raise Failure(description=f"{table}: nothing ingested: {exc}") from None
        unknown: list[str] = []
        skipped: list[str] = []
        failed: list[str] = []
        ignored_by_kind: dict[str, int] = {}
        for index, (day, result) in enumerate(
            ingest_days(
                paths.landing,
                paths.lake,
                table,
                days,
                suppression,
                layout,
                keep_ingestion_times=context.run.tags.get(KEEP_INGESTION_TIMES_TAG) == "true",
            ),
            start=1,
        ):
            if isinstance(result, UnreadableFileError):
                # this day keeps its previous version; the other days of the run go on
                failed.append(f"{day}: {result}")
                context.log.error(f"{table}: day {index}/{len(days)} ({day}) failed: {result}")
                continue
            totals["read"] += result.records_read
            totals["loaded"] += result.records_loaded
            totals["quarantined"] += result.records_quarantined
            totals["duplicate"] += result.records_duplicate
            totals["files"] += result.files_read
            totals["suppressed"] += result.records_suppressed
            for kind, count in result.ignored_by_kind.items():
                ignored_by_kind[kind] = ignored_by_kind.get(kind, 0) + count
            unknown += [f"dt={day}/{name}" for name in result.unknown_files]
            skipped += [f"dt={day}/{entry}" for entry in result.skipped_files]
            console.progress(context.op_def.name, index, len(days), "days")
            context.log.info(
                f"{table}: day {index}/{len(days)} ({day}) read {result.records_read}, "
                f"loaded {result.records_loaded}, quarantined {result.records_quarantined}, "
                f"duplicate {result.records_duplicate}"
            )
        if totals["suppressed"]:
            context.log.info(
                f"{table}: {totals['suppressed']} records of erased people left out (the suppression list, "
                "docs/privacy.md); they are counted nowhere else"
            )
        if ignored_by_kind:
            context.log.info(
                f"{table}: {sum(ignored_by_kind.values())} vendor records the marts do not use, counted as "
                f"ignored in audit.source_files: "
                + ", ".join(f"{kind} {count}" for kind, count in sorted(ignored_by_kind.items()))
            )
        # warned before a failure is raised: what was not read matters most when a day failed
        if unknown:
            context.log.warning(
                f"{table}: {_files(unknown)} not read (unknown extension): {', '.join(unknown)}"
            )
        if skipped:
            context.log.warning(
                f"{table}: {_files(skipped)} skipped (not read, for safety): {', '.join(skipped)}"
            )
        if failed:
            raise Failure(
                description=f"{table}: {len(failed)} of {len(days)} export days could not be read: {'; '.join(failed)}",
                metadata={"failed_days": MetadataValue.json(failed)},
            )
        return MaterializeResult(
            metadata={
                "export_days": len(days),
                "not_delivered": MetadataValue.json([day.isoformat() for day in not_delivered]),
                "files_read": totals["files"],
                "records_read": totals["read"],
                "records_loaded": totals["loaded"],
                "records_quarantined": totals["quarantined"],
                "records_duplicate": totals["duplicate"],
                "records_of_erased_people_left_out": totals["suppressed"],
                "vendor_records_ignored_by_event_type": MetadataValue.json(ignored_by_kind),
                "dagster/row_count": totals["loaded"],
                "unknown_files": MetadataValue.json(unknown),
                "skipped_files": MetadataValue.json(skipped),
                "ignored_folders": MetadataValue.json(ignored_folders),
                "lake_path": MetadataValue.path(str(paths.lake / table)),
            }
        )

    return ingest


def before_writing(
    context: AssetExecutionContext, paths: OptoutPaths, table: str, nothing: str = "nothing ingested"
) -> None:
    """What must hold before a run touches the lake; a Failure in one line otherwise."""
    # a run `optout run` submitted to a daemon's queue runs with the code location's settings
    submitted_for = context.run.tags.get(SETTINGS_TAG)
    if submitted_for and submitted_for != paths.settings.fingerprint():
        raise Failure(
            description=f"{table}: {nothing}: `optout run` was started with other settings than "
            f"the Dagster code location that runs it (OPTOUT_* paths or dbt target); this run would "
            f"write {paths.warehouse_path}: start `optout run` in the service's environment"
        )
    # one run at a time: a run that started beside an earlier one (two processes that
    # looked at the queue at the same moment) waits for it before touching the lake
    wait_for_earlier_runs(context.instance, context.run.run_id, lambda line: _say(context, line))
    # and no program may hold the warehouse the run would then fail to write
    try:
        check_warehouse_writable(paths.warehouse_path, wait_seconds=WRITABLE_PROBE_SECONDS)
    except WarehouseBusyError as exc:
        raise Failure(description=f"{table}: {nothing}: {exc}") from None


def undelivered_tags(as_zero: bool) -> dict[str, str]:
    """The run tag of `optout run --undelivered-as-zero` (none otherwise)."""
    return {UNDELIVERED_TAG: UNDELIVERED_AS_ZERO} if as_zero else {}


def days_left_out(
    context: AssetExecutionContext, paths: OptoutPaths, table: str, days: list[dt.date]
) -> list[dt.date]:
    """The run's days no table delivered, which the run leaves out (none in a run that records them as zero).

    Left out, such a day keeps whatever the lake held for it, and no empty day enters the marts.
    """
    if context.run.tags.get(UNDELIVERED_TAG) == UNDELIVERED_AS_ZERO:
        return []
    left_out = undelivered_days(paths.landing, days)
    if left_out:
        context.log.warning(not_delivered_warning(table, left_out))
    return left_out


def not_delivered_warning(table: str, days: list[dt.date]) -> str:
    # the days first: the terminal shows the first words of a step's warning
    return (
        f"{table}: not delivered, left out: {day_spans(days)} (export days no table has a folder for; "
        "the lake keeps what it held for them; `optout run --undelivered-as-zero` records such days "
        "as days with zero records)"
    )


def _say(context: AssetExecutionContext, line: str) -> None:
    context.log.info(line)
    console.note(line)


def _files(names: list[str]) -> str:
    return "1 file" if len(names) == 1 else f"{len(names)} files"


def ignored_folders_warning(table: str, folders: list[str]) -> str:
    return (
        f"{table}: folders ignored (not an export day folder dt=YYYY-MM-DD with a real date), "
        f"their files are not read: {folders}"
    )


def build_ingest_assets(partitions: PartitionsDefinition) -> list[AssetsDefinition]:
    """One ingest asset per raw table."""
    return [_ingest_asset(table, partitions) for table in TABLE_NAMES]
