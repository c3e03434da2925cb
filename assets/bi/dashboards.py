"""optout's Superset dashboards, as code: datasets, charts and layouts, applied through the REST API.

The overview and the pressure-and-campaigns dashboards read the reporting tables of the
serving copy (assets/serving/copy.py): the reporting views' rows for a period, picked by
the dashboard's Period filter. Ranks, totals, shares and rates are the views' columns, read
as they are (the filter leaves one row per chart point, so a metric is MAX(column), the
value itself): no chart counts, sums or ranks anything, so the dashboards and the report
show the same numbers by construction. The opted-out users dashboard lists `marts`
rows for a range of days. Text from the data (campaign names, ids) is shown as text: every
table chart has HTML rendering off, and no markdown component holds data. Titles, series names, colours and date formats come from
assets/report/look.py, as in the report. `apply_dashboards` is idempotent: it replaces the
charts and dashboards it owns (their titles start with "Opt-outs") and keeps everything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from assets.bi.superset_api import SupersetClient
from assets.exports.ranges import PRESET_DAYS
from assets.report import look
from assets.report.look import ChartText
from assets.report.numbers import TOP_CAMPAIGNS
from assets.serving.copy import PERIOD_COLUMNS

TITLE_PREFIX = "Opt-outs"
RANGE_FILTER_ID = "NATIVE_FILTER-optout-range"
PERIOD_FILTER_ID = "NATIVE_FILTER-optout-period"
PERIOD_COLUMN = PERIOD_COLUMNS[0]
DEFAULT_PERIOD = next(iter(PRESET_DAYS))  # last_week
CHART_HEIGHT = 50  # grid units of 8 px
# a table's row limit stays above what its SQL filter lets through (Superset warns "row
# limit reached" once a query returns as many rows as the limit)
TABLE_ROW_LIMIT = 100
REPORTING = "reporting"
# datasets earlier versions created that no chart reads any more (a ranking re-done in SQL)
RETIRED_DATASETS = ("attributed_opt_outs",)


@dataclass(frozen=True)
class Dataset:
    name: str
    schema: str = "marts"
    sql: str | None = None  # a virtual dataset over the copy; a table of `schema` otherwise


@dataclass(frozen=True)
class Chart:
    text: ChartText
    dataset: str
    viz_type: str
    params: dict
    width: int = 6
    time_column: str | None = None  # follows the dashboard's range of days (marts)
    where: str | None = None  # a row filter, in SQL, on a column the view computed

    @property
    def title(self) -> str:
        return self.text.title


@dataclass(frozen=True)
class Dashboard:
    title: str
    slug: str
    description: str
    rows: list[list[Chart]] = field(default_factory=list)
    by_period: bool = True  # a Period filter (reporting tables); else a range of days (marts)


DATASETS = [
    # the marts stay available for exploring; the opted-out users dashboard reads fct_opt_outs
    Dataset("mart_opt_out_daily"),
    Dataset("fct_opt_outs"),
    Dataset("mart_campaign_opt_outs"),
    Dataset("mart_retain_churn"),
    Dataset("mart_pre_opt_out_pressure"),
    Dataset("mart_pressure_baseline"),
    Dataset("rpt_headlines", REPORTING),
    Dataset("rpt_trend", REPORTING),
    Dataset("rpt_rate_by_platform", REPORTING),
    Dataset("rpt_rate_left_out", REPORTING),
    Dataset("rpt_campaigns", REPORTING),
    Dataset("rpt_send_days", REPORTING),
    Dataset("rpt_pressure", REPORTING),
    Dataset("rpt_retain_churn", REPORTING),
]


def metric(sql: str, label: str) -> dict:
    return {"expressionType": "SQL", "sqlExpression": sql, "label": label}


def value(column: str, label: str) -> dict:
    """A reporting column as it is: the Period filter leaves one row per point, MAX is that row's value."""
    return metric(f"MAX({column})", label)


