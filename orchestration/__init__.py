"""Dagster wiring of the optout pipeline (definitions, resources, partitions, schedules)."""
