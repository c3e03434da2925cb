"""Hostile text in the data is shown as text in every output: ids and names holding markup,
Slack control sequences, Markdown, spreadsheet formulas and terminal control characters go
through a whole `optout run` (tests/hostile.py) into the export files, the report (opened in
headless Chromium), the webhook's messages, the alerts file and the console."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html.parser
import http.server
import io
import json
import re
import subprocess
import sys
import threading

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets.bi import dashboards
from assets.exports.opted_out_users import (
    COLUMNS,
    csv_bytes,
    opted_out_users,
    read_export_rows,
    unescaped_csv_cell,
)
from assets.exports.ranges import between_range
from assets.generator.simulate import PlantedCampaign
from assets.report import numbers
from assets.report.page import _json
from assets.shown_text import escape_controls
from tests.conftest import SAMPLE_START, make_workspace
from tests.helpers import chromium, run_optout
from tests.hostile import EVENT_NAMES, PLANTED_NAME, USER_IDS, generate_hostile
from tests.report_parser import parse

DAYS, USERS, SEED = 28, 1200, 7
PLANT = PlantedCampaign("push", 22, risk_factor=25.0)
LAST_DAY = SAMPLE_START + dt.timedelta(days=DAYS - 1)
STEM = f"{SAMPLE_START}_{LAST_DAY}"  # the report's range, whose export the run writes too
FORMULA_CHARACTERS = ("=", "+", "-", "@", "\t", "\r")
# C0 and C1 controls but the newline (and tab, which only an export cell may hold)
TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Hook:
    """A Slack-compatible webhook on 127.0.0.1 that keeps every message it is sent."""

    def __init__(self):
        self.messages: list[dict] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                hook.messages.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/optout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, dbt_manifest):
    ws = make_workspace(tmp_path_factory.mktemp("hostile"))
    externals = generate_hostile(ws.landing, SAMPLE_START, DAYS, USERS, SEED, (PLANT,))
    hook = Hook()
    done = run_optout({**ws.env(), "OPTOUT_ALERT_WEBHOOK": hook.url, "TZ": "UTC"}, "run")
    hook.server.shutdown()
    return ws, hook, done.stdout, externals


def _rows(ws, sql: str) -> list[dict]:
    with duckdb.connect(str(ws.warehouse), read_only=True) as connection:
        relation = connection.execute(sql)
        names = [c[0] for c in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def _top_campaigns(ws) -> list[dict]:
    with duckdb.connect(str(ws.warehouse), read_only=True) as connection:
        numbers.set_range(connection, SAMPLE_START, LAST_DAY)
        return numbers.read_top_campaigns(connection, numbers.TOP_CAMPAIGNS).to_dicts()


def _planted(ws) -> dict:
    (row,) = _rows(
        ws, f"select * from marts.mart_campaign_alerts where campaign_id like '%{PLANT.campaign_id}%'"
    )
    return row


# --- the export files ---------------------------------------------------------------------------


def test_the_hostile_users_are_exported_exactly_in_the_parquet_file(hostile):
    ws, _, _, externals = hostile
    manifest_path = ws.exports / "opted_out_users" / f"{STEM}.manifest.json"
    manifest = json.loads(manifest_path.read_text())
    parquet = ws.exports / "opted_out_users" / f"{STEM}.parquet"
    assert manifest["parquet"] == {
        "file": parquet.name,
        "sha256": hashlib.sha256(parquet.read_bytes()).hexdigest(),
    }
    assert manifest["formula_cells_escaped"] is True
    rows = read_export_rows(manifest_path)
    assert rows.schema == pl.Schema(
        {
            "external_id": pl.String,
            "user_id": pl.String,
            "platform": pl.String,
            "last_opted_out_at": pl.Datetime("us", "UTC"),
            "opt_outs_in_range": pl.Int64,
        }
    )
    # every hostile user opted out, with its hostile external id, byte for byte
    exported = dict(rows.select("user_id", "external_id").iter_rows())
    assert {user: exported.get(user) for user in USER_IDS} == externals
    assert manifest["row_count"] == rows.height
    # the same rows the marts give (the export's definition), in the same order
    with duckdb.connect(str(ws.warehouse), read_only=True) as connection:
        facts = connection.table("marts.fct_opt_outs").pl()
    expected = opted_out_users(facts, between_range(SAMPLE_START, LAST_DAY))
    assert_frame_equal(
        rows, expected.with_columns(pl.col("last_opted_out_at").dt.replace_time_zone("UTC")).cast(rows.schema)
    )


def test_formula_cells_are_escaped_in_the_csv_and_nothing_else_changes(hostile):
    ws, _, _, externals = hostile
    data = (ws.exports / "opted_out_users" / f"{STEM}.csv").read_bytes()
    exact = read_export_rows(ws.exports / "opted_out_users" / f"{STEM}.manifest.json")
    cells = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert cells[0] == COLUMNS and len(cells) == exact.height + 1
    for row in cells[1:]:
        assert not any(cell.startswith(FORMULA_CHARACTERS) for cell in row), row
    by_user = {unescaped_csv_cell(row[1]): row for row in cells[1:]}
    # OWASP's rule: a single quote before the formula, and the field quoted
    assert by_user['=HYPERLINK("http://x","y")'][:2] == ["'=1+2", '\'=HYPERLINK("http://x","y")']
    assert b'"\'=1+2","\'=HYPERLINK(""http://x"",""y"")",' in data
    assert b"\"'<script>alert(1)</script>" not in data and b'<script>alert(1)</script>,"\'+1+1",' in data
    assert b'"\'@everyone","\'-2+3",' in data and b'"\'\t=cmd","\'@SUM(A1)",' in data
    # markup is no formula: a CSV cell holds it as it is
    img = next(user for user in USER_IDS if user.startswith("<img"))
    assert by_user[img][:2] == [externals[img], img]
    # removing the one quote gives every exact value back; the rest of each row is as before
    for row, want in zip(cells[1:], exact.iter_rows(named=True), strict=True):
        assert [unescaped_csv_cell(cell) for cell in row[:3]] == [
            want["external_id"] or "",
            want["user_id"],
            want["platform"],
        ]
        assert row[3] == want["last_opted_out_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert int(row[4]) == want["opt_outs_in_range"]
    assert data == csv_bytes(exact)


def test_ordinary_values_are_written_as_before():
    """The CSV of values that begin with no formula character is the bytes polars wrote before
    (RFC 4180 quoting only where needed, CRLF, null an empty field, "" the empty string)."""
    import random

    draw = random.Random(5)
    alphabet = ["a", "Z", "7", ",", '"', " ", "\r", "\n", "é", "😀", "'", "=", "+", "-", "@", "\t", "\\", ";"]
    values: list[str | None] = [None, "", "a b", "x=1", "'quoted", "-"]
    values += ["".join(draw.choice(alphabet) for _ in range(draw.randint(0, 8))) for _ in range(4000)]
    rows = pl.DataFrame(
        {
            "external_id": values,
            "user_id": [f"u{i}" for i in range(len(values))],
            "platform": ["web"] * len(values),
            "last_opted_out_at": [dt.datetime(2026, 1, 20, 14, 3, 7, 123456)] * len(values),
            "opt_outs_in_range": list(range(len(values))),
        }
    )
    formula = pl.col("external_id").str.contains(r"^'*[=+\-@\t\r]").fill_null(False)
    # a `;` or a tab anywhere: a spreadsheet set to split on it would start a cell (a formula) there
    splits = pl.col("external_id").str.contains(r"[;\t]").fill_null(False)
    ordinary, formulas = rows.filter(~formula & ~splits), rows.filter(formula)
    assert ordinary.height > 1500 and formulas.height > 500
    before = ordinary.with_columns(
        pl.col("last_opted_out_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    ).write_csv(line_terminator="\r\n", quote_style="necessary")
    assert csv_bytes(ordinary) == before.encode()
    # every escaped cell reads back exactly; none begins with a formula character
    cells = list(csv.reader(io.StringIO(csv_bytes(rows).decode(), newline="")))[1:]
    for row, value in zip(cells, rows["external_id"], strict=True):
        assert unescaped_csv_cell(row[0]) == (value or "") and not row[0].startswith(FORMULA_CHARACTERS)
    assert unescaped_csv_cell("''=1") == "'=1" and unescaped_csv_cell("'abc") == "'abc"
    split = rows.filter(splits & ~formula)
    assert split.height > 300
    for index in range(split.height):
        line = csv_bytes(split[index : index + 1]).decode().split("\r\n", 1)[1]
        assert line.startswith('"'), line  # quoted, so the whole value stays one cell


# --- the report ---------------------------------------------------------------------------------


class _Page(html.parser.HTMLParser):
    """What a browser made of a page: its title, tags, each table cell's text, each figure's texts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title, self.tags, self.cells, self.figure_texts = "", [], [], {}
        self._in, self._figure, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "title":
            self._in = "title"
        if tag == "figure":
            self._figure = dict(attrs)["data-chart"]
            self.figure_texts[self._figure] = []
        if tag == "text" and self._figure:
            self._in = "text"
            self.figure_texts[self._figure].append("")
        if tag == "td":
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("title", "text"):
            self._in = None
        if tag == "figure":
            self._figure = None
        if tag == "td" and self._cell is not None:
            self.cells.append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "text":
            self.figure_texts[self._figure][-1] += data
        if self._cell is not None:
            self._cell += data


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_report_shows_hostile_text_as_text_in_chromium(hostile, tmp_path):
    ws, _, _, _ = hostile
    path = ws.exports / "reports" / f"opt_out_report_{STEM}.html"
    page_html = path.read_text(encoding="utf-8")
    # the only scripts are the data blocks, and no value ends one or starts a comment in it
    scripts = re.findall(r"<script[^>]*>", page_html)
    assert scripts and all('type="application/json"' in tag for tag in scripts)
    for block in re.findall(r"<script[^>]*>(.*?)</script>", page_html, re.S):
        assert "<" not in block and ">" not in block and "&" not in block
    assert "<img" not in page_html and "onerror=" in page_html  # escaped, and there

    top = _top_campaigns(ws)
    data = parse(path).data
    # the data blocks hold the exact names and ids
    assert [(r["campaign_id"], r["campaign_name"]) for r in data["campaigns"]] == [
        (r["campaign_id"], r["campaign_name"]) for r in top
    ]
    assert data["headlines"][0]["top_campaign_name"] == PLANTED_NAME

    shown = chromium(tmp_path / "profile", path.as_uri(), "--dump-dom", window="1200,3000", budget_ms=5000)
    dom = _Page()
    dom.feed(shown.stdout)
    assert dom.title == f"Opt-out report {SAMPLE_START} to {LAST_DAY}"  # no script changed it
    assert not [tag for tag, _ in dom.tags if tag in ("img", "iframe", "object", "embed")]
    assert [attrs["type"] for tag, attrs in dom.tags if tag == "script"] == ["application/json"] * len(
        scripts
    )
    assert not [attrs for _, attrs in dom.tags if any(name.startswith("on") for name in attrs)]
    sections = [attrs["id"] for tag, attrs in dom.tags if tag == "section"]
    assert sections == [
        "early_warnings",
        "trend",
        "pressure",
        "campaigns",
        "send_days",
        "retain_churn",
        "last_events",
    ]
    # every top campaign's id and name are the table's text (a page shows runs of white space as one)
    cells = [_words(cell) for cell in dom.cells]
    for row in top:
        assert _words(row["campaign_id"]) in cells
        assert _words((row["campaign_name"] or "").replace("\n", " ")) in cells
    assert any("<img src=x onerror=document.title='pwned'>" in cell for cell in cells)
    # the charts draw ids and event names as text, control characters escaped (\x1b)
    labels = dom.figure_texts["campaigns"]
    for row in top:
        label = escape_controls(row["campaign_id"])
        assert any(
            text == label or (text.endswith("…") and label.startswith(text[:-1])) for text in labels
        ), label
    (event,) = EVENT_NAMES.values()
    assert any(text.startswith("<img src=x") for text in dom.figure_texts["last_events"])
    assert escape_controls(event) in page_html.replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'")
    assert not any(TERMINAL_CONTROLS.search(text) for texts in dom.figure_texts.values() for text in texts)


