"""Ingestion of the raw exports into the typed Parquet lake (docs/raw-exports.md)."""
