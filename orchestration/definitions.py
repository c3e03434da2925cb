"""The Dagster code location: merges the per-concern modules, nothing else."""

from dagster import Definitions

from assets.config import keep_new_files_private
from orchestration.alerts_asset import alert_checks, early_warnings
from orchestration.checks import quality_checks
from orchestration.dbt_assets import dbt_resource, optout_dbt_models
from orchestration.export_assets import export_assets
from orchestration.ingest_assets import ingest_assets
from orchestration.jobs import everything_job
from orchestration.progress_logger import progress_logger
from orchestration.report_asset import opt_out_report
from orchestration.resources import OptoutPaths
from orchestration.schedules import daily_schedule, dead_run_sensor, landing_sensor
from orchestration.serving_asset import serving_snapshot

# the code server and the run workers it starts write the lake, warehouse and exports
keep_new_files_private()

defs = Definitions(
    assets=[
        *ingest_assets,
        optout_dbt_models,
        *export_assets,
        opt_out_report,
        serving_snapshot,
        early_warnings,
    ],
    asset_checks=[*quality_checks, *alert_checks],
    jobs=[everything_job],
    schedules=[daily_schedule],
    sensors=[landing_sensor, dead_run_sensor],
    resources={"paths": OptoutPaths(), "dbt": dbt_resource()},
    loggers={"optout_progress": progress_logger},
)
