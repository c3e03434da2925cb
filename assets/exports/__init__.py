"""Opted-out user files per date range (docs/metrics.md, docs/exports.md)."""
