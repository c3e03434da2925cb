"""Great Expectations suites as blocking Dagster asset checks (dbt tests come with @dbt_assets)."""

import datetime as dt

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from assets import marts_builds
from assets.contract import TABLE_NAMES
from assets.ingest.lake import days_ingested_since, ingested_days
from assets.quality.explain import explain
from assets.quality.lake_suite import validate_lake
from assets.quality.marts_suite import validate_marts
from assets.quality.suites import SuiteOutcome, max_quarantine_share
from orchestration.ingest_assets import lake_asset_key
from orchestration.resources import OptoutPaths


def run_days(tags: dict[str, str], available: list[dt.date]) -> list[dt.date]:
    """The export days a run covers, from its partition tags (all ingested days if none)."""
    start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    end = tags.get("dagster/asset_partition_range_end") or tags.get("dagster/partition")
    if not start or not end:
        return available
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def days_to_check(paths: OptoutPaths, table: str, tags: dict[str, str]) -> list[dt.date]:
    """The run's days, and every day the next build reads that the checked marts lack.

    A day ingested by a run that failed or was killed before its build is rebuilt by the
    next run (see dbt_assets.rebuild_start_date): it must pass this run's checks first. Without a
    checked build, the marts are rebuilt whole: every day is checked.
    """
    available = ingested_days(paths.lake, table)
    since = marts_builds.last_passed_build_start(paths.warehouse_path)
    if since is None:
        return available
    changed = set(days_ingested_since(paths.lake, [table], since))
    return sorted(changed | set(run_days(tags, available)))


def check_result(where: str, outcomes: list[SuiteOutcome]) -> AssetCheckResult:
    """`where`: what was checked, as a user names it (`lake/messages`, `marts`)."""
    failures = [{"suite": o.suite, **failure} for o in outcomes for failure in o.failures]
    return AssetCheckResult(
        passed=not failures,
        # each failure in words (assets/quality/explain.py); the details stay in the metadata
        description="; ".join(explain(where, failure) for failure in failures) or "every expectation passed",
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "suites": ", ".join(o.suite for o in outcomes),
            "expectations_evaluated": sum(o.evaluated for o in outcomes),
            "expectations_failed": len(failures),
            "failing_expectations": MetadataValue.json(failures),
        },
    )


def _lake_check(table: str) -> AssetChecksDefinition:
    @asset_check(
        asset=lake_asset_key(table),
        name="ge_lake_suite",
        blocking=True,
        description=(
            f"Great Expectations on the {table} lake days of the run: contract schema, non-null "
            "keys, accepted values, unique event ids, own times within the export day (+1 h) "
            "and after 2000, counts that reconcile, and a quarantine share at most "
            "OPTOUT_MAX_QUARANTINE_SHARE (default 25%) over the run's days (once 200 records were read). Blocking: a failure stops the marts."
        ),
    )
    def lake_check(context: AssetCheckExecutionContext, paths: OptoutPaths) -> AssetCheckResult:
        days = days_to_check(paths, table, context.run.tags)
        result = check_result(f"lake/{table}", validate_lake(paths.lake, table, days))
        context.log.info(
            f"{table}: {len(days)} days checked, max quarantine share {max_quarantine_share():.1%}, "
            f"passed={result.passed}"
        )
        return result

    return lake_check


@asset_check(
    asset=AssetKey(["marts", "fct_opt_outs"]),
    name="ge_marts_suite",
    blocking=True,
    description=(
        "Great Expectations on the marts, for what dbt's tests do not check (they test every "
        "mart's rows): the campaign mart's attributed and revealed opt-outs add up to the "
        "facts, summed in DuckDB. Blocking: a failure stops the exports."
    ),
)
def marts_check(context: AssetCheckExecutionContext, paths: OptoutPaths) -> AssetCheckResult:
    result = check_result("marts", validate_marts(paths.warehouse_path))
    # the last gate of a build: only now may exports and the report use the marts it made
    build_id = context.run.root_run_id or context.run.run_id  # as the dbt asset names it
    if result.passed:
        marts_builds.mark_passed(paths.warehouse_path, build_id)
    else:
        marts_builds.mark_failed(paths.warehouse_path, build_id, f"ge_marts_suite: {result.description}")
    return result


lake_checks = [_lake_check(table) for table in TABLE_NAMES]
quality_checks = [*lake_checks, marts_check]
