"""Failed and canceled runs reach people: one Slack-compatible message per run.

Two run status sensors (Dagster's run status sensors watch one status each):
`run_failure_alert_sensor` and `run_canceled_alert_sensor`. For each run they post the
job, the run id, the failed steps, the one-line reasons `optout run` prints
(run_outcome.py) and the run's page in the UI to OPTOUT_ALERT_WEBHOOK; unset, they post
nothing and say so in the tick's skip reason.
"""

from __future__ import annotations

from dagster import (
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    SensorDefinition,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
)

from assets.alerts.deliver import DeliveryError, mrkdwn_escaped, mrkdwn_link, post_message, text_message
from assets.config import Settings
from orchestration.run_outcome import run_outcome

RUN_FAILURE_SENSOR = "run_failure_alert_sensor"
RUN_CANCELED_SENSOR = "run_canceled_alert_sensor"
RUN_STATUS_SENSOR_SECONDS = 30  # how often a run status sensor looks (Dagster's default)
# a section block holds at most 3,000 characters: the reasons that fit, then how many did not
MESSAGE_LIMIT = 2900
REASON_WIDTH = 300


def run_link(ui_url: str, run_id: str) -> str:
    return f"{ui_url}/runs/{run_id}"


def run_message(instance, run: DagsterRun, ui_url: str) -> dict:
    """The message of a failed or canceled run (plain text, everything read from the run escaped),
    with the link to the run."""
    outcome = run_outcome(instance, run.run_id)
    canceled = run.status == DagsterRunStatus.CANCELED
    headline = ":no_entry_sign: Run canceled" if canceled else ":rotating_light: Run failed"
    steps = list(dict.fromkeys(failure.step_key for failure in outcome.step_failures))
    head = [
        f"{headline}: job {mrkdwn_escaped(run.job_name)}, run {mrkdwn_escaped(run.run_id)}",
        f"Failed steps: {', '.join(mrkdwn_escaped(step) for step in steps) if steps else 'none'}",
    ]
    tail = f"Open the run: {mrkdwn_link(run_link(ui_url, run.run_id))}"
    reasons = [_shortened(reason) for reason in outcome.failure_reasons()]
    lines = list(head)
    for index, reason in enumerate(reasons):
        line = f"• {mrkdwn_escaped(reason)}"
        if len("\n".join([*lines, line, tail])) + 40 > MESSAGE_LIMIT:  # room for the line below
            lines.append(f"… and {len(reasons) - index} more: see the run")
            break
        lines.append(line)
    return text_message("\n".join(lines), tail)


def _shortened(reason: str) -> str:
    line = " ".join(reason.split())  # one line, whatever the error said
    return line if len(line) <= REASON_WIDTH else line[: REASON_WIDTH - 1] + "…"


def alert_run(context: RunStatusSensorContext, settings: Settings) -> SkipReason | None:
    run = context.dagster_run
    if not settings.alert_webhook:
        return SkipReason(f"OPTOUT_ALERT_WEBHOOK is not set: nothing posted for run {run.run_id}")
    try:
        post_message(settings.alert_webhook, run_message(context.instance, run, settings.ui_url))
    except DeliveryError as exc:
        # A run status sensor's cursor moves past the run whatever its function does (Dagster
        # keeps it moving so a side effect is never repeated): a failed POST cannot be retried
        # by the next tick. Raising marks this tick failed, with the error, in the sensor's
        # history in the UI - where the lost message is seen - and the sensor goes on with the
        # next run; returning would hide it.
        context.log.error(f"alert webhook: could not deliver the alert of run {run.run_id} ({exc})")
        raise DeliveryError(
            f"the alert of run {run.run_id} ({run.job_name}) was not delivered: {exc}; it is not sent again"
        ) from None
    context.log.info(f"posted the alert of run {run.run_id} to the webhook")
    return None  # Dagster then notes on the run that this sensor acted on it


def build_run_alert_sensors(settings: Settings) -> list[SensorDefinition]:
    # every run of the instance: a run `optout run` executes in its own process has no code
    # location, and a sensor watching only its own location would never see it fail
    common = {
        "default_status": DefaultSensorStatus.RUNNING,
        "monitor_all_code_locations": True,
        "minimum_interval_seconds": RUN_STATUS_SENSOR_SECONDS,
    }

    @run_failure_sensor(
        name=RUN_FAILURE_SENSOR,
        description="Posts each failed run (job, failed steps, reasons, link) to OPTOUT_ALERT_WEBHOOK.",
        **common,
    )
    def run_failure_alert_sensor(context: RunFailureSensorContext):
        return alert_run(context, settings)

    @run_status_sensor(
        run_status=DagsterRunStatus.CANCELED,
        name=RUN_CANCELED_SENSOR,
        description="Posts each canceled run (job, reasons, link) to OPTOUT_ALERT_WEBHOOK.",
        **common,
    )
    def run_canceled_alert_sensor(context: RunStatusSensorContext):
        return alert_run(context, settings)

    return [run_failure_alert_sensor, run_canceled_alert_sensor]
