"""optout's Superset dashboards, as code: datasets, charts and layouts, applied through the REST API.

Every number a chart shows is a mart column, summed (or, for one value per row, taken
as is) over the rows the dashboard's range selects; nothing is derived in Superset. The
two virtual datasets only join or stack mart rows (a campaign's name beside its
attributed opt-outs). `apply_dashboards` is idempotent: it replaces the charts and
dashboards it owns (their titles start with "Opt-outs") and keeps everything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from assets.bi.superset_api import SupersetClient

TITLE_PREFIX = "Opt-outs"
RANGE_FILTER_ID = "NATIVE_FILTER-optout-range"
CHART_HEIGHT = 50  # grid units of 8 px


@dataclass(frozen=True)
class Dataset:
    name: str
    schema: str = "marts"
    sql: str | None = None  # a virtual dataset over the marts; a table of `schema` otherwise


@dataclass(frozen=True)
class Chart:
    title: str
    dataset: str
    viz_type: str
    time_column: str
    params: dict
    width: int = 6


@dataclass(frozen=True)
class Dashboard:
    title: str
    slug: str
    description: str
    rows: list[list[Chart]] = field(default_factory=list)


DATASETS = [
    Dataset("mart_opt_out_daily"),
    Dataset("fct_opt_outs"),
    Dataset("mart_campaign_opt_outs"),
    Dataset("mart_retain_churn"),
    Dataset("mart_pre_opt_out_pressure"),
    Dataset("mart_pressure_baseline"),
    Dataset(
        "attributed_opt_outs",
        sql=(
            "select o.opt_out_id, o.opt_out_date, o.platform,\n"
            "       o.last_received_campaign_id as campaign_id,\n"
            "       c.campaign_name, c.channel, c.campaign_type,\n"
            "       -- orders ties of the top-campaign table: the smaller id first, as the report\n"
            "       dense_rank() over (order by o.last_received_campaign_id) as campaign_order\n"
            "from marts.fct_opt_outs as o\n"
            "left join marts.mart_campaign_opt_outs as c\n"
            "    on c.campaign_id = o.last_received_campaign_id\n"
            "where o.last_received_campaign_id is not null"
        ),
    ),
]


def metric(sql: str, label: str) -> dict:
    return {"expressionType": "SQL", "sqlExpression": sql, "label": label}


def _time_range_filter(column: str) -> dict:
    """The chart follows the dashboard's range on `column` (no range: every day)."""
    return {
        "expressionType": "SIMPLE",
        "subject": column,
        "operator": "TEMPORAL_RANGE",
        "comparator": "No filter",
        "clause": "WHERE",
    }


