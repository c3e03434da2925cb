"""The tables dbt built on Spark, published into the DuckDB warehouse as views over their Parquet.

With the `spark` dbt target the transformations run on Spark, which writes each table as
Parquet in its warehouse layout (`<spark warehouse>/<schema>.db/<table>/`, partitioned
tables one `<column>=<value>/` folder per partition). Everything that reads the marts (exports,
report, alerts, quality suites, the serving copy, the UI metadata) keeps one interface: the
DuckDB warehouse file. This module puts a view there for each Spark table, with the
table's DuckDB name, the columns in the model's documented order (Spark moves partition
columns last) and the engine-neutral types the DuckDB build has.

The columns and types come from `dbt_meta.relation_columns`, which the Spark build records
on its way out (dbt_project/macros/spark_catalog.sql): a partitioned table without rows has
no file to read a schema from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

COLUMNS_TABLE = ("dbt_meta", "relation_columns")
# the comment on every view publish() creates: a DuckDB build removes them first (unpublish)
PUBLISHED_COMMENT = "optout: a Spark table, published from the Spark warehouse"

# Spark SQL type names -> DuckDB's (dbt-spark reports them lower case)
_SIMPLE_TYPES = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamp_ntz": "TIMESTAMP",
}
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


class SparkPublishError(RuntimeError):
    """A Spark table cannot be shown to DuckDB (missing, or a type with no DuckDB twin)."""


@dataclass(frozen=True)
class SparkRelation:
    """A table dbt built on Spark, and the column order its documentation gives."""

    schema: str
    name: str
    documented_columns: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def table_dir(spark_warehouse: Path, schema: str, name: str) -> Path:
    """Where Spark keeps a table of database `schema` (its default layout)."""
    return spark_warehouse / f"{schema}.db" / name


def duckdb_type(spark_type: str) -> str:
    spark_type = spark_type.strip().lower()
    if spark_type in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[spark_type]
    decimal = _DECIMAL.fullmatch(spark_type)
    if decimal:
        return f"DECIMAL({decimal.group(1)}, {decimal.group(2)})"
    raise SparkPublishError(f"Spark type {spark_type!r} has no DuckDB counterpart in this project")


def recorded_columns(spark_warehouse: Path) -> dict[str, list[tuple[str, str]]]:
    """`schema.table` -> [(column, Spark type)] in Spark's order, as the last build recorded them."""
    folder = table_dir(spark_warehouse, *COLUMNS_TABLE)
    if not any(folder.glob("*/*.parquet")):
        return {}
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select relation_name, column_name, data_type from read_parquet(?, hive_partitioning = true)"
            " order by relation_name, column_position",
            [str(folder / "*" / "*.parquet")],
        ).fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for relation, column, data_type in rows:
        columns.setdefault(relation, []).append((column, data_type))
    return columns


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ordered(relation: SparkRelation, columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The documented order first (DuckDB's), then any column the docs do not name."""
    by_name = dict(columns)
    documented = [name for name in relation.documented_columns if name in by_name]
    rest = [name for name, _ in columns if name not in documented]
    return [(name, by_name[name]) for name in documented + rest]


def view_sql(relation: SparkRelation, columns: list[tuple[str, str]], folder: Path) -> str:
    """A DuckDB view of one Spark table: its Parquet files, or no rows when it has none."""
    files = sorted(folder.rglob("*.parquet")) if folder.exists() else []
    ordered = _ordered(relation, columns)
    if not files:
        select = ", ".join(f"cast(null as {duckdb_type(t)}) as {_quote(c)}" for c, t in ordered)
        return f"select {select} where false"
    partitioned = any("=" in part for file in files for part in file.relative_to(folder).parts[:-1])
    # Spark writes TIMESTAMP as instants (Parquet isAdjustedToUTC), which DuckDB reads as
    # TIMESTAMPTZ: the UTC wall time is the project's TIMESTAMP, whatever a reader's time zone
    expressions = [
        f"timezone('UTC', {_quote(c)}) as {_quote(c)}"
        if t.strip().lower() == "timestamp"
        else f"cast({_quote(c)} as {duckdb_type(t)}) as {_quote(c)}"
        for c, t in ordered
    ]
    source = (
        f"read_parquet({_literal(str(folder / '**' / '*.parquet'))}, "
        f"hive_partitioning = {'true' if partitioned else 'false'}, union_by_name = true)"
    )
    return f"select {', '.join(expressions)} from {source}"


def publish(warehouse: Path, spark_warehouse: Path, relations: Iterable[SparkRelation]) -> list[str]:
    """Create or replace a view in `warehouse` for each Spark table; returns `schema.table` of each.

    One transaction: readers see the views of the previous build or of this one.
    """
    relations = list(relations)
    columns = recorded_columns(spark_warehouse)
    missing = [r.qualified for r in relations if r.qualified not in columns]
    if missing:
        raise SparkPublishError(
            f"the Spark build recorded no columns for {', '.join(missing)} "
            f"(in {table_dir(spark_warehouse, *COLUMNS_TABLE)}); build them on Spark first"
        )
    statements = [
        f"create or replace view {_quote(r.schema)}.{_quote(r.name)} as "
        + view_sql(r, columns[r.qualified], table_dir(spark_warehouse, r.schema, r.name))
        for r in relations
    ]
    with duckdb.connect(str(warehouse)) as connection:
        # a table of the same name was built by the DuckDB target before: the view replaces it
        built_on_duckdb = connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_type = 'BASE TABLE' and table_catalog = current_database()"
        ).fetchall()
        connection.execute("begin transaction")
        for schema in sorted({r.schema for r in relations}):
            connection.execute(f"create schema if not exists {_quote(schema)}")
        for r in relations:
            if (r.qualified,) in built_on_duckdb:
                connection.execute(f"drop table {_quote(r.schema)}.{_quote(r.name)}")
        for statement in statements:
            connection.execute(statement)
        for r in relations:
            connection.execute(
                f"comment on view {_quote(r.schema)}.{_quote(r.name)} is {_literal(PUBLISHED_COMMENT)}"
            )
        connection.execute("commit")
    return [r.qualified for r in relations]


def unpublish(warehouse: Path) -> list[str]:
    """Drop the views publish() made, before dbt builds on DuckDB again (the engine was switched
    back): dbt refuses to seed over a view, and rebuilds an incremental model whole where a view
    stood. Returns `schema.table` of each dropped view."""
    if not warehouse.exists():
        return []
    with duckdb.connect(str(warehouse)) as connection:
        views = connection.execute(
            "select schema_name, view_name from duckdb_views() where database_name = current_database()"
            " and comment = ?",
            [PUBLISHED_COMMENT],
        ).fetchall()
        if views:
            connection.execute("begin transaction")
            for schema, name in views:
                connection.execute(f"drop view {_quote(schema)}.{_quote(name)}")
            connection.execute("commit")
    return [f"{schema}.{name}" for schema, name in views]


def existing_tables(spark_warehouse: Path, wanted: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (schema, table) pairs of `wanted` that Spark's warehouse holds."""
    return {(schema, name) for schema, name in wanted if table_dir(spark_warehouse, schema, name).is_dir()}
