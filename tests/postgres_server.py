"""A throw-away PostgreSQL server for the tests: initdb into a temp folder, a free port on
127.0.0.1, a password for its user, stopped and removed afterwards.

PostgreSQL refuses to run as root: when the tests run as root, the server runs as the
`postgres` user of the distribution's packages, in a folder it owns outside /root.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "optout"
DATABASE = "dagster"


@dataclass(frozen=True)
class PostgresServer:
    port: int
    password: str
    folder: Path

    @property
    def url(self) -> str:
        """What a user puts in OPTOUT_DAGSTER_POSTGRES_URL."""
        return self.database_url(DATABASE)

    def database_url(self, database: str) -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _connect(self, database: str):
        import psycopg2  # dagster-postgres's driver

        return contextlib.closing(
            psycopg2.connect(
                host="127.0.0.1", port=self.port, user=USER, password=self.password, dbname=database
            )
        )

    def query(self, sql: str, params: tuple = (), database: str = DATABASE) -> list[tuple]:
        with self._connect(database) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params or None)  # without parameters, a % is a percent sign
            return cursor.fetchall()

    def create_database(self, name: str) -> str:
        """A new, empty database of the server: its URL."""
        with self._connect(DATABASE) as connection:
            connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(f'create database "{name}"')
        return self.database_url(name)


def bin_dir() -> Path:
    """The folder of initdb and pg_ctl (`pg_config --bindir`); an error that says what to install."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        raise RuntimeError("PostgreSQL is not installed (pg_config not found): apt-get install postgresql")
    return Path(
        subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_quoted(part) for part in command)]


def _quoted(text: str) -> str:
    import shlex

    return shlex.quote(text)


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[PostgresServer]:
    programs = bin_dir()
    # not under the test's tmp_path: the postgres user must be able to reach it
    folder = Path(tempfile.mkdtemp(prefix="optout-pg-", dir="/tmp"))
    password = secrets.token_hex(12)
    (folder / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        shutil.chown(folder / "pwfile", "postgres", "postgres")
    port = _free_port()
    data = folder / "data"

    def run(command: list[str]) -> None:
        result = subprocess.run(_as_server_user(command), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stderr or result.stdout}")

    started = False
    try:
        run([str(programs / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
             f"--pwfile={folder / 'pwfile'}", "--no-sync"])  # fmt: skip
        run([str(programs / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
             f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])  # fmt: skip
        started = True
        env = {**os.environ, "PGPASSWORD": password}
        subprocess.run(
            [str(programs / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        yield PostgresServer(port, password, folder)
    finally:
        if started:
            run([str(programs / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(folder, ignore_errors=True)
