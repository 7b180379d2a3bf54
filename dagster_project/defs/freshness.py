"""How fresh the assets CX leads read must be: the KPI marts and reports are refreshed every morning, so a day
without an update is worth a warning and two days a failure (CX_FRESHNESS_WARN_HOURS, CX_FRESHNESS_FAIL_HOURS)."""

from datetime import timedelta

import dagster as dg

from cx_core.settings import get_settings

READ_DAILY = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=get_settings().freshness_fail_hours),
    warn_window=timedelta(hours=get_settings().freshness_warn_hours),
)


def read_daily(spec: dg.AssetSpec) -> dg.AssetSpec:
    return dg.apply_freshness_policy(spec, READ_DAILY)
