"""Dagster definitions only: assets per domain, resources, checks, jobs, schedules, sensors, freshness."""
