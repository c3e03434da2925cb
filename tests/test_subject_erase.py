"""`optout subject erase` and `export` end to end: three people erased from every copy, kept
out when their raw days are delivered again, the marts then equal to a run over landing
files they were removed from before the first run; an erasure killed midway completes
when run again; the subject export holds every consent event with its provenance."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from assets.config import REPO_ROOT
from assets.exports.opted_out_users import read_export_rows
from tests.conftest import Workspace, make_workspace
from tests.helpers import run_optout
from tests.privacy_search import find_ids
from tests.reference.compare import KEYS, differences, warehouse_rows

SEED, USERS, DAYS, START = 11, 600, 21, "2026-01-01"


def _ws(root: Path) -> Workspace:
    return make_workspace(root)


def _env(ws: Workspace) -> dict[str, str]:
    return ws.env() | {"OPTOUT_PRIVACY_DIR": str(ws.root / "privacy")}


def _optout(ws: Workspace, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_optout(_env(ws), *args, check=check)


def _marts(ws: Workspace, lines_moved: bool = False) -> dict[str, list[dict]]:
    """Every mart's rows, less when each record was ingested (two workspaces ingest at different
    times), and with `lines_moved` less the record numbers (a file delivered again with the
    erased people's lines in it numbers the other records differently)."""
    ignored = ("ingested_at", "record_number") if lines_moved else ("ingested_at",)
    return {
        table: [
            {k: v for k, v in row.items() if not k.endswith(ignored)}
            for row in warehouse_rows(ws.warehouse, table)
        ]
        for table in KEYS
    }


def _without_people(landing: Path, users: set[str], externals: set[str]) -> None:
    """The test's own removal of people from raw files (independent of the product's code)."""
    ids = users | externals

    def belongs(record: dict) -> bool:
        return str(record.get("user_id")) in users or str(record.get("external_id")) in externals

    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        name = path.name
        if name.endswith(".parquet"):
            frame = pl.read_parquet(path)
            keep = [not belongs(row) for row in frame.iter_rows(named=True)]
            frame.filter(pl.Series(keep)).write_parquet(path)
            continue
        if not name.endswith((".csv", ".csv.gz", ".jsonl", ".jsonl.gz")):
            continue
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if name.endswith(".gz") else raw).decode("utf-8", "surrogateescape")
        if name.endswith((".jsonl", ".jsonl.gz")):
            kept = []
            for line in text.splitlines(keepends=True):
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if isinstance(record, dict):
                    drop = belongs(record)
                else:
                    drop = any(f'"{value}"' in line for value in ids)
                if not drop:
                    kept.append(line)
            out = "".join(kept)
        else:
            rows = list(csv.reader(io.StringIO(text, newline="")))
            header, body = rows[0], rows[1:]
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(header)
            for row in body:
                record = dict(zip(header, row, strict=False)) if len(row) == len(header) else {}
                drop = belongs(record) if record else any(field in ids for field in row)
                if not drop:
                    writer.writerow(row)
            out = buffer.getvalue()
        data = out.encode("utf-8", "surrogateescape")
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)


def _pick_people(ws: Workspace) -> tuple[str, str, str, str]:
    """(a user in a custom-range export file, a user with quarantined records, an external id and its user)."""
    # the export's exact values: its Parquet file (the CSV escapes formula cells)
    exported = read_export_rows(ws.exports / "opted_out_users" / "2026-01-01_2026-01-10.manifest.json")
    in_export = exported.filter(pl.col("external_id").is_not_null())["user_id"][0]
    quarantine = pl.read_parquet(ws.lake / "*" / "dt=*" / "quarantine.parquet")
    users = pl.read_parquet(ws.lake / "users" / "dt=*" / "data.parquet")
    known = set(users["user_id"].to_list())
    quarantined = next(
        match
        for raw in quarantine["raw_record"].to_list()
        for match in re.findall(r'"user_id":\s*"([^"]+)"', raw or "")
        if match in known and match != in_export
    )
    by_external = users.filter(
        pl.col("external_id").is_not_null() & ~pl.col("user_id").is_in([in_export, quarantined])
    ).sort("user_id")
    external_user, external = (
        by_external["user_id"][0],
        by_external["external_id"][0],
    )
    external_ids = users.filter(pl.col("user_id").is_in([in_export, quarantined]))["external_id"].drop_nulls()
    return in_export, quarantined, external, external_user, sorted(set(external_ids.to_list()))


