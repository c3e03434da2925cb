"""Build the report for a range: read the marts, draw, write HTML + PNGs atomically."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from assets.atomic_files import FileWriteError, make_folder, make_staging_dir, remove_debris, replace_all
from assets.exports.opted_out_users import export_paths
from assets.exports.ranges import between_range, check_covered
from assets.marts_builds import read_checked_export_days
from assets.report import look
from assets.report.numbers import RangeNumbers, read_checked_range
from assets.report.page import render_page

SUBFOLDER = "reports"
MIN_REPORT_DAYS = 30
CHARTS = ("trend", "pressure", "campaigns", "send_days", "retain_churn", "last_events")


@dataclass(frozen=True)
class ReportResult:
    html_path: Path
    images: dict[str, Path]
    headlines: dict
    trend_png: bytes
    written: bool = True  # False: the files in place were made from the same numbers (kept)

    def trend_markdown(self) -> str:
        encoded = base64.b64encode(self.trend_png).decode()
        return f"![opt-out trend](data:image/png;base64,{encoded})"


def report_range(days: list[dt.date], first_ingested: dt.date) -> tuple[dt.date, dt.date]:
    """A run's report: its days, widened to at least the last 30, never before the first ingested day."""
    end = days[-1]
    start = min(days[0], end - dt.timedelta(days=MIN_REPORT_DAYS - 1))
    return max(start, first_ingested), end


def make_report(warehouse: Path, export_dir: Path, start: dt.date, end: dt.date) -> ReportResult:
    """The report of [start, end] from the checked marts; it links the range's export if written."""
    # only days the marts were built for by a run whose checks passed (marts_builds.py)
    return build_report(warehouse, export_dir, start, end, read_checked_export_days(warehouse))


def build_report(
    warehouse: Path, export_dir: Path, start: dt.date, end: dt.date, checked: tuple
) -> ReportResult:
    """`checked`: (first day, last day, build) of the checked marts (marts_builds.py)."""
    first_day, last_day, built_by = checked
    export_range = between_range(start, end)
    check_covered(export_range, first_day, last_day)
    shown = read_checked_range(warehouse, start, end, built_by)
    headline = shown.headlines
    campaigns = shown.campaigns
    stem = f"opt_out_report_{start.isoformat()}_{end.isoformat()}"
    folder = export_dir / SUBFOLDER
    make_folder(folder)
    export_csv, _ = export_paths(export_dir, export_range)
    export_link = os.path.relpath(export_csv, folder) if export_csv.exists() else None
    # the same numbers, link and code as the report in place: drawing it again would change
    # nothing but the time it says it was generated at, and take a second or two
    inputs = report_fingerprint(shown, export_link)
    kept = _unchanged_report(folder, stem, inputs, headline)
    if kept is not None:
        return kept
    # altair and the chart code: imported only to draw (a third of a second at start-up)
    from assets.report import charts  # noqa: PLC0415

    drawn = {  # in CHARTS' order
        "trend": (charts.trend_chart(shown.trend, shown.rate_by_platform), shown.trend),
        "pressure": (charts.pressure_chart(shown.pressure), shown.pressure),
        "campaigns": (charts.campaign_chart(campaigns), campaigns),
        "send_days": (charts.send_days_chart(shown.send_days), shown.send_days),
        "retain_churn": (charts.retain_churn_chart(shown.retain_churn), shown.retain_churn),
        "last_events": (charts.last_events_chart(shown.last_events), shown.last_events),
    }
    rendered = {name: (*charts.render(chart), frame) for name, (chart, frame) in drawn.items()}
    page = render_page(
        start,
        end,
        headline,
        {name: (svg, frame) for name, (svg, _, frame) in rendered.items()},
        campaigns,
        export_link,
        shown.alerts,
        # the rates drawn, and what the rate chart leaves out (a base too small), said under it
        extra_data={
            "trend": {
                "rate_by_platform": shown.rate_by_platform.filter(pl.col("is_charted")),
                "rate_left_out": shown.rate_left_out,
            }
        },
        notes={"trend": look.rate_left_out_note(shown.rate_left_out.to_dicts())},
    )
    # everything goes to a hidden folder first; files are renamed in only once all exist
    remove_debris(folder)
    staging = make_staging_dir(folder, stem)
    try:
        files = {f"{stem}_{name}.png": png for name, (_, png, _) in rendered.items()}
        files[f"{stem}.html"] = page.encode("utf-8")  # the page announces the rest
        files[_fingerprint_name(stem)] = inputs.encode()  # last: what the files were made from
        for name, data in files.items():
            _write(staging / name, data, folder / name)
        replace_all([(staging / name, folder / name) for name in files])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    images = {name: folder / f"{stem}_{name}.png" for name in rendered}
    return ReportResult(folder / f"{stem}.html", images, headline, rendered["trend"][1])


def _fingerprint_name(stem: str) -> str:
    return f".{stem}.inputs"


def report_fingerprint(shown: RangeNumbers, export_link: str | None) -> str:
    """A digest of everything a report is drawn from: the numbers read from the marts, the
    link to the range's export, and this package's code (a new release draws again)."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    digest.update(repr(export_link).encode())
    for field in dataclasses.fields(shown):
        value = getattr(shown, field.name)
        digest.update(field.name.encode())
        if isinstance(value, pl.DataFrame):
            digest.update(value.write_csv().encode())
            digest.update(repr(value.schema).encode())
        else:
            digest.update(json.dumps(value, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _unchanged_report(folder: Path, stem: str, inputs: str, headlines: dict) -> ReportResult | None:
    """The report in place when it was made from `inputs` and every file of it is there."""
    marker = folder / _fingerprint_name(stem)
    html = folder / f"{stem}.html"
    images = {name: folder / f"{stem}_{name}.png" for name in CHARTS}
    try:
        if marker.read_text() != inputs or not html.is_file():
            return None
        trend_png = images["trend"].read_bytes()
    except (OSError, UnicodeDecodeError):
        return None
    if not all(path.is_file() for path in images.values()):
        return None
    return ReportResult(html, images, headlines, trend_png, written=False)


def _write(path: Path, data: bytes, target: Path) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise FileWriteError(f"cannot write {target}: {exc.strerror or exc}") from exc
