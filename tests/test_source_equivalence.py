"""The same seed through optout's contract and through a vendor's format gives the same marts.

The simulated world is written once as optout's contract (the session's `sample_run`) and
once in the vendor's layout and schema, and each is run through `optout run`. Every mart has
the same rows; every column is equal but those a vendor cannot carry, each named here with
why (docs/sources/<vendor>.md says the same to users), whose totals stay within a bound.
"""

from __future__ import annotations

import duckdb
import pytest

from assets.generator.run import generate
from tests.conftest import SAMPLE_START, make_workspace

# what the sample was generated with (tests/conftest.py, sample_run)
SAMPLE = {"days": 21, "users": 600, "seed": 11}

# Columns a vendor cannot carry, with why. Numeric ones may differ within TOTAL_BOUND of
# their total (provenance aside: record numbers of other files); the others (times, names)
# are left out of the row-by-row comparison.
TIME_PRECISION = "Braze's `time` is whole seconds: the milliseconds of every event time are lost"
NO_RECEIPT = (
    "Braze has no delivery receipt: a send is delivered at the send's time when no bounce or abort "
    "of the same export day matches it (the contract's delivery is up to a minute later; a send "
    "re-delivered on another day than its bounce, and sends of unknown users, count as delivered)"
)
NO_CAMPAIGN_RECORDS = (
    "Braze's Currents have no campaign records: a campaign's start is its first send seen, "
    "and a transactional campaign is a campaign like any other (broadcast)"
)
PROFILE_CHANGES = "a changed external id reaches the marts with the user's next session only"
PROVENANCE = "the landing file and record a row came from are the vendor's"

VENDOR_CANNOT_CARRY = {
    "braze_currents": {
        "fct_opt_outs": {
            "opted_out_at": TIME_PRECISION,
            "opted_in_at": TIME_PRECISION,
            "window_start": TIME_PRECISION,
            "last_received_at": NO_RECEIPT,
            "last_opened_at": TIME_PRECISION,
            "external_id": PROFILE_CHANGES,
        },
        "mart_consent_history": {
            "external_id": PROFILE_CHANGES,
            "opted_in_at": TIME_PRECISION,
            "opted_out_at": TIME_PRECISION,
            "window_start": TIME_PRECISION,
            "window_end": TIME_PRECISION,
            "opt_in_source_file": PROVENANCE,
            "opt_in_record_number": PROVENANCE,
            "opt_in_ingested_at": PROVENANCE,
            "opt_out_source_file": PROVENANCE,
            "opt_out_record_number": PROVENANCE,
            "opt_out_ingested_at": PROVENANCE,
        },
        "mart_campaign_opt_outs": {
            "campaign_type": NO_CAMPAIGN_RECORDS,
            "sent_at": NO_CAMPAIGN_RECORDS,
            "recipients": NO_RECEIPT,
        },
        "mart_campaign_alerts": {
            "campaign_type": NO_CAMPAIGN_RECORDS,
            "sent_at": NO_CAMPAIGN_RECORDS,
            "first_delivered_at": NO_RECEIPT,
            "last_delivered_at": NO_RECEIPT,
            "attributable_until": NO_RECEIPT,
            "recipients": NO_RECEIPT,
            "expected_opt_outs": NO_RECEIPT,
            "ratio": NO_RECEIPT,
            "p_value": NO_RECEIPT,
        },
        "mart_opt_out_daily": {"opt_outs_estimated": TIME_PRECISION},
        "mart_opt_out_rate_alerts": {
            "opt_outs_estimated": TIME_PRECISION,
            "baseline_rate": TIME_PRECISION,
            "expected_opt_outs": TIME_PRECISION,
            "ratio": TIME_PRECISION,
            "p_value": TIME_PRECISION,
        },
        "mart_pressure_baseline": {"opted_in_users": NO_RECEIPT},
    },
}
NO_EVENT_IDS = (
    "OneSignal's subscriptions export has no event ids: a consent change found in it is named "
    "by its subscription, state and time, and dated by the export it was found in"
)
SEND_TIME = "OneSignal's failed send is the opt-out it reveals: both at the failure's time"
BROWSERS = "OneSignal's subscription types name chrome, firefox, safari and edge only"