def _time_range_filter(column: str) -> dict:
    """The chart follows the dashboard's range on `column` (no range: every day)."""
    return {
        "expressionType": "SIMPLE",
        "subject": column,
        "operator": "TEMPORAL_RANGE",
        "comparator": "No filter",
        "clause": "WHERE",
    }


def _where(sql: str) -> dict:
    return {"expressionType": "SQL", "sqlExpression": sql, "clause": "WHERE"}


def _axes(text: ChartText, y_format: str | None = None, days: bool = False) -> dict:
    """The axis titles of `text` (as in the report) and, for a time axis, the report's date labels."""
    params: dict = {"x_axis_title_margin": 30, "y_axis_title_margin": 50, "y_axis_title_position": "Left"}
    if text.x:
        params["x_axis_title"] = text.x
    if text.y:
        params["y_axis_title"] = text.y
    if y_format:
        params["y_axis_format"] = y_format
    if days:
        params |= {"time_grain_sqla": "P1D", "x_axis_time_format": look.DATE_FORMAT}
        params["tooltipTimeFormat"] = look.DATE_FORMAT
    return params


# Superset's table chart renders a cell holding HTML as HTML unless told not to: a campaign
# named `<img src=x onerror=...>` must show as that text. Every table chart sets it.
AS_TEXT = {"allow_render_html": False}


def _rows_as_computed(columns: list[str], order_by: str, search: bool = False, **extra) -> dict:
    """A table chart of a reporting table's rows as they are (no aggregation), in `order_by` order."""
    return {
        **AS_TEXT,
        "query_mode": "raw",
        "show_cell_bars": False,
        "all_columns": columns,
        "order_by_cols": [f'["{order_by}", true]'],
        **extra,
        "row_limit": TABLE_ROW_LIMIT,
        "include_search": search,
    }


