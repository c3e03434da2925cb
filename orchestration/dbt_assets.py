"""Every dbt model as a Dagster asset, partitioned like ingestion; dbt tests as asset checks."""

import contextlib
import importlib.metadata
import json
import os
import time
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
from dagster import AssetExecutionContext, AssetKey, BackfillPolicy, Config, Failure, Output
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from packaging.version import Version

from assets import marts_builds, spark_tables
from assets.config import Settings
from assets.contract import TABLE_NAMES
from assets.ingest import lake
from orchestration import console
from orchestration.dbt_project import DBT_TARGET, dbt_executable, optout_dbt, prepare_dbt_environment
from orchestration.dbt_vars import dbt_vars_for_days
from orchestration.partitions import export_days, partition_days
from orchestration.spark_build import spark_build
from orchestration.warehouse_metadata import with_table_metadata

GROUPS = {
    "staging": "dbt_staging",
    "intermediate": "dbt_intermediate",
    "audit": "audit",
    "marts": "marts",
    "reporting": "reporting",
}


class OptoutTranslator(DagsterDbtTranslator):
    """Keys by warehouse schema (`marts/fct_opt_outs`), groups by dbt folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props["config"].get("schema") or "main"
        return AssetKey([schema, dbt_resource_props.get("alias") or dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        folder = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else "marts"
        return GROUPS.get(folder, "marts")

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return ["team:data-engineering"]


# unit tests check the SQL's logic, which only a code change can break: the test suite runs
# them (tests/test_dbt_unit_tests.py), not every daily build
BUILD_ARGS = ["--exclude", "resource_type:unit_test"]
START_DATE_VARIABLE = "OPTOUT_DBT_START_DATE"
# one target folder per engine for the pipeline's builds (runs never overlap: the run lock),
# apart from the manifests the definitions load; dagster-dbt would make a new one per run
# otherwise, each a copy of the project's artifacts, and parse the project again in each.
# On Spark the DuckDB side builds the views in its own (spark_build.py)
RUN_TARGETS = {
    "duckdb": optout_dbt.project_dir / "target" / "duckdb-runs",
    "spark": optout_dbt.project_dir / "target" / "spark-runs",
}
if DBT_TARGET == "spark":
    RUN_TARGETS["duckdb"] = optout_dbt.project_dir / "target" / "spark-runs-duckdb-views"

translator = OptoutTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(Config):
    """The dbt build's options in the run config (the UI launchpad, `optout run --full-refresh`)."""

    full_refresh: bool = False
    """Rebuild every incremental table from the whole lake (dbt --full-refresh), as after a
    change of a model's logic; otherwise only what the run's export days can change."""


@dbt_assets(
    manifest=optout_dbt.manifest_path,
    project=optout_dbt,
    partitions_def=export_days,
    backfill_policy=BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
)
def optout_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    days = partition_days(context)
    prepare_dbt_environment()
    settings = Settings.from_env()
    dbt_vars = {} if config.full_refresh else build_vars(settings, days[0], days[-1])
    build_options = [*BUILD_ARGS, *(["--full-refresh"] if config.full_refresh else [])]
    # a build that rewrites marts makes them untrusted until its checks pass (marts_builds.py);
    # a re-execution of the run continues the same build
    build_id = context.run.root_run_id or context.run_id
    mart_keys = {key for key in context.assets_def.keys if key.path[0] == "marts"}
    selected_marts = mart_keys & context.selected_asset_keys
    if selected_marts:
        marts_builds.start_build(settings.warehouse, build_id)
    context.log.info(
        f"dbt build for export days {days[0]} .. {days[-1]}: "
        + (
            "full refresh"
            if config.full_refresh
            else f"start date {dbt_vars.get('start_date', 'none (all)')}"
        )
    )
    events = []
    published: list[str] = []  # on Spark: its tables, as DuckDB views
    started = time.time()
    try:
        with _build_start_date(dbt_vars.get("start_date")):
            models, built = len(context.selected_asset_keys), 0
            for event in _build_events(context, dbt, build_options, published):
                events.append(event)
                if isinstance(event, Output):
                    built += 1
                    console.progress(context.op_def.name, built, models, "models")
    except Exception as exc:
        problems = [
            problem
            for target in dict.fromkeys(RUN_TARGETS.values())
            for problem in failed_nodes(target / "run_results.json", started)
        ]
        detail = "; ".join(problems) if problems else " ".join(str(exc).split())
        if selected_marts:
            # the row may stay `building` (warehouse held by another program): refused all the same
            with contextlib.suppress(duckdb.Error):
                marts_builds.mark_failed(settings.warehouse, build_id, f"dbt build failed: {detail}")
        yield from events  # what dbt did build before it failed, for the UI
        if problems:
            raise Failure(description=f"dbt build failed: {detail}") from exc
        raise
    if selected_marts == mart_keys:
        first_day, last_day = lake.export_day_span(settings.lake_dir, TABLE_NAMES)
        marts_builds.finish_build(settings.warehouse, build_id, first_day, last_day)
    elif selected_marts:
        marts_builds.mark_failed(
            settings.warehouse,
            build_id,
            f"only {len(selected_marts)} of {len(mart_keys)} marts were rebuilt (a partial selection); "
            "run the whole job to check them together",
        )
    yield from with_table_metadata(
        events, settings.warehouse, context.assets_def.keys_by_output_name, counted_views=published
    )