OPT_OUTS_TOTAL = Chart(
    "Opt-outs in the range",
    "mart_opt_out_daily",
    "big_number_total",
    "date",
    {"metric": metric("SUM(opt_outs_detected)", "opt-outs"), "y_axis_format": ",d"},
    width=3,
)
TREND = Chart(
    "Opt-outs per day: detected vs re-spread over their detection windows",
    "mart_opt_out_daily",
    "echarts_timeseries_line",
    "date",
    {
        "x_axis": "date",
        "time_grain_sqla": "P1D",
        "metrics": [
            metric("SUM(opt_outs_detected)", "detected"),
            metric("SUM(opt_outs_estimated)", "re-spread (estimated)"),
        ],
        "groupby": [],
        "show_legend": True,
        "rich_tooltip": True,
        "y_axis_title": "opt-outs",
    },
    width=9,
)
RATE = Chart(
    "Opt-out rate per day and platform (opt-outs / opted-in base)",
    "mart_opt_out_daily",
    "echarts_timeseries_line",
    "date",
    {
        "x_axis": "date",
        "time_grain_sqla": "P1D",
        # one row per (date, platform): MAX is the mart's value itself
        "metrics": [metric("MAX(opt_out_rate)", "opt-out rate")],
        "groupby": ["platform"],
        "show_legend": True,
        "rich_tooltip": True,
        "y_axis_format": ".2%",
    },
    width=12,
)
TOP_CAMPAIGNS = Chart(
    "Top campaigns of the range (attributed opt-outs: last delivery before the opt-out)",
    "attributed_opt_outs",
    "table",
    "opt_out_date",
    {
        "query_mode": "aggregate",
        "groupby": ["campaign_id", "campaign_name", "channel"],
        "metrics": [metric("COUNT(*)", "attributed opt-outs")],
        # most attributed opt-outs first; ties: the smaller campaign id (the report's rule)
        "timeseries_limit_metric": metric("COUNT(*) * 1000000000 - MIN(campaign_order)", "rank"),
        "order_desc": True,
        "row_limit": 10,
        "include_search": False,
    },
    width=7,
)
RETAIN_CHURN = Chart(
    "Retain / pending / churn after opting out, per lookback",
    "mart_retain_churn",
    "echarts_timeseries_bar",
    "opt_out_date",
    {
        "x_axis": "lookback_days",
        "metrics": [metric("SUM(opt_outs)", "opt-outs")],
        "groupby": ["status"],
        "stack": "Stack",
        "show_legend": True,
        "x_axis_title": "lookback (days)",
    },
    width=5,
)
PRESSURE = Chart(
    "Push messages received before opting out (bucket 10 = 10 or more)",
    "mart_pre_opt_out_pressure",
    "echarts_timeseries_bar",
    "opt_out_date",
    {
        "x_axis": "bucket_order",
        "metrics": [metric("SUM(opt_outs)", "opt-outs")],
        "groupby": [],
        "x_axis_title": "pushes received in the lookback",
    },
)
BASELINE = Chart(
    "Baseline: the same pressure among users who stayed opted in (user-days)",
    "mart_pressure_baseline",
    "echarts_timeseries_bar",
    "date",
    {
        "x_axis": "bucket_order",
        "metrics": [metric("SUM(opted_in_users)", "opted-in user-days")],
        "groupby": [],
        "x_axis_title": "pushes received in the lookback",
    },
)
LAST_CAMPAIGNS = Chart(
    "Last campaigns: attributed vs revealed opt-outs (revealed = found by the send, not caused by it)",
    "mart_campaign_opt_outs",
    "table",
    "sent_at",
    {
        "query_mode": "raw",
        "all_columns": [
            "sent_at",
            "campaign_id",
            "campaign_name",
            "channel",
            "campaign_type",
            "recipients",
            "attributed_opt_outs",
            "attributed_opt_out_rate",
            "revealed_opt_outs",
        ],
        "order_by_cols": ['["sent_at", false]'],
        "column_config": {"attributed_opt_out_rate": {"d3NumberFormat": ".2%"}},
        "row_limit": 25,
        "include_search": True,
    },
    width=12,
)
ATTRIBUTED_VS_REVEALED = Chart(
    "Attributed vs revealed opt-outs by send day",
    "mart_campaign_opt_outs",
    "echarts_timeseries_bar",
    "sent_at",
    {
        "x_axis": "sent_at",
        "time_grain_sqla": "P1D",
        "metrics": [
            metric("SUM(attributed_opt_outs)", "attributed"),
            metric("SUM(revealed_opt_outs)", "revealed"),
        ],
        "groupby": [],
        "show_legend": True,
    },
    width=12,
)
OPTED_OUT_USERS_COUNT = Chart(
    "Opted-out users in the range",
    "fct_opt_outs",
    "big_number_total",
    "opt_out_date",
    {"metric": metric("COUNT(DISTINCT user_id)", "users"), "y_axis_format": ",d"},
    width=3,
)
OPTED_OUT_USERS = Chart(
    "Opted-out users of the range (the rows of `optout export` for the same days)",
    "fct_opt_outs",
    "table",
    "opt_out_date",
    {
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
)

DASHBOARDS = [
    Dashboard(
        f"{TITLE_PREFIX}: overview",
        "optout-overview",
        "The week's opt-outs: how many, detected vs re-spread, the rate per platform, the campaigns "
        "behind them and what the users did after.",
        [[OPT_OUTS_TOTAL, TREND], [RATE], [TOP_CAMPAIGNS, RETAIN_CHURN]],
    ),
    Dashboard(
        f"{TITLE_PREFIX}: pressure and campaigns",
        "optout-pressure-campaigns",
        "Message pressure before opting out against users who stayed, and the last campaigns "
        "with the opt-outs they caused (attributed) or only found (revealed).",
        [[PRESSURE, BASELINE], [ATTRIBUTED_VS_REVEALED], [LAST_CAMPAIGNS]],
    ),
    Dashboard(
        f"{TITLE_PREFIX}: opted-out users",
        "optout-opted-out-users",
        "Who opted out in the chosen range, for follow-up through other channels.",
        [[OPTED_OUT_USERS_COUNT, OPTED_OUT_USERS]],
    ),
]


def apply_dashboards(client: SupersetClient, database_id: int) -> dict[str, int]:
    """Create or replace optout's datasets, charts and dashboards; returns {dashboard slug: id}."""
    dataset_ids = {dataset.name: _ensure_dataset(client, database_id, dataset) for dataset in DATASETS}
    _delete_owned(client)
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
                "json_metadata": json.dumps(_metadata([i for row in chart_ids for i in row])),
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


def _create_chart(client: SupersetClient, chart: Chart, dataset_id: int, dashboard_id: int) -> int:
    params = {
        "viz_type": chart.viz_type,
        "datasource": f"{dataset_id}__table",
        "adhoc_filters": [_time_range_filter(chart.time_column)],
        "row_limit": 10000,
        **chart.params,
    }
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


def _metadata(chart_ids: list[int]) -> dict:
    """One native filter: the range of days every chart of the dashboard follows."""
    return {
        "native_filter_configuration": [
            {
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
        ],
        "chart_configuration": {},
        "cross_filters_enabled": False,
        "refresh_frequency": 0,
        "color_scheme": "",
        "label_colors": {},
        "timed_refresh_immune_slices": [],
        "expanded_slices": {},
    }
