"""Opted-out user exports: presets, ranges, one file per backfill, atomic, identical on re-run."""

import csv
import datetime as dt
import hashlib
import json
import os

import pytest
from dagster import DagsterInstance, materialize

from assets import atomic_files
from assets.exports.opted_out_users import export_paths, read_export_rows, unescaped_csv_cell, write_export
from assets.exports.ranges import ExportRange, ExportRangeError, between_range, preset_range
from orchestration.export_assets import BETWEEN_KEY, build_export_assets
from orchestration.jobs import partition_range_tags
from orchestration.partitions import export_days
from orchestration.resources import OptoutPaths
from tests.reference.metrics import Params, fct_opt_outs, load, opted_out_users


@pytest.mark.parametrize(
    ("preset", "start"),
    [("last_week", "2026-01-25"), ("last_month", "2026-01-02"), ("last_year", "2025-02-01")],
)
def test_presets_end_on_the_logical_date(preset, start):
    export_range = preset_range(preset, dt.date(2026, 1, 31))
    assert (str(export_range.start), str(export_range.end)) == (start, "2026-01-31")


def test_malformed_and_reversed_ranges_are_refused():
    with pytest.raises(ExportRangeError, match="reversed"):
        between_range(dt.date(2026, 1, 5), dt.date(2026, 1, 4))
    with pytest.raises(ExportRangeError, match="unknown preset"):
        preset_range("last_decade", dt.date(2026, 1, 5))


