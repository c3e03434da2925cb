"""Every dbt model as a Dagster asset, partitioned like ingestion; dbt tests as asset checks.

`build_dbt_assets(settings, partitions)` builds the definition for the target the settings
name. The asset's body asks `dbt_build_args` (a pure function) what to run and streams
`dbt.cli(...)`; the build's start date reaches dbt as an argument, never through the
environment of the process.
"""

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Config,
    Failure,
    Output,
    PartitionsDefinition,
)
from dagster_dbt import (
    DagsterDbtCliRuntimeError,
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    dbt_assets,
)

from assets import marts_builds, spark_tables
from assets.config import Settings
from assets.contract import TABLE_NAMES
from assets.ingest import lake
from assets.ingest.retention import past_retention, today_utc
from orchestration import console
from orchestration.dbt_project import dbt_executable, dbt_project, forget_run_results
from orchestration.partitions import partition_days
from orchestration.private_apis import QuickStartDbtCli
from orchestration.run_queue import wait_for_earlier_runs
from orchestration.spark_build import spark_build
from orchestration.warehouse_metadata import with_table_metadata

DBT_ASSETS_NAME = "optout_dbt_models"
GROUPS = {
    "staging": "dbt_staging",
    "intermediate": "dbt_intermediate",
    "audit": "audit",
    "marts": "marts",
    "reporting": "reporting",
}
# unit tests check the SQL's logic, which only a code change can break: the test suite runs
# them (tests/test_dbt_unit_tests.py), not every daily build
UNIT_TESTS_EXCLUDED = ["--exclude", "resource_type:unit_test"]


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


translator = OptoutTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(Config):
    """The dbt build's options in the run config (the UI launchpad, `optout run --full-refresh`)."""

    full_refresh: bool = False
    """Rebuild every incremental table from the whole lake (dbt --full-refresh), as after a
    change of a model's logic; otherwise only what the run's export days can change."""


def dbt_build_args(full_refresh: bool, start_date: dt.date | None, last_day: dt.date) -> list[str]:
    """The `dbt build` arguments of a run.

    - a full refresh rebuilds every incremental table whole;
    - with a start date (the earliest export day whose records changed), the incremental
      models rebuild what that day and the days after it can change, and keep the rest.
      It travels as dbt's event-time range, [start_date, last_day + 1): a per-invocation
      flag the models read (macros/incremental_horizon.sql), where a var that changes from
      run to run would make dbt parse the whole project again;
    - with neither, everything is rebuilt (no checked build yet, or a model is missing).
    """
    args = ["build", *UNIT_TESTS_EXCLUDED]
    if full_refresh:
        return [*args, "--full-refresh"]
    if start_date is None:
        return args
    if start_date > last_day:
        raise ValueError(f"start date {start_date} is after the run's last day {last_day}")
    end = last_day + dt.timedelta(days=1)
    return [*args, "--event-time-start", start_date.isoformat(), "--event-time-end", end.isoformat()]


def lake_vars(settings: Settings) -> list[str]:
    """The lake's absolute path for dbt (var `lake_dir`): the views over the lake keep the path as
    written, and other programs read them from other folders than dbt's. The same every run, so
    dbt's partial parsing holds."""
    return ["--vars", json.dumps({"lake_dir": str(settings.lake_dir)})]


def rebuild_start_date(settings: Settings, manifest_path: Path, run_first_day: dt.date) -> dt.date | None:
    """The earliest lake day the checked marts lack: the run's first day, or an earlier day
    ingested since the last build that passed its checks (by a run killed or failed before
    its build). None (rebuild everything) without such a build, or while an incremental
    model is missing (dropped by hand, a new model): the models trust a start date to mean
    every incremental table exists.
    """
    since = marts_builds.last_passed_build_start(settings.warehouse)
    if since is None or missing_incremental_models(settings, manifest_path):
        return None
    return min([run_first_day, *lake.days_ingested_since(settings.lake_dir, TABLE_NAMES, since)])


