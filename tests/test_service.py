"""optout as a service: the instance in a real PostgreSQL server, `optout serve` supervising
Dagster's code server, webserver and daemon, automation, the run queue, failure messages.

One throw-away PostgreSQL cluster and one `optout serve` for the module; the tests run in
file order, each on the state the one before left (runs in the instance, days in the lake).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dagster import AssetKey

from assets.config import REPO_ROOT
from assets.contract import TABLE_NAMES
from tests.conftest import Workspace, make_workspace
from tests.dagster_ui import graphql
from tests.faults import serving_tables
from tests.helpers import run_optout as optout
from tests.postgres_server import PostgresServer, throwaway_postgres
from tests.service import (
    assert_all_gone,
    command_line,
    free_port,
    optout_serve,
    stop_in_a_terminal,
    wait_until,
)

pytestmark = pytest.mark.service

DAYS = 7
USERS = 300
# the generated days end the day before yesterday: every one is a complete export day
FIRST_DAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=DAYS + 1)
EXPORT_DAYS = [FIRST_DAY + dt.timedelta(days=i) for i in range(DAYS)]
NEW_DAY = EXPORT_DAYS[-1]


class Webhook:
    """A Slack-compatible incoming webhook on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def texts(self) -> list[str]:
        return [message["text"] for message in self.received]


def land(generated: Path, landing: Path, days: list[dt.date]) -> None:
    """Deliver these export days of every table, as the platform would."""
    for table in TABLE_NAMES:
        for day in days:
            source = generated / table / f"dt={day.isoformat()}"
            if source.is_dir():
                shutil.copytree(source, landing / table / source.name)


@pytest.fixture(scope="module")
def postgres():
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    command = ["generate", "--out", str(folder), "--users", str(USERS), "--days", str(DAYS)]
    optout({}, *command, "--start", FIRST_DAY.isoformat())
    return folder


@pytest.fixture(scope="module")
def webhook():
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture(scope="module")
def service_ws(tmp_path_factory, generated) -> Workspace:
    ws = make_workspace(tmp_path_factory.mktemp("service"))
    land(generated, ws.landing, EXPORT_DAYS[:-1])
    return ws


@pytest.fixture(scope="module")
def service_env(service_ws, postgres, webhook) -> dict[str, str]:
    return {
        **service_ws.env(),
        "OPTOUT_DAGSTER_POSTGRES_URL": postgres.url,
        "OPTOUT_ALERT_WEBHOOK": webhook.url,
        "OPTOUT_UI_URL": "http://optout.example:3000",
        # the generated days are over a day old: the freshness check warns from the start
        "OPTOUT_MAX_STALENESS_HOURS": "1",
    }


@pytest.fixture(scope="module")
def first_run(service_env) -> str:
    """`optout run` over the first six days, before any service is up: its output."""
    result = optout(service_env, "run")
    return next(
        line for line in result.stderr.splitlines() + result.stdout.splitlines() if "full log" in line
    )


@pytest.fixture(scope="module")
def service(service_env, service_ws, first_run):
    with optout_serve(service_env, service_ws.root / "serve.out") as running:
        yield running


def runs_in_postgres(postgres: PostgresServer) -> list[tuple[str, str]]:
    return postgres.query("select run_id, status from runs order by create_timestamp")


def test_optout_run_keeps_its_run_and_materializations_in_postgresql(postgres, service_ws, first_run):
    runs = runs_in_postgres(postgres)
    assert [status for _, status in runs] == ["SUCCESS"]
    (count,) = postgres.query(
        "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' and run_id = %s",
        (runs[0][0],),
    )[0]
    # five lake tables x six days at least, then the marts, exports, report, serving copy
    assert count >= 30
    assert postgres.query("select count(*) from asset_keys")[0][0] >= 20
    home = service_ws.dagster_home
    assert "PostgresStorageFromSettings" in (home / "dagster.yaml").read_text()
    assert not list(home.rglob("*.db")), "no SQLite storage next to PostgreSQL"


