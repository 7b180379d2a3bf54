"""Customer lifetime value on known cases: the published CDNOW parameters of BG/NBD and Gamma-Gamma, the
Gamma-Gamma conditional spend and value at risk by hand, and intervals around the expectation on a tiny
order history."""

import tracemalloc
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ml import bgnbd
from ml.customer_value import (
    INTERVAL,
    SIMULATIONS,
    GammaGammaParams,
    ValueModel,
    customer_value,
    expected_spend,
    fit_gamma_gamma,
    probability_alive,
    simulate_intervals,
    validate_time_split,
    value_summary,
)
from ml.value_at_risk import value_at_risk

CDNOW_SUMMARY = Path(__file__).resolve().parent.parent / "ml" / "data" / "cdnow" / "cdnow_customers_summary_with_transactions.csv"


def test_cdnow_parameters_match_the_published_fits():
    """Fader, Hardie & Lee (2005): BG/NBD r 0.243, α 4.414, a 0.793, b 2.426 (weeks) and Gamma-Gamma p 6.25,
    q 3.74, γ 15.44 on the 2,357 CDNOW customers."""
    summary = pl.read_csv(CDNOW_SUMMARY)
    purchases = bgnbd.fit(summary)
    assert np.allclose([purchases.r, purchases.alpha, purchases.a, purchases.b], [0.243, 4.414, 0.793, 2.426], atol=0.005)
    spend = fit_gamma_gamma(summary["x"].to_numpy(), summary["zbar"].to_numpy())
    assert np.allclose([spend.p, spend.q, spend.gamma], [6.25, 3.74, 15.44], atol=0.01)


def test_gamma_gamma_spend_by_hand():
    params = GammaGammaParams(p=2.0, q=3.0, gamma=10.0)
    # (γ + m_x·x)·p / (p·x + q − 1): x = 2, m_x = 20 → 50·2 / 6; x = 0 → the population mean p·γ / (q − 1) = 10
    assert np.allclose(expected_spend(params, np.array([2.0, 0.0]), np.array([20.0, 0.0])), [100 / 6, 10.0])
    assert params.population_mean_spend == 10.0


def orders_of(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"customer_key": [r[0] for r in rows], "ordered_at": [datetime.fromisoformat(r[1]) for r in rows],
         "order_type": ["sale"] * len(rows), "value_eur": [r[2] for r in rows]}
    )


def tiny_history(customers: int = 60, seed: int = 4) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        rate = rng.gamma(2.0, 0.02)  # purchases a day
        day = float(rng.uniform(0, 60))
        while day < 360:
            rows.append((f"c{c:02d}", (datetime(2025, 1, 1) + timedelta(days=day)).isoformat(), float(rng.gamma(4, 12))))
            day += rng.exponential(1 / rate)
            if rng.random() < 0.05:
                break
    return orders_of(rows)


def test_value_summary_counts_purchase_days_and_repeat_spend():
    orders = orders_of([("a", "2025-01-01T10:00", 10.0), ("a", "2025-01-01T15:00", 30.0),
                        ("a", "2025-01-11T09:00", 50.0), ("a", "2025-02-01T09:00", 70.0), ("b", "2025-01-31T09:00", 20.0)])
    summary = value_summary(orders, date(2025, 1, 31)).sort("customer_key")
    # a: days 01-01 (40 EUR) and 01-11 (50 EUR) before the cut-off 02-01; repeat spend = 50; T = 31 days
    assert summary.row(0) == ("a", 1, 10.0, 31.0, 50.0)
    assert summary.row(1) == ("b", 0, 0.0, 1.0, None)


def test_customer_value_is_seeded_and_its_intervals_surround_the_expectation():
    orders = tiny_history()
    first, second = customer_value(orders, date(2025, 12, 31), seed=1), customer_value(orders, date(2025, 12, 31), seed=1)
    assert first.equals(second)
    assert (first["value_low_eur"] <= first["value_high_eur"]).all()
    assert ((first["purchases_low"] <= first["expected_purchases"]) & (first["expected_purchases"] <= first["purchases_high"] + 1)).all()
    assert (first["expected_value_eur"] >= 0).all() and first["probability_alive"].is_between(0, 1).all()
    validation = validate_time_split(orders, date(2025, 9, 30), 90)
    assert validation.deciles["customers"].sum() == value_summary(orders, date(2025, 9, 30)).height
    assert set(validation.model_card()["section"]) == {
        "quality", "setup", "parameter", "decile_predicted_value_eur", "decile_actual_value_eur",
        "decile_predicted_purchases", "decile_actual_purchases"}


