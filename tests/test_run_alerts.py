"""Failed runs and stale marts reach people: real runs and snapshots on a real instance, a real
webhook on 127.0.0.1, the sensors evaluated with Dagster's testing builders."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading

import duckdb
import pytest
from dagster import (
    AssetCheckSeverity,
    DagsterRunStatus,
    Definitions,
    SkipReason,
    build_run_status_sensor_context,
    build_sensor_context,
    define_asset_job,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from assets.alerts.deliver import mrkdwn_escaped, slack_message
from assets.config import load_settings, read_settings
from assets.serving.freshness import day_age_hours, serving_freshness
from assets.serving.layout import DATABASE_FILE, new_snapshot_folder, publish_snapshot
from orchestration import run_alerts
from orchestration.freshness import FRESHNESS_CHECK_KEY, build_freshness_sensor, newest_export_day_fresh
from orchestration.ingest_assets import build_ingest_assets, lake_asset_key
from orchestration.instance import get_instance
from orchestration.jobs import partition_range_tags
from orchestration.partitions import export_days
from orchestration.resources import OptoutPaths
from orchestration.run_alerts import (
    RUN_CANCELED_SENSOR,
    RUN_FAILURE_SENSOR,
    build_run_alert_sensors,
    run_message,
)
from orchestration.run_outcome import RunOutcome, StepFailure
from tests.helpers import write_csv

pytestmark = pytest.mark.quick

UI_URL = "http://dagster.example:3000"
DAY = "2026-01-05"
MESSAGE_COLUMNS = "event_id,user_id,campaign_id,event_type,occurred_at,error_code"
# a file a platform named after a campaign: two mentions if posted as is
HOSTILE = "<!channel> & <@U024BE7LH|boss> sale.csv"


class Webhook:
    """A Slack-compatible incoming webhook on 127.0.0.1: keeps each message, answers `status`."""

    def __init__(self, status: int = 200):
        self.messages: list[dict] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                hook.messages.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def texts(self) -> list[str]:
        return [message["text"] for message in self.messages]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook(monkeypatch):
    webhook = Webhook()
    monkeypatch.setenv("OPTOUT_ALERT_WEBHOOK", webhook.url)
    monkeypatch.setenv("OPTOUT_UI_URL", UI_URL + "/")  # the trailing slash is the settings' to drop
    yield webhook
    webhook.close()


@pytest.fixture
def instance(workspace):
    """The instance `optout` uses (its dagster.yaml, its storage), in the test's DAGSTER_HOME."""
    instance = get_instance()
    yield instance
    instance.dispose()


def ingest_messages_job():
    """optout's own ingest asset of one table, as a job of its own."""
    key = lake_asset_key("messages")
    return Definitions(
        assets=[a for a in build_ingest_assets(export_days(dt.date(2025, 1, 1))) if a.key == key],
        jobs=[define_asset_job("ingest_messages", selection=[key])],
        resources={"paths": OptoutPaths()},
    ).resolve_job_def("ingest_messages")


def failed_ingest_run(workspace, instance, monkeypatch):
    """A real optout ingest step that fails: a landing file over OPTOUT_MAX_FILE_BYTES."""
    monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", "1000")
    load_settings.cache_clear()  # the instance read the settings before
    write_csv(workspace.landing, "messages", DAY, HOSTILE, MESSAGE_COLUMNS + "\n" + "x" * 1001 + "\n")
    result = ingest_messages_job().execute_in_process(
        instance=instance, tags=partition_range_tags(DAY, DAY), raise_on_error=False
    )
    assert not result.success
    return result


# --- failed and canceled runs ------------------------------------------------------------------


def failure_sensor_tick(instance, result):
    """The failure sensor, and the context of its tick about the failed run of `result`."""
    sensor = {s.name: s for s in build_run_alert_sensors(read_settings())}[RUN_FAILURE_SENSOR]
    context = build_run_status_sensor_context(
        sensor_name=RUN_FAILURE_SENSOR,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
    )
    return sensor, context


