"""The serving copy: what BI tools read while the pipeline writes (a DuckDB file older clients open, plus Parquet)."""
