"""`optout automation on|off|status`: the daily schedule and the landing sensor."""

from __future__ import annotations

import argparse
import datetime as dt

from orchestration.automation import AutomationError, daemon_alive, status, switch
from orchestration.commands.common import CliError, progress
from orchestration.instance import get_instance


def automation_command(args: argparse.Namespace) -> None:
    instance = get_instance()
    if args.action in ("on", "off"):
        progress(
            f"turning the daily schedule and the landing sensor {args.action} (Dagster loads the code location)"
        )
        try:
            switch(args.action == "on")
        except AutomationError as exc:
            raise CliError(str(exc)) from None
    served = daemon_alive(instance)
    for item in status(instance):
        state = "on " if item.running else "off"
        print(f"  {item.name:<26} {state}  last tick: {_when(item.last_tick)} ({item.last_outcome})")
        if item.running:
            upcoming = _when(item.next_tick) if served else "when a Dagster daemon runs"
            print(f"  {'':<26}      next tick: {upcoming}")
    if not served:
        print(
            "  no Dagster daemon serves this instance now: nothing fires until `optout serve` "
            "(or the daemon's service) runs"
        )


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "none"
