"""Great Expectations suites and the one function that runs them on a DataFrame.

GE is imported lazily (about 2 s) and its ephemeral context is built once per process.
Suites run through GE's pandas datasource (its SQL datasource on duckdb-engine is broken).
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field

import polars as pl

from assets.config import load_settings

MIN_RECORDS_FOR_SHARE = 200
QUARANTINE_SHARE_VARIABLE = "OPTOUT_MAX_QUARANTINE_SHARE"  # named in the check's message


def max_quarantine_share() -> float:
    """Largest share of a table's records in a run that may be quarantined (OPTOUT_MAX_QUARANTINE_SHARE,
    default 25%: a broken feed quarantines most records, a healthy one a few percent at most)."""
    return load_settings().max_quarantine_share


@dataclass
class SuiteOutcome:
    suite: str
    success: bool
    evaluated: int
    failures: list[dict] = field(default_factory=list)


@functools.cache
def _batch_definition():
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    with contextlib.suppress(AttributeError):  # older config layouts: progress bars stay on
        context.variables.progress_bars = gx.data_context.types.base.ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("optout")
    return source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")


def run_suite(name: str, frame: pl.DataFrame, expectations: list) -> SuiteOutcome:
    """Validate `frame` against `expectations` (GE expectation objects)."""
    import great_expectations as gx

    batch_definition = _batch_definition()  # first: it makes the context suites need
    suite = gx.ExpectationSuite(name=name)
    for expectation in expectations:
        suite.add_expectation(expectation)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    result = batch.validate(suite)
    failures = [
        {
            "expectation": r.expectation_config.type,
            "kwargs": {k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"},
            "unexpected_count": r.result.get("unexpected_count"),
            "observed_value": _plain(r.result.get("observed_value")),
            "examples": [_plain(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
        }
        for r in result.results
        if not r.success
    ]
    return SuiteOutcome(name, bool(result.success), len(result.results), failures)


def _plain(value):
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
