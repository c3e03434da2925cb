"""Dagster asset: the serving copy BI tools read, published after the marts passed their checks."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from assets.serving.copy import STORAGE_VERSION, publish_serving_copy
from assets.serving.layout import DATABASE_FILE
from orchestration.resources import OptoutPaths

SERVING_KEY = AssetKey(["serving", "snapshot"])
# the reporting views are served as tables, one set of rows per period (assets/serving/copy.py)
SERVED_SCHEMAS = ("marts", "audit", "reporting")


def build_serving_asset(partitions: PartitionsDefinition, dbt_models: AssetsDefinition) -> AssetsDefinition:
    # every mart, audit table and reporting view dbt builds: the copy waits for all of them (and their checks)
    served_tables = sorted(key for key in dbt_models.keys if key.path[0] in SERVED_SCHEMAS)

    @asset(
        key=SERVING_KEY,
        deps=served_tables,
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        group_name="serving",
        kinds={"duckdb", "parquet"},
        owners=["team:data"],
        description=(
            "A read-only copy of the `marts` and `audit` schemas for BI tools, and of the `reporting` "
            "views as tables per period (last_week, last_month, last_year), in "
            f"$OPTOUT_SERVING_DIR: `{DATABASE_FILE}` in DuckDB {STORAGE_VERSION[1:]}'s storage format "
            "(older DuckDB drivers open it) and `<schema>/<table>.parquet`, with `serving.snapshot` "
            "saying which run and export days it holds. Swapped in whole, so dashboards never block "
            "a run and never see half of one; a failed run leaves the last good copy."
        ),
    )
    def serving_snapshot(context: AssetExecutionContext, paths: OptoutPaths) -> MaterializeResult:
        snapshot = publish_serving_copy(paths.warehouse_path, paths.serving, context.run.run_id)
        context.log.info(
            f"serving copy {snapshot.snapshot_id} published in {paths.serving} "
            f"(export days {snapshot.first_export_date} .. {snapshot.last_export_date})"
        )
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(paths.serving / DATABASE_FILE)),
                "parquet": MetadataValue.path(str(paths.serving)),
                "snapshot_id": snapshot.snapshot_id,
                "first_export_date": snapshot.first_export_date.isoformat(),
                "last_export_date": snapshot.last_export_date.isoformat(),
                "tables": MetadataValue.md(
                    "| table | rows |\n|---|---|\n"
                    + "\n".join(f"| {name} | {rows} |" for name, rows in snapshot.table_rows.items())
                ),
            }
        )

    return serving_snapshot
