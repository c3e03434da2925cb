"""The pieces of an erasure, each on hand-made files: landing files rewritten record by record,
the lake, SQLite and PostgreSQL redaction, whole-token matching, and the suppression list
applied by ingestion."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import sqlite3

import duckdb
import polars as pl
import pytest

from assets.ingest.day import ingest_table_day
from assets.privacy.landing import erase_from_landing
from assets.privacy.matching import REDACTED, Subjects, record_values
from assets.privacy.requests import request_id
from assets.privacy.stores import (
    erase_from_lake,
    erase_from_parquet,
    redact_duckdb_audit_text,
    redact_sqlite,
    redact_text_file,
)
from assets.privacy.suppression import SaltMissingError, SuppressionList, add_to_list, id_hash, load_salt
from tests.helpers import loaded, quarantined, write_csv, write_jsonl

pytestmark = pytest.mark.quick

SUBJECTS = Subjects(frozenset({"u1", '=u,"2'}), frozenset({"ext-1"}))
USERS_CSV = (
    "user_id,external_id,platform,browser,created_at,updated_at\r\n"
    "u1,ext-1,ios,,2026-01-01T00:00:00Z,2026-01-05T10:00:00Z\r\n"
    'u12,"multi\r\nline ""ext""",web,chrome,2026-01-01T00:00:00Z,2026-01-05T10:00:00Z\r\n'
    '"=u,""2",,android,,2026-01-01T00:00:00Z,2026-01-05T10:00:00Z\r\n'
    "u3,ext-1,web,firefox,2026-01-01T00:00:00Z,2026-01-05T10:00:00Z\r\n"
    "u4,too,many,fields,here,x,y,z\r\n"
    "u1,ragged\r\n"
)


def _message(event_id, user):
    return {"event_id": event_id, "user_id": user, "campaign_id": "c1", "event_type": "delivered",
            "occurred_at": "2026-01-05T10:00:00Z", "error_code": None}  # fmt: skip


def test_landing_files_lose_exactly_their_records_and_keep_the_rest_byte_for_byte(tmp_path):
    landing = tmp_path / "landing"
    csv_path = write_csv(landing, "users", "2026-01-05", "a.csv.gz", USERS_CSV)
    lines = [
        _message("m1", "u1"),
        _message("m2", "u12"),
        '{"event_id": "broken", "user_id": "u1"',
        _message("m3", "u5"),
    ]
    jsonl_path = write_jsonl(landing, "messages", "2026-01-05", "b.jsonl", lines)
    parquet_path = landing / "messages" / "dt=2026-01-05" / "c.parquet"
    pl.DataFrame([_message("m4", '=u,"2'), _message("m5", "u6")]).write_parquet(parquet_path)
    untouched = write_jsonl(landing, "messages", "2026-01-06", "d.jsonl", [_message("m6", "u12")])
    untouched_bytes, old_mtime = untouched.read_bytes(), csv_path.stat().st_mtime_ns

    sweep = erase_from_landing(landing, SUBJECTS)

    # u1, "=u,""2" and u3 (external id ext-1) and the ragged u1 line; u12 and the over-long line stay
    assert gzip.decompress(csv_path.read_bytes()).decode() == (
        "user_id,external_id,platform,browser,created_at,updated_at\r\n"
        'u12,"multi\r\nline ""ext""",web,chrome,2026-01-01T00:00:00Z,2026-01-05T10:00:00Z\r\n'
        "u4,too,many,fields,here,x,y,z\r\n"
    )
    assert csv_path.stat().st_mtime_ns == old_mtime  # nothing new for the landing sensor
    kept = jsonl_path.read_text().splitlines()
    assert [json.loads(line)["event_id"] for line in kept] == ["m2", "m3"]
    assert pl.read_parquet(parquet_path)["event_id"].to_list() == ["m5"]
    assert untouched.read_bytes() == untouched_bytes
    assert sweep.records_removed == 4 + 2 + 1
    assert sorted(sweep.files_rewritten) == [
        "messages/dt=2026-01-05/b.jsonl", "messages/dt=2026-01-05/c.parquet", "users/dt=2026-01-05/a.csv.gz",
    ]  # fmt: skip
    assert not [p for p in landing.rglob(".*") if p.is_file()], "no temp file left"


