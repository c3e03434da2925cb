"""A generated landing whose ids and names are hostile text: markup, Slack control sequences,
Markdown, spreadsheet formulas and terminal control characters.

The simulation runs twice with the same seed: once to learn which users opt out, then for
the files, with those users' ids and external ids, and every campaign's id and name,
replaced before anything is written (so every format, CSV, JSONL and Parquet, and every
table carries the same hostile values).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from unittest import mock

import polars as pl

from assets.generator import run as generator_run
from assets.generator.simulate import PlantedCampaign, Simulation

# a script must never run: if one does, the page's (or the dashboard's) title changes
PWNED = "document.title='pwned'"
IMG = f"<img src=x onerror={PWNED}>"
# the opted-out users' ids (a spreadsheet formula each), and their external ids
USER_IDS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", IMG]
EXTERNAL_IDS = ["=1+2", "<script>alert(1)</script>", "@everyone", "\t=cmd", "<!channel>"]
# every campaign gets one of these names (and its number, to tell them apart)
CAMPAIGN_NAMES = [
    f"<script>{PWNED}</script> </script><!-- {IMG}",
    "<!channel> <!here> @everyone <https://evil.example|click>",
    "*bold* `code` [x](y) _it_ ~gone~",
    '=HYPERLINK("http://x","y")',
    "\x1b[31mred\x1b[0m\x1b]0;pwned\x07 \x9b2J\rback",
    "&amp; &lt;b&gt; & <b>",
]
# campaign ids: markup, an attribute break, a formula and an ESC sequence around the
# generated id (no whitespace at either end: a table cell's text is the id itself)
CAMPAIGN_ID_FORMS = [
    f"{IMG}{{}}",
    "=1+1|{}",
    "<!channel>{}",
    "*{}*",
    '{}" onmouseover="' + PWNED + '" x="',
    "c\x1b[2J{}",
]
# an app event's name, which the report's last-events chart shows
EVENT_NAMES = {"screen_view": f"{IMG}\x1b]0;pwned\x07screen_view"}


# the planted bad campaign, which the early warnings flag (the webhook's message names it)
PLANTED_NAME = (
    f"<!channel> <!here> @everyone <https://evil.example|click> *bold* `code` [x](y) {IMG} \x1b[2J & done"
)


def hostile_name(campaign_id: str, number: int) -> str:
    if campaign_id.startswith("bc-planted-"):
        return PLANTED_NAME
    return f"{CAMPAIGN_NAMES[number % len(CAMPAIGN_NAMES)]} #{number}"


def opted_out_users(
    start: dt.date, days: int, users: int, seed: int, planted: tuple[PlantedCampaign, ...] = ()
) -> list[str]:
    """The generated ids of the users who opt out, in the order of their first opt-out."""
    found: dict[str, None] = {}
    for records in Simulation(start, days, users, seed, planted).run():
        events = records.tables.get("subscriptions")
        if events is not None:
            opt_outs = events.filter(pl.col("event_type").cast(pl.String) == "opt_out")
            found |= dict.fromkeys(opt_outs["user_id"].to_list())
    return list(found)


class _Rename:
    """Generated ids and names -> hostile ones, learnt as campaigns appear."""

    def __init__(self, users: dict[str, str], externals: dict[str, str]):
        self.users, self.externals = users, externals
        self.campaign_ids: dict[str, str] = {}

    def campaign(self, campaign_id: str | None) -> str | None:
        if campaign_id is None:
            return None
        if campaign_id not in self.campaign_ids:
            number = len(self.campaign_ids)
            self.campaign_ids[campaign_id] = CAMPAIGN_ID_FORMS[number % len(CAMPAIGN_ID_FORMS)].format(
                campaign_id
            )
        return self.campaign_ids[campaign_id]

    def frame(self, table: str, frame: pl.DataFrame) -> pl.DataFrame:
        replaced = []
        if table == "app_events":
            replaced.append(pl.col("event_name").replace(EVENT_NAMES))
        if "user_id" in frame.columns:
            replaced.append(pl.col("user_id").replace(self.users))
        if table == "users":
            replaced.append(
                pl.when(pl.col("user_id").is_in(list(self.externals)))
                .then(pl.col("user_id").replace(self.externals))
                .otherwise(pl.col("external_id"))
                .alias("external_id")
            )
        if "campaign_id" in frame.columns:
            ids = frame["campaign_id"].to_list()
            mapping = {cid: self.campaign(cid) for cid in ids if cid is not None}
            replaced.append(pl.col("campaign_id").replace(mapping))
            if table == "campaigns":
                numbers = {cid: list(self.campaign_ids).index(cid) for cid in mapping}
                names = {cid: hostile_name(cid, number) for cid, number in numbers.items()}
                replaced.append(pl.col("campaign_id").replace(names).alias("name"))
        return frame.with_columns(replaced) if replaced else frame


def generate_hostile(
    out: Path, start: dt.date, days: int, users: int, seed: int, planted: tuple[PlantedCampaign, ...] = ()
) -> dict[str, str]:
    """Generate the landing in `out`; returns {hostile user id: its hostile external id}."""
    leaving = opted_out_users(start, days, users, seed, planted)[: len(USER_IDS)]
    assert len(leaving) == len(USER_IDS), "too few opt-outs for the hostile users"
    rename = _Rename(dict(zip(leaving, USER_IDS, strict=True)), dict(zip(leaving, EXTERNAL_IDS, strict=True)))

    class HostileSimulation(Simulation):
        def run(self):
            for records in super().run():
                records.tables = {
                    table: rename.frame(table, frame) for table, frame in records.tables.items()
                }
                yield records

    with mock.patch.object(generator_run, "Simulation", HostileSimulation):
        generator_run.generate(out, start, days, users, seed=seed, planted=planted)
    return dict(zip(USER_IDS, EXTERNAL_IDS, strict=True))
