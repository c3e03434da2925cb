"""The serving copy BI tools read: what it holds, who can open it, and that it never blocks or tears."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import venv
from pathlib import Path

import duckdb
import pytest

from assets import marts_builds
from assets.atomic_files import FileWriteError
from assets.generator.run import generate
from assets.marts_builds import MartsNotReadyError
from assets.serving.copy import publish_serving_copy
from assets.serving.layout import SNAPSHOTS, current_snapshot
from tests.conftest import SAMPLE_START
from tests.faults import start_optout

SERVED = ("marts", "audit")


def warehouse_tables(warehouse: Path) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """(column types, rows in a fixed order) of every table of the served schemas."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return relations(
            connection,
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('marts', 'audit')",
        )


def relations(connection, names_sql: str, source=lambda name: name) -> dict:
    names = [row[0] for row in connection.sql(names_sql + " order by 1").fetchall()]
    out = {}
    for name in names:
        relation = connection.sql(f"select * from {source(name)}")
        out[name] = (
            list(zip(relation.columns, map(str, relation.types), strict=True)),
            sorted(relation.fetchall(), key=repr),
        )
    return out


def parquet_tables(serving: Path) -> dict:
    with duckdb.connect() as connection:
        files = sorted(
            f"{schema}.{path.stem}" for schema in SERVED for path in (serving / schema).glob("*.parquet")
        )
        names = " union all ".join(f"select '{name}'" for name in files)
        return relations(
            connection,
            f"select * from ({names})",
            lambda name: f"read_parquet('{serving / name.split('.')[0] / name.split('.')[1]}.parquet')",
        )


def snapshot_row(serving: Path) -> dict:
    with duckdb.connect(str(serving / "optout.duckdb"), read_only=True) as connection:
        relation = connection.sql("select * from serving.snapshot")
        return dict(zip(relation.columns, relation.fetchall()[0], strict=True))


def test_the_serving_copy_holds_the_checked_marts_in_duckdb_and_parquet(sample_run):
    expected = warehouse_tables(sample_run.warehouse)
    assert {name.split(".")[0] for name in expected} == set(SERVED) and len(expected) >= 11

    with duckdb.connect(str(sample_run.serving / "optout.duckdb"), read_only=True) as connection:
        in_file = relations(
            connection,
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('marts', 'audit')",
        )
        table_rows = dict(
            connection.sql(
                "select table_schema || '.' || table_name, row_count from serving.tables"
            ).fetchall()
        )
    assert in_file == expected  # same names, column types and rows
    assert parquet_tables(sample_run.serving) == expected  # Parquet too (HUGEINT would come back DOUBLE)
    assert table_rows == {name: len(rows) for name, (_, rows) in expected.items()}

    first, last, build_run = marts_builds.read_checked_export_days(sample_run.warehouse)
    snapshot = snapshot_row(sample_run.serving)
    assert (snapshot["first_export_date"], snapshot["last_export_date"]) == (first, last)
    assert snapshot["export_days"] == (last - first).days + 1 == 21
    assert snapshot["run_id"] == snapshot["marts_build_run_id"] == build_run  # one run built and published
    assert snapshot["storage_version"] == "v1.4.0"
    assert snapshot["snapshot_id"] == current_snapshot(sample_run.serving).name
    assert snapshot_row(sample_run.serving)["snapshot_id"].endswith(build_run[:8])
    # user data: the copy is for its owner, like the warehouse (a BI service reads it as that user)
    assert (current_snapshot(sample_run.serving) / "optout.duckdb").stat().st_mode & 0o077 == 0


def test_a_duckdb_1_4_client_reads_every_row_of_the_serving_copy(sample_run, tmp_path):
    """BI drivers lag behind DuckDB: a 1.4 client (from the package registry) must open the file."""
    client = tmp_path / "duckdb14"
    venv.EnvBuilder(with_pip=True).create(client)
    subprocess.run(
        [client / "bin" / "python", "-m", "pip", "install", "--quiet", "duckdb>=1.4,<1.5"],
        check=True,
        timeout=600,
    )
    out = tmp_path / "read_by_1_4"
    script = textwrap.dedent(
        f"""
        import duckdb, pathlib
        out = pathlib.Path({str(out)!r})
        connection = duckdb.connect({str(sample_run.serving / "optout.duckdb")!r}, read_only=True)
        print(duckdb.__version__)
        for schema, table in connection.sql(
            "select table_schema, table_name from information_schema.tables where table_schema in ('marts', 'audit')"
        ).fetchall():
            (out / schema).mkdir(parents=True, exist_ok=True)
            connection.sql(f"copy {{schema}}.{{table}} to '{{out / schema / table}}.parquet' (format parquet)")
        """
    )
    version = subprocess.run(
        [client / "bin" / "python", "-c", script], check=True, capture_output=True, text=True, timeout=300
    ).stdout.strip()
    assert version.startswith("1.4."), version
    # what the 1.4 client read, written back out, equals the warehouse row for row
    assert parquet_tables(out) == warehouse_tables(sample_run.warehouse)


