"""`optout bench`: measure the pipeline at a given size, each figure beside a baseline of the same run.

One module per job: `dataset` (the generated, cached landing data), `scan` (DuckDB's own
read of those files, the baseline), `ingest` (ingestion alone, run as its own process),
`runs` (timed `optout run` processes in fresh workspaces), `memory` (peak RSS of a
process tree) and `report` (the targets, and the JSON and Markdown written from them).
"""
