"""Dagster resources: the pipeline's settings and locations, as dbt reads them too."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from assets.config import Settings, load_settings, resolve_path


class OptoutPaths(ConfigurableResource):
    """Where raw exports land and where the lake, warehouse, exports and serving copy live.

    A field left empty comes from the settings (assets/config.py, the same environment
    variables dbt reads), so the resource always agrees with dbt; a test may set one.
    """

    landing_dir: str = ""
    lake_dir: str = ""
    warehouse: str = ""
    export_dir: str = ""
    serving_dir: str = ""

    @property
    def settings(self) -> Settings:
        return load_settings()

    def _resolve(self, value: str, attribute: str) -> Path:
        return resolve_path(value) if value else getattr(self.settings, attribute)

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
