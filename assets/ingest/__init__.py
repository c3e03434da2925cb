"""Ingestion of the raw exports into the typed Parquet lake (spec/raw-exports.md)."""