def missing_incremental_models(settings: Settings, manifest_path: Path) -> list[str]:
    """`schema.table` of every incremental dbt model the target's warehouse does not hold."""
    manifest = json.loads(manifest_path.read_text())
    wanted = {
        (node["schema"], node.get("alias") or node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"
    }
    existing = (
        spark_tables.existing_tables(settings.spark_warehouse, wanted)
        if settings.dbt_target == "spark"
        else duckdb_tables(settings.warehouse)
    )
    return sorted(f"{schema}.{name}" for schema, name in wanted - existing)


def incremental_models_with_other_columns(settings: Settings, manifest_path: Path) -> list[str]:
    """`schema.table` of each incremental model whose DuckDB table has other columns than the
    model declares: a release added or removed one. Continuing such a table fails (dbt's
    on_schema_change), and its older rows hold the old logic: the build rebuilds every table.

    The models with an enforced contract declare every column. On Spark the check is dbt's
    own: the build fails, naming the model, and `optout run --full-refresh` rebuilds.
    """
    if settings.dbt_target == "spark" or not settings.warehouse.exists():
        return []
    manifest = json.loads(manifest_path.read_text())
    declared = {
        (node["schema"], node.get("alias") or node["name"]): {name.lower() for name in node["columns"]}
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"].get("materialized") == "incremental"
        and node["config"].get("contract", {}).get("enforced")
        and node["columns"]
    }
    with duckdb.connect(str(settings.warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select table_schema, table_name, lower(column_name) from information_schema.columns"
        ).fetchall()
    existing: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in rows:
        existing.setdefault((schema, table), set()).add(column)
    return sorted(
        f"{schema}.{table}"
        for (schema, table), columns in declared.items()
        if (schema, table) in existing and existing[(schema, table)] != columns
    )


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


def failed_nodes(invocations: list[DbtCliInvocation]) -> list[str]:
    """`<kind> <name>: <first line of dbt's message>` of each node that failed, from dbt's
    run results; none when dbt stopped before it wrote them (its own error says why)."""
    problems = []
    for invocation in invocations:
        try:
            results = invocation.get_artifact("run_results.json")["results"]
        except (OSError, ValueError, KeyError):
            continue
        problems += [
            f"{result['unique_id'].split('.')[0]} {result['unique_id'].split('.')[-1]}: "
            + (result.get("message") or result["status"]).strip().splitlines()[0]
            for result in results
            if result["status"] in ("error", "fail")
        ]
    return problems


def run_target_paths(settings: Settings) -> dict[str, Path]:
    """The target folders of the pipeline's builds, one per engine (runs never overlap: the
    run queue); dagster-dbt would make a new one per run otherwise, each a copy of the
    project's artifacts, and parse the project again in each. On Spark the DuckDB side
    builds the views in its own (spark_build.py)."""
    target = dbt_project(settings.dbt_target).project_dir / "target"
    if settings.dbt_target == "spark":
        return {"spark": target / "spark-runs", "duckdb": target / "spark-runs-duckdb-views"}
    return {"duckdb": target / "duckdb-runs"}


def dbt_resource(settings: Settings) -> QuickStartDbtCli:
    return QuickStartDbtCli(project_dir=dbt_project(settings.dbt_target), dbt_executable=dbt_executable())


def build_dbt_assets(settings: Settings, partitions: PartitionsDefinition) -> AssetsDefinition:
    project = dbt_project(settings.dbt_target)

    @dbt_assets(
        name=DBT_ASSETS_NAME,
        manifest=project.manifest_path,
        project=project,
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
    )
    def optout_dbt_models(context: AssetExecutionContext, dbt: QuickStartDbtCli, config: DbtBuildConfig):
        days = partition_days(context)
        expired = past_retention(days, settings.retention_days, today_utc())
        if expired:  # staging would drop those days and find nothing in the lake to reload
            raise Failure(description=f"dbt build refused, the marts are unchanged: {expired}")
        # one run at a time, for a run without ingestion too (a selection of models)
        wait_for_earlier_runs(context.instance, context.run.run_id, context.log.info)
        settings.warehouse.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # holds user data
        full_refresh = config.full_refresh
        if not full_refresh:
            changed = incremental_models_with_other_columns(settings, project.manifest_path)
            if changed:
                context.log.info(
                    f"the columns of {', '.join(changed)} are not the models' (a new release): "
                    "a full refresh rebuilds every table"
                )
                full_refresh = True
        start_date = None if full_refresh else rebuild_start_date(settings, project.manifest_path, days[0])
        args = [*dbt_build_args(full_refresh, start_date, days[-1]), *lake_vars(settings)]
        # a build that rewrites marts makes them untrusted until its checks pass (marts_builds.py);
        # a re-execution of the run continues the same build
        build_id = context.run.root_run_id or context.run.run_id
        mart_keys = {key for key in context.assets_def.keys if key.path[0] == "marts"}
        selected_marts = mart_keys & context.selected_asset_keys
        if selected_marts:
            marts_builds.start_build(settings.warehouse, build_id)
        context.log.info(
            f"dbt build for export days {days[0]} .. {days[-1]}: "
            + ("full refresh" if full_refresh else f"start date {start_date or 'none (all)'}")
        )
        events = []
        invocations: list[DbtCliInvocation] = []
        published: list[str] = []  # on Spark: its tables, as DuckDB views
        try:
            models, built = len(context.selected_asset_keys), 0
            for event in _build_events(context, settings, dbt, args, invocations, published):
                events.append(event)
                if isinstance(event, Output):
                    built += 1
                    console.progress(context.op_def.name, built, models, "models")
        except Exception as exc:
            problems = failed_nodes(invocations) if isinstance(exc, DagsterDbtCliRuntimeError) else []
            detail = "; ".join(problems) if problems else " ".join(str(exc).split())
            if selected_marts:
                # the row may stay `building` (warehouse held by another program): refused all the same
                with contextlib.suppress(duckdb.Error):
                    marts_builds.mark_failed(settings.warehouse, build_id, f"dbt build failed: {detail}")
            yield from events  # what dbt did build before it failed, for the UI
            if isinstance(exc, DagsterDbtCliRuntimeError):
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

    return optout_dbt_models


def _build_events(
    context: AssetExecutionContext,
    settings: Settings,
    dbt: QuickStartDbtCli,
    args: list[str],
    invocations: list[DbtCliInvocation],
    published: list[str],
) -> Iterator:
    """dbt build on the chosen target: one invocation on DuckDB, three steps on Spark."""
    targets = run_target_paths(settings)
    if settings.dbt_target != "spark":
        dropped = spark_tables.unpublish(settings.warehouse)
        if dropped:
            context.log.info(f"the Spark tables' views make way for DuckDB's tables: {', '.join(dropped)}")
        forget_run_results(targets["duckdb"])
        invocation = dbt.cli(args, context=context, target_path=targets["duckdb"])
        invocations.append(invocation)
        yield from invocation.stream()
        return
    project = dbt_project(settings.dbt_target)
    yield from spark_build(
        context,
        settings,
        spark_dbt=dbt,
        duckdb_dbt=QuickStartDbtCli(project_dir=project, dbt_executable=dbt_executable(), target="duckdb"),
        build_args=args,
        translator=translator,
        manifest_path=project.manifest_path,
        run_targets=targets,
        invocations=invocations,
        published=published,
    )