def test_value_at_risk_is_churn_probability_times_expected_value():
    scores = pl.DataFrame({"customer_key": ["a", "b", "c"], "churn_probability": [0.5, 0.2, 0.9]})
    values = pl.DataFrame({"customer_key": ["a", "b"], "expected_value_eur": [200.0, 50.0]})
    risk = value_at_risk(scores, values)
    assert risk.select("customer_key", "value_at_risk_eur").rows() == [("a", 100.0), ("b", 10.0), ("c", None)]


CDNOW_MODEL = ValueModel(bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426),
                         GammaGammaParams(p=6.25, q=3.74, gamma=15.44))


def test_simulation_memory_does_not_grow_with_the_number_of_customers():
    """The interval simulation once drew 2,000 values per customer for every customer at once: several arrays of
    1 GB each at 100,000 customers (issue 19). 4,000 customers, each in a group of their own, must stay far below
    even one array of all their draws (4,000 × 2,000 × 8 bytes = 64 MB)."""
    customers = 4000
    summary = pl.DataFrame({"x": [2.0] * customers, "t_x": [20.0] * customers,
                            "T": [40.0 + day for day in range(customers)], "m_x": [30.0] * customers})
    tracemalloc.start()
    intervals = simulate_intervals(CDNOW_MODEL, summary, 52.0, seed=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(intervals["value_high"]) == customers
    assert peak < customers * SIMULATIONS * 8 / 10


def test_grouped_intervals_are_the_quantiles_of_each_customers_own_simulation():
    """The simulation runs once per (x, T) and scales value by γ + x·m_x (ml/customer_value.py): each customer's
    interval must match the quantiles of 400,000 draws of their own posterior predictive, drawn the long way (alive,
    rate, drop-out, purchases, spend rate, value) with their own t_x and m_x. Two customers share (x, T) = (3, 30)
    and differ in t_x (probability alive 0.08 and 0.82) and m_x; a third made no repeat purchase."""
    summary = pl.DataFrame({"x": [3.0, 3.0, 0.0], "t_x": [5.0, 28.0, 0.0], "T": [30.0, 30.0, 12.0],
                            "m_x": [20.0, 80.0, None]})
    intervals = simulate_intervals(CDNOW_MODEL, summary, 52.0, seed=3)
    bg, gg = CDNOW_MODEL.purchases, CDNOW_MODEL.spend
    rng = np.random.default_rng(11)
    draws = 400_000
    for customer, (x, t_x, T, m_x) in enumerate(summary.fill_null(0.0).rows()):
        alive = rng.random(draws) < probability_alive(bg, np.array([x]), np.array([t_x]), np.array([T]))[0]
        rate = rng.gamma(bg.r + x, 1.0 / (bg.alpha + T), draws)
        dropout = np.clip(rng.beta(bg.a, bg.b + x, draws), 1e-12, 1.0)
        purchases = np.where(alive, np.minimum(rng.poisson(rate * 52.0), rng.geometric(dropout)), 0)
        spend_rate = rng.gamma(gg.q + gg.p * x, 1.0 / (gg.gamma + x * m_x), draws)
        value = np.where(purchases > 0, rng.gamma(np.maximum(gg.p * purchases, 1e-12), 1.0 / spend_rate), 0.0)
        value_low, value_high = np.quantile(value, INTERVAL)
        purchases_low, purchases_high = np.quantile(purchases, INTERVAL)
        assert intervals["value_low"][customer] == pytest.approx(value_low, rel=0.06, abs=0.5)
        assert intervals["value_high"][customer] == pytest.approx(value_high, rel=0.06)
        assert abs(intervals["purchases_low"][customer] - purchases_low) <= 1
        assert abs(intervals["purchases_high"][customer] - purchases_high) <= 1
    # the same (x, T) group, scaled by each customer's γ + x·m_x: the larger spender's interval is wider
    assert intervals["value_high"][1] > intervals["value_high"][0]


def test_a_customers_interval_does_not_depend_on_the_other_customers():
    """The groups of one x share the draws that do not depend on T (ml/customer_value.py): a customer's interval
    must still be the same alone and among others of the same x and T, of the same x and other T, and of other x."""
    crowd = pl.DataFrame({"x": [2.0, 2.0, 2.0, 0.0, 0.0, 5.0], "t_x": [10.0, 30.0, 5.0, 0.0, 0.0, 30.0],
                          "T": [40.0, 40.0, 55.0, 0.0, 40.0, 40.0], "m_x": [30.0, 50.0, 10.0, None, None, 25.0]})
    together = simulate_intervals(CDNOW_MODEL, crowd, 52.0, seed=7)
    for customer in range(crowd.height):
        alone = simulate_intervals(CDNOW_MODEL, crowd.slice(customer, 1), 52.0, seed=7)
        assert {name: values[customer] for name, values in together.items()} == {
            name: values[0] for name, values in alone.items()}