@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    """A workspace run, an extra export written, then three people erased; and a workspace whose
    landing had them removed before its first run."""
    root = tmp_path_factory.mktemp("erase")
    ws = _ws(root / "main")
    _optout(ws, "generate", "--out", str(ws.landing), "--start", START, "--days", str(DAYS),
            "--users", str(USERS), "--seed", str(SEED))  # fmt: skip
    original_landing = root / "original-landing"
    shutil.copytree(ws.landing, original_landing)
    _optout(ws, "run")
    _optout(ws, "export", "--start", "2026-01-01", "--end", "2026-01-10")
    in_export, quarantined, external, external_user, their_externals = _pick_people(ws)
    before_erase = root / "before-erase"
    shutil.copytree(ws.root, before_erase, symlinks=True)

    started = time.monotonic()
    result = _optout(ws, "subject", "erase", "--user", in_export, "--user", quarantined,
                     "--external-id", external, "--user", "nobody-at-all", "--reason", "test: Art. 17")  # fmt: skip
    seconds = time.monotonic() - started

    expected = _ws(root / "expected")
    shutil.copytree(original_landing, expected.landing)
    users = {in_export, quarantined, external_user}
    externals = {external, *their_externals}
    _without_people(expected.landing, users, externals)
    _optout(expected, "run")
    return {
        "ws": ws, "expected": expected, "original_landing": original_landing, "before_erase": before_erase,
        "users": users, "externals": externals, "output": result.stdout + result.stderr, "seconds": seconds,
        "ids": sorted(users | externals), "asked": (in_export, quarantined, external),
    }  # fmt: skip


def test_no_copy_holds_their_ids_after_the_erasure(erased):
    ws = erased["ws"]
    assert find_ids([ws.root], erased["ids"]) == {}
    # the request log names them by salted hash only, with what each place removed
    (entry,) = [
        json.loads(line) for line in (ws.root / "privacy" / "requests.jsonl").read_text().splitlines()
    ]
    assert entry["reason"] == "test: Art. 17"
    assert {h["kind"] for h in entry["hashes"]} == {"user_id", "external_id"}
    assert len(entry["hashes"]) == len(erased["users"] | {"nobody-at-all"}) + len(erased["externals"])
    assert len(entry["ids_matching_nobody"]) == 1
    assert entry["removed"]["landing"] > 0 and entry["removed"]["lake"] > 0
    assert entry["removed"]["warehouse"] > 0 and entry["removed"]["serving"] > 0
    assert not list((ws.root / "privacy" / "pending").glob("*"))
    assert "'nobody-at-all' matches nobody" in erased["output"]
    print(f"erasure of 3 people at {USERS} users x {DAYS} days: {erased['seconds']:.1f}s; log entry: {entry}")


def test_marts_equal_a_run_over_landing_files_without_them(erased):
    actual, expected = _marts(erased["ws"]), _marts(erased["expected"])
    for table in KEYS:
        assert differences(table, actual[table], expected[table]) == [], table
    # and the exports of the run's presets list the same people (their exact values: the Parquet files)
    for path in sorted((erased["expected"].exports / "opted_out_users").glob("*.manifest.json")):
        mine = erased["ws"].exports / "opted_out_users" / path.name
        assert read_export_rows(mine).equals(read_export_rows(path)), path.name
        csv_name = path.name.removesuffix(".manifest.json") + ".csv"
        assert (mine.parent / csv_name).read_bytes() == (path.parent / csv_name).read_bytes(), csv_name


def test_everyone_else_keeps_the_times_their_consent_was_ingested(erased):
    """The rebuild reads the rewritten landing files again, but the ledger's provenance keeps
    when each export day was first ingested, not the erasure's time."""

    def ledger(ws_root) -> dict:
        rows = warehouse_rows(ws_root / "warehouse" / "optout.duckdb", "mart_consent_history")
        return {
            (row["user_id"], row["opt_in_id"], row["opt_out_id"]): (
                row["opt_in_ingested_at"],
                row["opt_out_ingested_at"],
            )
            for row in rows
            if row["user_id"] not in erased["users"]
        }

    before, after = ledger(erased["before_erase"]), ledger(erased["ws"].root)
    assert before and after == before


def test_redelivered_raw_days_do_not_bring_them_back(erased):
    ws = erased["ws"]
    original = erased["original_landing"]
    for path in original.rglob("*"):
        if path.is_file():
            target = ws.landing / path.relative_to(original)
            shutil.copy2(path, target)
            os.utime(target)  # delivered again now
    _optout(ws, "run")
    assert find_ids([ws.lake, ws.warehouse.parent, ws.serving, ws.exports], erased["ids"]) == {}
    actual, expected = _marts(ws, lines_moved=True), _marts(erased["expected"], lines_moved=True)
    for table in KEYS:
        assert differences(table, actual[table], expected[table]) == [], table


