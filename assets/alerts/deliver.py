"""Where alerts go: a JSON file per run, and new alerts to a Slack-compatible webhook.

`$OPTOUT_EXPORT_DIR/alerts/<start>_<end>.json` holds every alert of the run's days (written
whole or not at all). With `OPTOUT_ALERT_WEBHOOK` set, each alert not sent before is POSTed
as its own Slack message (`text`, a `plain_text` block and, for a link, a `mrkdwn` one);
what was sent is kept in `alerts/sent.json`, so a re-run sends nothing twice. A delivery that fails is logged and
retried by the next run; it never fails the run. `post_message` sends any other message
(failed runs, stale marts) the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assets.alerts.read import Alerts, without_display_forms
from assets.atomic_files import make_folder, remove_debris, replace_all, write_temp_beside
from assets.shown_text import escape_controls

SUBFOLDER = "alerts"
LEDGER = "sent.json"
WEBHOOK_TIMEOUT_SECONDS = 10


@dataclass
class Delivery:
    sent: list[str] = field(default_factory=list)  # alert keys
    failed: list[str] = field(default_factory=list)  # one line per failed alert


def alert_key(kind: str, row: dict) -> str:
    return f"day {row['date']} {row['platform']}" if kind == "day" else f"campaign {row['campaign_id']}"


def alerts_file(export_dir: Path, alerts: Alerts) -> Path:
    return export_dir / SUBFOLDER / f"{alerts.start}_{alerts.end}.json"


def write_alerts_file(export_dir: Path, alerts: Alerts) -> Path:
    folder = export_dir / SUBFOLDER
    make_folder(folder)
    remove_debris(folder)
    target = alerts_file(export_dir, alerts)
    document = {
        "start": alerts.start.isoformat(),
        "end": alerts.end.isoformat(),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "day_alerts": [without_display_forms(row) for row in alerts.days],
        "campaign_alerts": [without_display_forms(row) for row in alerts.campaigns],
    }
    temp = write_temp_beside(target, json.dumps(document, indent=2, default=_json_value).encode())
    replace_all([(temp, target)])
    return target


def send_new_alerts(export_dir: Path, alerts: Alerts, webhook: str, log: Callable[[str], None]) -> Delivery:
    """POST each alert not sent before; never raises for a delivery problem."""
    folder = export_dir / SUBFOLDER
    make_folder(folder)
    ledger_path = folder / LEDGER
    ledger = _read_ledger(ledger_path, log)
    delivery = Delivery()
    for kind, rows in (("day", alerts.days), ("campaign", alerts.campaigns)):
        for row in rows:
            key = alert_key(kind, row)
            if key in ledger:
                continue
            try:
                _post(webhook, slack_message(kind, row))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                delivery.failed.append(f"{key}: {reason}")
                log(f"alert webhook: could not deliver {key} ({reason}); the next run tries again")
                continue
            ledger[key] = dt.datetime.now(dt.UTC).isoformat()
            delivery.sent.append(key)
    if delivery.sent:
        temp = write_temp_beside(ledger_path, json.dumps(ledger, indent=2, sort_keys=True).encode())
        replace_all([(temp, ledger_path)])
    return delivery


def _read_ledger(path: Path, log: Callable[[str], None]) -> dict:
    """The alerts sent before; an unreadable ledger is logged and read as empty (alerts may be
    sent again, which beats sending none)."""
    if not path.exists():
        return {}
    try:
        ledger = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log(f"alert webhook: cannot read {path} ({exc}); alerts sent before may be sent again")
        return {}
    return ledger if isinstance(ledger, dict) else {}


def slack_message(kind: str, row: dict) -> dict:
    row = {key: mrkdwn_escaped(value) if isinstance(value, str) else value for key, value in row.items()}
    if kind == "day":
        text = (
            f":warning: Opt-out rate alert: {row['platform']} on {row['date']}: "
            f"{row['opt_outs_estimated']:.1f} opt-outs (re-spread estimate) vs {row['expected_opt_outs']:.1f} "
            f"expected from the days before ({_times(row['ratio'])}, {row['p_shown']})."
        )
    else:
        text = (
            f":warning: Campaign alert: {row['campaign_id']} ({row['channel']}, "
            f'"{row["name_shown"]}"): {row["attributed_opt_outs"]} attributed opt-outs vs '
            f"{row['expected_opt_outs']:.1f} expected among {row['recipients']} recipients at their push "
            f"pressure ({_times(row['ratio'])}, {row['p_shown']}). Review its frequency, targeting and "
            "relevance."
        )
    return text_message(text)


def text_message(text: str, link_line: str | None = None) -> dict:
    """A Slack-compatible message: `text` (notifications, clients without blocks), then blocks.

    What the message says, data included, is a `plain_text` block: Slack applies no
    formatting to it, so a campaign named `*50% off*` or `~old~ _new_` shows as typed (mrkdwn
    has no escape for those). Only `link_line`, which the message writes itself (a link to
    the UI, its data-free words), is a `mrkdwn` block, so that its `<url>` is a link; that
    block is `verbatim`, so Slack links or mentions nothing else in it. In every part the
    data has Slack's three control characters escaped (`mrkdwn_escaped`): the fallback text
    is read as mrkdwn, and `<!channel>` must ping nobody anywhere.
    """
    blocks: list[dict] = [{"type": "section", "text": {"type": "plain_text", "text": text, "emoji": True}}]
    if link_line:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": link_line, "verbatim": True}]}
        )
    return {"text": text if link_line is None else f"{text}\n{link_line}", "blocks": blocks}


def mrkdwn_escaped(text: str) -> str:
    """Text from data, safe in a Slack message: a campaign named `<!channel>` pings nobody and
    `<http://x|y>` links nowhere (Slack's own escaping: only &, < and > are control characters);
    control characters are shown escaped (`\\x1b`), as on the console."""
    return escape_controls(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn_link(url: str) -> str:
    """A link the message writes itself (a verbatim block links no bare URL)."""
    return f"<{url}>"


class DeliveryError(Exception):
    """A message the webhook did not take, in one line that never repeats the webhook's URL."""


def post_message(url: str, message: dict) -> None:
    """POST one Slack-compatible message (`text_message`, its data already escaped).

    Raises DeliveryError when it was not delivered; the caller decides whether to try again.
    """
    try:
        _post(url, message)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code}"
        # the URL of an incoming webhook is its secret: never in a log line
        raise DeliveryError(str(reason).replace(url, "OPTOUT_ALERT_WEBHOOK")) from None


def _times(ratio: float | None) -> str:
    return "none expected" if ratio is None else f"x{ratio:.1f}"


def _post(url: str, message: dict) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(message).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        if not 200 <= response.status < 300:
            raise ValueError(f"HTTP {response.status}")


def _json_value(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float | int):
        return value
    return str(value)