def test_the_webserver_shows_the_runs_stored_in_postgresql(postgres, service):
    (run_id, _), *_ = runs_in_postgres(postgres)
    data = graphql(
        service.port,
        "{ runsOrError { ... on Runs { results { runId status assetMaterializations { assetKey { path } } } } } }",
    )
    runs = {run["runId"]: run for run in data["runsOrError"]["results"]}
    assert runs[run_id]["status"] == "SUCCESS"
    keys = {"/".join(m["assetKey"]["path"]) for m in runs[run_id]["assetMaterializations"]}
    assert {"lake/messages", "marts/fct_opt_outs", "serving/snapshot"} <= keys


def test_the_password_is_nowhere_but_in_the_environment(postgres, service, service_ws):
    password = postgres.password
    for pid in service.pids():
        assert password not in command_line(pid), command_line(pid)
    for path in service_ws.dagster_home.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    assert password not in service.output.read_text()
    info = graphql(service.port, "{ instance { info } }")["instance"]["info"]
    assert "PostgresRunStorage" in info and password not in info


def test_automation_runs_a_new_day_once_and_the_marts_equal_optout_run(
    service, service_env, service_ws, generated, postgres, tmp_path_factory
):
    result = optout(service_env, "automation", "on")
    assert re.search(r"daily_schedule +on ", result.stdout) and re.search(
        r"landing_sensor +on ", result.stdout
    )
    assert re.search(r"run_failure_alert_sensor +on ", result.stdout)
    runs_before = len(runs_in_postgres(postgres))
    # the sensor's first tick: the six days the lake already holds are not run again
    wait_until(lambda: "skipped" in optout(service_env, "automation", "status").stdout, 150, "the first tick")
    assert len(runs_in_postgres(postgres)) == runs_before

    landed_at = time.monotonic()
    land(generated, service_ws.landing, [NEW_DAY])
    query = "select run_id, status from runs where partition = %s", (NEW_DAY.isoformat(),)
    wait_until(lambda: postgres.query(*query), 150, "the sensor requests the new day")
    picked_up = time.monotonic() - landed_at
    wait_until(
        lambda: postgres.query(*query)[0][1] in ("SUCCESS", "FAILURE", "CANCELED"), 600, "the run ends"
    )
    assert postgres.query(*query)[0][1] == "SUCCESS"
    print(f"the landing sensor requested the new day {picked_up:.0f} s after it landed")
    assert picked_up < 150

    reference = make_workspace(tmp_path_factory.mktemp("reference"))
    land(generated, reference.landing, EXPORT_DAYS)
    optout(reference.env(), "run")
    assert serving_tables(service_ws) == serving_tables(reference)


def test_optout_run_beside_the_service_goes_through_its_queue(service, service_env, postgres):
    args = ["run", "--start", EXPORT_DAYS[-3].isoformat(), "--end", EXPORT_DAYS[-2].isoformat()]
    first = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", *args],
        env={**os.environ, **service_env},
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    second = optout(service_env, *args)
    first_output, _ = first.communicate(timeout=900)
    assert first.returncode == 0, first_output[-3000:]
    for output in (first_output, second.stdout + second.stderr):
        assert "submitting 2 export days" in output
    spans = postgres.query(
        "select start_time, end_time from runs where status = 'SUCCESS' and run_body like '%optout/settings%' "
        "order by start_time"
    )
    assert len(spans) == 2
    assert spans[0][1] <= spans[1][0], "one run at a time"


def test_a_failed_run_posts_one_message_with_its_reason(service, service_env, service_ws, webhook, postgres):
    optout(service_env, "automation", "off")  # the sensor would run the broken day again
    broken = service_ws.landing / "messages" / f"dt={NEW_DAY.isoformat()}" / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"event_id": "x"}\n')[:20])  # cut short
    try:
        result = optout(
            service_env, "run", "--start", NEW_DAY.isoformat(), "--end", NEW_DAY.isoformat(), check=False
        )
    finally:
        broken.unlink()
    assert result.returncode == 1
    (run_id,) = postgres.query("select run_id from runs where status = 'FAILURE'")[0]
    mine = lambda: [text for text in webhook.texts() if run_id in text]  # noqa: E731
    wait_until(mine, 120, "the failure message")
    time.sleep(35)  # the sensor's next ticks must not send it again
    (text,) = mine()
    assert "broken.jsonl.gz" in text
    assert f"http://optout.example:3000/runs/{run_id}" in text
    steps = next(line for line in text.splitlines() if line.startswith("Failed steps: "))
    assert "messages" in steps  # the ingest step of the table with the broken file


