"""`optout serve`: the production processes of one box, supervised.

Dagster's code server (the code location as a gRPC server), the webserver against it and
the daemon (schedules, sensors, the run queue, run monitoring), each its own process as
Dagster runs in production; `dagster dev` is the development form of the same. With
`--only NAME`, one of them replaces this process (how the systemd units in deploy/ run them,
one service each, restarted by systemd).
"""

from __future__ import annotations

import argparse
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from assets.config import REPO_ROOT
from assets.processes import venv_program
from orchestration.commands.common import CliError, progress, settings
from orchestration.commands.supervise import Program, Supervisor
from orchestration.instance import ensure_home, get_instance, logs_folder

# the name the repository's workspace.yaml gives the code location (its module): schedules
# and sensors turned on under one name must be found under the same name by the daemon
LOCATION_NAME = "orchestration.definitions"
PROGRAMS = ("code-server", "webserver", "daemon")
WORKSPACE_FILE = "serve-workspace.yaml"


def serve_workspace(home: Path, code_host: str, code_port: int) -> Path:
    """The workspace of the webserver and the daemon: the code server, by address."""
    path = home / WORKSPACE_FILE
    path.write_text(
        "# written by `optout serve`: the webserver and the daemon load the code location from\n"
        "# the code server it supervises\n"
        "load_from:\n"
        "  - grpc_server:\n"
        f"      host: {code_host}\n"
        f"      port: {code_port}\n"
        f"      location_name: {LOCATION_NAME}\n"
    )
    return path


def programs(home: Path, host: str, port: int, code_port: int) -> list[Program]:
    workspace = str(serve_workspace(home, "127.0.0.1", code_port))
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    logs = logs_folder("serve")
    code_server = [
        *(venv_program("dagster"), "code-server", "start", "--host", "127.0.0.1", "--port", str(code_port)),
        *("--module-name", LOCATION_NAME, "--location-name", LOCATION_NAME),
        *("--working-directory", str(REPO_ROOT)),
    ]
    webserver = [
        venv_program("dagster-webserver"),
        "--workspace",
        workspace,
        "--host",
        host,
        "--port",
        str(port),
    ]
    daemon = [venv_program("dagster-daemon"), "run", "--workspace", workspace]
    return [
        Program(name, command, env, REPO_ROOT, logs / f"{name}.log")
        for name, command in zip(PROGRAMS, (code_server, webserver, daemon), strict=True)
    ]


def serve_command(args: argparse.Namespace) -> None:
    config = settings()
    home = ensure_home()
    # the instance's tables are created here, once, before three processes open it at once
    get_instance().dispose()
    chosen = programs(home, args.host, args.port, args.code_port)
    if args.only:
        program = next(p for p in chosen if p.name == args.only)
        _check_free(*_listens(program.name, args))
        # this process becomes the program: its service manager supervises it
        os.chdir(program.cwd)
        os.execve(program.command[0], program.command, program.env)
    for where in (_listens("code-server", args), _listens("webserver", args)):
        _check_free(*where)
    ui = f"http://{args.host}:{args.port}"
    storage = (
        "PostgreSQL (OPTOUT_DAGSTER_POSTGRES_URL)" if config.dagster_postgres_url else f"SQLite in {home}"
    )
    progress(
        f"serving Dagster: webserver {ui}, code server 127.0.0.1:{args.code_port}, daemon; Ctrl-C stops them"
    )
    print(f"  instance:  {home} (history in {storage})")
    print(f"  logs:      {logs_folder('serve')}/<program>.log")
    print("  schedules: `optout automation status` (and `on` to start the daily runs)")
    supervisor = Supervisor(
        chosen,
        progress,
        on_tick=_announce_once_up(f"http://{_reachable(args.host)}:{args.port}/server_info", ui),
    )
    reason = supervisor.run()
    progress(f"stopped ({reason}): code server, webserver and daemon ended")


def _announce_once_up(probe_url: str, ui: str):
    """A supervisor tick that says once when the webserver first answers (probed once a second)."""
    state = {"announced": False, "probed": 0.0}

    def tick() -> None:
        if state["announced"] or time.monotonic() - state["probed"] < 1.0:
            return
        state["probed"] = time.monotonic()
        try:
            with urllib.request.urlopen(probe_url, timeout=1) as response:
                up = response.status == 200
        except (urllib.error.URLError, OSError):
            up = False
        if up:
            state["announced"] = True
            progress(f"the UI answers on {ui}")

    return tick


def _reachable(host: str) -> str:
    """Where this machine reaches a server listening on `host` (every address: the loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _listens(name: str, args: argparse.Namespace) -> tuple[str, int]:
    return {"code-server": ("127.0.0.1", args.code_port), "webserver": (args.host, args.port)}.get(
        name, ("", 0)
    )


def _check_free(host: str, port: int) -> None:
    if not port:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CliError(
                f"cannot listen on {host}:{port} ({exc.strerror}): is another server running?"
            ) from None
