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


def redact_postgres(url: str, subjects) -> int:
    """Each mention of the people's ids in the instance's tables replaced by `[erased]`
    (optout subject erase); returns the values changed. Every text column is searched: the
    event log's JSON, run tags and configs, tick and schedule records alike."""
    import sqlalchemy as sa

    from assets.privacy.matching import redact

    pattern = subjects.text_pattern()
    needles = subjects.text_forms()  # as stored: Dagster's JSON escapes quotes and non-ASCII
    changed = 0
    touched: set[str] = set()
    engine = sa.create_engine(driver_url(url))
    try:
        with engine.begin() as connection:
            columns = connection.execute(
                sa.text(
                    "select c.table_name, c.column_name from information_schema.columns c "
                    "join information_schema.tables t using (table_schema, table_name) "
                    "where c.table_schema = current_schema() and t.table_type = 'BASE TABLE' "
                    "and c.data_type in ('text', 'character varying')"
                )
            ).fetchall()
            for table, column in columns:
                condition = " or ".join(f'strpos("{column}", :n{i}) > 0' for i in range(len(needles)))
                params = {f"n{i}": needle for i, needle in enumerate(needles)}
                rows = connection.execute(
                    sa.text(f'select ctid::text, "{column}" from "{table}" where {condition}'), params
                ).fetchall()
                for ctid, value in rows:
                    new, count = redact(value, pattern)
                    if count:
                        connection.execute(
                            sa.text(
                                f'update "{table}" set "{column}" = :value where ctid = cast(:ctid as tid)'
                            ),
                            {"value": new, "ctid": ctid},
                        )
                        changed += 1
                        touched.add(table)
        # the old row versions hold the ids until vacuumed
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in sorted(touched):
                connection.execute(sa.text(f'vacuum "{table}"'))
    finally:
        engine.dispose()
    return changed
