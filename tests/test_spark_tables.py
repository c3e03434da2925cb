"""Spark tables shown to DuckDB (assets/spark_tables.py), on a hand-made Spark warehouse layout."""

import datetime as dt

import duckdb
import pytest

from assets.spark_tables import SparkPublishError, SparkRelation, duckdb_type, publish, unpublish


def _write(connection, sql: str, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection.execute(f"copy ({sql}) to '{path}' (format parquet)")


@pytest.fixture
def spark_warehouse(tmp_path):
    """What Spark leaves: a table partitioned by day (the partition column in folder names,
    timestamps as UTC instants), an empty partitioned table (no file at all), the column records."""
    root = tmp_path / "spark-warehouse"
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        columns = {
            "marts.daily": [
                ("n", "bigint"),
                ("at", "timestamp"),
                ("share", "decimal(38,18)"),
                ("day", "date"),
            ],
            "marts.empty": [("id", "string"), ("rate", "double"), ("day", "date")],
        }
        for relation, cols in columns.items():
            values = ", ".join(f"({i}, '{c}', '{t}')" for i, (c, t) in enumerate(cols, start=1))
            _write(
                connection,
                f"select * from (values {values}) as v(column_position, column_name, data_type)",
                root / "dbt_meta.db" / "relation_columns" / f"relation_name={relation}" / "part-0.parquet",
            )
        for day, n in (("2026-01-01", 1), ("2026-01-02", 2)):
            _write(
                connection,
                f"select {n}::bigint as n, timestamptz '{day} 23:30:00+00' as at, 0.25::decimal(38,18) as share",
                root / "marts.db" / "daily" / f"day={day}" / "part-0.parquet",
            )
        (root / "marts.db" / "empty").mkdir(parents=True)
    return root


def test_views_have_the_documented_order_duckdb_types_and_utc_wall_times(tmp_path, spark_warehouse):
    warehouse = tmp_path / "optout.duckdb"
    relations = [
        SparkRelation("marts", "daily", ("day", "n", "at", "share")),
        SparkRelation("marts", "empty", ("day", "id", "rate")),
    ]
    assert publish(warehouse, spark_warehouse, relations) == ["marts.daily", "marts.empty"]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("set TimeZone = 'America/New_York'")  # a reader's zone changes nothing
        described = connection.execute("describe marts.daily").fetchall()
        assert [(row[0], row[1]) for row in described] == [
            ("day", "DATE"),
            ("n", "BIGINT"),
            ("at", "TIMESTAMP"),
            ("share", "DECIMAL(38,18)"),
        ]
        rows = connection.execute('select day, n, "at" from marts.daily order by day').fetchall()
        assert rows == [
            (dt.date(2026, 1, 1), 1, dt.datetime(2026, 1, 1, 23, 30)),
            (dt.date(2026, 1, 2), 2, dt.datetime(2026, 1, 2, 23, 30)),
        ]
        empty = connection.execute("describe marts.empty").fetchall()
        assert [(row[0], row[1]) for row in empty] == [("day", "DATE"), ("id", "VARCHAR"), ("rate", "DOUBLE")]
        assert connection.execute("select count(*) from marts.empty").fetchone()[0] == 0


def test_a_table_built_on_duckdb_before_is_replaced_by_the_view(tmp_path, spark_warehouse):
    warehouse = tmp_path / "optout.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema marts; create table marts.daily as select 99 as n")
    publish(warehouse, spark_warehouse, [SparkRelation("marts", "daily", ("day", "n", "at", "share"))])
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.execute("select sum(n) from marts.daily").fetchone()[0] == 3


def test_a_table_without_recorded_columns_or_a_foreign_type_is_refused(tmp_path, spark_warehouse):
    with pytest.raises(SparkPublishError, match=r"recorded no columns for marts\.unknown"):
        publish(tmp_path / "optout.duckdb", spark_warehouse, [SparkRelation("marts", "unknown")])
    with pytest.raises(SparkPublishError, match="map<string,int>"):
        duckdb_type("map<string,int>")
    assert duckdb_type("decimal(38, 18)") == "DECIMAL(38, 18)"


def test_unpublish_drops_only_the_views_publish_made(tmp_path, spark_warehouse):
    warehouse = tmp_path / "optout.duckdb"
    publish(warehouse, spark_warehouse, [SparkRelation("marts", "daily", ("day", "n", "at", "share"))])
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create view marts.own as select 1 as one")
    assert unpublish(warehouse) == ["marts.daily"]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        left = connection.execute(
            "select view_name from duckdb_views() where schema_name = 'marts'"
        ).fetchall()
    assert left == [("own",)]
    assert unpublish(warehouse) == []