VENDOR_CANNOT_CARRY["onesignal"] = {
    "fct_opt_out_last_events": {"opt_out_id": NO_EVENT_IDS},
    "fct_opt_outs": {"opt_out_id": NO_EVENT_IDS, "opted_out_at": SEND_TIME, "browser": BROWSERS},
    "mart_consent_history": {
        "opt_in_id": NO_EVENT_IDS,
        "opt_out_id": NO_EVENT_IDS,
        "opt_in_export_date": NO_EVENT_IDS,
        "opt_out_export_date": NO_EVENT_IDS,
        "opted_out_at": SEND_TIME,
        "window_end": SEND_TIME,
        "opt_in_source_file": PROVENANCE,
        "opt_in_record_number": PROVENANCE,
        "opt_in_ingested_at": PROVENANCE,
        "opt_out_source_file": PROVENANCE,
        "opt_out_record_number": PROVENANCE,
        "opt_out_ingested_at": PROVENANCE,
    },
    "mart_campaign_opt_outs": {"sent_at": NO_CAMPAIGN_RECORDS},
    "mart_campaign_alerts": {"sent_at": NO_CAMPAIGN_RECORDS},
}
NO_NAMES = "Airship's events carry no campaign names: a campaign is named by its id"
PUSH_OPEN_IS_SESSION = (
    "Airship's OPEN is an app open: one a push started is also a session, which the contract's "
    "world does not count as one (the last-events marts count more events)"
)
AIRSHIP_NO_RECEIPT = NO_RECEIPT.replace("Braze", "Airship").replace(
    "bounce or abort", "rejection or uninstall"
)
VENDOR_CANNOT_CARRY["airship"] = {
    "fct_opt_out_last_events": {
        "event_count": PUSH_OPEN_IS_SESSION,
        "lookback_days": PUSH_OPEN_IS_SESSION,
        "status": PUSH_OPEN_IS_SESSION,
    },
    "mart_last_events": {"total_events": PUSH_OPEN_IS_SESSION, "unique_users": PUSH_OPEN_IS_SESSION},
    "mart_retain_churn": {"opt_outs": PUSH_OPEN_IS_SESSION, "users": PUSH_OPEN_IS_SESSION},
    "fct_opt_outs": {
        "window_start": AIRSHIP_NO_RECEIPT,
        "last_received_at": AIRSHIP_NO_RECEIPT,
        "activity_status": PUSH_OPEN_IS_SESSION,
    },
    "mart_consent_history": {
        "window_start": AIRSHIP_NO_RECEIPT,
        "opt_in_source_file": PROVENANCE,
        "opt_in_record_number": PROVENANCE,
        "opt_in_ingested_at": PROVENANCE,
        "opt_out_source_file": PROVENANCE,
        "opt_out_record_number": PROVENANCE,
        "opt_out_ingested_at": PROVENANCE,
    },
    "mart_campaign_opt_outs": {
        "campaign_name": NO_NAMES,
        "channel": NO_CAMPAIGN_RECORDS,
        "campaign_type": NO_CAMPAIGN_RECORDS,
        "sent_at": NO_CAMPAIGN_RECORDS,
        "recipients": AIRSHIP_NO_RECEIPT,
    },
    "mart_campaign_alerts": {
        "campaign_name": NO_NAMES,
        "channel": NO_CAMPAIGN_RECORDS,
        "campaign_type": NO_CAMPAIGN_RECORDS,
        "sent_at": NO_CAMPAIGN_RECORDS,
        "first_delivered_at": AIRSHIP_NO_RECEIPT,
        "last_delivered_at": AIRSHIP_NO_RECEIPT,
        "attributable_until": AIRSHIP_NO_RECEIPT,
        "recipients": AIRSHIP_NO_RECEIPT,
        "expected_opt_outs": AIRSHIP_NO_RECEIPT,
        "ratio": AIRSHIP_NO_RECEIPT,
        "p_value": AIRSHIP_NO_RECEIPT,
    },
    "mart_opt_out_daily": {"opt_outs_estimated": AIRSHIP_NO_RECEIPT},
    "mart_opt_out_rate_alerts": {
        "opt_outs_estimated": AIRSHIP_NO_RECEIPT,
        "baseline_rate": AIRSHIP_NO_RECEIPT,
        "expected_opt_outs": AIRSHIP_NO_RECEIPT,
        "ratio": AIRSHIP_NO_RECEIPT,
        "p_value": AIRSHIP_NO_RECEIPT,
    },
    "mart_pressure_baseline": {"opted_in_users": AIRSHIP_NO_RECEIPT},
}
# The simulation's noise has events of users no profile names (`ghost-<id>`, platform
# `unknown` in the marts). OneSignal's consent changes come from its subscriptions export,
# which lists only subscriptions it knows: those users' consent events cannot be there, so
# for OneSignal the marts are compared without them.
UNKNOWN_USERS_LEFT_OUT = {"onesignal"}
# marts whose rows themselves differ, by vendor: each one's named numeric totals are bounded,
# nothing is compared row by row
ROWS_DIFFER = {
    "airship": {"fct_opt_out_last_events": PUSH_OPEN_IS_SESSION, "mart_retain_churn": PUSH_OPEN_IS_SESSION}
}
TOTAL_BOUND = 0.01  # a named numeric column's total within 1% of the contract's
BOUNDS = {PUSH_OPEN_IS_SESSION: 0.10}  # reasons that move totals more


