"""How fresh the assets CX leads read must be: the KPI marts and reports are refreshed every morning, so a day
without an update is worth a warning and two days a failure (both configurable)."""

import os
from datetime import timedelta

import dagster as dg

READ_DAILY = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=float(os.environ.get("CX_FRESHNESS_FAIL_HOURS", "50"))),
    warn_window=timedelta(hours=float(os.environ.get("CX_FRESHNESS_WARN_HOURS", "26"))),
)


def read_daily(spec: dg.AssetSpec) -> dg.AssetSpec:
    return dg.apply_freshness_policy(spec, READ_DAILY)