def test_an_erasure_killed_midway_completes_when_run_again(erased, tmp_path):
    ws = _ws(tmp_path / "ws")
    shutil.copytree(erased["before_erase"], ws.root, symlinks=True)
    in_export, quarantined, external = erased["asked"]
    args = ["subject", "erase", "--user", in_export, "--user", quarantined, "--external-id", external,
            "--user", "nobody-at-all", "--reason", "test: Art. 17"]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", *args],
        env={**os.environ, **_env(ws)}, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "dbt build" in line or "erasing from warehouse" in line:
            time.sleep(4)  # inside the rebuild run
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    pending = list((ws.root / "privacy" / "pending").glob("*.json"))
    assert len(pending) == 1, "".join(seen)
    assert "lake" in json.loads(pending[0].read_text())["places_done"]

    again = _optout(ws, "subject", "erase", *args[2:])
    assert "resuming" in again.stdout
    assert find_ids([ws.root], erased["ids"]) == {}
    actual, expected = _marts(ws), _marts(erased["expected"])
    for table in KEYS:
        assert differences(table, actual[table], expected[table]) == [], table
    (entry,) = [
        json.loads(line) for line in (ws.root / "privacy" / "requests.jsonl").read_text().splitlines()
    ]
    assert entry["removed"]["landing"] > 0


def test_the_subject_export_holds_every_consent_event_with_its_provenance(erased, tmp_path):
    ws = _ws(tmp_path / "ws")
    shutil.copytree(erased["before_erase"], ws.root, symlinks=True)
    user = erased["asked"][0]
    out = tmp_path / "subject.json"
    _optout(ws, "subject", "export", "--user", user, "--out", str(out))
    document = json.loads(out.read_text())
    exported = {
        (event["event_id"], event["provenance"]["landing_file"], event["provenance"]["export_date"])
        for event in document["consent_events"]
    }
    assert all(event["provenance"]["ingested_at"] for event in document["consent_events"])
    # the landing, read here on its own: every subscriptions record of the user, each delivery apart
    landed = set()
    for path in sorted((erased["original_landing"] / "subscriptions").rglob("*")):
        if not path.is_file() or path.name.endswith(("_SUCCESS", ".txt")):
            continue
        day = path.parent.name.removeprefix("dt=")
        if path.name.endswith(".parquet"):
            records = pl.read_parquet(path).to_dicts()
        else:
            raw = path.read_bytes()
            text = (gzip.decompress(raw) if path.name.endswith(".gz") else raw).decode("utf-8", "replace")
            if ".jsonl" in path.name:
                records = []
                for line in text.splitlines():
                    with contextlib.suppress(ValueError):
                        records.append(json.loads(line))
            else:
                records = list(csv.DictReader(io.StringIO(text, newline="")))
        for record in records:
            if isinstance(record, dict) and record.get("user_id") == user:
                landed.add((record["event_id"], f"subscriptions/dt={day}/{path.name}", day))
    quarantined = {(r["landing_file"]) for r in document["quarantined_records"]}
    assert landed, "the chosen user has consent events"
    assert {e for e in landed if e[1] not in quarantined} <= exported
    assert exported <= landed
    # the same records as delivered, every field (the lake keeps the contract's columns only)
    as_delivered = {
        (r["record"].get("event_id"), r["landing_file"])
        for r in document["landing_records"]
        if isinstance(r["record"], dict)
    }
    assert {(event_id, file) for event_id, file, _ in landed} <= as_delivered
    # the ledger and the export files that listed them
    assert document["consent_history"], "the consent ledger of the person"
    assert any(f["file"].endswith("2026-01-01_2026-01-10.csv") for f in document["export_files"])


@pytest.mark.spark
def test_an_erasure_on_the_spark_target_leaves_no_copy(tmp_path):
    ws = make_workspace(tmp_path / "ws", dbt_target="spark")
    _optout(ws, "generate", "--out", str(ws.landing), "--start", START, "--days", "7",
            "--users", "150", "--seed", str(SEED))  # fmt: skip
    _optout(ws, "run")
    facts = pl.read_parquet(ws.serving / "marts" / "fct_opt_outs.parquet")
    person = facts.filter(pl.col("external_id").is_not_null()).sort("user_id").row(0, named=True)
    ids = [person["user_id"], person["external_id"]]
    assert find_ids([ws.spark_warehouse], ids), "Spark's tables hold the person before"
    result = _optout(ws, "subject", "erase", "--user", person["user_id"])
    assert "spark" in result.stdout
    assert find_ids([ws.root], ids) == {}
