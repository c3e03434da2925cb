"""The report as one self-contained HTML page: inline SVG charts, their data as JSON, no scripts."""

from __future__ import annotations

import datetime as dt
import html
import json

import polars as pl

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
section { margin: 2.2rem 0; } .note { background: #f6f8fa; border-left: 4px solid #4c78a8; padding: 0.6rem 1rem; }
.empty { background: #fff8c5; border: 1px solid #d4a72c; padding: 1rem; border-radius: 6px; }
table { border-collapse: collapse; font-size: 0.9rem; } td, th { border-bottom: 1px solid #d1d9e0; padding: 4px 10px; text-align: left; }
figure { margin: 0.5rem 0; overflow-x: auto; }
"""


def _format_share(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def _card(metric: str, value, shown: str, label: str) -> str:
    raw = "" if value is None else html.escape(str(value))
    return (
        f'<div class="card"><div class="value" data-metric="{metric}" data-value="{raw}">{html.escape(shown)}</div>'
        f'<div class="label">{html.escape(label)}</div></div>'
    )


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value)}")


def _data_block(name: str, frame: pl.DataFrame) -> str:
    payload = json.dumps(frame.to_dicts(), default=_json_default).replace("</", "<\\/")
    return f'<script type="application/json" id="data-{name}">{payload}</script>'


def _figure(name: str, svg: str, frame: pl.DataFrame) -> str:
    return f'<figure data-chart="{name}">{svg}</figure>{_data_block(name, frame)}'


def _campaign_table(campaigns: pl.DataFrame) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(str(r['campaign_id']))}</td>"
        f"<td>{html.escape((r['campaign_name'] or '').replace(chr(10), ' '))}</td>"
        f"<td>{r['attributed_opt_outs_in_range']}</td>"
        f"<td>{r['revealed_opt_outs_in_range']}</td>"
        f"<td>{'' if r['recipients'] is None else r['recipients']}</td>"
        f"<td>{_format_share(r['attributed_opt_out_rate'], 2)}</td>"
        "</tr>"
        for r in campaigns.iter_rows(named=True)
    )
    return (
        "<table><tr><th>campaign</th><th>name</th><th>attributed opt-outs</th><th>revealed (not caused)</th>"
        f"<th>recipients (all time)</th><th>attributed rate (all time)</th></tr>{rows}</table>"
    )


def render_page(
    start: dt.date,
    end: dt.date,
    headline: dict,
    figures: dict[str, tuple[str, pl.DataFrame]],
    campaigns: pl.DataFrame,
    export_link: str | None,
) -> str:
    change = headline["rate_change"]
    change_text = "n/a" if change is None else f"{change:+.0%} vs the previous {(end - start).days + 1} days"
    cards = "".join(
        [
            _card("opt_outs", headline["opt_outs"], f"{headline['opt_outs']:,}", "opt-outs in the range"),
            _card(
                "opt_out_rate",
                headline["opt_out_rate"],
                _format_share(headline["opt_out_rate"], 3),
                f"daily opt-out rate ({change_text})",
            ),
            _card(
                "previous_opt_out_rate",
                headline["previous_opt_out_rate"],
                _format_share(headline["previous_opt_out_rate"], 3),
                "daily rate, previous period",
            ),
            _card(
                "top_campaign",
                headline["top_campaign_id"],
                headline["top_campaign_id"] or "none",
                f"top campaign ({headline['top_campaign_opt_outs']} attributed opt-outs)",
            ),
            _card(
                "lagged_share",
                headline["lagged_share"],
                _format_share(headline["lagged_share"]),
                "detected late (send feedback, revisit)",
            ),
        ]
    )
    empty = (
        f'<p class="empty" data-empty="true">No opt-outs between {start} and {end}: nothing to attribute '
        "or re-spread. The trend below shows the opted-in base for the range.</p>"
        if headline["opt_outs"] == 0
        else ""
    )
    link = (
        f'<p>Who opted out: <a href="{html.escape(export_link)}" data-export="true">{html.escape(export_link)}</a> '
        "(CSV, one row per user, with its manifest beside it).</p>"
        if export_link
        else ""
    )
    sections = [
        ("trend", "Is opt-out increasing?", f'<p class="note">{html.escape(LAG_NOTE)}</p>'),
        (
            "pressure",
            "Did message pressure contribute?",
            "<p>Share of users per number of pushes received in the 7 days before: those who opted out (before their opt-out window) against those who stayed opted in (each day's opted-in base). A right-shifted red distribution and a rising risk line mean pressure raises opt-out risk.</p>",
        ),
        (
            "campaigns",
            "Which campaigns came last?",
            "<p>Attributed: the campaign of the last delivery before the opt-out window. Revealed: the campaign whose failed send discovered an opt-out that had already happened; it is not blamed for it.</p>"
            + _campaign_table(campaigns),
        ),
        (
            "retain_churn",
            "Did they stay or leave?",
            "<p>Retain: the user was active in the app or on the site within x days after the opt-out window (consent withdrawn, product kept); churn: not; pending: the x days are not over yet.</p>",
        ),
        (
            "last_events",
            "What did they do before?",
            "<p>App events in the last x days before the opt-out window: every event vs distinct users.</p>",
        ),
    ]
    body = "".join(
        f'<section id="{name}"><h2>{html.escape(title)}</h2>{intro}{_figure(name, *figures[name])}</section>'
        for name, title, intro in sections
    )
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Opt-out report {start} to {end}</title><style>{STYLE}</style></head><body>"
        f'<h1>Opt-out report</h1><p class="subtitle" data-start="{start}" data-end="{end}">'
        f'{start} to {end} · generated {generated}</p>{empty}<div class="cards">{cards}</div>{link}{body}'
        f"{_data_block('headlines', pl.DataFrame([headline]))}</body></html>"
    )