def _build_events(
    context: AssetExecutionContext, dbt: DbtCliResource, build_options: list[str], published: list[str]
) -> Iterator:
    """dbt build on the chosen target: one invocation on DuckDB, three steps on Spark."""
    if DBT_TARGET != "spark":
        dropped = spark_tables.unpublish(Settings.from_env().warehouse)
        if dropped:
            context.log.info(f"the Spark tables' views make way for DuckDB's tables: {', '.join(dropped)}")
        build = dbt.cli(["build", *build_options], context=context, target_path=RUN_TARGETS["duckdb"])
        yield from build.stream()
        return
    yield from spark_build(
        context,
        spark_dbt=dbt,
        duckdb_dbt=OptoutDbtCli(project_dir=optout_dbt, dbt_executable=dbt_executable(), target="duckdb"),
        build_options=build_options,
        translator=translator,
        manifest_path=optout_dbt.manifest_path,
        run_targets=RUN_TARGETS,
        published=published,
    )


def failed_nodes(run_results: Path, since: float) -> list[str]:
    """`<kind> <name>: <first line of dbt's message>` of each node that failed in this build."""
    if not run_results.exists() or run_results.stat().st_mtime < since:
        return []  # dbt stopped before it wrote them: its own error says why
    results = json.loads(run_results.read_text())["results"]
    return [
        f"{result['unique_id'].split('.')[0]} {result['unique_id'].split('.')[-1]}: "
        + (result.get("message") or result["status"]).strip().splitlines()[0]
        for result in results
        if result["status"] in ("error", "fail")
    ]


@contextlib.contextmanager
def _build_start_date(start_date: str | None) -> Iterator[None]:
    """The build's start date for dbt, in OPTOUT_DBT_START_DATE (macros/incremental_horizon.sql:
    a `--vars` that changes every run would make dbt parse the whole project again)."""
    previous = os.environ.pop(START_DATE_VARIABLE, None)
    if start_date is not None:
        os.environ[START_DATE_VARIABLE] = start_date
    try:
        yield
    finally:
        os.environ.pop(START_DATE_VARIABLE, None)
        if previous is not None:
            os.environ[START_DATE_VARIABLE] = previous


def build_vars(settings: Settings, run_first_day, run_last_day) -> dict[str, str]:
    """The dbt vars of this build: rebuild from the earliest lake day the checked marts lack.

    That is the run's first day, or an earlier day ingested since the last build that
    passed its checks (by a run killed or failed before its build). Without such a build,
    or while an incremental model is missing (dropped by hand, a new model), everything is
    rebuilt: the models trust a start_date to mean every incremental table exists.
    """
    since = marts_builds.last_passed_build_start(settings.warehouse)
    if since is None or missing_incremental_models(settings):
        return {}
    changed = lake.days_ingested_since(settings.lake_dir, TABLE_NAMES, since)
    return dbt_vars_for_days(min([run_first_day, *changed]), run_last_day)


def missing_incremental_models(settings: Settings) -> list[str]:
    """`schema.table` of every incremental dbt model the target's warehouse does not hold."""
    manifest = json.loads(optout_dbt.manifest_path.read_text())
    wanted = {
        (node["schema"], node.get("alias") or node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"
    }
    existing = (
        spark_tables.existing_tables(settings.spark_warehouse, wanted)
        if DBT_TARGET == "spark"
        else duckdb_tables(settings.warehouse)
    )
    return sorted(f"{schema}.{name}" for schema, name in wanted - existing)


def duckdb_tables(warehouse: Path) -> set[tuple[str, str]]:
    """(schema, table) of the warehouse's tables: not views, such as the ones a Spark build
    publishes, which a DuckDB build cannot continue incrementally (it rebuilds them whole)."""
    if not warehouse.exists():
        return set()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
    return {(schema, name) for schema, name in rows}


class OptoutDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource without two start-up costs this project has no use for.

    Before each command dagster-dbt runs `dbt --version` in a subprocess (2 s here) and opens
    a dbt adapter in Dagster's own process (1 s); the adapter only serves its optional
    row-count and column-metadata fetches, which warehouse_metadata.py does instead. The
    version is the installed dbt-core's (the project's own dbt, beside this Python).
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource() -> DbtCliResource:
    return OptoutDbtCli(project_dir=optout_dbt, dbt_executable=dbt_executable())
