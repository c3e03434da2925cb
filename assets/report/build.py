"""Build the report for a range: read the marts, draw, write HTML + PNGs atomically."""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from assets.exports.opted_out_users import export_paths
from assets.exports.ranges import between_range, check_covered
from assets.report import charts, numbers
from assets.report.data import read_report_data
from assets.report.page import render_page

SUBFOLDER = "reports"


@dataclass(frozen=True)
class ReportResult:
    html_path: Path
    images: dict[str, Path]
    headlines: dict
    trend_png: bytes

    def trend_markdown(self) -> str:
        encoded = base64.b64encode(self.trend_png).decode()
        return f"![opt-out trend](data:image/png;base64,{encoded})"


def build_report(
    warehouse: Path, export_dir: Path, start: dt.date, end: dt.date, first_day, last_day
) -> ReportResult:
    export_range = between_range(start, end)
    check_covered(export_range, first_day, last_day)
    data = read_report_data(warehouse, start, end)
    headline = numbers.headlines(data)
    trend = numbers.trend(data)
    pressure = numbers.pressure(data)
    campaigns = numbers.top_campaigns(data)
    retain_churn = numbers.retain_churn(data)
    last_events = numbers.last_events(data)
    drawn = {
        "trend": (charts.trend_chart(trend, numbers.rate_by_platform(data)), trend),
        "pressure": (charts.pressure_chart(pressure), pressure),
        "campaigns": (charts.campaign_chart(campaigns), campaigns),
        "retain_churn": (charts.retain_churn_chart(retain_churn), retain_churn),
        "last_events": (charts.last_events_chart(last_events), last_events),
    }
    rendered = {name: (*charts.render(chart), frame) for name, (chart, frame) in drawn.items()}

    stem = f"opt_out_report_{start.isoformat()}_{end.isoformat()}"
    folder = export_dir / SUBFOLDER
    folder.mkdir(parents=True, exist_ok=True)
    export_csv, _ = export_paths(export_dir, export_range)
    export_link = os.path.relpath(export_csv, folder) if export_csv.exists() else None
    page = render_page(
        start,
        end,
        headline,
        {name: (svg, frame) for name, (svg, _, frame) in rendered.items()},
        campaigns,
        export_link,
    )
    # everything goes to a hidden folder first; files are renamed in only once all exist
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{stem}."))
    try:
        images = {}
        for name, (_, png, _) in rendered.items():
            (staging / f"{stem}_{name}.png").write_bytes(png)
            images[name] = folder / f"{stem}_{name}.png"
        (staging / f"{stem}.html").write_text(page, encoding="utf-8")
        for path in sorted(staging.iterdir(), key=lambda p: p.suffix == ".html"):  # the page last
            os.replace(path, folder / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ReportResult(folder / f"{stem}.html", images, headline, rendered["trend"][1])