def test_whole_tokens_only_in_text(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text('user u1 and u12 and xu1 and u1-2 and "u1" and {"id": "=u,\\"2"} and ext-1.\n')
    assert redact_text_file(path, SUBJECTS) == 4
    assert path.read_text() == (
        f'user {REDACTED} and u12 and xu1 and u1-2 and "{REDACTED}" and {{"id": "{REDACTED}"}} and {REDACTED}.\n'
    )


def test_raw_record_values():
    assert record_values('{"user_id": "u1", "n": 3}') == ["u1", "3"]
    assert record_values('{"event_id": "x", "user_id": "u1"') == ["event_id", "x", "user_id", "u1"]
    assert record_values('a,"b,c", d') == ["a", "b,c", "d"]
    assert SUBJECTS.mentioned_in_record('{"event_id":"e","user_id":"u1"}')
    assert not SUBJECTS.mentioned_in_record('{"event_id":"e","user_id":"u12"}')


def test_the_lake_loses_their_rows_and_its_log_counts_what_is_left(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", "2026-01-05", "a.jsonl",
                [_message("m1", "u1"), _message("m2", "u2"), {**_message("m3", "u1"), "event_type": "bogus"}])  # fmt: skip
    ingest_table_day(landing, lake, "messages", dt.date(2026, 1, 5))
    assert erase_from_lake(lake, SUBJECTS) == {"messages": 2}
    assert loaded(lake, "messages", "2026-01-05")["event_id"].to_list() == ["m2"]
    assert quarantined(lake, "messages", "2026-01-05").height == 0
    log = pl.read_parquet(lake / "messages" / "dt=2026-01-05" / "ingestion_log.parquet").row(0, named=True)
    assert (log["records_read"], log["records_loaded"], log["records_quarantined"]) == (1, 1, 0)
    assert erase_from_lake(lake, SUBJECTS) == {}, "a second sweep finds nothing"


def test_ingestion_leaves_out_suppressed_people_as_if_never_delivered(tmp_path):
    landing, lake, privacy = tmp_path / "landing", tmp_path / "lake", tmp_path / "privacy"
    write_jsonl(landing, "messages", "2026-01-05", "a.jsonl",
                [_message("m1", "u1"), _message("m2", "u2"), _message("m2", "u2"), _message("m1", "u1"),
                 {**_message("m3", "u1"), "event_type": "bogus"}, {**_message("m4", "u2"), "event_type": "bogus"}])  # fmt: skip
    write_csv(landing, "users", "2026-01-05", "u.csv", USERS_CSV)
    salt = load_salt(privacy, create=True)
    add_to_list(
        privacy,
        [("user_id", id_hash(salt, "user_id", "u1")), ("external_id", id_hash(salt, "external_id", "ext-1"))],
        "r1",
    )
    suppression = SuppressionList.load(privacy)
    day = dt.date(2026, 1, 5)
    result = ingest_table_day(landing, lake, "messages", day, suppression)
    assert loaded(lake, "messages", "2026-01-05")["event_id"].to_list() == ["m2"]
    assert quarantined(lake, "messages", "2026-01-05")["raw_record"].str.contains("m4").to_list() == [True]
    assert (result.records_suppressed, result.records_read, result.records_duplicate) == (3, 3, 1)
    users = ingest_table_day(landing, lake, "users", day, suppression)
    # u1 (its id) and u3 (its external id ext-1) are left out; the ragged u1 line is too
    assert sorted(loaded(lake, "users", "2026-01-05")["user_id"].to_list()) == ['=u,"2', "u12"]
    assert users.records_suppressed == 3
    # nobody else in the list: the salt alone never suppresses anyone
    assert SuppressionList.load(tmp_path / "elsewhere") is None


def test_sqlite_values_redacted_and_vacuumed(tmp_path):
    path = tmp_path / "runs.db"
    connection = sqlite3.connect(path)
    connection.execute("create table event_logs (id integer primary key, event text, body blob)")
    connection.execute(
        "insert into event_logs (event, body) values (?, ?)", ('{"msg": "user u1 opted out"}', b"u12 only")
    )
    connection.execute("insert into event_logs (event, body) values (?, ?)", ('{"msg": "u12"}', b"from u1"))
    connection.commit()
    connection.close()
    assert redact_sqlite(path, SUBJECTS) == 2
    rows = sqlite3.connect(path).execute("select event, body from event_logs order by id").fetchall()
    assert rows == [
        (f'{{"msg": "user {REDACTED} opted out"}}', b"u12 only"),
        ('{"msg": "u12"}', f"from {REDACTED}".encode()),
    ]
    assert b"u1 opted" not in path.read_bytes(), "no freed page keeps the old text"


def test_sqlite_finds_ids_as_dagster_stores_them_escaped_in_json(tmp_path):
    """Dagster keeps metadata as JSON inside its JSON records: quotes and non-ASCII arrive escaped
    once or twice, never as typed."""
    people = Subjects(frozenset({'=HYPERLINK("http://x","y")', "josé"}), frozenset())
    inner = json.dumps({"ids": sorted(people.user_ids)})  # once
    twice = json.dumps({"metadata": inner})  # a JSON string holding JSON
    path = tmp_path / "events.db"
    connection = sqlite3.connect(path)
    connection.execute("create table event_logs (id integer primary key, event text)")
    connection.executemany("insert into event_logs (event) values (?)", [(inner,), (twice,), ("josée",)])
    connection.commit()
    connection.close()
    assert redact_sqlite(path, people) == 2
    texts = [row[0] for row in sqlite3.connect(path).execute("select event from event_logs order by id")]
    assert json.loads(texts[0]) == {"ids": [REDACTED, REDACTED]}
    assert json.loads(json.loads(texts[1])["metadata"]) == {"ids": [REDACTED, REDACTED]}
    assert texts[2] == "josée", "a longer word is another token"


def test_an_id_inside_base64_is_a_coincidence_not_a_mention(tmp_path):
    """A chart's PNG in Dagster's metadata is base64: `u1` between `+` and `/` in it stays, so the
    picture still decodes; the same id as a word is redacted."""
    picture = base64.b64encode(bytes(range(256)) * 2).decode()
    picture = picture[:100] + "+u1/" + picture[100:]
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps({"png": picture, "note": "user +u1/ left"}))
    assert redact_text_file(path, SUBJECTS) == 1
    stored = json.loads(path.read_text())
    assert stored == {"png": picture, "note": f"user +{REDACTED}/ left"}


