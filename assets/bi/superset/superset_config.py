# Superset's configuration for optout's dashboards (read by Superset, in its own venv).
# Every path and secret comes from the environment `optout bi` sets; nothing here is
# machine-specific.
import os

_HOME = os.environ["SUPERSET_HOME"]  # set by optout bi (assets/bi/superset_env.py)

SECRET_KEY = open(os.path.join(_HOME, "secret_key")).read().strip()  # noqa: SIM115
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(_HOME, "superset.db")
DATA_DIR = _HOME
# a local, single-user tool: no telemetry, no example data, no calls out
FEATURE_FLAGS = {"DASHBOARD_RBAC": False}
SUPERSET_WEBSERVER_TIMEOUT = 120
# the serving copy is opened read-only per query, so a new snapshot is seen at once
PREVENT_UNSAFE_DB_CONNECTIONS = False
# keep query results uncached: the charts must show the snapshot published last
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
TALISMAN_ENABLED = False
SQLLAB_CTAS_NO_LIMIT = True
# no usage pixel to Superset's analytics host (this machine may have no internet at all)
SCARF_ANALYTICS = False