def test_a_failed_run_posts_one_message_with_its_job_steps_reason_and_link(
    workspace, instance, hook, monkeypatch
):
    result = failed_ingest_run(workspace, instance, monkeypatch)
    sensor, context = failure_sensor_tick(instance, result)
    assert sensor(context) is None
    assert len(hook.messages) == 1
    (text,) = hook.texts
    run_id = result.run_id
    body, link_line = text.rsplit("\n", 1)
    # what it says is plain text (Slack formats nothing of the data); only the link is mrkdwn
    assert hook.messages[0]["blocks"] == [
        {"type": "section", "text": {"type": "plain_text", "text": body, "emoji": True}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": link_line, "verbatim": True}]},
    ]
    lines = text.splitlines()
    assert lines[0] == f":rotating_light: Run failed: job ingest_messages, run {run_id}"
    assert lines[1] == "Failed steps: lake__messages"
    reason = lines[2]
    assert reason.startswith("• step lake__messages failed: 2026-01-05: ")
    assert "exceeds OPTOUT_MAX_FILE_BYTES (1000 bytes" in reason
    # the file's name is shown, never acted on: no mention, no link
    assert "&lt;!channel&gt; &amp; &lt;@U024BE7LH|boss&gt; sale.csv" in reason
    assert "<!channel>" not in text and "<@" not in text
    assert lines[-1] == f"Open the run: <{UI_URL}/runs/{run_id}>"
    assert len(lines) == 4


def test_the_sensor_tick_posts_each_run_once_and_a_lost_message_is_not_retried(
    workspace, instance, hook, monkeypatch
):
    """Through a sensor tick, as the daemon evaluates it: the cursor moves past every run."""
    sensors = {s.name: s for s in build_run_alert_sensors(read_settings())}
    failure, canceled = sensors[RUN_FAILURE_SENSOR], sensors[RUN_CANCELED_SENSOR]
    cursors = {}
    for sensor in (failure, canceled):
        first = sensor.evaluate_tick(build_sensor_context(instance=instance))
        assert first.skip_message.startswith("Initiating")  # Dagster starts after the runs before it
        cursors[sensor.name] = first.cursor

    def tick(sensor):
        data = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursors[sensor.name]))
        cursors[sensor.name] = data.cursor
        return data

    run_id = failed_ingest_run(workspace, instance, monkeypatch).run_id
    reacted = tick(failure)
    assert [r.dagster_run.run_id for r in reacted.dagster_run_reactions] == [run_id]
    assert reacted.dagster_run_reactions[0].error is None
    assert len(hook.messages) == 1 and f"{UI_URL}/runs/{run_id}" in hook.texts[0]
    assert tick(failure).dagster_run_reactions == [] and len(hook.messages) == 1

    # a canceled run (canceled before it started: nothing failed in it)
    run = instance.create_run_for_job(ingest_messages_job(), tags=partition_range_tags(DAY, DAY))
    instance.report_run_canceled(run)
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
    assert tick(canceled).dagster_run_reactions[0].error is None
    assert hook.texts[1] == (
        f":no_entry_sign: Run canceled: job ingest_messages, run {run.run_id}\n"
        "Failed steps: none\n"
        f"• run {run.run_id[:8]} was canceled\n"
        f"Open the run: <{UI_URL}/runs/{run.run_id}>"
    )

    # a webhook that refuses: the tick fails with the error, the cursor moves on, no repeat
    refusing = Webhook(status=500)
    monkeypatch.setenv("OPTOUT_ALERT_WEBHOOK", refusing.url)
    try:
        sensors = {s.name: s for s in build_run_alert_sensors(read_settings())}
        failure = sensors[RUN_FAILURE_SENSOR]
        lost = failed_ingest_run(workspace, instance, monkeypatch).run_id
        (reaction,) = tick(failure).dagster_run_reactions
        assert reaction.dagster_run.run_id == lost
        assert (
            f"the alert of run {lost} (ingest_messages) was not delivered: HTTP 500" in reaction.error.message
        )
        assert "secret" not in reaction.error.message  # the webhook's URL is never repeated
        assert len(refusing.messages) == 1
        assert tick(failure).dagster_run_reactions == [] and len(refusing.messages) == 1
    finally:
        refusing.close()


