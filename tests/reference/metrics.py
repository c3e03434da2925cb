"""An independent, deliberately plain implementation of docs/metrics.md, for the tests.

It reads the typed lake and computes every mart with Python loops over each user's events,
sharing no code or SQL with the dbt models, so the two can check each other.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

DAY = dt.timedelta(days=1)
PLATFORMS = ("ios", "android", "web", "unknown")


@dataclass
class Params:
    pressure_lookback_days: int = 7
    attribution_window_days: int = 7
    activity_window_days: int = 7
    last_events_lookbacks: tuple[int, ...] = (7, 14, 30)
    max_detection_lag_days: int = 30


def _read(lake: Path, table: str, name: str = "data.parquet") -> pl.DataFrame:
    return pl.read_parquet(str(lake / table / "dt=*" / name)).with_columns(
        pl.col(pl.Datetime).dt.replace_time_zone(None)
    )


def _first_delivery(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("export_date", "source_file", "record_number").unique("event_id", keep="first")


def _latest_version(frame: pl.DataFrame, key: str) -> dict[str, dict]:
    ordered = frame.sort("updated_at", "export_date", "source_file", "record_number")
    return {row[key]: row for row in ordered.iter_rows(named=True)}


@dataclass
class Inputs:
    users: dict[str, dict]
    campaigns: dict[str, dict]
    subscriptions: dict[str, list[dict]]
    messages: list[dict]
    messages_by_user: dict[str, list[dict]]
    app_events_by_user: dict[str, list[dict]]
    first_day: dt.date
    last_day: dt.date
    # (table, export day) -> when the day was ingested, from the lake's log
    ingested_at: dict[tuple[str, dt.date], dt.datetime] = field(default_factory=dict)
    as_of: dt.datetime = field(init=False)

    def __post_init__(self):
        self.as_of = dt.datetime.combine(self.last_day + DAY, dt.time())

    def platform(self, user_id: str) -> str:
        user = self.users.get(user_id)
        return user["platform"] if user else "unknown"


def load(lake: Path) -> Inputs:
    log = pl.read_parquet(str(lake / "*" / "dt=*" / "ingestion_log.parquet"))
    subscriptions = defaultdict(list)
    for row in _first_delivery(_read(lake, "subscriptions")).iter_rows(named=True):
        subscriptions[row["user_id"]].append(row)
    for events in subscriptions.values():
        events.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
    messages = _first_delivery(_read(lake, "messages")).to_dicts()
    messages_by_user = defaultdict(list)
    for row in messages:
        messages_by_user[row["user_id"]].append(row)
    app_by_user = defaultdict(list)
    for row in _first_delivery(_read(lake, "app_events")).iter_rows(named=True):
        app_by_user[row["user_id"]].append(row)
    return Inputs(
        users=_latest_version(_read(lake, "users"), "user_id"),
        campaigns=_latest_version(_read(lake, "campaigns"), "campaign_id"),
        subscriptions=subscriptions,
        messages=messages,
        messages_by_user=messages_by_user,
        app_events_by_user=app_by_user,
        first_day=log["export_date"].min(),
        last_day=log["export_date"].max(),
        ingested_at={
            (row["table_name"], row["export_date"]): row["ingested_at"]
            for row in log.with_columns(pl.col("ingested_at").dt.replace_time_zone(None)).iter_rows(
                named=True
            )
        },
    )


def _opt_outs_and_opt_ins(inputs: Inputs) -> tuple[list[dict], list[dict]]:
    opt_outs, opt_ins = [], []
    for events in inputs.subscriptions.values():
        previous = None
        period_start = None
        for event in events:
            if event["event_type"] == "opt_out" and previous != "opt_out":
                opt_outs.append({**event, "opted_in_at": period_start if previous == "opt_in" else None})
            if event["event_type"] == "opt_in" and previous != "opt_in":
                period_start = event["occurred_at"]
                opt_ins.append(event)
            previous = event["event_type"]
    return opt_outs, opt_ins


def _status(inputs: Inputs, user_id: str, window_start: dt.datetime, days: int) -> str:
    end = window_start + dt.timedelta(days=days)
    if any(window_start < e["occurred_at"] <= end for e in inputs.app_events_by_user.get(user_id, [])):
        return "retain"
    return "pending" if end > inputs.as_of else "churn"


def _latest(events: list[dict]) -> dict | None:
    return max(events, key=lambda e: (e["occurred_at"], e["event_id"])) if events else None


def fct_opt_outs(inputs: Inputs, p: Params) -> list[dict]:
    rows = []
    opt_outs, _ = _opt_outs_and_opt_ins(inputs)
    for event in opt_outs:
        user_id = event["user_id"]
        user = inputs.users.get(user_id)
        opted_out_at = event["occurred_at"]
        lagged = event["detected_via"] in ("send_feedback", "revisit")
        messages = inputs.messages_by_user.get(user_id, [])
        if lagged:
            candidates = [opted_out_at - dt.timedelta(days=p.max_detection_lag_days)]
            if event["opted_in_at"] is not None:
                candidates.append(event["opted_in_at"])
            engaged = [
                m["occurred_at"]
                for m in messages
                if m["event_type"] in ("delivered", "opened") and m["occurred_at"] < opted_out_at
            ]
            if engaged:
                candidates.append(max(engaged))
            window_start = max(candidates)
        else:
            window_start = opted_out_at

        def within(m, days, kind, window_start=window_start):
            return (
                m["event_type"] == kind
                and window_start - dt.timedelta(days=days) < m["occurred_at"] <= window_start
            )

        received = _latest([m for m in messages if within(m, p.attribution_window_days, "delivered")])
        opened = _latest([m for m in messages if within(m, p.attribution_window_days, "opened")])
        rows.append(
            {
                "opt_out_id": event["event_id"],
                "user_id": user_id,
                "external_id": user["external_id"] if user else None,
                "platform": user["platform"] if user else "unknown",
                "browser": user["browser"] if user else None,
                "opted_out_at": opted_out_at,
                "opt_out_date": opted_out_at.date(),
                "source": event["source"],
                "detected_via": event["detected_via"],
                "opted_in_at": event["opted_in_at"],
                "is_lagged": lagged,
                "window_start": window_start,
                "revealing_campaign_id": event["campaign_id"]
                if event["detected_via"] == "send_feedback"
                else None,
                "pushes_received": sum(within(m, p.pressure_lookback_days, "delivered") for m in messages),
                "last_received_campaign_id": received["campaign_id"] if received else None,
                "last_received_at": received["occurred_at"] if received else None,
                "last_opened_campaign_id": opened["campaign_id"] if opened else None,
                "last_opened_at": opened["occurred_at"] if opened else None,
                "activity_status": _status(inputs, user_id, window_start, p.activity_window_days),
            }
        )
    return rows


def _covered_days(inputs: Inputs) -> list[dt.date]:
    count = (inputs.last_day - inputs.first_day).days + 1
    return [inputs.first_day + i * DAY for i in range(count)]


def _opted_in_users(inputs: Inputs, day: dt.date) -> list[str]:
    start = dt.datetime.combine(day, dt.time())
    users = []
    for user_id, events in inputs.subscriptions.items():
        before = [e for e in events if e["occurred_at"] < start]
        if before and before[-1]["event_type"] == "opt_in":
            users.append(user_id)
    return users


def mart_opt_out_daily(inputs: Inputs, facts: list[dict]) -> list[dict]:
    _, opt_ins = _opt_outs_and_opt_ins(inputs)
    days = _covered_days(inputs)
    counts = defaultdict(
        lambda: {"opt_ins": 0, "opt_outs_detected": 0, "opt_outs_estimated": 0.0, "opted_in_base": 0}
    )
    for event in opt_ins:
        counts[(event["occurred_at"].date(), inputs.platform(event["user_id"]))]["opt_ins"] += 1
    for fact in facts:
        key = (fact["opt_out_date"], fact["platform"])
        counts[key]["opt_outs_detected"] += 1
        start, end = fact["window_start"], fact["opted_out_at"]
        if start == end:
            counts[key]["opt_outs_estimated"] += 1.0
            continue
        total = (end - start).total_seconds()
        for day in days:
            lo = max(start, dt.datetime.combine(day, dt.time()))
            hi = min(end, dt.datetime.combine(day + DAY, dt.time()))
            if hi > lo:
                counts[(day, fact["platform"])]["opt_outs_estimated"] += (hi - lo).total_seconds() / total
    for day in days:
        for user_id in _opted_in_users(inputs, day):
            counts[(day, inputs.platform(user_id))]["opted_in_base"] += 1
    rows = []
    for day in days:
        for platform in PLATFORMS:
            c = counts[(day, platform)]
            rate = c["opt_outs_detected"] / c["opted_in_base"] if c["opted_in_base"] else None
            rows.append({"date": day, "platform": platform, **c, "opt_out_rate": rate})
    return rows


def bucket(count: int) -> tuple[str, int]:
    return ("10+", 10) if count >= 10 else (str(count), count)


def mart_pre_opt_out_pressure(facts: list[dict]) -> list[dict]:
    counts = defaultdict(int)
    for fact in facts:
        counts[(fact["opt_out_date"], fact["platform"], *bucket(fact["pushes_received"]))] += 1
    return [
        {"opt_out_date": k[0], "platform": k[1], "bucket": k[2], "bucket_order": k[3], "opt_outs": v}
        for k, v in counts.items()
    ]


def mart_pressure_baseline(inputs: Inputs, p: Params) -> list[dict]:
    counts = defaultdict(int)
    for day in _covered_days(inputs):
        start = dt.datetime.combine(day, dt.time())
        for user_id in _opted_in_users(inputs, day):
            received = sum(
                m["event_type"] == "delivered"
                and start - dt.timedelta(days=p.pressure_lookback_days) < m["occurred_at"] <= start
                for m in inputs.messages_by_user.get(user_id, [])
            )
            counts[(day, inputs.platform(user_id), *bucket(received))] += 1
    return [
        {"date": k[0], "platform": k[1], "bucket": k[2], "bucket_order": k[3], "opted_in_users": v}
        for k, v in counts.items()
    ]


def mart_campaign_opt_outs(inputs: Inputs, facts: list[dict]) -> list[dict]:
    ids = set(inputs.campaigns) | {m["campaign_id"] for m in inputs.messages}
    ids |= {f["revealing_campaign_id"] for f in facts if f["revealing_campaign_id"]}
    recipients, openers = defaultdict(set), defaultdict(set)
    for m in inputs.messages:
        if m["event_type"] == "delivered":
            recipients[m["campaign_id"]].add(m["user_id"])
        if m["event_type"] == "opened":
            openers[m["campaign_id"]].add(m["user_id"])
    rows = []
    for cid in ids:
        campaign = inputs.campaigns.get(cid) or {}
        attributed = sum(f["last_received_campaign_id"] == cid for f in facts)
        reach = len(recipients[cid])
        rows.append(
            {
                "campaign_id": cid,
                "campaign_name": campaign.get("name"),
                "channel": campaign.get("channel"),
                "campaign_type": campaign.get("campaign_type"),
                "sent_at": campaign.get("sent_at"),
                "recipients": reach,
                "openers": len(openers[cid]),
                "attributed_opt_outs": attributed,
                "attributed_opt_out_rate": attributed / reach if reach else None,
                "opened_then_opted_out": sum(f["last_opened_campaign_id"] == cid for f in facts),
                "revealed_opt_outs": sum(f["revealing_campaign_id"] == cid for f in facts),
            }
        )
    return rows


def last_events(inputs: Inputs, facts: list[dict], p: Params) -> tuple[list[dict], list[dict], list[dict]]:
    """(mart_retain_churn, mart_last_events, fct_opt_out_last_events)."""
    churn = defaultdict(lambda: [0, set()])
    detail = []
    for fact in facts:
        for days in p.last_events_lookbacks:
            status = _status(inputs, fact["user_id"], fact["window_start"], days)
            key = (fact["opt_out_date"], fact["platform"], days, status)
            churn[key][0] += 1
            churn[key][1].add(fact["user_id"])
            start = fact["window_start"] - dt.timedelta(days=days)
            names = defaultdict(int)
            for e in inputs.app_events_by_user.get(fact["user_id"], []):
                if start < e["occurred_at"] <= fact["window_start"]:
                    names[e["event_name"]] += 1
            for name, count in names.items():
                detail.append(
                    {
                        "opt_out_id": fact["opt_out_id"],
                        "lookback_days": days,
                        "event_name": name,
                        "user_id": fact["user_id"],
                        "opt_out_date": fact["opt_out_date"],
                        "platform": fact["platform"],
                        "status": status,
                        "event_count": count,
                    }
                )
    summary = defaultdict(lambda: [0, set()])
    for row in detail:
        key = (row["opt_out_date"], row["platform"], row["lookback_days"], row["status"], row["event_name"])
        summary[key][0] += row["event_count"]
        summary[key][1].add(row["user_id"])
    grain = ("opt_out_date", "platform", "lookback_days", "status")
    retain_churn = [_counted(grain, key, "opt_outs", "users", counts) for key, counts in churn.items()]
    events = [
        _counted((*grain, "event_name"), key, "total_events", "unique_users", counts)
        for key, counts in summary.items()
    ]
    return retain_churn, events, detail


def mart_consent_history(inputs: Inputs, facts: list[dict]) -> list[dict]:
    """Each user's events walked in order: an opt-in opens a row, an opt-out closes the open
    one (or, with none open, makes a row of its own); repeats of the current state do nothing."""
    windows = {f["opt_out_id"]: f["window_start"] for f in facts}
    rows = []

    def side(prefix: str, event: dict | None) -> dict:
        columns = ("id", "source_file", "export_date", "record_number", "ingested_at")
        if event is None:
            return {f"{prefix}_{c}": None for c in columns}
        return {
            f"{prefix}_id": event["event_id"],
            f"{prefix}_source_file": event["source_file"],
            f"{prefix}_export_date": event["export_date"],
            f"{prefix}_record_number": event["record_number"],
            f"{prefix}_ingested_at": inputs.ingested_at[("subscriptions", event["export_date"])],
        }

    for user_id, events in inputs.subscriptions.items():
        user = inputs.users.get(user_id)
        state = None
        open_opt_in = None
        periods = []
        for event in events:
            if event["event_type"] == state:
                continue
            state = event["event_type"]
            if state == "opt_in":
                open_opt_in = event
                periods.append((event, None))
            elif open_opt_in is not None:
                periods[-1] = (open_opt_in, event)
                open_opt_in = None
            else:
                periods.append((None, event))
        for opt_in, opt_out in periods:
            rows.append(
                {
                    "user_id": user_id,
                    "external_id": user["external_id"] if user else None,
                    "platform": user["platform"] if user else "unknown",
                    **side("opt_in", opt_in),
                    "opted_in_at": opt_in["occurred_at"] if opt_in else None,
                    **side("opt_out", opt_out),
                    "opted_out_at": opt_out["occurred_at"] if opt_out else None,
                    "source": opt_out["source"] if opt_out else None,
                    "detected_via": opt_out["detected_via"] if opt_out else None,
                    "window_start": windows[opt_out["event_id"]] if opt_out else None,
                    "window_end": opt_out["occurred_at"] if opt_out else None,
                    "revealing_campaign_id": opt_out["campaign_id"]
                    if opt_out and opt_out["detected_via"] == "send_feedback"
                    else None,
                }
            )
    return rows


def all_marts(lake: Path, p: Params | None = None) -> dict[str, list[dict]]:
    p = p or Params()
    inputs = load(lake)
    facts = fct_opt_outs(inputs, p)
    retain_churn, events, detail = last_events(inputs, facts, p)
    return {
        "fct_opt_outs": facts,
        "mart_opt_out_daily": mart_opt_out_daily(inputs, facts),
        "mart_pre_opt_out_pressure": mart_pre_opt_out_pressure(facts),
        "mart_pressure_baseline": mart_pressure_baseline(inputs, p),
        "mart_campaign_opt_outs": mart_campaign_opt_outs(inputs, facts),
        "mart_retain_churn": retain_churn,
        "mart_last_events": events,
        "fct_opt_out_last_events": detail,
        "mart_consent_history": mart_consent_history(inputs, facts),
    }


def opted_out_users(facts: list[dict], start: dt.date, end: dt.date) -> list[dict]:
    """The export of docs/metrics.md for [start, end]."""
    users: dict[str, dict] = {}
    for fact in facts:
        if start <= fact["opt_out_date"] <= end:
            row = users.setdefault(
                fact["user_id"],
                {
                    "external_id": fact["external_id"],
                    "user_id": fact["user_id"],
                    "platform": fact["platform"],
                    "last_opted_out_at": fact["opted_out_at"],
                    "opt_outs_in_range": 0,
                },
            )
            row["opt_outs_in_range"] += 1
            row["last_opted_out_at"] = max(row["last_opted_out_at"], fact["opted_out_at"])
    return [users[k] for k in sorted(users)]


def _counted(grain: tuple[str, ...], key: tuple, total: str, distinct: str, counts: list) -> dict:
    """A row of a grain with a summed count and a count of distinct users."""
    return {**dict(zip(grain, key, strict=True)), total: counts[0], distinct: len(counts[1])}
