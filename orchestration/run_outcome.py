"""What a finished run says, read from Dagster's records: whichever process executed it.

`optout run` prints the same one-line reasons whether the run ran in its own process or in
a run worker the daemon started: the step failures and check evaluations come from the
instance's event log, never from an in-memory result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance, DagsterRunStatus

from assets.warehouse_holder import busy_reason


@dataclass
class CheckVerdict:
    name: str  # `asset/key:check_name`
    severity: AssetCheckSeverity
    description: str
    step_key: str | None
    failed_rows: int | None = None  # a dbt test's failing rows

    def in_words(self, width: int = 100) -> str:
        """`table.column: N rows fail relationships`, or its description: one line for the console."""
        if self.description:
            text = self.description.splitlines()[0]
        else:
            asset, check = self.name.split(":", 1)
            table = asset.split("/")[-1]
            kind, _, rest = check.partition("_" + table + "_")  # dbt's generic test names
            where = f"{table}.{rest.split('__')[0]}" if rest else table
            rows = f"{self.failed_rows} rows fail " if self.failed_rows is not None else "fails "
            text = f"{where}: {rows}{kind if rest else check}"
        return text if len(text) <= width else text[: width - 3] + "..."


@dataclass
class StepFailure:
    step_key: str
    description: str | None  # a Failure the asset raised on purpose: its own words
    failed_days: list[str] | None  # an ingest step's unreadable days, one line each
    innermost_error: str | None  # otherwise the error raised in our code (Dagster wraps it)
    full_error: str | None


@dataclass
class RunOutcome:
    run_id: str
    status: DagsterRunStatus | None
    failed_checks: list[CheckVerdict] = field(default_factory=list)
    step_failures: list[StepFailure] = field(default_factory=list)
    run_failure: str | None = None  # the run's own failure message, first line

    @property
    def success(self) -> bool:
        return self.status == DagsterRunStatus.SUCCESS

    def failure_reasons(self) -> list[str]:
        """Every failed blocking check and every failed step, one line each."""
        reasons = [
            check.description or f"check {check.name} failed: see its metadata"
            for check in self.failed_checks
            if check.severity == AssetCheckSeverity.ERROR
        ]
        # a step whose blocking check failed stopped for that reason, reported above
        blocked_steps = {c.step_key for c in self.failed_checks if c.severity == AssetCheckSeverity.ERROR}
        for failure in self.step_failures:
            if failure.failed_days is not None:
                reasons += [f"step {failure.step_key} failed: {day}" for day in failure.failed_days]
                continue
            if failure.description:
                reason = failure.description
            elif failure.step_key in blocked_steps:
                continue
            else:
                reason = failure.innermost_error or "step failed"
            # a program that opened the warehouse after this run checked it: say who, in one line
            reasons.append(f"step {failure.step_key} failed: {busy_reason(reason) or reason}")
        if not reasons and self.status == DagsterRunStatus.CANCELED:
            reasons.append(f"run {self.run_id[:8]} was canceled")
        if not reasons and self.run_failure:
            reasons.append(self.run_failure)  # failed outside any step (a dead process, a timeout)
        return reasons or ["the run failed"]

    def warnings(self) -> list[CheckVerdict]:
        """Warn-level checks that did not pass (dbt tests with severity warn, early warnings)."""
        return [check for check in self.failed_checks if check.severity == AssetCheckSeverity.WARN]

    def log_text(self) -> str:
        """The full error of each failed step, for the run's log file."""
        return "".join(
            f"\nstep {failure.step_key} failed:\n{failure.full_error}\n"
            for failure in self.step_failures
            if failure.full_error
        )


def run_outcome(instance: DagsterInstance, run_id: str) -> RunOutcome:
    run = instance.get_run_by_id(run_id)
    outcome = RunOutcome(run_id, run.status if run else None)
    checks = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    for record in checks:
        event = record.event_log_entry.dagster_event
        evaluation = event.asset_check_evaluation_data
        if not evaluation.passed:
            outcome.failed_checks.append(
                CheckVerdict(
                    name=f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}",
                    severity=evaluation.severity,
                    description=(evaluation.description or "").strip(),
                    step_key=event.step_key,
                    failed_rows=_failed_rows(evaluation.metadata),
                )
            )
    ended = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE, limit=1).records
    if ended:
        message = (ended[0].event_log_entry.dagster_event.message or "").strip()
        outcome.run_failure = message.splitlines()[0] if message else None
    failures = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE).records
    for record in failures:
        event = record.event_log_entry.dagster_event
        outcome.step_failures.append(_step_failure(event))
    return outcome


def _failed_rows(metadata) -> int | None:
    value = (metadata or {}).get("dagster_dbt/failed_row_count")
    return int(value.value) if value is not None and value.value is not None else None


def _step_failure(event) -> StepFailure:
    data = event.step_failure_data
    user = data.user_failure_data
    failed_days = (user.metadata or {}).get("failed_days") if user else None
    chain = []
    error = data.error
    while error is not None:
        chain.append(error)
        error = error.cause
    innermost = None
    if chain:
        last_line = chain[-1].message.strip().splitlines()[-1] if chain[-1].message.strip() else ""
        innermost = last_line.split(f"{chain[-1].cls_name}: ", 1)[-1] or None
    return StepFailure(
        step_key=event.step_key,
        description=user.description if user else None,
        failed_days=list(failed_days.value) if failed_days is not None else None,
        innermost_error=innermost,
        full_error=data.error.to_string() if data.error is not None else None,
    )