OPT_OUTS_TOTAL = Chart(
    look.OPT_OUTS_TOTAL,
    "rpt_headlines",
    "big_number_total",
    {"metric": value("opt_outs", "opt-outs"), "y_axis_format": look.COUNT_FORMAT},
    width=3,
)
TREND = Chart(
    look.TREND,
    "rpt_trend",
    "echarts_timeseries_line",
    {
        "x_axis": "date",
        "metrics": [
            value("opt_outs_detected", look.DETECTED.label),
            value("opt_outs_estimated", look.ESTIMATED.label),
        ],
        "groupby": [],
        "show_legend": True,
        "rich_tooltip": True,
        **_axes(look.TREND, days=True),
    },
    width=9,
)
RATE = Chart(
    look.RATE,
    "rpt_rate_by_platform",
    "echarts_timeseries_line",
    {
        "x_axis": "date",
        "metrics": [value("opt_out_rate", look.RATE.y)],
        "groupby": ["platform"],
        "show_legend": True,
        "rich_tooltip": True,
        **_axes(look.RATE, y_format=look.RATE_FORMAT, days=True),
    },
    width=8,
    # the view's rule: a rate on too small an opted-in base is not drawn (RATE_LEFT_OUT lists it)
    where="is_charted",
)
RATE_LEFT_OUT = Chart(
    look.RATE_LEFT_OUT,
    "rpt_rate_left_out",
    "table",
    _rows_as_computed(
        [
            "platform",
            "days_left_out",
            "opt_outs_detected",
            "opted_in_user_days",
            "largest_opted_in_base",
            "min_opted_in_base",
        ],
        order_by="platform",
    ),  # fmt: skip
    width=4,
)
TOP_CAMPAIGNS_TABLE = Chart(
    look.TOP_CAMPAIGNS,
    "rpt_campaigns",
    "table",
    _rows_as_computed(
        ["campaign_rank", "campaign_id", "campaign_name", "channel", "attributed_opt_outs_in_range"],
        order_by="campaign_rank",
    ),
    width=7,
    # the view ranks (most attributed opt-outs, ties to the smaller id); the chart keeps the top
    where=f"campaign_rank <= {TOP_CAMPAIGNS}",
)
RETAIN_CHURN = Chart(
    look.RETAIN_CHURN,
    "rpt_retain_churn",
    "echarts_timeseries_bar",
    {
        "x_axis": "lookback_days",
        "metrics": [value("opt_outs", look.RETAIN_CHURN.y)],
        "groupby": ["status"],
        "stack": "Stack",
        "show_legend": True,
        **_axes(look.RETAIN_CHURN),
    },
    width=5,
)
PRESSURE = Chart(
    look.PRESSURE,
    "rpt_pressure",
    "echarts_timeseries_bar",
    {
        "x_axis": "bucket_order",
        "metrics": [
            value("opt_out_share", look.OPTED_OUT.label),
            value("stayer_share", look.STAYED.label),
        ],
        "groupby": [],
        "show_legend": True,
        **_axes(look.PRESSURE, y_format=look.SHARE_FORMAT),
    },
    width=7,
)
RISK = Chart(
    look.RISK,
    "rpt_pressure",
    "echarts_timeseries_line",
    {
        "x_axis": "bucket_order",
        "metrics": [value("daily_risk", look.DAILY_RISK.label)],
        "groupby": [],
        "show_legend": True,
        **_axes(look.RISK, y_format=look.RATE_FORMAT),
    },
    width=5,
)
SEND_DAYS = Chart(
    look.SEND_DAYS,
    "rpt_send_days",
    "echarts_timeseries_bar",
    {
        "x_axis": "send_date",
        "metrics": [
            value("attributed_opt_outs", look.ATTRIBUTED.label),
            value("revealed_opt_outs", look.REVEALED.label),
        ],
        "groupby": [],
        "show_legend": True,
        **_axes(look.SEND_DAYS, days=True),
    },
    width=12,
)
CAMPAIGNS_TABLE = Chart(
    look.CAMPAIGNS,
    "rpt_campaigns",
    "table",
    _rows_as_computed(
        [
            "campaign_rank",
            "campaign_id",
            "campaign_name",
            "channel",
            "campaign_type",
            "attributed_opt_outs_in_range",
            "revealed_opt_outs_in_range",
            "recipients",
            "attributed_opt_out_rate",
        ],
        order_by="campaign_rank",
        search=True,
        column_config={"attributed_opt_out_rate": {"d3NumberFormat": look.RATE_FORMAT}},
    ),  # fmt: skip
    width=12,
    where=f"campaign_rank <= {TOP_CAMPAIGNS}",
)
OPTED_OUT_USERS_COUNT = Chart(
    ChartText("Opted-out users in the range"),
    "fct_opt_outs",
    "big_number_total",
    {"metric": metric("COUNT(DISTINCT user_id)", "users"), "y_axis_format": look.COUNT_FORMAT},
    width=3,
    time_column="opt_out_date",
)
OPTED_OUT_USERS = Chart(
    ChartText("Opted-out users of the range (the rows of `optout export` for the same days)"),
    "fct_opt_outs",
    "table",
    {
        **AS_TEXT,
        "query_mode": "aggregate",
        "groupby": ["user_id", "external_id", "platform"],
        "metrics": [
            metric("MAX(opted_out_at)", "last_opted_out_at"),
            metric("COUNT(*)", "opt_outs_in_range"),
        ],
        # the export's order: by user id
        "timeseries_limit_metric": metric("MIN(user_id)", "user_id order"),
        "order_desc": False,
        "row_limit": 50000,
        "server_pagination": True,
        "server_page_length": 50,
        "include_search": True,
    },
    width=9,
    time_column="opt_out_date",
)

