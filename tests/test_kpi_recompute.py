"""The KPI mart against an independent recomputation: a small generated demo goes through the real ingest and a
real `dbt build`; NPS, CSAT and first contact resolution are then recomputed here with polars, from the staging
surveys and the contact-level service facts, and must match `kpi_metrics` for every period of every grain; the
active and churned customers, from the sale orders, must match `kpi_churn`.

The recomputation follows the written definitions (docs in the kpi_* model YAML), not the SQL: business days in
Europe/Berlin, ISO weeks from Monday, totals over all channels and segments, no responses → no value.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.helpers.demo_warehouse import build_demo_warehouse

pytestmark = pytest.mark.slow  # builds real dbt models

BUSINESS_TIMEZONE = "Europe/Berlin"
GRAIN_TRUNCATION = {"day": "1d", "week": "1w", "month": "1mo"}


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory) -> Path:
    """Generate a small demo, ingest every source, build every dbt node (models, seeds, tests). 120 days: longer
    than the churn window, so that buyers churn."""
    with pytest.MonkeyPatch.context() as env:
        yield build_demo_warehouse(tmp_path_factory.mktemp("kpi_demo"), env, ["build"],
                                   {"CX_TIMEZONE": BUSINESS_TIMEZONE}, customers=150, days=120, seed=11)


def read(warehouse: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(sql).pl()


def with_periods(frame: pl.DataFrame, utc_column: str) -> pl.DataFrame:
    """One copy of every row per grain, with the period's first business day in Berlin."""
    business_date = pl.col(utc_column).dt.replace_time_zone("UTC").dt.convert_time_zone(BUSINESS_TIMEZONE).dt.date()
    return pl.concat(
        frame.with_columns(period_grain=pl.lit(grain), period_start=business_date.dt.truncate(every))
        for grain, every in GRAIN_TRUNCATION.items()
    )


def mart_totals(warehouse: Path, metric: str) -> pl.DataFrame:
    return read(
        warehouse,
        f"""
        select period_grain, period_start, value, n
        from kpi_metrics
        where metric = '{metric}' and channel = 'all' and segment = 'all'
        """,
    )


def assert_matches_mart(warehouse: Path, metric: str, expected: pl.DataFrame) -> None:
    """Periods with observations carry the recomputed value and n; every other period has n = 0 and no value."""
    mart = mart_totals(warehouse, metric)
    observed = mart.filter(pl.col("n") > 0).sort("period_grain", "period_start")
    expected = expected.select(observed.columns).sort("period_grain", "period_start")
    assert observed["n"].sum() > 0, f"no {metric} observations in the demo"
    assert observed.select("period_grain", "period_start", "n").equals(
        expected.select("period_grain", "period_start", pl.col("n").cast(observed["n"].dtype))
    )
    assert (observed["value"] - expected["value"]).abs().max() < 1e-9
    empty = mart.filter(pl.col("n") == 0)
    assert empty["value"].null_count() == empty.height


@pytest.fixture(scope="module")
def survey_periods(demo_warehouse) -> pl.DataFrame:
    responses = read(demo_warehouse, "select responded_at, survey_type, score from stg_surveys__responses")
    return with_periods(responses, "responded_at")


def test_nps_matches_recomputation_from_staging(demo_warehouse, survey_periods):
    expected = (
        survey_periods.filter(pl.col("survey_type") == "nps")
        .group_by("period_grain", "period_start")
        .agg(
            n=pl.len(),
            # Boolean sums are unsigned: cast before subtracting, or more detractors than promoters wraps around.
            value=100 * ((pl.col("score") >= 9).sum().cast(pl.Int64) - (pl.col("score") <= 6).sum()) / pl.len(),
        )
    )
    assert_matches_mart(demo_warehouse, "nps", expected)


def test_csat_matches_recomputation_from_staging(demo_warehouse, survey_periods):
    expected = (
        survey_periods.filter(pl.col("survey_type") == "csat")
        .group_by("period_grain", "period_start")
        .agg(n=pl.len(), value=(pl.col("score") >= 4).sum() / pl.len())
    )
    assert_matches_mart(demo_warehouse, "csat", expected)


