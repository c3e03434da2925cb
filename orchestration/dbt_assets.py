"""Every dbt model as a Dagster asset, partitioned like ingestion; dbt tests as asset checks."""

import json
from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, BackfillPolicy
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from assets.config import Settings
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
    context.log.info(f"dbt build for export days {days[0]} .. {days[-1]} with vars {dbt_vars}")
    events = dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()
    yield from with_table_metadata(events, Settings.from_env().warehouse)


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=optout_dbt, dbt_executable=dbt_executable())
