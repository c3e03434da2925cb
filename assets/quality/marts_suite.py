"""Expectations on the marts that dbt's tests do not hold: totals that must agree across marts.

dbt tests every mart's rows on every build (dbt_project/models/marts/_marts__models.yml and
dbt_project/tests/): keys, accepted values, platforms, ranges, windows that end at their
opt-out, and the daily, pressure-bucket and retain/churn marts against the facts per day
and platform. Nothing here checks those again. What is left are the campaign mart's totals
against the facts: every attributed and every revealed opt-out counted once.

Each reconciliation is summed by DuckDB in the warehouse: Great Expectations validates one
row of figures, never a mart read into memory.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from assets.quality.suites import SuiteOutcome, run_suite

# `reconciles_<what>` (the failure message names <what>, assets/quality/explain.py): what the
# mart says minus what the facts say, which must be 0
RECONCILIATIONS = {
    "campaign attributions vs facts": (
        "select sum(attributed_opt_outs) from marts.mart_campaign_opt_outs",
        "select count(last_received_campaign_id) from marts.fct_opt_outs",
    ),
    "campaign revealed vs facts": (
        "select sum(revealed_opt_outs) from marts.mart_campaign_opt_outs",
        "select count(revealing_campaign_id) from marts.fct_opt_outs",
    ),
}


def column_name(what: str) -> str:
    return f"reconciles_{what.replace(' ', '_').replace('-', '_')}"


def reconciliation_sql() -> str:
    """One row: a column per reconciliation, the difference between mart and facts."""
    differences = ",\n    ".join(
        f"cast(coalesce(({mart}), 0) - coalesce(({facts}), 0) as bigint) as {column_name(what)}"
        for what, (mart, facts) in RECONCILIATIONS.items()
    )
    return f"select\n    {differences}"


def reconciliation_frame(connection: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return connection.sql(reconciliation_sql()).pl()


def reconciliation_expectations(columns: list[str]) -> list:
    import great_expectations as gx

    return [
        gx.expectations.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=0)
        for column in columns
    ]


def validate_marts(warehouse: Path) -> list[SuiteOutcome]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        reconciled = reconciliation_frame(connection)
    return [run_suite("marts_reconciliations", reconciled, reconciliation_expectations(reconciled.columns))]
