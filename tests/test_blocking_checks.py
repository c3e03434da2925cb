"""A failing blocking Great Expectations check stops the marts and exports of the run."""

import duckdb

from assets.generator.run import generate
from tests.conftest import SAMPLE_START


def test_quarantine_share_over_threshold_stops_the_marts(workspace, dbt_manifest, monkeypatch):
    generate(workspace.landing, SAMPLE_START, 3, 400, seed=4)
    monkeypatch.setenv("OPTOUT_MAX_QUARANTINE_SHARE", "0")
    result = workspace.optout("run", check=False)
    assert result.returncode == 1
    reason = result.stderr.strip().splitlines()[-1]
    assert "check ge_lake_suite on lake/" in reason and "quarantine_share" in reason
    # ingestion happened, the marts and exports did not
    assert any((workspace.lake / "messages").glob("dt=*"))
    if workspace.warehouse.exists():
        with duckdb.connect(str(workspace.warehouse), read_only=True) as connection:
            tables = connection.sql(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        assert tables == []
    assert not (workspace.exports / "opted_out_users").exists()
