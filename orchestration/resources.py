"""Dagster resources: the pipeline's locations, read from the same env vars as dbt."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from assets.config import Settings, resolve_path


class OptoutPaths(ConfigurableResource):
    """Where raw exports land and where the lake, warehouse, exports and serving copy live.

    A field left empty is read from its env var when used (docs/reference.md), so the
    resource always agrees with dbt, which reads the same variables.
    """

    landing_dir: str = ""
    lake_dir: str = ""
    warehouse: str = ""
    export_dir: str = ""
    serving_dir: str = ""

    def _resolve(self, value: str, attribute: str) -> Path:
        return resolve_path(value) if value else getattr(Settings.from_env(), attribute)

    @property
    def landing(self) -> Path:
        return self._resolve(self.landing_dir, "landing_dir")

    @property
    def lake(self) -> Path:
        return self._resolve(self.lake_dir, "lake_dir")

    @property
    def warehouse_path(self) -> Path:
        return self._resolve(self.warehouse, "warehouse")

    @property
    def exports(self) -> Path:
        return self._resolve(self.export_dir, "export_dir")

    @property
    def serving(self) -> Path:
        return self._resolve(self.serving_dir, "serving_dir")
