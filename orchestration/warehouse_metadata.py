"""Row counts and previews of the built tables (not views), read after dbt has released the warehouse.

dagster-dbt's own row-count fetch keeps a connection open in the Dagster process, which
would hold DuckDB's single-writer lock for as long as that process lives; a short
read-only connection after the build avoids that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import duckdb
import polars as pl
from dagster import AssetKey, MetadataValue, Output

from assets.shown_text import markdown_table

# tables worth a preview in the UI: (sort columns, newest first, then by id; columns shown).
# The campaigns by their send time: which campaign is "top" is the reporting views' call
# (reporting.rpt_campaigns), shown with the report asset
PREVIEWS = {
    AssetKey(["marts", "mart_campaign_opt_outs"]): (
        ["sent_at", "campaign_id"],
        [
            "sent_at",
            "campaign_id",
            "campaign_name",
            "recipients",
            "attributed_opt_outs",
            "attributed_opt_out_rate",
            "revealed_opt_outs",
        ],
    ),
}


def _markdown(frame: pl.DataFrame) -> str:
    # the rows come from the platform's exports: shown as text, never as Markdown
    return markdown_table(frame.columns, [list(row) for row in frame.rows()])


def with_table_metadata(
    events: Iterable,
    warehouse: Path,
    keys_by_output_name: Mapping[str, AssetKey],
    counted_views: Iterable[str] = (),
) -> Iterator:
    """Pass the events on, adding row counts (and previews) to the model outputs.

    `counted_views` (`schema.table`) are views counted all the same: the Spark tables shown
    to DuckDB over their Parquet (counting one reads the files' footers only).
    """
    events = list(events)
    if not warehouse.exists():
        yield from events
        return
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        # views are left out: counting one runs its query over the whole history again
        tables = set(
            connection.execute(
                "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
            ).fetchall()
        ) | {tuple(name.split(".", 1)) for name in counted_views}
        for event in events:
            if isinstance(event, Output) and event.metadata is not None:
                # by the asset's own map: an output name joins the key's parts with `__`, which
                # model names contain too (stg_lake__messages)
                key = keys_by_output_name.get(event.output_name)
                extra = (
                    _table_metadata(connection, key) if key is not None and tuple(key.path) in tables else {}
                )
                if extra:
                    event = event.with_metadata({**event.metadata, **extra})
            yield event


def _table_metadata(connection: duckdb.DuckDBPyConnection, key: AssetKey | None) -> dict:
    if key is None or len(key.path) != 2:
        return {}
    schema, table = key.path
    try:
        relation = connection.table(f"{schema}.{table}")
        metadata = {"dagster/row_count": relation.count("*").fetchall()[0][0]}
    except duckdb.Error:
        return {}
    if key in PREVIEWS:
        order, columns = PREVIEWS[key]
        preview = (
            relation.pl().sort(order, descending=[True, False], nulls_last=True).head(10).select(columns)
        )
        metadata["preview"] = MetadataValue.md(_markdown(preview))
    return metadata
