"""The dbt build on the `spark` target: the tables on Spark, the views DuckDB's readers see.

Everything that reads the marts (exports, report, alerts, quality suites, serving copy, the
UI's row counts) reads the DuckDB warehouse file whichever engine built them. So a Spark
build runs in three steps, reported to Dagster as one build:

1. dbt builds every table and incremental model on Spark (Parquet under
   OPTOUT_SPARK_WAREHOUSE), with the views they read; the reporting views are left out, as
   they serve DuckDB's readers only;
2. each Spark table becomes a DuckDB view over its Parquet (assets/spark_tables.py);
3. dbt builds the project's view models on the DuckDB target, over those: the lake views
   (audit.quarantine, ...), the intermediate views and the reporting views, with their tests.

A view built on both engines is one asset: Dagster hears of it once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetExecutionContext,
    AssetMaterialization,
    Output,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource

from assets import spark_tables
from assets.config import Settings
from orchestration.dbt_project import forget_run_results


def spark_relations(manifest: dict[str, Any]) -> list[spark_tables.SparkRelation]:
    """The models and seeds Spark stores as tables, with their documented column order."""
    return [
        spark_tables.SparkRelation(
            schema=node["schema"],
            name=node.get("alias") or node["name"],
            documented_columns=tuple(node.get("columns", {})),
        )
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
        and node["config"].get("materialized") in ("table", "incremental", "seed")
    ]


def duckdb_view_models(
    manifest: dict[str, Any], context: AssetExecutionContext, translator: DagsterDbtTranslator
) -> list[str]:
    """The view models of this run's selection: DuckDB builds them after the Spark tables."""
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"].get("materialized") == "view"
        and translator.get_asset_key(node) in context.selected_asset_keys
    )


def publish_spark_tables(settings: Settings, manifest: dict[str, Any]) -> list[str]:
    """Every table the Spark warehouse recorded, as a DuckDB view; `schema.table` of each."""
    recorded = spark_tables.recorded_columns(settings.spark_warehouse)
    relations = [r for r in spark_relations(manifest) if r.qualified in recorded]
    return spark_tables.publish(settings.warehouse, settings.spark_warehouse, relations)


def _event_key(event: Any) -> tuple | None:
    if isinstance(event, Output):
        return ("output", event.output_name)
    if isinstance(event, AssetCheckResult):
        return ("check", event.asset_key, event.check_name)
    return None


def _as_asset_event(event: Any, context: AssetExecutionContext) -> Any:
    """dagster-dbt's events of an invocation run without the asset context, as the asset's own."""
    if isinstance(event, AssetMaterialization):
        if event.asset_key not in context.selected_asset_keys:
            return None
        output_name = context.assets_def.get_output_name_for_asset_key(event.asset_key)
        return Output(None, output_name=output_name, metadata=event.metadata)
    if isinstance(event, AssetCheckEvaluation):
        if event.asset_check_key not in context.selected_asset_check_keys:
            return None
        return AssetCheckResult(
            asset_key=event.asset_key,
            check_name=event.check_name,
            passed=event.passed,
            severity=event.severity,
            metadata=event.metadata,
            description=event.description,
        )
    return event


def spark_build(
    context: AssetExecutionContext,
    settings: Settings,
    spark_dbt: DbtCliResource,
    duckdb_dbt: DbtCliResource,
    build_args: list[str],
    translator: DagsterDbtTranslator,
    manifest_path: Path,
    run_targets: dict[str, Path],
    invocations: list[DbtCliInvocation],
    published: list[str],
) -> Iterator[Any]:
    """The three steps; `invocations` receives each dbt invocation (for its run results),
    `published` the Spark tables shown to DuckDB (for row counts)."""
    manifest = json.loads(manifest_path.read_text())
    seen: set[tuple] = set()
    command, *options = build_args
    for target in run_targets.values():
        forget_run_results(target)
    spark_step = spark_dbt.cli(
        [*build_args, "--exclude", "reporting"], context=context, target_path=run_targets["spark"]
    )
    invocations.append(spark_step)
    for event in spark_step.stream():
        seen.add(_event_key(event))
        yield event
    published.extend(publish_spark_tables(settings, manifest))
    views = duckdb_view_models(manifest, context, translator)
    if not views:
        return
    # no asset context: it would widen the selection to the whole run's (dagster-dbt unions
    # a --select with it); the events are mapped back to the asset's outputs instead
    duckdb_step = duckdb_dbt.cli(
        [command, "--select", " ".join(views), "--indirect-selection", "cautious", *options],
        manifest=manifest_path,
        dagster_dbt_translator=translator,
        target_path=run_targets["duckdb"],
    )
    invocations.append(duckdb_step)
    for raw in duckdb_step.stream():
        event = _as_asset_event(raw, context)
        key = _event_key(event)
        if event is None or (key is not None and key in seen):
            continue
        seen.add(key)
        yield event
