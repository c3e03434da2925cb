"""The report as one self-contained HTML page: inline SVG charts, their data as JSON, no scripts.

The page itself is templates/report.html; this module gives it the texts and the values.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jinja2
import polars as pl

from assets.alerts.read import Alerts

LAG_NOTE = (
    "On web push an opt-out is often only detected later: Chrome when the next send fails for "
    "the deleted token, Firefox when the user comes back to the site. Opt-outs found on a day "
    "happened between the previous delivery and that day; the estimated line spreads each one "
    "over that window."
)

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #1f2328; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .subtitle { color: #59636e; margin-top: 0; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.5rem 0; }
.card { border: 1px solid #d1d9e0; border-radius: 8px; padding: 0.8rem 1.1rem; min-width: 180px; }
.card .value { font-size: 1.7rem; font-weight: 600; } .card .label { color: #59636e; font-size: 0.9rem; }
section { margin: 2.2rem 0; } .warnings { border: 2px solid #e45756; padding: 0 1rem; } .note { background: #f6f8fa; border-left: 4px solid #4c78a8; padding: 0.6rem 1rem; }
.empty { background: #fff8c5; border: 1px solid #d4a72c; padding: 1rem; border-radius: 6px; }
table { border-collapse: collapse; font-size: 0.9rem; } td, th { border-bottom: 1px solid #d1d9e0; padding: 4px 10px; text-align: left; }
figure { margin: 0.5rem 0; overflow-x: auto; }
"""


SECTIONS = [
    {"name": "trend", "title": "Is opt-out increasing?", "note": LAG_NOTE},
    {
        "name": "pressure",
        "title": "Did message pressure contribute?",
        "intro": (
            "Share of users per number of pushes received in the 7 days before: those who opted out "
            "(before their opt-out window) against those who stayed opted in (each day's opted-in base). "
            "A right-shifted red distribution and a rising risk line mean pressure raises opt-out risk."
        ),
    },
    {
        "name": "campaigns",
        "title": "Which campaigns came last?",
        "intro": (
            "Attributed: the campaign of the last delivery before the opt-out window. Revealed: the "
            "campaign whose failed send discovered an opt-out that had already happened; it is not "
            "blamed for it."
        ),
    },
    {
        "name": "send_days",
        "title": "On which days were they sent?",
        "intro": (
            "Opt-outs by the day of the send: attributed ones on the day of the delivery they are "
            "attributed to, revealed ones on the day of the failed send that found them, whenever the "
            "opt-out happened. Automated and transactional campaigns send every day: their opt-outs "
            "are spread over the days they sent, not piled on the day they started."
        ),
    },
    {
        "name": "retain_churn",
        "title": "Did they stay or leave?",
        "intro": (
            "Retain: the user was active in the app or on the site within x days after the opt-out "
            "window (consent withdrawn, product kept); churn: not; pending: the x days are not over yet."
        ),
    },
    {
        "name": "last_events",
        "title": "What did they do before?",
        "intro": "App events in the last x days before the opt-out window: every event vs distinct users.",
    },
]


def format_share(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value)}")


# In a <script> block the HTML parser looks for `</script` and `<!--` whatever the JSON
# says: every <, > and & of the JSON is written as its \u escape, which JSON reads back
# as the same character (ensure_ascii already writes U+2028 and U+2029 that way).
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _json(frame: pl.DataFrame) -> str:
    """Rows as JSON for a <script> block: no value can end the block or change how it is parsed."""
    return json.dumps(frame.to_dicts(), default=_json_default).translate(_SCRIPT_SAFE)


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["share"] = format_share


def _cards(headline: dict, days: int) -> list[dict]:
    change = headline["rate_change"]
    change_text = "n/a" if change is None else f"{change:+.0%} vs the previous {days} days"
    return [
        {
            "metric": "opt_outs",
            "value": headline["opt_outs"],
            "shown": f"{headline['opt_outs']:,}",
            "label": "opt-outs in the range",
        },
        {
            "metric": "opt_out_rate",
            "value": headline["opt_out_rate"],
            "shown": format_share(headline["opt_out_rate"], 3),
            "label": f"daily opt-out rate ({change_text})",
        },
        {
            "metric": "previous_opt_out_rate",
            "value": headline["previous_opt_out_rate"],
            "shown": format_share(headline["previous_opt_out_rate"], 3),
            "label": "daily rate, previous period",
        },
        {
            "metric": "top_campaign",
            "value": headline["top_campaign_id"],
            "shown": headline["top_campaign_id"] or "none",
            "label": f"top campaign ({headline['top_campaign_opt_outs']} attributed opt-outs)",
        },
        {
            "metric": "lagged_share",
            "value": headline["lagged_share"],
            "shown": format_share(headline["lagged_share"]),
            "label": "detected late (send feedback, revisit)",
        },
    ]


def render_page(
    start: dt.date,
    end: dt.date,
    headline: dict,
    figures: dict[str, tuple[str, pl.DataFrame]],
    campaigns: pl.DataFrame,
    export_link: str | None,
    alerts: Alerts | None = None,
    extra_data: dict[str, dict[str, pl.DataFrame]] | None = None,
    notes: dict[str, str | None] | None = None,
) -> str:
    """`extra_data`: per section, more data blocks by name; `notes`: per section, a note under its chart."""
    extra_data, notes = extra_data or {}, notes or {}
    sections = [
        {
            **section,
            "svg": figures[section["name"]][0],
            "data": _json(figures[section["name"]][1]),
            "extra_data": {name: _json(frame) for name, frame in extra_data.get(section["name"], {}).items()},
            "chart_note": notes.get(section["name"]),
        }
        for section in SECTIONS
    ]
    return _environment.get_template("report.html").render(
        start=start,
        end=end,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        style=STYLE,
        headline=headline,
        cards=_cards(headline, (end - start).days + 1),
        export_link=export_link,
        sections=sections,
        campaigns=campaigns.to_dicts(),
        day_alerts=alerts.days if alerts else [],
        campaign_alerts=alerts.campaigns if alerts else [],
        headline_data=_json(pl.DataFrame([headline])),
    )
