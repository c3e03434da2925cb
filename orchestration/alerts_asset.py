"""Early warnings in Dagster: warn-level checks on the alert marts, and the asset that files and sends them."""

import datetime as dt

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
    multi_asset_check,
)

from assets.alerts.deliver import send_new_alerts, write_alerts_file
from assets.alerts.read import Alerts, read_alerts
from assets.marts_builds import read_checked_export_days
from assets.shown_text import markdown_table
from orchestration.checks import run_days
from orchestration.resources import OptoutPaths

RATE_ALERTS = AssetKey(["marts", "mart_opt_out_rate_alerts"])
CAMPAIGN_ALERTS = AssetKey(["marts", "mart_campaign_alerts"])
ALERTS_KEY = AssetKey(["alerts", "early_warnings"])


def run_alerts(context, paths: OptoutPaths) -> Alerts:
    """The alerts of the run's export days (from its partition tags; every covered day without)."""
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as connection:
        covered = connection.execute(
            "select min(date), max(date) from marts.mart_opt_out_rate_alerts"
        ).fetchall()[0]
        days = run_days(context.run.tags, [covered[0], covered[1]] if covered[0] else [])
        if not days:
            return Alerts(dt.date.min, dt.date.min, [], [])
        return read_alerts(connection, days[0], days[-1])


def _table(rows: list[dict], columns: list[str]) -> MetadataValue:
    # campaign names and ids come from the platform's exports: shown as text, never as Markdown
    return MetadataValue.md(markdown_table(columns, [[_cell(row[c]) for c in columns] for row in rows]))


def _cell(value) -> object:
    return f"{value:.3g}" if isinstance(value, float) else value


@multi_asset_check(
    name="early_warning_checks",
    specs=[
        AssetCheckSpec(
            "no_opt_out_rate_alerts",
            asset=RATE_ALERTS,
            description="Warns when a day of the run's range has an opt-out rate alert (the mart's is_alert).",
        ),
        AssetCheckSpec(
            "no_campaign_alerts",
            asset=CAMPAIGN_ALERTS,
            description="Warns when a campaign delivered in the run's range has an alert (the mart's is_alert).",
        ),
    ],
    description="The early warnings of the run's range, one warn-level check per alert mart.",
)
def early_warning_checks(context: AssetCheckExecutionContext, paths: OptoutPaths):
    # one step for both marts: they are read together, and the run's console shows one line
    alerts = run_alerts(context, paths)
    yield _warning(
        RATE_ALERTS,
        "no_opt_out_rate_alerts",
        alerts.days,
        alerts.day_lines(),
        "days",
        ["date", "platform", "opt_outs_estimated", "expected_opt_outs", "p_value"],
    )
    yield _warning(
        CAMPAIGN_ALERTS,
        "no_campaign_alerts",
        alerts.campaigns,
        alerts.campaign_lines(),
        "campaigns",
        ["campaign_id", "channel", "attributed_opt_outs", "expected_opt_outs", "p_value"],
    )


def _warning(
    asset_key: AssetKey, check_name: str, rows: list[dict], lines: list[str], label: str, columns: list[str]
) -> AssetCheckResult:
    """A warn-level result: failed when there are alerts, which its metadata lists."""
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=not rows,
        severity=AssetCheckSeverity.WARN,
        description="; ".join(lines) or f"no {label[:-1]} alerts",  # "no day alerts", "no campaign alerts"
        metadata={"alerts": len(rows), label: _table(rows, columns)},
    )


def build_alerts_asset(partitions: PartitionsDefinition) -> AssetsDefinition:
    @asset(
        key=ALERTS_KEY,
        # fct_opt_outs carries the blocking marts check: alerts, like exports, wait for it and
        # are skipped when it fails
        deps=[RATE_ALERTS, CAMPAIGN_ALERTS, AssetKey(["marts", "fct_opt_outs"])],
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        group_name="alerts",
        kinds={"json", "slack"},
        owners=["team:crm"],
        description=(
            "The early warnings of the run's export days: every day and campaign alert in "
            "$OPTOUT_EXPORT_DIR/alerts/<start>_<end>.json, and each alert not sent before POSTed to "
            "OPTOUT_ALERT_WEBHOOK (Slack-compatible) when set; a delivery failure is logged, never fatal."
        ),
    )
    def early_warnings(context: AssetExecutionContext, paths: OptoutPaths) -> MaterializeResult:
        read_checked_export_days(paths.warehouse_path)  # only marts whose checks passed are sent on
        alerts = run_alerts(context, paths)
        path = write_alerts_file(paths.exports, alerts)
        for line in alerts.lines():
            context.log.warning(f"early warning: {line}")
        metadata: dict = {
            "path": MetadataValue.path(str(path)),
            "day_alerts": len(alerts.days),
            "campaign_alerts": len(alerts.campaigns),
        }
        webhook = paths.settings.alert_webhook
        if webhook:
            delivery = send_new_alerts(paths.exports, alerts, webhook, context.log.warning)
            metadata.update({"sent": len(delivery.sent), "delivery_failures": len(delivery.failed)})
        return MaterializeResult(metadata=metadata)

    return early_warnings


alert_checks = [early_warning_checks]