DASHBOARDS = [
    Dashboard(
        f"{TITLE_PREFIX}: overview",
        "optout-overview",
        "The period's opt-outs: how many, detected vs re-spread, the rate per platform, the campaigns "
        "behind them and what the users did after.",
        [[OPT_OUTS_TOTAL, TREND], [RATE, RATE_LEFT_OUT], [TOP_CAMPAIGNS_TABLE, RETAIN_CHURN]],
    ),
    Dashboard(
        f"{TITLE_PREFIX}: pressure and campaigns",
        "optout-pressure-campaigns",
        "Message pressure before opting out against users who stayed, the opt-outs by the day of "
        "the send they followed, and the campaigns with the opt-outs they caused (attributed) or "
        "only found (revealed).",
        [[PRESSURE, RISK], [SEND_DAYS], [CAMPAIGNS_TABLE]],
    ),
    Dashboard(
        f"{TITLE_PREFIX}: opted-out users",
        "optout-opted-out-users",
        "Who opted out in the chosen range, for follow-up through other channels.",
        [[OPTED_OUT_USERS_COUNT, OPTED_OUT_USERS]],
        by_period=False,
    ),
]


def apply_dashboards(client: SupersetClient, database_id: int) -> dict[str, int]:
    """Create or replace optout's datasets, charts and dashboards; returns {dashboard slug: id}."""
    dataset_ids = {dataset.name: _ensure_dataset(client, database_id, dataset) for dataset in DATASETS}
    _delete_owned(client)
    _delete_retired_datasets(client)
    created = {}
    for dashboard in DASHBOARDS:
        dashboard_id = client.post(
            "/api/v1/dashboard/",
            {"dashboard_title": dashboard.title, "slug": dashboard.slug, "published": True},
        )["id"]
        chart_ids = [
            [_create_chart(client, chart, dataset_ids[chart.dataset], dashboard_id) for chart in row]
            for row in dashboard.rows
        ]
        client.put(
            f"/api/v1/dashboard/{dashboard_id}",
            {
                "position_json": json.dumps(_layout(dashboard, chart_ids)),
                "json_metadata": json.dumps(
                    _metadata(dashboard, [i for row in chart_ids for i in row], dataset_ids)
                ),
                "css": "",
            },
        )
        created[dashboard.slug] = dashboard_id
    return created


def _ensure_dataset(client: SupersetClient, database_id: int, dataset: Dataset) -> int:
    """The dataset's id; created if missing, its columns re-read from the serving copy otherwise."""
    found = client.get(
        "/api/v1/dataset/",
        {"filters": [{"col": "table_name", "opr": "eq", "value": dataset.name}], "page_size": 100},
    )["result"]
    if found:
        dataset_id = found[0]["id"]
        if dataset.sql is not None:
            client.put(f"/api/v1/dataset/{dataset_id}", {"sql": dataset.sql})
        client.put(f"/api/v1/dataset/{dataset_id}/refresh", {})
        return dataset_id
    body = {"database": database_id, "schema": dataset.schema, "table_name": dataset.name}
    if dataset.sql is not None:
        body["sql"] = dataset.sql
    return client.post("/api/v1/dataset/", body)["id"]


def _delete_owned(client: SupersetClient) -> None:
    for kind, title_column in (("dashboard", "dashboard_title"), ("chart", "slice_name")):
        while True:
            owned = client.get(
                f"/api/v1/{kind}/",
                {"filters": [{"col": title_column, "opr": "ct", "value": TITLE_PREFIX}], "page_size": 100},
            )["result"]
            if not owned:
                break
            for item in owned:
                client.delete(f"/api/v1/{kind}/{item['id']}")


def _delete_retired_datasets(client: SupersetClient) -> None:
    for name in RETIRED_DATASETS:
        found = client.get(
            "/api/v1/dataset/",
            {"filters": [{"col": "table_name", "opr": "eq", "value": name}], "page_size": 100},
        )["result"]
        for dataset in found:
            client.delete(f"/api/v1/dataset/{dataset['id']}")


def chart_params(chart: Chart, dataset_id: int) -> dict:
    """The chart's form data as Superset stores it."""
    filters = []
    if chart.time_column:
        filters.append(_time_range_filter(chart.time_column))
    if chart.where:
        filters.append(_where(chart.where))
    return {
        "viz_type": chart.viz_type,
        "datasource": f"{dataset_id}__table",
        "adhoc_filters": filters,
        "row_limit": 10000,
        **chart.params,
    }


