"""The one list of platforms: dbt_project/seeds/platforms.csv.

dbt loads it as the seed `reference.platforms` (the daily marts' platforms, the tests of the
platform columns); the ingestion contract, the quality suites and the report's colours read
the same file here.
"""

from __future__ import annotations

import csv

from assets.config import REPO_ROOT

SEED = REPO_ROOT / "dbt_project" / "seeds" / "platforms.csv"


def _rows() -> list[dict[str, str]]:
    with SEED.open(newline="", encoding="utf-8") as file:
        return sorted(csv.DictReader(file), key=lambda row: int(row["sort_order"]))


REPORTED_PLATFORMS: tuple[str, ...] = tuple(row["platform"] for row in _rows())
"""Every platform the marts report, in report order (`unknown`: a user without a profile)."""

PROFILE_PLATFORMS: tuple[str, ...] = tuple(
    row["platform"] for row in _rows() if row["in_user_profiles"] == "true"
)
"""The values a raw user profile may carry (docs/raw-exports.md)."""