def test_script_blocks_hold_json_that_no_value_can_end():
    frame = pl.DataFrame({"name": ["</script><!--<script>", "a & <b> \u2028", None]})
    text = _json(frame)
    assert not set("<>&") & set(text) and "\u2028" not in text
    assert json.loads(text) == frame.to_dicts()


def test_a_control_character_in_a_chart_label_is_drawn_escaped_and_never_aborts():
    """vl-convert aborts the whole process on an SVG text holding a control character: the
    drawing runs in a child process, so that a regression fails this test and nothing else."""
    program = """
import polars as pl
from assets.report import charts
campaigns = pl.DataFrame({"campaign_id": ["c\\x1b[2Jx", "d\\x07\\x9by"], "attributed_opt_outs_in_range": [2, 1],
                          "revealed_opt_outs_in_range": [0, 1]})
svg, png = charts.render(charts.campaign_chart(campaigns))
print(svg)
"""
    from assets.config import REPO_ROOT

    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert ">c\\x1b[2Jx</text>" in done.stdout and ">d\\x07\\x9by</text>" in done.stdout
    assert not TERMINAL_CONTROLS.search(done.stdout)


# --- the webhook, the alerts file, the console ------------------------------------------------------


def test_the_webhook_message_shows_the_campaign_and_pings_or_links_nothing(hostile):
    ws, hook, _, _ = hostile
    planted = _planted(ws)
    assert planted["is_alert"] and planted["campaign_name"] == PLANTED_NAME
    (message,) = [m for m in hook.messages if "Campaign alert" in m["text"]]
    text = message["text"]
    # plain text: Slack formats nothing in it (`*bold*` stays as typed; mrkdwn has no escape for it)
    assert message["blocks"] == [
        {"type": "section", "text": {"type": "plain_text", "text": text, "emoji": True}}
    ]
    shown = (
        "&lt;!channel&gt; &lt;!here&gt; @everyone &lt;https://evil.example|click&gt; *bold* `code` [x](y) "
        "&lt;img src=x onerror=document.title='pwned'&gt; \\x1b[2J &amp; done"
    )
    assert f'"{shown}"' in text
    campaign_id = planted["campaign_id"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert text.startswith(f":warning: Campaign alert: {campaign_id} (push, ")
    for sent in hook.messages:
        body = sent["text"]
        # Slack's control sequences start with `<`: none comes from the data; no control character
        assert "<" not in body and ">" not in body and not TERMINAL_CONTROLS.search(body), body
        assert [block["text"]["type"] for block in sent["blocks"]] == ["plain_text"]


def test_the_alerts_file_keeps_the_exact_text(hostile):
    ws, _, _, _ = hostile
    document = json.loads((ws.exports / "alerts" / f"{STEM}.json").read_text())
    (alert,) = [a for a in document["campaign_alerts"] if a["campaign_id"] == _planted(ws)["campaign_id"]]
    assert alert["campaign_name"] == PLANTED_NAME


def test_the_console_prints_no_control_character(hostile):
    ws, _, stdout, _ = hostile
    assert not TERMINAL_CONTROLS.search(stdout), [
        line for line in stdout.splitlines() if TERMINAL_CONTROLS.search(line)
    ]
    top = _top_campaigns(ws)
    lines = [line for line in stdout.splitlines() if line.startswith("  top campaign #")]
    assert len(lines) == 3
    for line, row in zip(lines, top, strict=False):
        name = (row["campaign_name"] or "").split("\n", 1)[0][:40]
        assert line.startswith(
            f"  top campaign #{row['campaign_rank']}: {escape_controls(row['campaign_id'])} ({name!r}) "
        )
    alert = next(line for line in stdout.splitlines() if line.startswith("    ! campaign "))
    assert "<img src=x onerror=document.title='pwned'> \\x1b[2J & done): " in alert


# --- the dashboards, as defined ----------------------------------------------------------------------


def test_no_dashboard_renders_data_as_html():
    tables = [
        chart
        for dashboard in dashboards.DASHBOARDS
        for row in dashboard.rows
        for chart in row
        if chart.viz_type == "table"
    ]
    assert len(tables) == 4
    for chart in tables:
        assert dashboards.chart_params(chart, 1)["allow_render_html"] is False, chart.title
    for dashboard in dashboards.DASHBOARDS:
        ids = [[index for index, _ in enumerate(row)] for row in dashboard.rows]
        layout = dashboards._layout(dashboard, ids)
        assert {node["type"] for node in layout.values() if isinstance(node, dict) and "type" in node} == {
            "ROOT",
            "GRID",
            "HEADER",
            "ROW",
            "CHART",
        }  # no MARKDOWN component


def test_dagster_metadata_tables_show_hostile_values_as_text():
    """The alert tables and mart previews on an asset's page are Markdown: each value, parsed
    as CommonMark (with GFM tables and strikethrough, as the UI renders), is one text cell
    equal to the value, with no link, image, emphasis, code or HTML made of it."""
    from markdown_it import MarkdownIt

    from assets.shown_text import markdown_table

    values = [
        PLANTED_NAME,
        "[x](https://evil.example) ![p](http://t.example/p.png) *b* _i_ ~~s~~ `c`",
        "<script>alert(1)</script> <img src=x onerror=alert(1)> <https://auto.example>",
        "a|b \\ &amp; # heading =1+2 @SUM(A1) - item",
    ]
    from html import unescape as html_text

    html = (
        MarkdownIt("commonmark")
        .enable(["table", "strikethrough"])
        .render(markdown_table(["campaign_name", "n"], [[value, 1] for value in values]))
    )
    cells = re.findall(r"<td>(.*?)</td><td>1</td>", html.replace("\n", ""))
    shown = [value.replace("\n", " ").replace("\r", " ") for value in values]
    assert [html_text(cell) for cell in cells] == [escape_controls(v) for v in shown]
    assert not re.search(r"<(a|img|em|strong|s|del|code|script|h\d)\b", html)
