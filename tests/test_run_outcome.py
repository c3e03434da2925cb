"""What a finished run says, in words: the console's lines from Dagster's records."""

import pytest
from dagster import AssetCheckSeverity, DagsterRunStatus

from orchestration.run_outcome import CheckVerdict, RunOutcome, StepFailure

pytestmark = pytest.mark.quick

ERROR, WARN = AssetCheckSeverity.ERROR, AssetCheckSeverity.WARN


def test_a_dbt_generic_test_is_named_by_its_table_column_and_kind():
    check = CheckVerdict(
        "staging/stg_lake__messages:relationships_stg_lake__messages_campaign_id__campaign_id__ref_stg_lake__campaigns_",
        WARN,
        "",
        "optout_dbt_models",
        11,
    )
    assert check.in_words() == "stg_lake__messages.campaign_id: 11 rows fail relationships"
    assert (
        CheckVerdict("marts/fct_opt_outs:assert_x", WARN, "", None).in_words()
        == "fct_opt_outs: fails assert_x"
    )
    assert CheckVerdict("a/b:c", WARN, "a description\nmore", None).in_words() == "a description"
    assert CheckVerdict("a/b:c", WARN, "x" * 120, None).in_words(20) == "x" * 17 + "..."


def test_failure_reasons_name_blocking_checks_and_steps_once():
    outcome = RunOutcome(
        "0123456789",
        DagsterRunStatus.FAILURE,
        failed_checks=[
            CheckVerdict("lake/users:ge_lake_suite", ERROR, "users: 40% quarantined", "lake_users_check"),
            CheckVerdict("staging/stg:not_null_stg_id", WARN, "", "optout_dbt_models", 2),
        ],
        step_failures=[
            # the check's own step failed for the check's reason: reported once, by the check
            StepFailure("lake_users_check", None, None, "DagsterAssetCheckFailedError", "trace"),
            StepFailure("lake__messages", None, ["2026-01-02: cannot read part.csv.gz"], None, "trace"),
            StepFailure("optout_dbt_models", "dbt build failed: model x: boom", None, None, None),
            StepFailure("serving__snapshot", None, None, "ValueError: odd", None),
        ],
    )
    assert outcome.failure_reasons() == [
        "users: 40% quarantined",
        "step lake__messages failed: 2026-01-02: cannot read part.csv.gz",
        "step optout_dbt_models failed: dbt build failed: model x: boom",
        "step serving__snapshot failed: ValueError: odd",
    ]
    assert [check.in_words() for check in outcome.warnings()] == ["stg.id: 2 rows fail not_null"]
    assert "step lake_users_check failed:\ntrace" in outcome.log_text()


def test_a_canceled_run_says_so():
    assert RunOutcome("0123456789", DagsterRunStatus.CANCELED).failure_reasons() == [
        "run 01234567 was canceled"
    ]
