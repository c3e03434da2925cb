"""A failed expectation in words a user acts on: what is wrong, how much, the limit, where to look.

The suites (lake_suite.py, marts_suite.py) name what they measure so that a failure can be
told plainly: the lake's per-day rule counts (`missing_<column>`, `outside_values_<column>`,
`repeated_event_id`, `<column>_after_day_end`, `timestamp_before_2000`), the run's
`quarantine_share` and per-day `balance`, and one column per reconciliation of the marts.
"""

from __future__ import annotations

from assets.quality.suites import QUARANTINE_SHARE_VARIABLE

LAKE_RULES = {
    "missing_": "loaded records without {column}",
    "outside_values_": "loaded records with a {column} outside the contract's values",
}


def _share(value) -> str:
    return f"{float(value):.1%}"


def explain(where: str, failure: dict) -> str:
    """One sentence for a failure of `where` (`lake/messages`, `marts`)."""
    expectation = failure["expectation"]
    kwargs = failure["kwargs"]
    column = kwargs.get("column", "")
    examples = failure.get("examples") or []
    days = failure.get("unexpected_count")
    if column == "quarantine_share":
        observed = examples[0] if examples else failure.get("observed_value")
        return (
            f"{where}: {_share(observed)} of this run's records were quarantined "
            f"(limit {_share(kwargs['max_value'])}, {QUARANTINE_SHARE_VARIABLE}); see audit.quarantine"
        )
    if column == "balance":
        return (
            f"{where}: on {days} export day(s) the records read do not equal loaded + quarantined + "
            "duplicate; run those days again (audit.ingestion_log)"
        )
    if expectation == "expect_table_columns_to_match_set":
        return f"{where}: the lake files' columns are not the contract's ({failure.get('observed_value')}); run the days again"
    for prefix, text in LAKE_RULES.items():
        if column.startswith(prefix):
            what = text.format(column=column.removeprefix(prefix))
            return f"{where}: {what} on {days} export day(s) (up to {max(examples, default=0)} a day); ingestion should have quarantined them"
    if column == "repeated_event_id":
        return f"{where}: an event id loaded twice within one export day on {days} day(s) (up to {max(examples, default=0)} a day)"
    if column.endswith("_after_day_end"):
        return f"{where}: loaded records with {column.removesuffix('_after_day_end')} after the end of their export day (+1 h) on {days} day(s)"
    if column == "timestamp_before_2000":
        return f"{where}: loaded records with a time before 2000 on {days} export day(s)"
    if (
        where == "marts"
        and expectation == "expect_column_values_to_be_between"
        and column.startswith("reconciles_")
    ):
        return f"marts: {column.removeprefix('reconciles_').replace('_', ' ')} differ by {examples[0] if examples else '?'}; rebuild with `optout run --full-refresh`"
    shown = f", e.g. {examples[:3]}" if examples else ""
    return f"{where}: {expectation.removeprefix('expect_').replace('_', ' ')} failed for {column or 'the table'} ({days} unexpected{shown})"
