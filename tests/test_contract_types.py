"""Column types are written once: the raw-export contract and the dbt models' yml agree.

The contract (assets/contract.py) types the lake; each staging model declares the same types
in its yml (`data_type`) and casts to them (macros/staging.sql). Every other model declares
its columns' types too, checked by dbt on every build (enforced contracts), so the Dagster
UI shows them. These tests fail when the contract or a model changes alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster_dbt import DagsterDbtTranslator

from assets.config import REPO_ROOT
from assets.contract import TABLES
from assets.ingest.day import LOG_SCHEMA
from assets.ingest.validate import QUARANTINE_SCHEMA, typed_schema

DBT_PROJECT = REPO_ROOT / "dbt_project"
# dbt's engine-neutral type names, valid on DuckDB and Spark alike (macros/types.sql)
NEUTRAL_TYPES = {"string", "date", "timestamp", "bigint", "int", "double", "boolean"}
# the lake's Parquet types (polars, as ingestion writes them) by their SQL names
LAKE_TYPES = {
    pl.String: "string",
    pl.Date: "date",
    pl.Int64: "bigint",
    pl.Datetime("us", "UTC"): "timestamp",
}
# `cast(col as type) as name`; a lake instant as `cast(timezone('UTC', col) as timestamp)`
CAST = re.compile(
    r"^\s*cast\((?:timezone\('UTC', (?P<utc>\w+)\)|(?P<lake>\w+)) as (?P<type>[^)]+(?:\([^)]*\))?)\) as (?P<name>\w+),?$"
)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict:
    """The manifest of a fresh `dbt compile` of staging and intermediate (no warehouse needed)."""
    target = tmp_path_factory.mktemp("contract-types") / "target"
    env = {
        **os.environ,
        "OPTOUT_DBT_TARGET": "duckdb",
        "OPTOUT_WAREHOUSE": ":memory:",
        "OPTOUT_LAKE_DIR": str(target.parent / "lake"),
    }
    dbt = str(Path(sys.executable).with_name("dbt"))
    result = subprocess.run(
        [dbt, "compile", "--select", "staging", "intermediate", "--project-dir", str(DBT_PROJECT),
         "--profiles-dir", str(DBT_PROJECT), "--target-path", str(target)],
        env=env,
        capture_output=True,
        text=True,
        cwd=DBT_PROJECT,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads((target / "manifest.json").read_text())


def _model(manifest: dict, name: str) -> dict:
    return manifest["nodes"][f"model.optout.{name}"]


def _declared(node: dict) -> dict[str, str]:
    return {name: column.get("data_type") for name, column in node["columns"].items()}


def _casts(node: dict) -> list[tuple[str, str, str]]:
    """(lake column, type, staged column) of each cast in the model's compiled SQL, in order."""
    return [
        (match["lake"] or match["utc"], match["type"], match["name"])
        for match in map(CAST.match, node["compiled_code"].splitlines())
        if match
    ]


def _utc_casts(node: dict) -> dict[str, bool]:
    """Per staged timestamp column: is it cast as the UTC wall time, whatever the reader's zone?"""
    return {
        match["name"]: match["utc"] is not None
        for match in map(CAST.match, node["compiled_code"].splitlines())
        if match and match["type"].lower() == "timestamp"
    }


def _engine_type(connection: duckdb.DuckDBPyConnection, sql_type: str) -> str:
    return str(connection.sql(f"select cast(null as {sql_type}) as x").types[0])


def _models(manifest: dict) -> list[dict]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] != "reporting"
    ]


@pytest.mark.parametrize("table", list(TABLES))
def test_staging_types_are_the_contracts(compiled, table):
    contract = TABLES[table]
    node = _model(compiled, f"stg_lake__{table}")
    casts = _casts(node)
    # every contract column and lineage column is staged once, in the contract's order ...
    assert [lake for lake, _, _ in casts] == list(contract.sql_types)
    staged_name = {lake: name for lake, _, name in casts}
    # ... declared (the yml) with the contract's type ...
    assert _declared(node) == {staged_name[c]: t for c, t in contract.sql_types.items()}
    # ... and cast to that type by the SQL dbt runs
    with duckdb.connect() as connection:
        for lake, cast_type, _ in casts:
            assert _engine_type(connection, cast_type) == _engine_type(
                connection, contract.sql_types[lake]
            ), (table, lake)
    assert node["config"]["contract"]["enforced"] is True
    # a view over the lake is evaluated in its reader's session: instants read as UTC there too
    assert all(_utc_casts(node).values()), _utc_casts(node)


