"""Python assets of the optout pipeline: ingestion, exports and reports."""
