"""The Dagster code location: merges the per-concern modules, nothing else."""

from __future__ import annotations

from dagster import Definitions

from assets.ingest.assets import ingest_assets
from orchestration.dbt_assets import dbt_resource, optout_dbt_models
from orchestration.jobs import everything_job
from orchestration.resources import OptoutPaths

defs = Definitions(
    assets=[*ingest_assets, optout_dbt_models],
    jobs=[everything_job],
    resources={"paths": OptoutPaths(), "dbt": dbt_resource()},
)
