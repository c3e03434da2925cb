"""Opted-out user files per date range (spec/metrics.md, spec/interfaces.md)."""