def test_stale_marts_make_the_freshness_check_warn(service, webhook):
    stale = wait_until(
        lambda: [t for t in webhook.texts() if "stale" in t.lower()], 720, "a freshness message"
    )
    # posted once, at the service's first tick: the marts then ended with the sixth day
    assert EXPORT_DAYS[-2].isoformat() in stale[0]
    assert len(stale) == 1


def test_a_killed_daemon_is_restarted_with_a_fresh_heartbeat(service, postgres):
    daemon = service.program_pid("dagster-daemon")
    assert daemon is not None
    killed_at = time.time()
    os.kill(daemon, signal.SIGKILL)
    restarted = wait_until(
        lambda: (pid := service.program_pid("dagster-daemon")) not in (None, daemon) and pid,
        60,
        "a new daemon",
    )
    fresh = wait_until(
        lambda: postgres.query(
            "select count(*) from daemon_heartbeats where timestamp > to_timestamp(%s) at time zone 'UTC'",
            (killed_at,),
        )[0][0],
        60,
        "a heartbeat of the new daemon",
    )
    took = time.time() - killed_at
    print(f"daemon {daemon} killed; {restarted} beat {took:.0f} s later")
    assert fresh and took < 60
    assert "daemon exited (killed by SIGKILL)" in service.output.read_text()


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_serve_stops_cleanly_on_ctrl_c_and_sigterm(tmp_path, stop):
    ws = make_workspace(tmp_path)
    args = ["serve", "--port", str(free_port()), "--code-port", str(free_port())]
    output, status, tree = stop_in_a_terminal(args, ws.env(), "the UI answers", stop)
    assert len(tree) >= 4  # optout serve, the code server, the webserver, the daemon
    assert "Traceback" not in output
    assert f"stopped ({'Ctrl-C' if stop == 'ctrl-c' else 'SIGTERM'})" in output
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert_all_gone(tree)


def test_a_sqlite_history_is_copied_into_postgresql(postgres, tmp_path, generated):
    """`optout run` on SQLite, then `optout instance copy-history` into an empty database."""
    ws = make_workspace(tmp_path)
    land(generated, ws.landing, EXPORT_DAYS[:2])
    optout(ws.env(), "run")
    url = postgres.create_database("copied")
    target = {**ws.env(), "DAGSTER_HOME": str(tmp_path / "pg_home"), "OPTOUT_DAGSTER_POSTGRES_URL": url}
    first = optout(target, "instance", "copy-history", "--from", str(ws.dagster_home))
    again = optout(target, "instance", "copy-history", "--from", str(ws.dagster_home))
    assert "copied 1 runs" in first.stdout and "copied 0 runs" in again.stdout
    assert "1 runs were there already" in again.stdout

    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(ws.dagster_home)) as source:
        (record,) = source.get_run_records()
        events = len(source.get_records_for_run(record.dagster_run.run_id, limit=100000).records)
        materialized = len(
            source.fetch_materializations(AssetKey(["marts", "fct_opt_outs"]), limit=1000).records
        )
    (run_id, status), *more = postgres.query("select run_id, status from runs", database="copied")
    assert (run_id, status, more) == (record.dagster_run.run_id, "SUCCESS", [])
    copied_events = postgres.query(
        "select count(*) from event_logs where run_id = %s", (run_id,), database="copied"
    )
    assert copied_events[0][0] == events
    latest = postgres.query(
        "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' and asset_key = %s",
        ('["marts", "fct_opt_outs"]',),
        database="copied",
    )
    assert materialized >= 1 and latest[0][0] == materialized  # one per export day of the run


def test_dagster_instance_migrate_works_on_the_postgresql_instance(service_env, first_run):
    """The upgrade step of docs/deploy.md, with the service's environment."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "instance", "migrate"],
        env={**os.environ, **service_env, "DAGSTER_DISABLE_TELEMETRY": "1"},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Updating run storage" in result.stdout + result.stderr