def test_the_renames_of_staging_stay(compiled):
    renamed = {
        (lake, name)
        for table in TABLES
        for lake, _, name in _casts(_model(compiled, f"stg_lake__{table}"))
        if lake != name
    }
    assert renamed == {("name", "campaign_name")}


@pytest.mark.parametrize("table", list(TABLES))
def test_the_lake_is_typed_as_the_contract_says(table):
    """Ingestion writes the lake's Parquet in the types the contract gives its columns."""
    lake = {name: LAKE_TYPES[dtype] for name, dtype in typed_schema(TABLES[table]).items()}
    assert lake == TABLES[table].sql_types


def test_the_lake_log_and_quarantine_are_staged_in_their_types(compiled):
    for model, schema in (
        ("stg_lake__ingestion_log", LOG_SCHEMA),
        ("stg_lake__quarantine", QUARANTINE_SCHEMA),
    ):
        declared = _declared(_model(compiled, model))
        assert {name: LAKE_TYPES[schema[name]] for name in declared} == declared, model
        assert [lake for lake, _, _ in _casts(_model(compiled, model))] == list(declared)


def test_every_model_declares_its_column_types(compiled):
    """The Dagster UI's column table shows each model's columns with their types."""
    translator = DagsterDbtTranslator()
    for node in _models(compiled):
        declared = _declared(node)
        assert declared, node["name"]
        assert set(declared.values()) <= NEUTRAL_TYPES, (node["name"], declared)
        spec = translator.get_asset_spec(compiled, node["unique_id"], None)
        schema = spec.metadata["dagster/column_schema"]
        assert {c.name: c.type for c in schema.columns} == declared


def test_every_built_model_enforces_its_contract(compiled):
    """dbt checks the declared types on every build; an ephemeral model is never created, so
    dbt would check no contract of it (the next test does)."""
    for node in _models(compiled):
        config = node["config"]
        if config["materialized"] == "ephemeral":
            assert not config["contract"]["enforced"], node["name"]
            continue
        assert config["contract"]["enforced"] is True, node["name"]
        if config["materialized"] == "incremental":
            assert config["on_schema_change"] in ("append_new_columns", "fail"), node["name"]


def test_ephemeral_models_return_their_declared_types(compiled):
    """What dbt cannot check for an ephemeral model: its SQL, on empty inputs of the declared
    types of the models it reads (their contracts hold those), returns the declared types."""
    ephemeral = [node for node in _models(compiled) if node["config"]["materialized"] == "ephemeral"]
    assert ephemeral
    with duckdb.connect() as connection:
        for node in ephemeral:
            for upstream in _upstream_tables(compiled, node):
                columns = ", ".join(f"{name} {data_type}" for name, data_type in _declared(upstream).items())
                connection.execute(f"create schema if not exists {upstream['schema']}")
                connection.execute(
                    f"create table if not exists {upstream['schema']}.{upstream['alias']} ({columns})"
                )
            described = connection.sql(node["compiled_code"])
            returned = dict(zip(described.columns, map(str, described.types), strict=True))
            declared = {
                name: _engine_type(connection, data_type) for name, data_type in _declared(node).items()
            }
            assert returned == declared, node["name"]


def _upstream_tables(manifest: dict, node: dict) -> list[dict]:
    """The non-ephemeral models an ephemeral model reads, directly or through other ephemerals."""
    found = []
    for unique_id in node["depends_on"]["nodes"]:
        upstream = manifest["nodes"][unique_id]
        if upstream["config"]["materialized"] == "ephemeral":
            found += _upstream_tables(manifest, upstream)
        else:
            found.append(upstream)
    return found
