"""A real Dagster webserver (`dagster dev`) on a free port, and its GraphQL endpoint."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from assets.config import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


_LOADED = (
    "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } }"
)


@contextlib.contextmanager
def dagster_webserver(home: Path, env: dict | None = None):
    """`dagster dev` on the repository's workspace with DAGSTER_HOME=home; yields its port once loaded."""
    port = _free_port()
    dagster = Path(sys.executable).with_name("dagster")
    process = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {}), "DAGSTER_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # it ignores SIGTERM alone: stop the whole group
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if graphql(port, _LOADED)["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]:
                    break
            except (OSError, KeyError, IndexError, TypeError):
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError("the Dagster webserver did not come up")
            time.sleep(1)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
