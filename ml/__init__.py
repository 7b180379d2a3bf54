"""Pure ML functions for cx-pipeline: polars DataFrames in and out, no Dagster imports."""
