"""Apache Superset in its own environment, pointed at the serving copy.

Superset pins SQLAlchemy 1.4 and dozens of Flask packages, so it gets a venv of its own
in $OPTOUT_BI_DIR/superset (default data/bi), installed from the package registry by
name with the versions in `superset/requirements.txt`. Its state lives beside it: the
SQLite metadata database, the secret key, the admin password (generated once, 0600).
The warehouse is never opened: Superset reads `$OPTOUT_SERVING_DIR/optout.duckdb`
read-only, one connection per query, so every query sees the snapshot published last.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import venv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from assets.config import load_settings
from assets.serving.layout import DATABASE_FILE

PACKAGE_FILES = Path(__file__).parent / "superset"
REQUIREMENTS = PACKAGE_FILES / "requirements.txt"
CONFIG = PACKAGE_FILES / "superset_config.py"
ADMIN = "admin"
DATABASE_NAME = "optout"
START_TIMEOUT_SECONDS = 120


class SupersetSetupError(Exception):
    """A step of the BI setup failed; the message names it and the log to read."""


@dataclass(frozen=True)
class SupersetHome:
    root: Path  # $OPTOUT_BI_DIR/superset

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def log(self) -> Path:
        return self.root / "superset.log"

    @property
    def password_file(self) -> Path:
        return self.root / "admin-password"

    def executable(self, name: str) -> Path:
        return self.venv / "bin" / name

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def is_set_up(self) -> bool:
        return self.password_file.exists() and (self.root / "superset.db").exists()

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SUPERSET_CONFIG_PATH": str(CONFIG),
            # Superset's own files (uploads, caches) stay here, not in ~/.superset
            "SUPERSET_HOME": str(self.root),
            "FLASK_APP": "superset",
        }


def serving_database_uri(serving_dir: Path) -> str:
    """duckdb-engine's URI of the serving copy, opened read-only (never locks the writer out)."""
    return f"duckdb:///{serving_dir / DATABASE_FILE}?access_mode=read_only"


def install(home: Path | SupersetHome, step: Callable[[str], None]) -> None:
    """The venv with the pinned requirements; skipped when they are installed already."""
    home = home if isinstance(home, SupersetHome) else SupersetHome(home)
    marker = home.venv / "optout-requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if marker.exists() and marker.read_text() == wanted:
        step("Superset is installed already")
        return
    home.root.mkdir(parents=True, exist_ok=True)
    if not home.executable("python").exists():
        step(f"creating the venv {home.venv}")
        venv.EnvBuilder(with_pip=True).create(home.venv)
    step(f"installing {_pinned(REQUIREMENTS)} (about a minute)")
    _run(home, [str(home.executable("python")), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)])
    marker.write_text(wanted)


def initialise(home: SupersetHome, serving_dir: Path, step: Callable[[str], None]) -> None:
    """Metadata database, secret key, admin user, roles, and the `optout` database connection."""
    secret = home.root / "secret_key"
    if not secret.exists():
        _write_private(secret, secrets.token_urlsafe(48))
    if not home.password_file.exists():
        _write_private(home.password_file, load_settings().bi_password or secrets.token_urlsafe(12))
    superset = str(home.executable("superset"))
    step("creating Superset's metadata database")
    _run(home, [superset, "db", "upgrade"])
    step("creating the admin user and roles")
    _run(
        home,
        [
            superset,
            "fab",
            "create-admin",
            "--username",
            ADMIN,
            "--firstname",
            "optout",
            "--lastname",
            "admin",
            "--email",
            "admin@localhost",
            "--password",
            home.password(),
        ],
    )
    # an existing admin keeps the password of the file (it may have been edited)
    _run(home, [superset, "fab", "reset-password", "--username", ADMIN, "--password", home.password()])
    _run(home, [superset, "init"])
    step(f"connecting the database `{DATABASE_NAME}` to {serving_dir / DATABASE_FILE} (read-only)")
    _run(home, [superset, "set-database-uri", "-d", DATABASE_NAME, "-u", serving_database_uri(serving_dir)])


def server_command(home: SupersetHome, host: str, port: int) -> list[str]:
    """Superset's production server (gunicorn, as its docs run it), bound to `host`."""
    return [
        str(home.executable("gunicorn")),
        "--workers",
        "2",
        "--threads",
        "4",
        "--timeout",
        "120",
        "--bind",
        f"{host}:{port}",
        "--access-logfile",
        "-",
        "superset.app:create_app()",
    ]


@contextlib.contextmanager
def running_server(home: SupersetHome, port: int | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """Superset serving in the background for the block; yields its base URL."""
    port = port or free_port()
    with open(home.log, "ab") as log:
        process = subprocess.Popen(
            server_command(home, host, port),
            env=home.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stopped with its workers as one process group
        )
    url = f"http://{host}:{port}"
    try:
        wait_until_healthy(url, process, home.log)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SupersetSetupError(
                f"Superset stopped while starting (exit {process.returncode}); see {log}"
            )
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"{url}/health", timeout=5) as response,
        ):
            if response.status == 200:
                return
        time.sleep(1)
    raise SupersetSetupError(f"Superset did not answer at {url} within {START_TIMEOUT_SECONDS} s; see {log}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(home: SupersetHome, command: list[str]) -> None:
    """Run a setup command; its output goes to the BI log, a failure names the log."""
    home.root.mkdir(parents=True, exist_ok=True)
    with open(home.log, "ab") as log:
        # the command without its arguments: some carry the admin password
        log.write(f"\n$ {_short(command)} ...\n".encode())
        log.flush()
        result = subprocess.run(command, env=home.env(), stdout=log, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise SupersetSetupError(f"`{_short(command)}` failed (exit {result.returncode}); see {home.log}")


def _short(command: list[str]) -> str:
    return " ".join([Path(command[0]).name, *command[1:3]])


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as out:
        out.write(text + "\n")


def _pinned(requirements: Path) -> str:
    lines = [line.strip() for line in requirements.read_text().splitlines()]
    return ", ".join(line for line in lines if line and not line.startswith("#"))
