"""Stale marts reach people: a warn-level freshness check, evaluated by a sensor without a run.

The check `newest_export_day_fresh` on `marts/mart_opt_out_daily` fails when the newest
export day of the published serving copy ended more than OPTOUT_MAX_STALENESS_HOURS ago,
or when nothing was ever published (assets/serving/freshness.py). `marts_freshness_sensor`
evaluates it every 10 minutes and records the evaluation in the instance as a runless
event (the check's history in the UI), and posts to OPTOUT_ALERT_WEBHOOK once when the
marts become stale and once when they are fresh again; the state between ticks is the
sensor's cursor.
"""

from __future__ import annotations

import datetime as dt

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    DefaultSensorStatus,
    MetadataValue,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    asset_check,
    sensor,
)

from assets.alerts.deliver import DeliveryError, mrkdwn_escaped, mrkdwn_link, post_message, text_message
from assets.config import Settings
from assets.serving.freshness import Freshness, serving_freshness
from orchestration.resources import OptoutPaths

DAILY_MART = AssetKey(["marts", "mart_opt_out_daily"])
FRESHNESS_CHECK = "newest_export_day_fresh"
FRESHNESS_CHECK_KEY = AssetCheckKey(DAILY_MART, FRESHNESS_CHECK)
FRESHNESS_SENSOR = "marts_freshness_sensor"
FRESHNESS_SENSOR_SECONDS = 600
STALE, FRESH = "stale", "fresh"  # the sensor's cursor: what the last message said


def evaluation_fields(freshness: Freshness) -> dict:
    """What a check result and a runless evaluation of the check both carry."""
    metadata: dict = {"max_staleness_hours": freshness.max_hours}
    if freshness.newest_day is not None:
        metadata["newest_export_day"] = freshness.newest_day.isoformat()
    if freshness.age_hours is not None:
        metadata["age_hours"] = round(freshness.age_hours, 1)
    if freshness.snapshot is not None:
        metadata["serving_snapshot"] = MetadataValue.path(str(freshness.snapshot))
    return {
        "passed": not freshness.stale,
        "severity": AssetCheckSeverity.WARN,
        "description": freshness.in_words(),
        "metadata": metadata,
    }


@asset_check(
    asset=DAILY_MART,
    name=FRESHNESS_CHECK,
    blocking=False,
    description=(
        "Warns when the newest export day of the published marts (the serving copy) ended more than "
        "OPTOUT_MAX_STALENESS_HOURS ago, or when no marts were ever published. Evaluated every 10 "
        f"minutes by {FRESHNESS_SENSOR}, without a run; never part of the daily runs."
    ),
)
def newest_export_day_fresh(paths: OptoutPaths) -> AssetCheckResult:
    freshness = serving_freshness(paths.serving, paths.settings.max_staleness_hours, dt.datetime.now(dt.UTC))
    return AssetCheckResult(**evaluation_fields(freshness))


def check_link(ui_url: str) -> str:
    # the asset's checks tab; a second query parameter would need an `&`, which mrkdwn reserves
    return f"{ui_url}/assets/{'/'.join(DAILY_MART.path)}?view=checks"


def freshness_message(freshness: Freshness, ui_url: str) -> dict:
    if freshness.stale:
        headline = ":hourglass: The marts are stale"
    else:
        headline = ":white_check_mark: The marts are fresh again"
    return text_message(
        f"{headline}: {mrkdwn_escaped(freshness.in_words())}.", mrkdwn_link(check_link(ui_url))
    )


def build_freshness_sensor(settings: Settings) -> SensorDefinition:
    @sensor(
        name=FRESHNESS_SENSOR,
        minimum_interval_seconds=FRESHNESS_SENSOR_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            f"Every 10 minutes, launches nothing: evaluates the check {FRESHNESS_CHECK} on "
            f"{DAILY_MART.to_user_string()} (newest export day of the serving copy against "
            "OPTOUT_MAX_STALENESS_HOURS) and, with OPTOUT_ALERT_WEBHOOK set, posts once when the marts "
            "become stale and once when they are fresh again."
        ),
    )
    def marts_freshness_sensor(context: SensorEvaluationContext) -> SkipReason:
        freshness = serving_freshness(
            settings.serving_dir, settings.max_staleness_hours, dt.datetime.now(dt.UTC)
        )
        context.instance.report_runless_asset_event(
            AssetCheckEvaluation(
                asset_key=DAILY_MART, check_name=FRESHNESS_CHECK, **evaluation_fields(freshness)
            )
        )
        said = context.cursor if context.cursor in (STALE, FRESH) else None
        state = STALE if freshness.stale else FRESH
        # a message when the state changes; none for fresh marts at the first tick (nothing was wrong)
        if state == said or (said is None and state == FRESH):
            context.update_cursor(state)
            return SkipReason(f"{state}, as before: {freshness.in_words()}")
        if not settings.alert_webhook:
            context.update_cursor(state)
            return SkipReason(
                f"{state}: {freshness.in_words()}; OPTOUT_ALERT_WEBHOOK is not set: nothing posted"
            )
        try:
            post_message(settings.alert_webhook, freshness_message(freshness, settings.ui_url))
        except DeliveryError as exc:
            # the cursor keeps the state last said, so the next tick posts again; the check's
            # evaluation above is recorded either way
            context.log.warning(f"alert webhook: could not deliver the freshness message ({exc})")
            return SkipReason(
                f"{state}: {freshness.in_words()}; the webhook did not take the message ({exc}): "
                "the next tick tries again"
            )
        context.update_cursor(state)
        return SkipReason(f"{state}: {freshness.in_words()}; posted to the webhook")

    return marts_freshness_sensor
