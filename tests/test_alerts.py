"""Early warnings: planted bad campaigns are flagged with their days, the send that only revealed
opt-outs is not, alerts stay rare without planted campaigns, and the webhook sends each alert once."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import math
import re
import threading
from pathlib import Path

import duckdb
import pytest

from assets.alerts.deliver import SUBFOLDER
from assets.generator.run import generate
from assets.generator.simulate import PlantedCampaign
from assets.report.build import report_range
from tests.conftest import SAMPLE_START, make_workspace
from tests.dagster_ui import dagster_webserver, graphql
from tests.faults import LOG_NAMED

DAYS, USERS, SEED = 40, 3000, 3
PUSH = PlantedCampaign("push", 30)
WEB = PlantedCampaign("web_push", 33, risk_factor=25.0)


class Hook:
    """A Slack-compatible webhook on 127.0.0.1 that keeps every message it is sent."""

    def __init__(self):
        self.messages: list[dict] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.messages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/optout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def run(ws, monkeypatch, webhook: str, *args: str):
    monkeypatch.setenv("OPTOUT_ALERT_WEBHOOK", webhook)
    return ws.optout("run", *args)


@pytest.fixture(scope="module")
def planted(tmp_path_factory, dbt_manifest):
    ws = make_workspace(tmp_path_factory.mktemp("planted"))
    generate(ws.landing, SAMPLE_START, DAYS, USERS, SEED, planted=(PUSH, WEB), random_bad_share=0.0)
    hook = Hook()
    with pytest.MonkeyPatch.context() as monkeypatch:
        first = run(ws, monkeypatch, hook.url)
    return ws, hook, first.stdout


def rows(ws, sql: str) -> list[dict]:
    with duckdb.connect(str(ws.warehouse), read_only=True) as connection:
        relation = connection.execute(sql)
        names = [c[0] for c in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def test_planted_campaigns_and_their_days_are_flagged_and_the_revealing_send_is_not(planted):
    ws, _, _ = planted
    campaigns = {row["campaign_id"]: row for row in rows(ws, "select * from marts.mart_campaign_alerts")}
    flagged = {cid for cid, row in campaigns.items() if row["is_alert"]}
    assert flagged == {PUSH.campaign_id, WEB.campaign_id}  # both planted, nothing else

    days = rows(ws, "select date, platform from marts.mart_opt_out_rate_alerts where is_alert")
    push_day = SAMPLE_START + dt.timedelta(days=PUSH.day)
    web_day = SAMPLE_START + dt.timedelta(days=WEB.day)
    assert {(push_day, "ios"), (push_day, "android"), (web_day, "web")} <= {
        (r["date"], r["platform"]) for r in days
    }
    assert all(r["date"] in (push_day, web_day) for r in days), days

    # the web-push sends right after the planted one find its silent opt-outs (failed sends to
    # dead tokens): they reveal them, are not blamed for them, and are not flagged
    web_sent = campaigns[WEB.campaign_id]["sent_at"]
    after = sorted(
        (
            row
            for row in campaigns.values()
            if row["channel"] == "web_push" and row["sent_at"] and row["sent_at"] > web_sent
        ),
        key=lambda row: row["sent_at"],
    )
    revealing = [row for row in after[:6] if row["revealed_opt_outs"] > 0]
    assert revealing, "no send revealed the planted campaign's silent opt-outs"
    assert not any(row["is_alert"] for row in after[:6])
    revealed = rows(
        ws,
        f"select count(*) as n from marts.fct_opt_outs where last_received_campaign_id = '{WEB.campaign_id}' "
        "and revealing_campaign_id is not null",
    )[0]["n"]
    assert revealed > 0  # lagged opt-outs the planted send caused, credited to it, not to their revealer


def test_p_values_are_the_one_sided_poisson_tail(planted):
    ws, _, _ = planted
    tested = rows(
        ws, "select attributed_opt_outs as k, expected_opt_outs as m, p_value from marts.mart_campaign_alerts"
    )
    tested += rows(
        ws,
        "select cast(floor(opt_outs_estimated) as bigint) as k, expected_opt_outs as m, p_value "
        "from marts.mart_opt_out_rate_alerts where expected_opt_outs is not null",
    )
    assert len(tested) > 100
    for row in tested:
        k, m = row["k"], row["m"]
        if k == 0:
            expected = 1.0
        elif m == 0:
            expected = 0.0
        else:
            expected = max(
                0.0, 1.0 - sum(math.exp(-m + i * math.log(m) - math.lgamma(i + 1)) for i in range(k))
            )
        assert row["p_value"] == pytest.approx(expected, abs=1e-12), row


def test_alerts_reach_the_summary_the_report_the_file_and_the_webhook_once(planted, monkeypatch):
    ws, hook, summary = planted
    campaign_alerts = {
        r["campaign_id"]
        for r in rows(ws, "select campaign_id from marts.mart_campaign_alerts where is_alert")
    }
    day_alerts = rows(ws, "select date, platform from marts.mart_opt_out_rate_alerts where is_alert")

    assert "EARLY WARNINGS" in summary and all(f"campaign {cid}" in summary for cid in campaign_alerts)
    last_day = SAMPLE_START + dt.timedelta(days=DAYS - 1)
    document = json.loads((ws.exports / SUBFOLDER / f"{SAMPLE_START}_{last_day}.json").read_text())
    assert {a["campaign_id"] for a in document["campaign_alerts"]} == campaign_alerts
    assert len(document["day_alerts"]) == len(day_alerts)

    # one Slack message per alert, each naming what it is about
    assert len(hook.messages) == len(campaign_alerts) + len(day_alerts)
    for message in hook.messages:
        assert message["text"].startswith(":warning:") and message["blocks"][0]["type"] == "section"
        assert message["blocks"] == [
            {"type": "section", "text": {"type": "plain_text", "text": message["text"], "emoji": True}}
        ]
    assert {cid for cid in campaign_alerts if any(cid in m["text"] for m in hook.messages)} == campaign_alerts

    # the run's report (all its days) opens with them
    all_days = [SAMPLE_START + dt.timedelta(days=n) for n in range(DAYS)]
    start, end = report_range(all_days, SAMPLE_START)
    page = (ws.exports / "reports" / f"opt_out_report_{start}_{end}.html").read_text()
    assert page.index('id="early_warnings"') < page.index('class="cards"')
    assert all(f'data-campaign="{cid}"' in page for cid in campaign_alerts)

    # a re-run of the whole range sends nothing new
    again = run(ws, monkeypatch, hook.url)
    assert len(hook.messages) == len(campaign_alerts) + len(day_alerts)
    assert "EARLY WARNINGS" in again.stdout

    # a dead webhook: the run succeeds and its log says what was not delivered
    (ws.exports / SUBFOLDER / "sent.json").unlink()
    dead = Hook()
    dead.server.shutdown()
    dead.server.server_close()
    failed = run(ws, monkeypatch, dead.url)
    log = LOG_NAMED.search(failed.stdout).group(1)
    assert "alert webhook: could not deliver campaign" in Path(log).read_text()
    assert not (ws.exports / SUBFOLDER / "sent.json").exists()  # nothing marked sent: retried next run

    # a damaged ledger: said in the log, read as empty, so the alerts go out again, and rewritten
    (ws.exports / SUBFOLDER / "sent.json").write_text("{not json")
    before = len(hook.messages)
    damaged = run(ws, monkeypatch, hook.url)
    assert "alert webhook: cannot read" in Path(LOG_NAMED.search(damaged.stdout).group(1)).read_text()
    assert len(hook.messages) - before == len(campaign_alerts) + len(day_alerts)
    assert len(json.loads((ws.exports / SUBFOLDER / "sent.json").read_text())) == before


CHECK_EXECUTIONS = """
query ($asset: AssetKeyInput!, $check: String!) {
  assetCheckExecutions(assetKey: $asset, checkName: $check, limit: 1) {
    status stepKey
    evaluation { severity success description
      metadataEntries { label ... on IntMetadataEntry { intValue } ... on MarkdownMetadataEntry { mdStr } } }
  }
}
"""


def test_the_ui_shows_warn_checks_with_the_alerts_in_their_metadata(planted):
    """What the Dagster UI shows of the run, read from its webserver's GraphQL."""
    ws, _, _ = planted
    with dagster_webserver(ws.dagster_home) as port:
        for asset, check, table, named, min_alerts in (
            (
                "mart_campaign_alerts",
                "no_campaign_alerts",
                "campaigns",
                [PUSH.campaign_id, WEB.campaign_id],
                2,
            ),
            ("mart_opt_out_rate_alerts", "no_opt_out_rate_alerts", "days", ["ios", "android", "web"], 3),
        ):
            variables = {"asset": {"path": ["marts", asset]}, "check": check}
            [execution] = graphql(port, CHECK_EXECUTIONS, variables)["assetCheckExecutions"]
            evaluation = execution["evaluation"]
            assert execution["status"] == "FAILED" and execution["stepKey"] == "early_warning_checks"
            assert evaluation["severity"] == "WARN" and evaluation["success"] is False
            metadata = {entry["label"]: entry for entry in evaluation["metadataEntries"]}
            assert metadata["alerts"]["intValue"] >= min_alerts
            # as the UI shows the Markdown: the data's punctuation is escaped with a backslash
            shown = re.sub(r"\\(.)", r"\1", metadata[table]["mdStr"])
            assert all(name in shown for name in named), metadata[table]["mdStr"]
            assert all(name in evaluation["description"] for name in named)


def test_alerts_stay_rare_without_planted_campaigns(tmp_path, dbt_manifest):
    """Normal campaigns of varied quality only (no bad ones): campaign alerts under 1% of campaign rows."""
    flagged = total = 0
    for seed in (101, 102):  # two long runs: a run's fixed cost paid twice, not three times
        ws = make_workspace(tmp_path / f"seed{seed}")
        generate(ws.landing, SAMPLE_START, 50, 1500, seed, random_bad_share=0.0)
        ws.optout("run")
        counts = rows(
            ws, "select count(*) as n, count(*) filter (where is_alert) as a from marts.mart_campaign_alerts"
        )[0]
        flagged, total = flagged + counts["a"], total + counts["n"]
    assert total > 200
    assert flagged / total < 0.01, (flagged, total)
