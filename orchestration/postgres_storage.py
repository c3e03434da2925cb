"""Dagster's storage in PostgreSQL, its URL read from OPTOUT_DAGSTER_POSTGRES_URL.

`dagster.yaml` names this class and nothing else (orchestration/instance.py), so the URL -
which may hold a password - is never written to disk, shown by the UI's instance page or
passed on a command line: every process that opens the instance (optout, the webserver, the
daemon, the code server and the run workers it starts) reads it from its own environment.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from dagster_postgres import DagsterPostgresStorage

from assets.config import SettingError, load_settings

# SQLAlchemy 2.1 takes `postgresql://` to mean psycopg 3, which Dagster's queries do not
# work with; dagster-postgres brings psycopg2, so the driver is named whatever users type
DRIVER_SCHEME = "postgresql+psycopg2"


def driver_url(url: str) -> str:
    """The URL with the driver dagster-postgres works with (`postgresql+psycopg2://`)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=DRIVER_SCHEME))


def postgres_url() -> str:
    secret = load_settings().dagster_postgres_url
    if secret is None:
        raise SettingError(
            "this Dagster instance keeps its history in PostgreSQL (its dagster.yaml says so), but "
            "OPTOUT_DAGSTER_POSTGRES_URL is not set: set it as the service's environment file does"
        )
    return driver_url(secret.get_secret_value())


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStorageFromSettings(DagsterPostgresStorage):
    """DagsterPostgresStorage on the URL of the settings; configured by nothing in dagster.yaml."""

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data, config_value: dict) -> PostgresStorageFromSettings:
        # inst_data names this class (not the URL): run workers open the instance by it
        return cls(postgres_url=postgres_url(), inst_data=inst_data)