def _read_csv(path):
    """The CSV's rows, each cell as it was before the formula escaping (docs/exports.md)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            {key: unescaped_csv_cell(cell) for key, cell in row.items()} for row in csv.DictReader(handle)
        ]


def test_export_equals_the_reference_and_reruns_identically(sample_run, tmp_path):
    export_range = between_range(dt.date(2026, 1, 5), dt.date(2026, 1, 15))
    first = write_export(sample_run.warehouse, tmp_path, export_range)
    first_bytes = first.csv_path.read_bytes()
    first_parquet = first.parquet_path.read_bytes()
    first_manifest = json.loads(first.manifest_path.read_text())
    second = write_export(sample_run.warehouse, tmp_path, export_range)
    assert second.csv_path.read_bytes() == first_bytes
    assert second.parquet_path.read_bytes() == first_parquet
    second_manifest = json.loads(second.manifest_path.read_text())
    assert {k: v for k, v in first_manifest.items() if k != "generated_at"} == {
        k: v for k, v in second_manifest.items() if k != "generated_at"
    }

    expected = opted_out_users(
        fct_opt_outs(load(sample_run.lake), Params()), export_range.start, export_range.end
    )
    # the exact values: the Parquet file; the CSV's cells once their formula escaping is removed
    exact = read_export_rows(first.manifest_path).to_dicts()
    rows = _read_csv(first.csv_path)
    assert list(rows[0]) == ["external_id", "user_id", "platform", "last_opted_out_at", "opt_outs_in_range"]
    assert len(rows) == len(exact) == len(expected) > 0
    for row, value, want in zip(rows, exact, expected, strict=True):
        assert row["user_id"] == value["user_id"] == want["user_id"]
        assert row["external_id"] == (value["external_id"] or "") == (want["external_id"] or "")
        assert value["external_id"] == want["external_id"]
        assert row["platform"] == value["platform"] == want["platform"]
        assert int(row["opt_outs_in_range"]) == value["opt_outs_in_range"] == want["opt_outs_in_range"]
        parsed = dt.datetime.fromisoformat(row["last_opted_out_at"].replace("Z", "+00:00"))
        assert parsed == value["last_opted_out_at"] == want["last_opted_out_at"].replace(tzinfo=dt.UTC)
    assert first_manifest["row_count"] == len(rows)
    assert first_manifest["start"] == "2026-01-05" and first_manifest["end"] == "2026-01-15"
    assert first_manifest["sha256"] == hashlib.sha256(first_bytes).hexdigest()
    assert first_manifest["parquet"] == {
        "file": "2026-01-05_2026-01-15.parquet",
        "sha256": hashlib.sha256(first_parquet).hexdigest(),
    }
    assert first_manifest["formula_cells_escaped"] is True
    assert first_manifest["export_days_covered"] == {"first": "2026-01-05", "last": "2026-01-15"}
    assert first.csv_path.name == "2026-01-05_2026-01-15.csv"


def test_ranges_outside_the_ingested_days_are_refused(sample_run, tmp_path):
    with pytest.raises(ExportRangeError, match="after the last export day of the checked marts 2026-01-21"):
        write_export(
            sample_run.warehouse, tmp_path, between_range(dt.date(2026, 1, 20), dt.date(2026, 1, 22))
        )
    with pytest.raises(ExportRangeError, match="before the first export day of the checked marts"):
        write_export(sample_run.warehouse, tmp_path, between_range(dt.date(2025, 1, 1), dt.date(2025, 1, 31)))
    assert not (tmp_path / "opted_out_users").exists()


def test_a_failure_mid_write_leaves_no_partial_file(sample_run, tmp_path, monkeypatch):
    export_range = between_range(dt.date(2026, 1, 5), dt.date(2026, 1, 6))
    good = write_export(sample_run.warehouse, tmp_path, export_range)
    before = good.csv_path.read_bytes(), good.parquet_path.read_bytes(), good.manifest_path.read_bytes()

    def broken_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(atomic_files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_export(sample_run.warehouse, tmp_path, export_range)
    monkeypatch.setattr(atomic_files.os, "replace", os.replace)
    assert (
        good.csv_path.read_bytes(),
        good.parquet_path.read_bytes(),
        good.manifest_path.read_bytes(),
    ) == before
    assert sorted(p.name for p in good.csv_path.parent.iterdir()) == [
        good.csv_path.name,
        good.manifest_path.name,
        good.parquet_path.name,
    ]


def test_no_file_name_can_escape_the_export_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(ExportRange, "file_stem", property(lambda self: "../../etc/passwd"))
    with pytest.raises(ExportRangeError, match="escape"):
        export_paths(tmp_path, between_range(dt.date(2026, 1, 1), dt.date(2026, 1, 2)))


def test_a_range_of_partitions_is_one_run_and_one_file(sample_run, tmp_path):
    exports = tmp_path / "exports"
    opted_out_users_between = next(
        asset for asset in build_export_assets(export_days(dt.date(2026, 1, 1))) if asset.key == BETWEEN_KEY
    )
    result = materialize(
        [opted_out_users_between],
        instance=DagsterInstance.ephemeral(),
        resources={"paths": OptoutPaths(warehouse=str(sample_run.warehouse), export_dir=str(exports))},
        tags=partition_range_tags("2026-01-03", "2026-01-17"),
    )
    assert result.success
    materializations = result.asset_materializations_for_node("exports__opted_out_users_between")
    assert len(materializations) == 15  # one event per partition of the range, in one run
    files = sorted(p.name for p in (exports / "opted_out_users").iterdir())
    assert files == [
        "2026-01-03_2026-01-17.csv",
        "2026-01-03_2026-01-17.manifest.json",
        "2026-01-03_2026-01-17.parquet",
    ]
    metadata = materializations[0].metadata
    assert metadata["row_count"].value == len(_read_csv(exports / "opted_out_users" / files[0]))


def test_cli_export_preset_and_errors(sample_run):
    done = sample_run.optout("export", "--preset", "last_week", "--date", "2026-01-21")
    assert "2026-01-15 .. 2026-01-21" in done.stdout
    assert (sample_run.exports / "opted_out_users" / "2026-01-15_2026-01-21.csv").exists()
    reversed_range = sample_run.optout("export", "--start", "2026-01-10", "--end", "2026-01-01", check=False)
    assert reversed_range.returncode != 0 and "reversed" in reversed_range.stderr
    assert "Traceback" not in reversed_range.stderr
    both = sample_run.optout("export", "--preset", "last_week", "--start", "2026-01-01", check=False)
    assert both.returncode != 0 and "not both" in both.stderr
    bad_date = sample_run.optout("export", "--start", "2026-13-01", "--end", "2026-01-01", check=False)
    assert bad_date.returncode != 0 and "not a date" in bad_date.stderr