def _create_chart(client: SupersetClient, chart: Chart, dataset_id: int, dashboard_id: int) -> int:
    params = chart_params(chart, dataset_id)
    return client.post(
        "/api/v1/chart/",
        {
            "slice_name": f"{TITLE_PREFIX} · {chart.title}",
            "viz_type": chart.viz_type,
            "datasource_id": dataset_id,
            "datasource_type": "table",
            "params": json.dumps(params),
            "dashboards": [dashboard_id],
        },
    )["id"]


def _layout(dashboard: Dashboard, chart_ids: list[list[int]]) -> dict:
    """Superset's position_json: a header and one grid row per row of charts."""
    layout: dict = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": dashboard.title}},
    }
    for row_number, (row, ids) in enumerate(zip(dashboard.rows, chart_ids, strict=True), start=1):
        row_id = f"ROW-{row_number}"
        layout["GRID_ID"]["children"].append(row_id)
        layout[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for chart, chart_id in zip(row, ids, strict=True):
            node_id = f"CHART-{chart_id}"
            layout[row_id]["children"].append(node_id)
            layout[node_id] = {
                "type": "CHART",
                "id": node_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {
                    "chartId": chart_id,
                    "width": chart.width,
                    "height": CHART_HEIGHT,
                    "sliceName": f"{TITLE_PREFIX} · {chart.title}",
                },
            }
    return layout


def _metadata(dashboard: Dashboard, chart_ids: list[int], dataset_ids: dict[str, int]) -> dict:
    """One native filter every chart follows (a period, or a range of days); the shared colours."""
    return {
        "native_filter_configuration": [
            _period_filter(chart_ids, dataset_ids) if dashboard.by_period else _range_filter(chart_ids)
        ],
        "chart_configuration": {},
        "cross_filters_enabled": False,
        "refresh_frequency": 0,
        "color_scheme": "",
        # a series or platform has the report's colour on every chart (look.py)
        "label_colors": look.label_colors(),
        "timed_refresh_immune_slices": [],
        "expanded_slices": {},
    }


def _period_filter(chart_ids: list[int], dataset_ids: dict[str, int]) -> dict:
    """The period the reporting tables' rows are for (one, required; the shortest by default)."""
    default = [DEFAULT_PERIOD]
    return {
        "id": PERIOD_FILTER_ID,
        "name": "Period (ending on the last export day)",
        "filterType": "filter_select",
        "type": "NATIVE_FILTER",
        "targets": [{"datasetId": dataset_ids["rpt_headlines"], "column": {"name": PERIOD_COLUMN}}],
        "controlValues": {
            "enableEmptyFilter": True,
            "defaultToFirstItem": False,
            "multiSelect": False,
            "searchAllOptions": False,
            "inverseSelection": False,
        },
        "defaultDataMask": {
            "extraFormData": {"filters": [{"col": PERIOD_COLUMN, "op": "IN", "val": default}]},
            "filterState": {"value": default},
            "ownState": {},
        },
        "cascadeParentIds": [],
        "scope": {"rootPath": ["ROOT_ID"], "excluded": []},
        "chartsInScope": chart_ids,
        "tabsInScope": [],
        "description": (
            "last_week, last_month or last_year up to the last export day of the serving copy, as "
            "`optout report --preset` and `optout export --preset`."
        ),
    }


def _range_filter(chart_ids: list[int]) -> dict:
    """The range of days every chart follows (no range: every day)."""
    return {
        "id": RANGE_FILTER_ID,
        "name": "Days (start inclusive : end exclusive)",
        "filterType": "filter_time",
        "type": "NATIVE_FILTER",
        "targets": [{}],
        "controlValues": {},
        "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
        "cascadeParentIds": [],
        "scope": {"rootPath": ["ROOT_ID"], "excluded": []},
        "chartsInScope": chart_ids,
        "tabsInScope": [],
        "description": "The days the charts cover; Superset's end is exclusive.",
    }