READER = textwrap.dedent(
    """
    import duckdb, json, sys, time, pathlib
    serving, stop, out = map(pathlib.Path, sys.argv[1:4])
    held = duckdb.connect(str(serving / "optout.duckdb"), read_only=True)  # kept open all along
    seen = {"held": [], "fresh": [], "parquet": [], "errors": [], "queries": 0}
    CONSISTENT = '''
        select s.snapshot_id, t.row_count = (select count(*) from marts.fct_opt_outs)
        from serving.snapshot as s, serving.tables as t
        where t.table_schema = 'marts' and t.table_name = 'fct_opt_outs'
    '''
    while not stop.exists():
        try:
            seen["held"].append(held.sql(CONSISTENT).fetchall()[0])
            with duckdb.connect(str(serving / "optout.duckdb"), read_only=True) as fresh:
                seen["fresh"].append(fresh.sql(CONSISTENT).fetchall()[0])
            with duckdb.connect() as files:
                seen["parquet"].append(files.sql(
                    f"select (select snapshot_id from '{serving}/serving/snapshot.parquet'),"
                    f" (select count(*) from '{serving}/marts/mart_opt_out_daily.parquet')"
                ).fetchall()[0])
            seen["queries"] += 3
        except Exception as exc:  # every failure is the finding
            seen["errors"].append(repr(exc))
        time.sleep(0.01)
    out.write_text(json.dumps(seen))
    """
)


def test_readers_never_fail_or_block_a_run_and_see_whole_snapshots(workspace, dbt_manifest, tmp_path):
    generate(workspace.landing, SAMPLE_START, 6, 250, seed=5)
    workspace.optout("run")
    before = current_snapshot(workspace.serving).name

    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, workspace.serving, stop, out])
    try:
        time.sleep(2)  # the reader holds the copy open before the run starts
        run = start_optout(workspace, "run", "--start", "2026-01-03", "--end", "2026-01-03")
        output, _ = run.communicate(timeout=900)
        time.sleep(1)
    finally:
        stop.touch()
        reader.wait(timeout=120)
    assert run.returncode == 0, output[-3000:]  # the writer never waited for the reader
    seen = json.loads(out.read_text())
    assert seen["errors"] == [] and seen["queries"] > 30, seen["errors"][:3]

    after = current_snapshot(workspace.serving).name
    assert after != before
    # a connection opened before keeps its snapshot; every read was of one whole snapshot
    assert {tuple(row) for row in seen["held"]} == {(before, True)}
    assert {tuple(row) for row in seen["fresh"]} <= {(before, True), (after, True)}
    assert seen["fresh"][0][0] == before and seen["fresh"][-1][0] == after
    assert [row[0] for row in seen["parquet"]][-1] == after
    assert snapshot_row(workspace.serving)["snapshot_id"] == after  # a new connection sees the new one


def test_a_publish_that_fails_leaves_the_last_snapshot_and_nothing_else(sample_run, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(sample_run.warehouse, warehouse)
    serving = tmp_path / "serving"
    first = publish_serving_copy(warehouse, serving, "run-good")
    published = parquet_tables(serving)

    # the marts were rebuilt and failed their checks: nothing is published from them
    marts_builds.start_build(warehouse, "run-bad")
    marts_builds.mark_failed(warehouse, "run-bad", "ge_marts_suite: a reconciliation failed")
    with pytest.raises(MartsNotReadyError, match="failed: ge_marts_suite"):
        publish_serving_copy(warehouse, serving, "run-bad")
    # a folder where a stable name must be: refused before anything changed
    marts_builds.start_build(warehouse, "run-next")
    marts_builds.finish_build(
        warehouse, "run-next", *marts_builds.read_checked_export_days(sample_run.warehouse)[:2]
    )
    marts_builds.mark_passed(warehouse, "run-next")
    (serving / "audit").unlink()
    (serving / "audit").mkdir()
    with pytest.raises(FileWriteError, match="audit is a folder optout did not write"):
        publish_serving_copy(warehouse, serving, "run-next")

    assert current_snapshot(serving).name == first.snapshot_id
    assert [p.name for p in (serving / SNAPSHOTS).iterdir()] == [first.snapshot_id]  # no half-written one
    (serving / "audit").rmdir()
    os.symlink("current/audit", serving / "audit")
    assert parquet_tables(serving) == published

    # two publishes later only the current snapshot and the one before it are kept
    ids = [publish_serving_copy(warehouse, serving, f"run-{n}").snapshot_id for n in range(3)]
    assert sorted(p.name for p in (serving / SNAPSHOTS).iterdir()) == ids[-2:]
    assert current_snapshot(serving).name == ids[-1]