@pytest.mark.parametrize("vendor", sorted(VENDOR_CANNOT_CARRY))
def test_a_vendor_format_gives_the_marts_of_the_contract(sample_run, tmp_path, vendor):
    ws = make_workspace(tmp_path / vendor, source=vendor)
    generate(ws.landing, SAMPLE_START, SAMPLE["days"], SAMPLE["users"], SAMPLE["seed"], fmt=vendor)
    ws.optout("run")
    allowed = VENDOR_CANNOT_CARRY[vendor]
    with duckdb.connect() as con:
        con.execute(f"attach '{sample_run.warehouse}' as contract (read_only)")
        con.execute(f"attach '{ws.warehouse}' as vendor (read_only)")
        marts = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_catalog = 'contract' "
                "and table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        assert len(marts) >= 10
        for mart in marts:
            names = [row[0] for row in con.execute(f"describe contract.marts.{mart}").fetchall()]
            known = _known_users(names) if vendor in UNKNOWN_USERS_LEFT_OUT else "true"
            counts = [
                con.execute(f"select count(*) from {db}.marts.{mart} where {known}").fetchone()[0]
                for db in ("contract", "vendor")
            ]
            rows_differ = mart in ROWS_DIFFER.get(vendor, {})
            assert counts[0] > 0 and (counts[0] == counts[1] or rows_differ), (mart, counts)
            if rows_differ:
                assert abs(counts[0] - counts[1]) <= BOUNDS[ROWS_DIFFER[vendor][mart]] * counts[0], (
                    mart,
                    counts,
                )
            columns = con.execute(
                "select column_name, data_type from information_schema.columns where table_catalog = 'contract' "
                f"and table_schema = 'marts' and table_name = '{mart}' order by ordinal_position"
            ).fetchall()
            named = allowed.get(mart, {})
            exact = [_comparable(name, dtype) for name, dtype in columns if name not in named]
            projection = ", ".join(exact)
            differing = con.execute(
                f"select count(*) from (select {projection} from contract.marts.{mart} where {known} "
                f"except all select {projection} from vendor.marts.{mart} where {known})"
            ).fetchone()[0]
            assert differing == 0 or rows_differ, (
                f"{mart}: {differing} rows differ in columns the vendor carries"
            )
            for name, dtype in columns:
                if named.get(name) not in (None, PROVENANCE) and dtype in (
                    "BIGINT",
                    "INTEGER",
                    "DOUBLE",
                    "HUGEINT",
                ):
                    totals = [
                        con.execute(
                            f"select coalesce(sum({name}), 0) from {db}.marts.{mart} where {known}"
                        ).fetchone()[0]
                        for db in ("contract", "vendor")
                    ]
                    bound = BOUNDS.get(named[name], TOTAL_BOUND)
                    assert abs(totals[0] - totals[1]) <= bound * abs(totals[0]) + 1e-9, (
                        f"{mart}.{name} ({named[name]}): {totals}"
                    )


def _known_users(columns: list[str]) -> str:
    """The rows of users a profile names (UNKNOWN_USERS_LEFT_OUT)."""
    conditions = ["true"]
    if "platform" in columns:
        conditions.append("coalesce(platform, 'unknown') <> 'unknown'")
    if "user_id" in columns:
        conditions.append("user_id not like 'ghost-%'")
    return " and ".join(conditions)


def _comparable(name: str, dtype: str) -> str:
    # floats rounded: the same sums in another order differ in the last bits
    return f"round({name}, 6) as {name}" if dtype in ("DOUBLE", "FLOAT") else name
