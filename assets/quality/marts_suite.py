"""Expectations on the marts: ranges, and reconciliations between marts and facts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from assets.platforms import REPORTED_PLATFORMS
from assets.quality.suites import SuiteOutcome, run_suite

PLATFORMS = list(REPORTED_PLATFORMS)


def _frames(warehouse: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return {
            name: connection.table(f"marts.{name}").pl()
            for name in (
                "fct_opt_outs",
                "mart_opt_out_daily",
                "mart_campaign_opt_outs",
                "mart_pre_opt_out_pressure",
            )
        }


def facts_frame(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return frames["fct_opt_outs"].with_columns(
        (pl.col("opted_out_at") - pl.col("window_start")).dt.total_seconds().alias("_window_seconds")
    )


def reconciliation_frame(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One column per reconciliation (`reconciles_<what>`): what the mart says minus what the facts say (must be 0)."""
    facts = frames["fct_opt_outs"]
    daily = frames["mart_opt_out_daily"]
    covered = facts.filter(pl.col("opt_out_date").is_between(daily["date"].min(), daily["date"].max()))
    campaigns = frames["mart_campaign_opt_outs"]
    pressure = frames["mart_pre_opt_out_pressure"]
    rows = [
        ("daily detected opt-outs vs facts", daily["opt_outs_detected"].sum() - covered.height),
        ("pressure buckets vs facts", pressure["opt_outs"].sum() - facts.height),
        (
            "campaign attributions vs facts",
            campaigns["attributed_opt_outs"].sum() - facts["last_received_campaign_id"].is_not_null().sum(),
        ),
        (
            "campaign revealed vs facts",
            campaigns["revealed_opt_outs"].sum() - facts["revealing_campaign_id"].is_not_null().sum(),
        ),
    ]
    return pl.DataFrame(
        {
            f"reconciles_{name.replace(' ', '_').replace('-', '_')}": [int(difference)]
            for name, difference in rows
        }
    )


def fact_expectations() -> list:
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeUnique(column="opt_out_id"),
        e.ExpectColumnValuesToNotBeNull(column="opt_out_id"),
        e.ExpectColumnValuesToBeInSet(column="platform", value_set=PLATFORMS),
        e.ExpectColumnValuesToBeInSet(column="activity_status", value_set=["retain", "pending", "churn"]),
        e.ExpectColumnValuesToBeBetween(column="pushes_received", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="_window_seconds", min_value=0),
    ]


def daily_expectations() -> list:
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeInSet(column="platform", value_set=PLATFORMS),
        e.ExpectColumnValuesToBeBetween(column="opt_outs_estimated", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="opted_in_base", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="opt_ins", min_value=0),
    ]


def reconciliation_expectations(columns: list[str]) -> list:
    import great_expectations as gx

    return [
        gx.expectations.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=0)
        for column in columns
    ]


def validate_marts(warehouse: Path) -> list[SuiteOutcome]:
    frames = _frames(warehouse)
    reconciled = reconciliation_frame(frames)
    return [
        run_suite("marts_fct_opt_outs", facts_frame(frames), fact_expectations()),
        run_suite("marts_opt_out_daily", frames["mart_opt_out_daily"], daily_expectations()),
        run_suite("marts_reconciliations", reconciled, reconciliation_expectations(reconciled.columns)),
    ]
