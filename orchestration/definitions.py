"""The Dagster code location: merges the per-concern modules, nothing else."""

from __future__ import annotations

from dagster import Definitions

from assets.ingest.assets import ingest_assets
from orchestration.jobs import everything_job
from orchestration.resources import OptoutPaths

defs = Definitions(
    assets=[*ingest_assets],
    jobs=[everything_job],
    resources={"paths": OptoutPaths.from_env()},
)
