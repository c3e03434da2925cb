"""Compare a warehouse mart with reference rows, row for row (floats to 1e-9)."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb

KEYS = {
    "fct_opt_outs": ["opt_out_id"],
    "mart_opt_out_daily": ["date", "platform"],
    "mart_pre_opt_out_pressure": ["opt_out_date", "platform", "bucket"],
    "mart_pressure_baseline": ["date", "platform", "bucket"],
    "mart_campaign_opt_outs": ["campaign_id"],
    "mart_retain_churn": ["opt_out_date", "platform", "lookback_days", "status"],
    "mart_last_events": ["opt_out_date", "platform", "lookback_days", "status", "event_name"],
    "fct_opt_out_last_events": ["opt_out_id", "lookback_days", "event_name"],
    # a period by its opt-in, or by its opt-out when the records hold no opt-in
    "mart_consent_history": ["user_id", "opt_in_id", "opt_out_id"],
}

# Mart columns that hold when a run ingested an export day (the lake's ingestion log): two
# runs of the same landing differ in them, and so does a day ingested again. Comparisons
# between runs or engines look only at where they are null; the reference compares their
# values with the log of the lake the marts were built from.
INGESTION_TIME_COLUMNS = {"mart_consent_history": ("opt_in_ingested_at", "opt_out_ingested_at")}


def warehouse_rows(warehouse: Path, table: str) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.table(f"marts.{table}").pl().to_dicts()


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def differences(table: str, actual: list[dict], expected: list[dict], limit: int = 5) -> list[str]:
    keys = KEYS[table]
    by_key = {tuple(r[k] for k in keys): r for r in actual}
    expected_by_key = {tuple(r[k] for k in keys): r for r in expected}
    problems = []
    if len(by_key) != len(actual):
        problems.append(f"{table}: duplicate keys in the warehouse")
    for key in sorted(set(expected_by_key) - set(by_key), key=str)[:limit]:
        problems.append(f"{table}: missing row {key}")
    for key in sorted(set(by_key) - set(expected_by_key), key=str)[:limit]:
        problems.append(f"{table}: unexpected row {key}")
    for key in sorted(set(by_key) & set(expected_by_key), key=str):
        for column, value in expected_by_key[key].items():
            if not _same(by_key[key].get(column), value):
                problems.append(f"{table} {key}: {column} = {by_key[key].get(column)!r}, expected {value!r}")
                break
        if len(problems) >= limit * 3:
            break
    return problems
