"""Holdout groups: stable per customer and campaign, about the configured share, independent between
campaigns; uplift and its Newcombe interval by hand."""

from datetime import date, datetime

import dagster as dg
import polars as pl
import pytest

from cx_core.settings import get_settings
from cx_core.warehouse import WarehouseFile, read_frame, replace_table
from dagster_project.defs.resources import pipeline_resources
from tests.helpers.demo_warehouse import build_demo_warehouse
from tests.helpers.settings_env import point_settings_at
from ml.holdout import holdout_flags, newcombe_interval, uplift, wilson
from ml.next_best_action import NO_ACTION

KEYS = pl.Series([f"C-{i:05d}" for i in range(20_000)])


def test_assignment_is_stable_about_the_share_and_differs_between_campaigns():
    reminder = holdout_flags(KEYS, pl.Series(["cart_reminder"] * KEYS.len()), 0.10)
    again = holdout_flags(KEYS.reverse(), pl.Series(["cart_reminder"] * KEYS.len()), 0.10).reverse()
    assert reminder.equals(again)  # same customer, same campaign: same group, whatever the order or run
    assert 0.09 < reminder.mean() < 0.11  # 10% ± 1 point (binomial sd 0.2 points)
    winback = holdout_flags(KEYS, pl.Series(["win_back"] * KEYS.len()), 0.10)
    both = (reminder & winback).mean()
    assert 0.006 < both < 0.014  # independent between campaigns: about 10% × 10%
    # A larger share keeps everyone who was held out at the smaller one.
    wider = holdout_flags(KEYS, pl.Series(["cart_reminder"] * KEYS.len()), 0.20)
    assert (reminder & ~wider).sum() == 0


def test_wilson_and_newcombe_intervals_by_hand():
    # Wilson for 10 of 100: centre (0.1 + 1.9208/100) / 1.038415 = 0.11480,
    # half 1.96 · √(0.0009 + 0.00009604) / 1.038415 = 0.05958 → 0.0552 .. 0.1744.
    low, high = wilson(10, 100)
    assert (low, high) == (pytest.approx(0.0552, abs=1e-4), pytest.approx(0.1744, abs=1e-4))
    # 30 of 100 contacted vs 10 of 100 held out: uplift 0.20; Wilson 30/100: centre 0.31926 / 1.038415 = 0.30740,
    # half 1.96 · √(0.0021 + 0.00009604) / 1.038415 = 0.08845 → 0.2190 .. 0.3958.
    # low 0.2 − √(0.0810² + 0.0744²) = 0.0900, high 0.2 + √(0.0958² + 0.0448²) = 0.3058.
    low, high = newcombe_interval(30, 100, 10, 100)
    assert (low, high) == (pytest.approx(0.0900, abs=2e-4), pytest.approx(0.3058, abs=2e-4))


def test_uplift_per_action_and_channel_against_the_held_out_customers():
    outcomes = pl.DataFrame({
        "action": ["reminder"] * 8 + ["win_back"] * 3,
        "channel": ["email"] * 8 + ["sms"] * 3,
        "is_holdout": [False] * 6 + [True] * 2 + [False, False, False],  # win_back has no holdout: left out
        "converted": [True, True, True, False, False, False, True, False, True, False, False],
    })
    [row] = uplift(outcomes, ["action", "channel"]).iter_rows(named=True)
    assert (row["action"], row["contacted"], row["held_out"]) == ("reminder", 6, 2)
    assert (row["conversion_contacted"], row["conversion_held_out"], row["uplift"]) == (0.5, 0.5, 0.0)
    assert row["uplift_ci_low"] < 0 < row["uplift_ci_high"]


def test_each_run_day_adds_its_assignments_and_a_rerun_replaces_only_its_day(tmp_path):
    from dagster_project.defs.assets.ml_customers import record_assignments

    warehouse = WarehouseFile(tmp_path / "warehouse.duckdb")

    def run(as_of: date, customers: list[str]) -> None:
        """One run's plan: an action for each of `customers` (C2 held out) and none for C-none."""
        record_assignments(warehouse, pl.DataFrame({
            "customer_key": [*customers, "C-none"], "action": ["cart_reminder"] * len(customers) + [NO_ACTION],
            "channel": "email", "as_of_date": as_of, "is_holdout": [key == "C2" for key in customers] + [False],
        }), as_of)

    first, second = date(2026, 3, 1), date(2026, 3, 2)
    run(first, ["C1", "C2"])
    run(second, ["C1", "C3"])
    run(second, ["C4"])  # a rerun of the second day
    recorded = read_frame(warehouse, "SELECT as_of_date, customer_key, is_holdout FROM ml_nba_assignments ORDER BY ALL")
    assert recorded.rows() == [(first, "C1", False), (first, "C2", True), (second, "C4", False)]


