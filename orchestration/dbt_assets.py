"""Every dbt model as a Dagster asset, partitioned like ingestion; dbt tests as asset checks."""

import contextlib
import json
from collections.abc import Mapping
from typing import Any

import duckdb
from dagster import AssetExecutionContext, AssetKey, BackfillPolicy
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from assets import marts_builds
from assets.config import Settings
from assets.contract import TABLE_NAMES
from assets.ingest import lake
from assets.ingest.assets import partition_days
from orchestration.dbt_project import dbt_executable, optout_dbt, prepare_dbt_environment
from orchestration.dbt_vars import dbt_vars_for_days
from orchestration.partitions import export_days
from orchestration.warehouse_metadata import with_table_metadata

GROUPS = {"staging": "dbt_staging", "intermediate": "dbt_intermediate", "audit": "audit", "marts": "marts"}


class OptoutTranslator(DagsterDbtTranslator):
    """Keys by warehouse schema (`marts/fct_opt_outs`), groups by dbt folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props["config"].get("schema") or "main"
        return AssetKey([schema, dbt_resource_props.get("alias") or dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folder = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else "marts"
        return GROUPS.get(folder, "marts")

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return ["team:data-engineering"]


translator = OptoutTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=optout_dbt.manifest_path,
    project=optout_dbt,
    partitions_def=export_days,
    backfill_policy=BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
)
def optout_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    days = partition_days(context)
    dbt_vars = dbt_vars_for_days(days[0], days[-1])
    prepare_dbt_environment()
    settings = Settings.from_env()
    # a build that rewrites marts makes them untrusted until its checks pass (marts_builds.py)
    records_build = any(key.path[0] == "marts" for key in context.selected_asset_keys)
    if records_build:
        marts_builds.start_build(settings.warehouse, context.run_id)
    context.log.info(f"dbt build for export days {days[0]} .. {days[-1]} with vars {dbt_vars}")
    try:
        events = list(dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream())
    except Exception as exc:
        if records_build:
            # the row may stay `building` (warehouse held by another program): refused all the same
            with contextlib.suppress(duckdb.Error):
                marts_builds.mark_failed(settings.warehouse, context.run_id, f"dbt build failed: {exc}")
        raise
    if records_build:
        first_day, last_day = lake_export_days(settings.lake_dir)
        marts_builds.finish_build(settings.warehouse, context.run_id, first_day, last_day)
    yield from with_table_metadata(events, settings.warehouse)


def lake_export_days(lake_dir) -> tuple:
    """The first and last export day in the lake: what a build of the marts just read."""
    days = [day for table in TABLE_NAMES for day in lake.ingested_days(lake_dir, table)]
    return (min(days), max(days)) if days else (None, None)


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=optout_dbt, dbt_executable=dbt_executable())
