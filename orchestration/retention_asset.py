"""The asset `lake/retention`: the first step of every run removes the export days older
than OPTOUT_RETENTION_DAYS from the landing area and the lake (assets/ingest/retention.py)."""

import datetime as dt
from collections.abc import Mapping

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DagsterInstance,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.contract import TABLE_NAMES
from assets.ingest.retention import SETTING, RetentionError, apply_retention, past_retention, today_utc
from assets.sources.layouts import layout_for
from orchestration.ingest_assets import RETENTION_KEY, before_writing
from orchestration.resources import OptoutPaths

NOTHING_REMOVED = "nothing removed"


def run_days(tags: Mapping[str, str]) -> list[dt.date]:
    """The export days of a run, from its partition tags (one day, or a single-run range)."""
    if "dagster/partition" in tags:
        return [dt.date.fromisoformat(tags["dagster/partition"])]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if not (start and end):
        return []
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def build_retention_asset() -> AssetsDefinition:
    @asset(
        key=RETENTION_KEY,
        group_name="ingest",
        kinds={"python"},
        owners=["team:data-engineering"],
        description=(
            f"Removes the export days older than {SETTING} (day D goes when D < today in UTC - N days) "
            "from the landing area and the lake (data, quarantine, ingestion log), each day folder "
            "atomically; runs first in every run, and refuses a run over days it removes. Unset: keeps "
            "everything. The warehouse keeps what was built from those days (docs/privacy.md#retention)."
        ),
    )
    def retention(context: AssetExecutionContext, paths: OptoutPaths) -> MaterializeResult:
        days = paths.settings.retention_days
        if days is None:
            context.log.info(f"{SETTING} is not set: every export day is kept")
            return MaterializeResult(metadata={"retention_days": "unset (every export day is kept)"})
        today = today_utc()
        # a run over days the retention removes would ingest nothing and rebuild the marts
        # without them: refused before anything changes
        refused = past_retention(run_days(context.run.tags), days, today)
        if refused:
            raise Failure(
                description=f"{RETENTION_KEY.to_user_string()}: {NOTHING_REMOVED}, run refused: {refused}"
            )
        before_writing(context, paths, RETENTION_KEY.to_user_string(), NOTHING_REMOVED)
        try:
            vendor = None if paths.settings.source == "optout" else layout_for(paths.settings.source)
            removal = apply_retention(paths.landing, paths.lake, TABLE_NAMES, days, today, vendor)
        except RetentionError as exc:
            raise Failure(description=f"{RETENTION_KEY.to_user_string()}: {exc}") from None
        for table_removal in removal.tables.values():
            context.log.info(table_removal.line())
        if removal.leftovers:
            context.log.info(
                f"retention: deleted {removal.leftovers} folders an interrupted removal had hidden"
            )
        for skipped in removal.skipped:
            context.log.warning(f"retention: {skipped}")
        context.log.info(removal.summary())
        metadata = removal.as_metadata()
        return MaterializeResult(
            metadata={
                **metadata,
                "tables": MetadataValue.json(metadata["tables"]),
                "skipped": MetadataValue.json(metadata["skipped"]),
            }
        )

    return retention


def retention_summary(instance: DagsterInstance, run_id: str) -> str | None:
    """The line `lake/retention` wrote in run `run_id` (None: no retention set, or not in the run)."""
    event = instance.get_latest_materialization_event(RETENTION_KEY)
    if event is None or event.run_id != run_id or event.asset_materialization is None:
        return None
    summary = event.asset_materialization.metadata.get("summary")
    return str(summary.value) if summary is not None else None
