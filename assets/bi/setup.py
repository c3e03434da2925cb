"""`optout bi setup`: Superset installed, initialised and holding optout's dashboards."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assets.bi.dashboards import apply_dashboards
from assets.bi.superset_api import SupersetClient
from assets.bi.superset_env import (
    ADMIN,
    DATABASE_NAME,
    SupersetHome,
    SupersetSetupError,
    initialise,
    install,
    running_server,
)
from assets.serving.layout import current_snapshot


@dataclass(frozen=True)
class SetupResult:
    home: SupersetHome
    dashboards: dict[str, int]  # slug -> id
    seconds: float


def setup_superset(bi_dir: Path, serving_dir: Path, step: Callable[[str], None]) -> SetupResult:
    """Install (once), initialise, and (re)create the dashboards on the current serving copy."""
    started = time.monotonic()
    if current_snapshot(serving_dir) is None:
        raise SupersetSetupError(
            f"no serving copy in {serving_dir} yet: run `optout run` (or `optout demo`) first; "
            "the dashboards read its tables"
        )
    home = SupersetHome(bi_dir / "superset")
    install(home, step)
    initialise(home, serving_dir, step)
    step("creating the datasets, charts and dashboards")
    with running_server(home) as url:
        client = SupersetClient(url, ADMIN, home.password())
        dashboards = apply_dashboards(client, database_id(client))
    return SetupResult(home, dashboards, time.monotonic() - started)


def database_id(client: SupersetClient) -> int:
    found = client.get(
        "/api/v1/database/", {"filters": [{"col": "database_name", "opr": "eq", "value": DATABASE_NAME}]}
    )["result"]
    if not found:
        raise SupersetSetupError(f"Superset has no database `{DATABASE_NAME}`: run `optout bi setup` again")
    return found[0]["id"]
