"""The raw export contract (docs/raw-exports.md) as data, shared by ingestion and the generator."""

from __future__ import annotations

from dataclasses import dataclass

from assets.platforms import PROFILE_PLATFORMS

# The type a column of each kind has once typed: in the lake's Parquet (ingestion) and in
# staging, whose models declare the same type for the column in their yml (`data_type`, in
# dbt's engine-neutral names) and cast to it; tests/test_contract_types.py holds them together.
SQL_TYPES = {"string": "string", "enum": "string", "json": "string", "timestamp": "timestamp"}
# The lineage columns ingestion adds to every record, and their types.
LINEAGE_SQL_TYPES = {"export_date": "date", "source_file": "string", "record_number": "bigint"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "string" | "enum" | "timestamp" | "json"
    required: bool = False
    values: tuple[str, ...] = ()
    # The record's own time: it may not lie after the end of its export day (+ skew).
    own_time: bool = False

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    # Tables whose records carry an event_id are de-duplicated on it.
    event_id: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def sql_types(self) -> dict[str, str]:
        """Every column of the typed table, lineage last, and its SQL type."""
        return {c.name: c.sql_type for c in self.columns} | LINEAGE_SQL_TYPES


PLATFORMS = PROFILE_PLATFORMS  # the one list: dbt_project/seeds/platforms.csv
BROWSERS = ("chrome", "firefox", "safari", "edge", "other")
SUBSCRIPTION_EVENTS = ("opt_in", "opt_out")
SUBSCRIPTION_SOURCES = ("user_settings", "os_permission", "token_invalid", "api")
DETECTION_PATHS = ("client", "api", "send_feedback", "revisit")
CHANNELS = ("push", "web_push")
CAMPAIGN_TYPES = ("broadcast", "automated", "transactional")
MESSAGE_EVENTS = ("sent", "delivered", "opened", "failed")
ERROR_CODES = ("unregistered", "invalid_token", "rate_limited", "timeout", "other")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "users",
            (
                Column("user_id", "string", required=True),
                Column("external_id", "string"),
                Column("platform", "enum", required=True, values=PLATFORMS),
                Column("browser", "enum", values=BROWSERS),
                Column("created_at", "timestamp", required=True),
                Column("updated_at", "timestamp", required=True, own_time=True),
            ),
        ),
        Table(
            "subscriptions",
            (
                Column("event_id", "string", required=True),
                Column("user_id", "string", required=True),
                Column("event_type", "enum", required=True, values=SUBSCRIPTION_EVENTS),
                Column("occurred_at", "timestamp", required=True, own_time=True),
                Column("source", "enum", required=True, values=SUBSCRIPTION_SOURCES),
                Column("detected_via", "enum", required=True, values=DETECTION_PATHS),
                Column("campaign_id", "string"),
            ),
            event_id=True,
        ),
        Table(
            "campaigns",
            (
                Column("campaign_id", "string", required=True),
                Column("name", "string", required=True),
                Column("channel", "enum", required=True, values=CHANNELS),
                Column("campaign_type", "enum", required=True, values=CAMPAIGN_TYPES),
                Column("sent_at", "timestamp", required=True),
                Column("updated_at", "timestamp", required=True, own_time=True),
            ),
        ),
        Table(
            "messages",
            (
                Column("event_id", "string", required=True),
                Column("user_id", "string", required=True),
                Column("campaign_id", "string", required=True),
                Column("event_type", "enum", required=True, values=MESSAGE_EVENTS),
                Column("occurred_at", "timestamp", required=True, own_time=True),
                Column("error_code", "enum", values=ERROR_CODES),
            ),
            event_id=True,
        ),
        Table(
            "app_events",
            (
                Column("event_id", "string", required=True),
                Column("user_id", "string", required=True),
                Column("event_name", "string", required=True),
                Column("occurred_at", "timestamp", required=True, own_time=True),
                Column("properties", "json"),
            ),
            event_id=True,
        ),
    )
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)

ACCEPTED_EXTENSIONS = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")

# Quarantine reasons (docs/raw-exports.md, "Bad input").
MALFORMED = "malformed_record"
