"""The Dagster code location: merges the per-concern modules, nothing else.

Built when Dagster loads the code location (`@definitions`), not at import: the settings
are read then, so the dbt target and the first partition are those of the environment the
location loads in.
"""

from dagster import Definitions, definitions

from assets.config import Settings, keep_new_files_private, load_settings
from orchestration.alerts_asset import alert_checks, build_alerts_asset
from orchestration.checks import quality_checks
from orchestration.dbt_assets import build_dbt_assets, dbt_resource
from orchestration.dbt_project import ensure_manifest
from orchestration.export_assets import build_export_assets
from orchestration.freshness import build_freshness_sensor, newest_export_day_fresh
from orchestration.ingest_assets import build_ingest_assets
from orchestration.jobs import build_everything_job
from orchestration.partitions import export_days
from orchestration.progress_logger import progress_logger
from orchestration.report_asset import build_report_asset
from orchestration.resources import OptoutPaths
from orchestration.retention_asset import build_retention_asset
from orchestration.run_alerts import build_run_alert_sensors
from orchestration.schedules import build_daily_schedule, build_landing_sensor, dead_run_sensor
from orchestration.serving_asset import build_serving_asset


def build_definitions(settings: Settings) -> Definitions:
    ensure_manifest(settings.dbt_target)
    first_day = settings.partitions_start
    partitions = export_days(first_day)
    dbt_models = build_dbt_assets(settings, partitions)
    everything = build_everything_job()
    return Definitions(
        assets=[
            build_retention_asset(),
            *build_ingest_assets(partitions),
            dbt_models,
            *build_export_assets(partitions),
            build_report_asset(partitions),
            build_serving_asset(partitions, dbt_models),
            build_alerts_asset(partitions),
        ],
        asset_checks=[*quality_checks, *alert_checks, newest_export_day_fresh],
        jobs=[everything],
        schedules=[build_daily_schedule(everything, settings, first_day)],
        sensors=[
            build_landing_sensor(everything, settings, first_day),
            dead_run_sensor,
            *build_run_alert_sensors(settings),
            build_freshness_sensor(settings),
        ],
        resources={"paths": OptoutPaths(), "dbt": dbt_resource(settings)},
        loggers={"optout_progress": progress_logger},
    )


@definitions
def defs() -> Definitions:
    # the code server and the run workers it starts write the lake, warehouse and exports
    keep_new_files_private()
    return build_definitions(load_settings())