@pytest.mark.slow
def test_uplift_asset_measures_assignments_whose_window_has_passed(tmp_path, monkeypatch):
    from dagster_project.defs.assets.ml_uplift import ml_nba_uplift

    warehouse = WarehouseFile(point_settings_at(monkeypatch, tmp_path).warehouse_path)
    replace_table(warehouse, "ml_nba_assignments", pl.DataFrame({
        "as_of_date": [date(2026, 3, 1)] * 6 + [date(2026, 3, 25)],
        "customer_key": ["C1", "C2", "C3", "C4", "H1", "H2", "C1"],
        "action": "cart_reminder", "channel": "email",
        "is_holdout": [False, False, False, False, True, True, False],
    }))
    replace_table(warehouse, "fct_orders", pl.DataFrame({
        "customer_key": ["C1", "C2", "C3", "H1", "C4"],
        # window of the 1 March run: 2 March 00:00 to 16 March 00:00 (14 days after the as-of day)
        "ordered_at": [datetime(2026, 3, 5, 10), datetime(2026, 3, 16, 9), datetime(2026, 3, 4, 12),
                       datetime(2026, 3, 3, 8), datetime(2026, 4, 1, 12)],
        "order_type": ["sale", "sale", "return", "sale", "sale"],
    }))
    assert dg.materialize([ml_nba_uplift], resources=pipeline_resources()).success
    table = read_frame(warehouse, "SELECT * FROM ml_nba_uplift WHERE channel = 'all'")
    # The 25 March run's window ends after the last order (1 April): not measured yet.
    # Contacted C1 (sale 5 March) of C1..C4 = 1/4; held out H1 of H1, H2 = 1/2: uplift −0.25.
    [row] = table.iter_rows(named=True)
    assert (row["contacted"], row["held_out"], row["uplift"]) == (4, 2, -0.25)


@pytest.mark.slow
def test_campaign_control_groups_flow_from_the_exports_to_the_measured_uplift(tmp_path):
    """Demo exports (1,500 people, 90 days) through the real ingest and dbt: every control row of the truth
    (e-mail, SMS, push) is a held-out assignment with its customer, none of them is a touchpoint or a contact,
    and ml_campaign_uplift measures the campaigns that have a control group."""
    from dagster_project.defs.assets.ml_uplift import ml_campaign_uplift

    with pytest.MonkeyPatch.context() as env:
        models_only = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
        path = build_demo_warehouse(tmp_path, env, ["build", "--select", "+fct_marketing_contacts", *models_only],
                                    customers=1_500, days=90, seed=3)
        truth = pl.read_parquet(get_settings().demo_truth_dir / "campaign_responses.parquet")
        assert dg.materialize([ml_campaign_uplift], resources=pipeline_resources()).success
        warehouse = WarehouseFile(path)
        assignments = read_frame(warehouse, "SELECT * FROM fct_campaign_assignments")
        contacts = read_frame(warehouse, "SELECT contact_id FROM fct_marketing_contacts")
        touchpoints = read_frame(warehouse, "SELECT touchpoint_id FROM fct_touchpoints")
        measured = read_frame(warehouse, "SELECT * FROM ml_campaign_uplift WHERE channel = 'all'")

    held = assignments.filter("is_holdout")
    exported = truth.filter(pl.col("is_holdout") & (pl.col("channel") != "phone"))
    assert held.height == exported.height > 20
    assert held["customer_key"].null_count() == 0 and not held["opened"].any()
    assert contacts.height == assignments.height - held.height
    assert not held["contact_id"].is_in(contacts["contact_id"].implode()).any()
    assert not held["contact_id"].is_in(touchpoints["touchpoint_id"].implode()).any()
    triggered = assignments.filter(pl.col("campaign_type").is_in(held["campaign_type"].unique().implode()))
    assert 0.06 < held.height / triggered.height < 0.14  # the configured 10% of the triggered campaigns
    assert set(measured["action"]) <= set(held["campaign_type"]) and measured.height > 0
    assert (measured["held_out"] > 0).all() and (measured["uplift_ci_low"] <= measured["uplift_ci_high"]).all()