def test_a_request_id_names_nobody_without_the_salt(tmp_path):
    """The request log keeps request ids: keyed by the salt, trying candidate ids finds nothing."""
    salt, other_salt = load_salt(tmp_path / "a", create=True), load_salt(tmp_path / "b", create=True)
    assert request_id(salt, ["u4711"], []) == request_id(salt, ["u4711"], [])
    assert request_id(salt, ["u4711"], []) != request_id(other_salt, ["u4711"], [])
    unsalted = hashlib.sha256(json.dumps([["u4711"], []]).encode()).hexdigest()[:16]
    assert request_id(salt, ["u4711"], []) != f"erase-{unsalted}"


def test_a_list_without_its_salt_is_refused_never_silently_empty(tmp_path):
    privacy = tmp_path / "privacy"
    salt = load_salt(privacy, create=True)
    add_to_list(privacy, [("user_id", id_hash(salt, "user_id", "u1"))], "r1")
    (privacy / "salt").unlink()
    with pytest.raises(SaltMissingError, match="salt"):
        SuppressionList.load(privacy)
    with pytest.raises(SaltMissingError):
        load_salt(privacy, create=True)  # a new salt would unsuppress everyone on the list
    assert not (privacy / "salt").exists()


def test_an_id_file_from_a_spreadsheet_or_an_export(tmp_path):
    from orchestration.commands.common import CliError
    from orchestration.erasure import read_id_file

    excel = tmp_path / "excel.csv"
    excel.write_bytes("\ufeffuser_id , external_id\r\nu1,\r\n,ext-1\r\n".encode())
    assert read_id_file(excel) == (["u1"], ["ext-1"])
    export = tmp_path / "export.csv"
    export.write_text('external_id,user_id,platform\r\n"\'=1+2",u9,web\r\n')
    assert read_id_file(export) == (["u9"], ["=1+2"]), "the export's formula escaping is undone"
    empty = tmp_path / "empty.csv"
    empty.write_text("user_id,name\r\n,Ann\r\n")
    with pytest.raises(CliError, match="no id in its user_id column"):
        read_id_file(empty)


