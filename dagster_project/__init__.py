"""cx-pipeline: Dagster wiring, source contracts, demo data and the `cx` command."""
