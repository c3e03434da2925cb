"""Where the Dagster instance lives, as the settings say; the PostgreSQL URL never shown."""

from __future__ import annotations

import subprocess

import pytest

from assets.config import SettingError, load_settings
from orchestration.instance import ensure_home, instance_yaml
from orchestration.postgres_storage import driver_url, shown_url
from tests.helpers import run_optout

SECRET = "s3cr3t-pass"


def optout(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run_optout(env, *args, check=False, timeout=300)


@pytest.mark.quick
def test_the_url_gets_the_driver_dagster_postgres_works_with():
    assert driver_url("postgresql://u:p@h:5432/db") == "postgresql+psycopg2://u:p@h:5432/db"
    assert driver_url("postgres://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert shown_url(f"postgresql://u:{SECRET}@h:5432/db") == "postgresql://u:***@h:5432/db"


@pytest.mark.quick
def test_a_bad_url_is_one_line_that_does_not_repeat_it(tmp_path):
    result = optout(
        {"DAGSTER_HOME": str(tmp_path), "OPTOUT_DAGSTER_POSTGRES_URL": f"mysql://u:{SECRET}@h/db"},
        "automation",
        "status",
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "optout automation: OPTOUT_DAGSTER_POSTGRES_URL must be postgresql://user[:password]@host[:port]/database"
    ]


@pytest.mark.quick
def test_an_unreachable_server_is_one_line_without_the_password(tmp_path):
    url = f"postgresql://optout:{SECRET}@127.0.0.1:1/dagster"  # nothing listens on port 1
    result = optout(
        {"DAGSTER_HOME": str(tmp_path), "OPTOUT_DAGSTER_POSTGRES_URL": url}, "automation", "status"
    )
    assert result.returncode == 1
    assert SECRET not in result.stdout + result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "optout automation: cannot reach the Dagster instance's PostgreSQL at "
            "postgresql://optout:***@127.0.0.1:1/dagster (OPTOUT_DAGSTER_POSTGRES_URL): connection to server"
        )
    )
    assert "Traceback" not in result.stderr
    assert SECRET not in (tmp_path / "dagster.yaml").read_text()


@pytest.mark.quick
def test_a_home_moves_to_postgresql_and_never_falls_back_to_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    ensure_home()
    assert (tmp_path / "dagster.yaml").read_text() == instance_yaml(tmp_path)
    monkeypatch.setenv("OPTOUT_DAGSTER_POSTGRES_URL", f"postgresql://u:{SECRET}@h/db")
    load_settings.cache_clear()
    ensure_home()
    text = (tmp_path / "dagster.yaml").read_text()
    assert "class: PostgresStorageFromSettings" in text and SECRET not in text and "h/db" not in text
    monkeypatch.delenv("OPTOUT_DAGSTER_POSTGRES_URL")
    load_settings.cache_clear()
    with pytest.raises(SettingError, match="keeps its history in PostgreSQL"):
        ensure_home()
