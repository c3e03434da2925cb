"""`optout bi setup` / `optout bi serve`: Apache Superset with optout's dashboards on the serving copy."""

from __future__ import annotations

import argparse

from assets.bi.setup import setup_superset
from assets.bi.superset_env import ADMIN, SupersetHome, SupersetSetupError, server_command
from orchestration.commands.common import CliError, progress, settings
from orchestration.commands.supervise import Program, Supervisor

DASHBOARD_SLUGS = ("optout-overview", "optout-pressure-campaigns", "optout-opted-out-users")


def bi_command(args: argparse.Namespace) -> None:
    home = SupersetHome(settings().bi_dir / "superset")
    try:
        if args.bi_command == "setup":
            _setup(home)
        else:
            _serve(home, args.host, args.port)
    except SupersetSetupError as exc:
        raise CliError(str(exc)) from exc


def _setup(home: SupersetHome) -> None:
    serving_dir = settings().serving_dir
    result = setup_superset(home.root.parent, serving_dir, progress)
    progress(f"Superset is set up in {result.seconds:.0f} s ({home.root}; its log: {home.log})")
    print(f"  dashboards: {len(result.dashboards)} ({', '.join(result.dashboards)})")
    print(f"  reads:      {serving_dir} (read-only; each run publishes a new snapshot there)")
    print(f"  login:      {ADMIN} / the password in {home.password_file}")
    print("  open it:    optout bi serve")


def _serve(home: SupersetHome, host: str, port: int) -> None:
    if not home.is_set_up():
        raise CliError(f"Superset is not set up in {home.root}: run `optout bi setup` first")
    base = f"http://{host}:{port}"
    progress(f"Superset on {base} (login {ADMIN} / the password in {home.password_file}); Ctrl-C stops it")
    for slug in DASHBOARD_SLUGS:
        print(f"  {base}/superset/dashboard/{slug}/")
    superset = Program("Superset", server_command(home, host, port), home.env(), home.root)
    reason = Supervisor([superset], progress, restart=False).run()
    if reason.startswith("Superset exited"):  # it ended by itself: a failure to start, most often
        raise CliError(reason)
    progress(f"Superset stopped ({reason})")
