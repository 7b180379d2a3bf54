"""The three jobs data engineers run: everything, the daily KPI refresh, and ingestion of new files."""

import dagster as dg

full_refresh_job = dg.define_asset_job(
    "full_refresh",
    selection=dg.AssetSelection.all(),
    description="Ingest new exports, rebuild every dbt model, score with the ML models, render the reports.",
)

kpi_refresh_job = dg.define_asset_job(
    "kpi_refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("ingest"),
    description="Rebuild the marts from the raw layer, re-score, raise KPI alerts, re-render the reports (no ingestion).",
)

ingest_new_files_job = dg.define_asset_job(
    "ingest_new_files",
    selection=dg.AssetSelection.groups("ingest"),
    description="Load new landing files into the raw Parquet layer (the sensor selects the sources with new files).",
)