def test_without_a_webhook_the_sensor_posts_nothing_and_says_so(workspace, instance, monkeypatch):
    monkeypatch.delenv("OPTOUT_ALERT_WEBHOOK", raising=False)
    result = failed_ingest_run(workspace, instance, monkeypatch)
    sensor, context = failure_sensor_tick(instance, result)
    skipped = sensor(context)
    assert isinstance(skipped, SkipReason)
    assert skipped.skip_message == f"OPTOUT_ALERT_WEBHOOK is not set: nothing posted for run {result.run_id}"


def test_a_long_list_of_reasons_stays_within_one_slack_block(workspace, instance, monkeypatch):
    run = failed_ingest_run(workspace, instance, monkeypatch).dagster_run
    # 40 failed steps, each with a long reason made of a character escaping makes 5 times longer
    failures = [StepFailure(f"step_{i}", "&" * 400, None, None, None) for i in range(40)]
    outcome = RunOutcome(run.run_id, DagsterRunStatus.FAILURE, step_failures=failures)
    monkeypatch.setattr(run_alerts, "run_outcome", lambda instance, run_id: outcome)
    message = run_message(instance, run, UI_URL)
    assert len(message["blocks"][0]["text"]["text"]) <= 3000  # Slack's limit for a section block
    lines = message["text"].splitlines()
    assert lines[2] == f"• step step_0 failed: {'&amp;' * 279}…"  # one line, shortened, then escaped
    assert lines[-2:] == ["… and 39 more: see the run", f"Open the run: <{UI_URL}/runs/{run.run_id}>"]


def test_mrkdwn_escaping_covers_slacks_three_control_characters():
    assert mrkdwn_escaped("<!here> a&b <@U1|x>") == "&lt;!here&gt; a&amp;b &lt;@U1|x&gt;"
    assert mrkdwn_escaped("&lt;") == "&amp;lt;"  # text that looks escaped is data too
    # an early warning names its campaign: escaped the same way
    row = {
        "campaign_id": "c<1>",
        "channel": "push",
        "name_shown": "<!channel> Sale & more",
        "attributed_opt_outs": 9,
        "expected_opt_outs": 1.5,
        "recipients": 300,
        "ratio": 6.0,
        "p_shown": "p < 1e-15",
    }
    text = slack_message("campaign", row)["text"]
    assert '(push, "&lt;!channel&gt; Sale &amp; more")' in text and "c&lt;1&gt;" in text
    assert "(x6.0, p &lt; 1e-15)" in text and "<" not in text


# --- freshness ---------------------------------------------------------------------------------


def publish(serving, newest: dt.date) -> None:
    """A serving snapshot in the real layout whose daily mart ends on `newest`."""
    snapshot_id = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%fZ}-test"
    staging = new_snapshot_folder(serving, snapshot_id)
    with duckdb.connect(str(staging / DATABASE_FILE)) as connection:
        connection.execute("create schema marts")
        connection.execute(
            "create table marts.mart_opt_out_daily (date date, platform varchar, opt_outs bigint)"
        )
        connection.execute(
            "insert into marts.mart_opt_out_daily values (?, 'ios', 3), (?, 'android', 1)",
            [newest - dt.timedelta(days=1), newest],
        )
    publish_snapshot(serving, staging, snapshot_id)


def evaluations(instance) -> list:
    """The freshness check's evaluations in the instance, newest first."""
    return instance.event_log_storage.get_asset_check_execution_history(FRESHNESS_CHECK_KEY, limit=20)


def test_age_counts_from_the_end_of_the_export_day():
    day = dt.date(2026, 1, 5)
    assert day_age_hours(day, dt.datetime(2026, 1, 6, 0, tzinfo=dt.UTC)) == 0
    assert day_age_hours(day, dt.datetime(2026, 1, 7, 6, 30, tzinfo=dt.UTC)) == 30.5
    assert day_age_hours(day, dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)) == 0  # not over yet


