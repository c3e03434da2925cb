"""Reads a report page back: its metric values, chart data blocks, SVG marks and links."""

import json
from html.parser import HTMLParser


class ReportParser(HTMLParser):
    """Collects the page's metric values, chart data blocks and SVG element counts."""

    def __init__(self):
        super().__init__()
        self.metrics, self.data, self.svg_marks, self.links = {}, {}, {}, []
        self._data_id, self._figure = None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-metric" in attrs:
            self.metrics[attrs["data-metric"]] = attrs["data-value"]
        if tag == "script" and attrs.get("type") == "application/json":
            self._data_id = attrs["id"].removeprefix("data-")
        if tag == "figure":
            self._figure = attrs["data-chart"]
            self.svg_marks[self._figure] = 0
        if self._figure and tag in ("path", "rect", "line", "circle", "text"):
            self.svg_marks[self._figure] += 1
        if tag == "a" and attrs.get("data-export"):
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None

    def handle_data(self, data):
        if self._data_id:
            self.data[self._data_id] = json.loads(data)
            self._data_id = None


def parse(path):
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser
