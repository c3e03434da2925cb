"""Dagster resources: the pipeline's locations, read from the same env vars as dbt."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from assets.config import Settings, resolve_path


class OptoutPaths(ConfigurableResource):
    """Where raw exports land and where the lake, warehouse and exports live."""

    landing_dir: str
    lake_dir: str
    warehouse: str
    export_dir: str

    @classmethod
    def from_env(cls) -> OptoutPaths:
        settings = Settings.from_env()
        return cls(
            landing_dir=str(settings.landing_dir),
            lake_dir=str(settings.lake_dir),
            warehouse=str(settings.warehouse),
            export_dir=str(settings.export_dir),
        )

    @property
    def landing(self) -> Path:
        return resolve_path(self.landing_dir)

    @property
    def lake(self) -> Path:
        return resolve_path(self.lake_dir)

    @property
    def warehouse_path(self) -> Path:
        return resolve_path(self.warehouse)

    @property
    def exports(self) -> Path:
        return resolve_path(self.export_dir)
