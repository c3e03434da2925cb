"""The opt-out report: a self-contained HTML page and PNG charts for a date range."""