def test_fcr_matches_recomputation_from_service_contacts(demo_warehouse):
    """Issues = contacts not within 7 days after the same customer's previous contact (any channel); an issue is
    resolved at first contact when that contact was resolved and the customer did not come back within 7 days.
    Contacts without a customer are issues of their own; contacts without a resolution status are left out."""
    contacts = read(
        demo_warehouse, "select contact_id, customer_key, occurred_at, resolved from fct_service_contacts"
    ).sort("customer_key", "occurred_at", "contact_id")
    week = pl.duration(days=7)
    by_customer = pl.col("customer_key").is_not_null()
    issues = (
        contacts.with_columns(
            previous_at=pl.when(by_customer).then(pl.col("occurred_at").shift(1).over("customer_key")),
            next_at=pl.when(by_customer).then(pl.col("occurred_at").shift(-1).over("customer_key")),
        )
        .filter(pl.col("previous_at").is_null() | (pl.col("occurred_at") > pl.col("previous_at") + week))
        .filter(pl.col("resolved").is_not_null())
        .with_columns(
            resolved_first=pl.col("resolved")
            & (pl.col("next_at").is_null() | (pl.col("next_at") > pl.col("occurred_at") + week))
        )
    )
    expected = (
        with_periods(issues, "occurred_at")
        .group_by("period_grain", "period_start")
        .agg(n=pl.len(), value=pl.col("resolved_first").sum() / pl.len())
    )
    assert_matches_mart(demo_warehouse, "fcr_rate", expected)


CHURN_WINDOW_DAYS = 90  # dbt var churn_window_days


def test_active_and_churned_customers_match_recomputation_from_orders(demo_warehouse):
    """At a period's end (the as-of date is the day after its last day) a buyer is active with a sale on one of
    the 90 days before it, churned with sales before it but none of them within those days. Totals over all
    segments, every period of every grain (0 before the first sale)."""
    sales = read(
        demo_warehouse,
        f"""
        select distinct
            customer_key,
            cast((ordered_at at time zone 'UTC') at time zone '{BUSINESS_TIMEZONE}' as date) as sale_date
        from fct_orders
        where order_type = 'sale' and customer_key is not null
        """,
    )
    periods = read(demo_warehouse, "select period_grain, period_start, period_end from kpi_calendar")
    last_sales = (
        periods.join(sales, how="cross")
        .filter(pl.col("sale_date") < pl.col("period_end"))
        .group_by("period_grain", "period_start", "period_end", "customer_key")
        .agg(last_sale=pl.col("sale_date").max())
    )
    is_active = pl.col("last_sale") >= pl.col("period_end") - pl.duration(days=CHURN_WINDOW_DAYS)
    expected = last_sales.group_by("period_grain", "period_start").agg(
        active_customers=is_active.sum().cast(pl.Int64), churned_customers=(~is_active).sum().cast(pl.Int64)
    )
    mart = read(
        demo_warehouse,
        """
        pivot (
            select period_grain, period_start, metric, cast(value as bigint) as value
            from kpi_churn
            where segment_type = 'all' and metric in ('active_customers', 'churned_customers')
        ) on metric using any_value(value)
        """,
    )
    compared = mart.join(expected, on=["period_grain", "period_start"], how="left", suffix="_expected").fill_null(0)
    assert compared.height == periods.height
    assert compared["active_customers"].sum() > 0 and compared["churned_customers"].sum() > 0
    assert compared.filter(
        (pl.col("active_customers") != pl.col("active_customers_expected"))
        | (pl.col("churned_customers") != pl.col("churned_customers_expected"))
    ).height == 0


def test_kpi_metrics_cover_the_whole_demo_period(demo_warehouse):
    """Every day from the first to the last touchpoint has a row for each metric's grand total."""
    first_day, last_day = read(
        demo_warehouse,
        f"""
        select
            min(cast((occurred_at at time zone 'UTC') at time zone '{BUSINESS_TIMEZONE}' as date)),
            max(cast((occurred_at at time zone 'UTC') at time zone '{BUSINESS_TIMEZONE}' as date))
        from fct_touchpoints
        """,
    ).row(0)
    days_per_metric = read(
        demo_warehouse,
        """
        select metric, count(*) as days, min(period_start) as first_day, max(period_start) as last_day
        from kpi_metrics
        where period_grain = 'day' and channel = 'all' and segment = 'all' and metric not like 'topic_volume__%'
        group by metric
        """,
    )
    expected_days = (last_day - first_day).days + 1
    assert days_per_metric.height >= 20
    assert set(days_per_metric["days"]) == {expected_days}
    assert set(days_per_metric["first_day"]) == {first_day}
    assert set(days_per_metric["last_day"]) == {last_day}