def test_stale_marts_warn_in_the_instance_and_post_once_per_episode(workspace, instance, hook, monkeypatch):
    monkeypatch.setenv("OPTOUT_MAX_STALENESS_HOURS", "30")
    sensor = build_freshness_sensor(read_settings())
    today = dt.datetime.now(dt.UTC).date()
    stale_day = today - dt.timedelta(days=4)  # ended 3 days and some hours ago
    publish(workspace.serving, stale_day)
    cursor = None

    def tick():
        nonlocal cursor
        context = build_sensor_context(instance=instance, cursor=cursor)
        skipped = sensor(context)
        cursor = context.cursor
        return skipped.skip_message

    said = tick()
    assert said.startswith(f"stale: newest export day {stale_day} ended ") and said.endswith(
        "posted to the webhook"
    )
    (latest,) = evaluations(instance)
    assert latest.status == AssetCheckExecutionRecordStatus.FAILED
    evaluation = latest.event.dagster_event.event_specific_data
    assert evaluation.severity == AssetCheckSeverity.WARN and not evaluation.passed
    assert evaluation.metadata["newest_export_day"].value == stale_day.isoformat()
    assert evaluation.metadata["age_hours"].value > 72
    assert evaluation.metadata["max_staleness_hours"].value == 30
    assert len(hook.messages) == 1
    (text,) = hook.texts
    assert text.startswith(f":hourglass: The marts are stale: newest export day {stale_day} ended ")
    assert "older than the limit of 30 hours (OPTOUT_MAX_STALENESS_HOURS)" in text
    assert text.endswith(f"\n<{UI_URL}/assets/marts/mart_opt_out_daily?view=checks>")

    # still stale: evaluated and recorded again, not posted again
    assert tick().startswith("stale, as before")
    assert len(evaluations(instance)) == 2 and len(hook.messages) == 1

    # yesterday arrives: fresh, said once
    publish(workspace.serving, today - dt.timedelta(days=1))
    assert tick().endswith("posted to the webhook")
    assert evaluations(instance)[0].status == AssetCheckExecutionRecordStatus.SUCCEEDED
    assert len(hook.messages) == 2
    assert hook.texts[1].startswith(
        f":white_check_mark: The marts are fresh again: newest export day {today - dt.timedelta(days=1)} ended "
    )
    assert "within the limit of 30 hours" in hook.texts[1]
    assert tick().startswith("fresh, as before") and len(hook.messages) == 2


def test_marts_never_published_are_reported_and_a_refused_message_is_retried(
    workspace, instance, monkeypatch
):
    refusing = Webhook(status=503)
    monkeypatch.setenv("OPTOUT_ALERT_WEBHOOK", refusing.url)
    try:
        sensor = build_freshness_sensor(read_settings())
        context = build_sensor_context(instance=instance)
        said = sensor(context).skip_message
        assert said.startswith("stale: no serving snapshot yet: the marts have never been built;")
        assert "the webhook did not take the message (HTTP 503): the next tick tries again" in said
        assert context.cursor is None  # the state was not said: the next tick says it
        (latest,) = evaluations(instance)
        assert latest.status == AssetCheckExecutionRecordStatus.FAILED
        assert latest.event.dagster_event.event_specific_data.description == (
            "no serving snapshot yet: the marts have never been built"
        )
        assert len(refusing.messages) == 1
    finally:
        refusing.close()
    # the fresh marts at the first tick: nothing was wrong, nothing to say
    monkeypatch.delenv("OPTOUT_ALERT_WEBHOOK")
    publish(workspace.serving, dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    context = build_sensor_context(instance=instance)
    assert build_freshness_sensor(read_settings())(context).skip_message.startswith("fresh, as before")
    assert context.cursor == "fresh"


def test_the_check_executed_in_a_run_gives_the_same_verdict(workspace, monkeypatch):
    monkeypatch.setenv("OPTOUT_MAX_STALENESS_HOURS", "48")
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    publish(workspace.serving, day)
    result = newest_export_day_fresh(paths=OptoutPaths())
    assert result.passed and result.severity == AssetCheckSeverity.WARN
    freshness = serving_freshness(workspace.serving, 48, dt.datetime.now(dt.UTC))
    assert result.description == freshness.in_words() and freshness.newest_day == day
