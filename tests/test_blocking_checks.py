"""A failing blocking Great Expectations check stops the marts and exports of the run."""

import duckdb
import polars as pl

from assets.contract import TABLE_NAMES
from assets.generator.run import generate
from assets.ingest import lake
from assets.quality.suites import MIN_RECORDS_FOR_SHARE
from tests.conftest import SAMPLE_START


def test_quarantine_share_over_threshold_stops_the_marts(workspace, dbt_manifest, monkeypatch):
    generate(workspace.landing, SAMPLE_START, 3, 400, seed=4)
    monkeypatch.setenv("OPTOUT_MAX_QUARANTINE_SHARE", "0")
    result = workspace.optout("run", check=False)
    assert result.returncode == 1
    reasons = result.stderr.strip().splitlines()
    # the log is named first, then one line per reason
    assert any(line.startswith("  full log:  ") for line in reasons)
    assert reasons[-1].startswith("optout run: lake/")
    # each table's gate says what failed, in words, with the run's own figure
    for table in TABLE_NAMES:
        logs = pl.read_parquet(workspace.lake / table / "dt=*" / lake.LOG_FILE)
        read, quarantined = logs["records_read"].sum(), logs["records_quarantined"].sum()
        if read < MIN_RECORDS_FOR_SHARE or quarantined == 0:
            continue
        assert (
            f"optout run: lake/{table}: {quarantined / read:.1%} of this run's records were quarantined "
            "(limit 0.0%, OPTOUT_MAX_QUARANTINE_SHARE); see audit.quarantine"
        ) in reasons, reasons
    assert sum("of this run's records were quarantined" in line for line in reasons) >= 2
    # ingestion happened, the marts and exports did not
    assert any((workspace.lake / "messages").glob("dt=*"))
    if workspace.warehouse.exists():
        with duckdb.connect(str(workspace.warehouse), read_only=True) as connection:
            tables = connection.sql(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        assert tables == []
    assert not (workspace.exports / "opted_out_users").exists()
