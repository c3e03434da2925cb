"""Headline numbers read back from the marts (what `optout run` prints at the end)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl


@dataclass
class Headlines:
    opt_outs: int = 0
    lagged_share: float | None = None
    first_day: str | None = None
    last_day: str | None = None
    top_campaigns: list[dict] = field(default_factory=list)


def read_headlines(warehouse: Path, top: int = 3) -> Headlines:
    if not warehouse.exists():
        return Headlines()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        opt_outs = connection.table("marts.fct_opt_outs").select("opt_out_date", "is_lagged").pl()
        campaigns = connection.table("marts.mart_campaign_opt_outs").pl()
    result = Headlines(opt_outs=opt_outs.height)
    if opt_outs.height:
        result.lagged_share = float(opt_outs["is_lagged"].mean())
        result.first_day = str(opt_outs["opt_out_date"].min())
        result.last_day = str(opt_outs["opt_out_date"].max())
    result.top_campaigns = (
        campaigns.filter(pl.col("attributed_opt_outs") > 0)
        .sort(["attributed_opt_outs", "campaign_id"], descending=[True, False])
        .head(top)
        .select(
            "campaign_id", "campaign_name", "attributed_opt_outs", "attributed_opt_out_rate", "recipients"
        )
        .to_dicts()
    )
    return result