def test_free_text_of_audit_tables_redacted_in_a_duckdb_file(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema audit")
        connection.execute("create table audit.marts_builds (run_id varchar, detail varchar)")
        connection.execute(
            "insert into audit.marts_builds values ('r1', 'test failed for u1'), ('r2', 'u12 ok')"
        )
        connection.execute("create schema marts")
        connection.execute("create table marts.names (campaign_name varchar)")
        connection.execute("insert into marts.names values ('promo u1')")
    assert redact_duckdb_audit_text(path, SUBJECTS) == 1
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute("select detail from audit.marts_builds order by run_id").fetchall() == [
            (f"test failed for {REDACTED}",),
            ("u12 ok",),
        ]
        # the marts are rebuilt, never edited: a campaign's name is not a person's record
        assert connection.execute("select * from marts.names").fetchall() == [("promo u1",)]


def test_parquet_rows_by_id_column_or_raw_record(tmp_path):
    path = tmp_path / "q.parquet"
    pl.DataFrame(
        {"user_id": ["u1", None, "u9"], "raw_record": ["x", '{"user_id": "u1"}', "u12,a"]}
    ).write_parquet(path)
    checksum = tmp_path / ".q.parquet.crc"  # Spark's, of the old bytes
    checksum.write_bytes(b"crc")
    assert erase_from_parquet(path, SUBJECTS) == 2
    assert pl.read_parquet(path)["user_id"].to_list() == ["u9"]
    assert not checksum.exists(), "Spark would refuse the rewritten file against the old checksum"


@pytest.mark.service
def test_postgres_values_redacted():
    from orchestration.postgres_storage import redact_postgres
    from tests.postgres_server import throwaway_postgres

    with throwaway_postgres() as server:
        import psycopg2

        with psycopg2.connect(server.url) as connection, connection.cursor() as cursor:  # commits on exit
            cursor.execute("create table event_logs (id serial primary key, event text, run_id varchar(255))")
            cursor.execute(
                "insert into event_logs (event, run_id) values ('user u1 gone', 'r1'), ('u12 stays', 'u1')"
            )
        connection.close()
        assert redact_postgres(server.url, SUBJECTS) == 2
        assert server.query("select event, run_id from event_logs order by id") == [
            (f"user {REDACTED} gone", "r1"), ("u12 stays", REDACTED),
        ]  # fmt: skip


def test_a_broken_landing_file_is_named_and_left_alone(tmp_path):
    landing = tmp_path / "landing"
    good = write_jsonl(
        landing, "messages", "2026-01-05", "a.jsonl", [_message("m1", "u1"), _message("m2", "u2")]
    )
    broken = landing / "messages" / "dt=2026-01-05" / "b.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"user_id": "u1"}\n')[:-12])  # truncated
    sweep = erase_from_landing(landing, SUBJECTS)
    assert sweep.records_removed == 1
    assert [json.loads(line)["event_id"] for line in good.read_text().splitlines()] == ["m2"]
    assert len(sweep.unreadable) == 1 and sweep.unreadable[0].startswith(
        "messages/dt=2026-01-05/b.jsonl.gz: "
    )


def test_superset_state_and_rotated_logs_are_redacted_but_never_a_venv(tmp_path):
    from orchestration.erasure import _erase_from_superset, _redact_text_tree

    home = tmp_path / "superset"
    (home / "venv" / "lib").mkdir(parents=True)
    (home / "superset.log").write_text('GET /api/v1/chart/data?q=(filters:!((col:user_id,val:"u1")))\n')
    (home / "venv" / "lib" / "notes.txt").write_text("u1 is a variable name here\n")
    connection = sqlite3.connect(home / "superset.db")
    connection.execute("create table saved_query (sql text)")
    connection.execute("insert into saved_query values (\"select * from users where user_id = 'u1'\")")
    connection.commit()
    connection.close()
    assert _erase_from_superset(home, SUBJECTS) == 2
    assert "u1" not in (home / "superset.log").read_text()
    assert (home / "venv" / "lib" / "notes.txt").read_text() == "u1 is a variable name here\n"
    (saved,) = sqlite3.connect(home / "superset.db").execute("select sql from saved_query").fetchone()
    assert saved == f"select * from users where user_id = '{REDACTED}'"

    logs = tmp_path / "dbt_logs"
    logs.mkdir()
    (logs / "dbt.log.1").write_text("failing row: u1\n")
    assert _redact_text_tree(logs, SUBJECTS) == 1
    assert (logs / "dbt.log.1").read_text() == f"failing row: {REDACTED}\n"
