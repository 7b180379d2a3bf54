"""Workforce planning, pure functions: Erlang C and Erlang A against published and hand-computed values, the
staffing plan per channel model, holiday and outlier cleaning, leak-free backtest splits and interval coverage
on a synthetic series with known noise."""

import math
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from ml.erlang import erlang_a, erlang_a_states, erlang_c, erlang_c_wait_probability
from ml.forecast import (
    DISPERSIONS, INTERVAL_LEVELS, MODELS, Calendar, ModelChoice, calibrated_dispersions, clean_history, complete_days,
    count_ranges, coverage, fit_holt_winters, forecast_series, forecast_windows, gbm_calendar, holt_winters_parameters,
    interval_columns, intraday_forecast, intraday_profile, range_row, range_table, rolling_origins, seasonal_naive,
    weekday_mean, with_honest_intervals, with_kept_fits,
)
from ml.plan_vs_actual import plan_vs_actual_summary
from ml.staffing import PlanPolicy, agents_for_queue, estimate_patience_seconds, staffing_plan


def poisson_tail(mean: float, at_least: int) -> float:
    return 1 - sum(math.exp(-mean) * mean**k / math.factorial(k) for k in range(at_least))


# --- Erlang C -------------------------------------------------------------------------------------------------

def test_erlang_c_wait_probability_matches_the_textbook_formula_by_hand():
    # A = 2 Erlangs, N = 3: (A^N/N! · N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N−A)) = 4 / (1 + 2 + 2 + 4) = 4/9
    assert erlang_c_wait_probability(2, 3) == pytest.approx(4 / 9)
    # A = 1, N = 2: (1/2 · 2) / (1 + 1 + 1) = 1/3
    assert erlang_c_wait_probability(1, 2) == pytest.approx(1 / 3)
    # Service level within 20 s (AHT 180 s): 1 − 4/9 · exp(−(3 − 2) · 20/180)
    assert erlang_c(2, 3, 20, 180).service_level == pytest.approx(1 - 4 / 9 * math.exp(-20 / 180))
    # N = 4: C = (16/24 · 2) / (1 + 2 + 2 + 8/6 + 4/3) = 4/23; SL = 1 − 4/23 · exp(−40/180) = 0.861 ≥ 0.8, N = 3 is
    # not enough (0.602): 40 calls an hour of 180 s need 4 agents for 80/20
    assert erlang_c_wait_probability(2, 4) == pytest.approx(4 / 23)
    assert agents_for_queue("erlang_c", 2.0, 20.0, 180.0, 0.8, 1.0, None)[0] == 4
    assert erlang_c_wait_probability(3, 3) == 1.0


def test_erlang_c_reproduces_the_published_worked_example():
    # Call Centre Helper's "Erlang C formula example" (as reproduced in the pyworkforce README): 100 calls in 30
    # minutes, 3-minute handle time, 80% within 20 s, at most 85% occupancy, 30% shrinkage: 14 agents on the
    # phones, 20 scheduled, service level 0.8884, occupancy 0.7143, P(wait) 0.1741; 13 agents reach only 0.795.
    traffic = 100 * 180 / 1800
    assert erlang_c_wait_probability(traffic, 14) == pytest.approx(0.1741, abs=5e-5)
    outcome = erlang_c(traffic, 14, answer_within_seconds=20, handle_seconds=180)
    assert outcome.service_level == pytest.approx(0.8884, abs=5e-5)
    assert outcome.occupancy == pytest.approx(0.7143, abs=5e-5)
    assert 0.795 <= erlang_c(traffic, 13, 20, 180).service_level < 0.796


# --- Erlang A -------------------------------------------------------------------------------------------------

def test_erlang_a_with_patience_equal_to_handle_time_is_the_infinite_server_queue():
    # θ = μ makes every contact leave at rate μ whether served or waiting: the number in the system is
    # Poisson(A) (Mandelbaum & Zeltyn), so P(wait) = P(N ≥ n) and P(abandon) = E[(N − n)+] / A.
    traffic, agents = 10.0, 11
    states = erlang_a_states(traffic, 1.0, 1.0, agents)
    assert states[agents:].sum() == pytest.approx(poisson_tail(traffic, agents), abs=1e-9)
    mean_excess = sum((k - agents) * math.exp(-traffic) * traffic**k / math.factorial(k) for k in range(agents, 80))
    outcome = erlang_a(traffic, agents, answer_within_seconds=20, handle_seconds=180, patience_seconds=180)
    assert outcome.abandonment == pytest.approx(mean_excess / traffic, abs=1e-9)


def test_erlang_a_reproduces_whitts_base_case():
    # Whitt (2006), "Sensitivity of performance in the Erlang-A queueing model", base case λ = 100, μ = θ = 1,
    # 100 agents: P(abandon) = 0.0399, P(wait) = P(Poisson(100) ≥ 100) = 0.513.
    outcome = erlang_a(100.0, 100, answer_within_seconds=0.0, handle_seconds=1.0, patience_seconds=1.0)
    assert outcome.abandonment == pytest.approx(0.0399, abs=5e-5)
    assert 1 - outcome.service_level == pytest.approx(0.513, abs=5e-4)  # answered within 0 s = did not wait


def test_erlang_a_matches_the_published_example_with_five_minutes_patience():
    # pyworkforce's Erlang A example (100 calls in 30 minutes, 3-minute handle time, 5 minutes mean patience,
    # 13 agents, 20 s target): SL 0.8584, abandonment 0.0253, P(wait) 0.2265, ASA 0.1258 min, occupancy 0.75.
    # Our exact birth-death solution agrees to within 0.001 (the published figures are rounded approximations).
    outcome = erlang_a(10.0, 13, answer_within_seconds=20, handle_seconds=180, patience_seconds=300)
    assert outcome.service_level == pytest.approx(0.8584, abs=1e-3)
    assert outcome.abandonment == pytest.approx(0.0253, abs=1e-3)
    assert erlang_a_states(10 / 180, 1 / 180, 1 / 300, 13)[13:].sum() == pytest.approx(0.2265, abs=1e-3)
    assert outcome.average_speed_of_answer / 60 == pytest.approx(0.1258, abs=2e-3)
    assert outcome.occupancy == pytest.approx(0.75, abs=1e-3)


def test_erlang_a_approaches_erlang_c_when_nobody_hangs_up():
    c = erlang_c(10.0, 11, 20, 180)
    a = erlang_a(10.0, 11, 20, 180, patience_seconds=1e9)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-5)
    assert a.average_speed_of_answer == pytest.approx(c.average_speed_of_answer, rel=1e-4)
    assert a.abandonment < 1e-6


def test_impatient_callers_make_erlang_c_optimistic_about_the_agents_seen():
    # With 10 Erlangs on 11 agents, Erlang C promises 39% within 20 s; callers who hang up after 3 minutes on
    # average shorten the queue for the others (more answered quickly), but a share of them is lost.
    a = erlang_a(10.0, 11, 20, 180, patience_seconds=180)
    assert a.abandonment > 0.05
    assert a.service_level > erlang_c(10.0, 11, 20, 180).service_level
    # and Erlang A is stable when the traffic exceeds the agents, where Erlang C has no answer
    overloaded = erlang_a(30.0, 20, 20, 180, patience_seconds=60)
    assert 0.3 < overloaded.abandonment < 0.4 and overloaded.occupancy < 1


def test_patience_is_total_waiting_time_over_hang_ups():
    # three callers waited 30, 60 and 90 s; one of them hung up: mean patience 180 s
    assert estimate_patience_seconds([30, 60, 90], [False, True, False]) == 180
    assert estimate_patience_seconds([30], [False]) is None


# --- staffing plan --------------------------------------------------------------------------------------------

def intervals(rows: list[dict]) -> pl.DataFrame:
    start = datetime(2026, 11, 2, 8)
    defaults = {"queue": "all", "handle_seconds": 240.0, "answer_within_seconds": 15.0, "service_level_target": 0.8,
                "concurrency": 1, "patience_seconds": None}
    return pl.DataFrame([{**defaults, "interval_start": start + timedelta(minutes=30 * i), **row}
                         for i, row in enumerate(rows)])


def test_voice_plan_reproduces_the_published_staffing_example():
    # the Call Centre Helper example above: 14 agents on the phones, 20 scheduled with 30% shrinkage
    plan = staffing_plan(intervals([{"channel": "phone", "staffing_model": "erlang_c", "contacts": 100.0,
                                     "handle_seconds": 180.0, "answer_within_seconds": 20.0}]),
                         1800, PlanPolicy(shrinkage=0.3, max_occupancy=0.85))
    row = plan.row(0, named=True)
    assert (row["agents_required"], row["agents_scheduled"]) == (14, 20)
    assert row["expected_service_level"] == pytest.approx(0.8884, abs=5e-5)


def test_each_queue_is_staffed_as_a_pool_of_its_own():
    # The published example's 100 calls split over two queues (skills) of 50: each is 5 Erlangs, which needs 8
    # agents for 80/20 (7 reach only 74.0%, 8 reach 88.0%), 16 on the queues where one pool of all calls needs 14.
    queues = [{"channel": "phone", "queue": queue, "staffing_model": "erlang_c", "contacts": 50.0,
               "handle_seconds": 180.0, "answer_within_seconds": 20.0} for queue in ("de_orders", "en_general")]
    plan = staffing_plan(pl.concat([intervals([row]) for row in queues]), 1800, PlanPolicy(0.3, 0.85))
    assert plan.select("queue", "agents_required", "agents_scheduled").rows() == [("de_orders", 8, 12),
                                                                                ("en_general", 8, 12)]
    assert plan["expected_service_level"].to_list() == pytest.approx([0.8801, 0.8801], abs=5e-5)


def test_maximum_occupancy_adds_agents_where_the_service_level_alone_would_not():
    # 48 Erlangs reach 80% within 15 s with 55 agents (occupancy 87%); at most 85% needs ceil(48 / 0.85) = 57
    assert agents_for_queue("erlang_c", 48.0, 15.0, 240.0, 0.8, 1.0, None)[0] == 55
    agents, outcome = agents_for_queue("erlang_c", 48.0, 15.0, 240.0, 0.8, 0.85, None)
    assert agents == 57 and outcome.occupancy <= 0.85


def test_erlang_a_plan_is_compared_with_erlang_c():
    plan = staffing_plan(intervals([{"channel": "phone", "staffing_model": "erlang_a", "contacts": 100.0,
                                     "patience_seconds": 120.0}]), 1800, PlanPolicy(0.3, 0.95))
    row = plan.row(0, named=True)
    assert row["erlang_c_agents"] >= row["agents_required"] > 0
    assert row["expected_service_level"] >= 0.8 and row["abandonment"] > 0


def test_chat_agents_serve_several_chats_at_once():
    # 2 chats at once: the queue has twice the slots, so about half the agents of a one-at-a-time queue
    one = staffing_plan(intervals([{"channel": "chat_agent", "staffing_model": "chat", "contacts": 60.0}]),
                        1800, PlanPolicy(0.0, 1.0))["agents_required"][0]
    two = staffing_plan(intervals([{"channel": "chat_agent", "staffing_model": "chat", "contacts": 60.0,
                                    "concurrency": 2}]), 1800, PlanPolicy(0.0, 1.0))["agents_required"][0]
    assert two == math.ceil(one / 2) or two == one // 2 + 1


def test_backlog_work_is_spread_over_the_response_window():
    # e-mail with a 2-hour target (4 half-hours): 12 mails of 10 minutes arrive in the first half-hour only.
    # The trailing 2-hour window holds 7,200 s of work in the first four intervals: 7200 / (7200 · 0.5) = 2 agents.
    rows = [{"channel": "email", "staffing_model": "backlog", "contacts": contacts, "handle_seconds": 600.0,
             "answer_within_seconds": 7200.0} for contacts in (12.0, 0.0, 0.0, 0.0, 0.0)]
    plan = staffing_plan(intervals(rows), 1800, PlanPolicy(shrinkage=0.5, max_occupancy=0.5))
    assert plan["agents_required"].to_list() == [2, 2, 2, 2, 0]
    assert plan["agents_scheduled"].to_list() == [4, 4, 4, 4, 0]


# --- cleaning and forecasting ---------------------------------------------------------------------------------

def weekly_series(first: date, weeks: int, week: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"day": pl.date_range(first, first + timedelta(weeks=weeks) - timedelta(days=1), eager=True),
                         "contacts": week * weeks})


def test_weekday_mean_is_the_mean_of_the_same_weekday_over_recent_weeks():
    # Two weeks before Monday 2026-11-02: 10 and 20 contacts on the Mondays, 6 on one Tuesday, nothing else
    # (missing days count as zero).
    daily = pl.DataFrame({"day": [date(2026, 10, 19), date(2026, 10, 26), date(2026, 10, 27)],
                          "contacts": [10.0, 20.0, 6.0]})
    history = complete_days(daily, date(2026, 10, 19), date(2026, 11, 1))["contacts"].to_numpy()
    forecast = weekday_mean(history, date(2026, 11, 2), 8, Calendar(), weeks=2)
    assert forecast.tolist() == [15.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 15.0]


def test_holidays_and_outliers_are_replaced_by_the_usual_weekday_and_listed():
    series = weekly_series(date(2026, 3, 2), 6, [100.0, 80, 80, 80, 120, 40, 20])
    friday, tuesday = date(2026, 4, 3), date(2026, 3, 17)  # Good Friday; a storm Tuesday
    series = series.with_columns(
        pl.when(pl.col("day") == friday).then(14.0).when(pl.col("day") == tuesday).then(604.0)
        .otherwise(pl.col("contacts")).alias("contacts"))
    cleaned, days = clean_history(series, {friday: "Good Friday"})
    by_day = dict(zip(cleaned["day"], cleaned["contacts"]))
    assert by_day[friday] == 120 and by_day[tuesday] == 80
    assert days.select("day", "reason").rows() == [
        (tuesday, "outlier: 604 contacts where about 80 were usual"), (friday, "holiday: Good Friday")]
    assert cleaned.filter(~pl.col("day").is_in([friday, tuesday]))["contacts"].to_list() == \
        series.filter(~pl.col("day").is_in([friday, tuesday]))["contacts"].to_list()


def test_rolling_origins_leave_a_full_horizon_and_enough_history():
    origins = rolling_origins(date(2026, 1, 1), date(2026, 3, 31), horizon=14, origins=5, min_history=42)
    assert origins == [date(2026, 2, 17), date(2026, 2, 24), date(2026, 3, 3), date(2026, 3, 10), date(2026, 3, 18)] \
        or origins[-1] + timedelta(days=13) == date(2026, 3, 31)
    assert origins[-1] + timedelta(days=13) == date(2026, 3, 31)
    assert all((origin - date(2026, 1, 1)).days >= 42 for origin in origins)


def test_backtest_models_never_see_the_days_they_forecast():
    seen: list[tuple[date, int]] = []

    def spy(history: np.ndarray, first_day: date, days: int, calendar: Calendar) -> np.ndarray:
        seen.append((first_day, len(history)))
        return np.full(days, history[-1])

    series = complete_days(weekly_series(date(2026, 1, 5), 10, [1.0] * 7), date(2026, 1, 5), date(2026, 3, 15))
    series = series.with_columns(pl.Series("cleaned", np.arange(series.height, dtype=float)))
    origins = [date(2026, 2, 16), date(2026, 2, 23)]
    windows = forecast_windows(series, Calendar(), origins, 14, {"spy": spy})
    # each fit ends the day before its origin: its last value is that day's index
    assert seen == [(date(2026, 2, 16), 42), (date(2026, 2, 23), 49)]
    assert windows.filter(pl.col("origin") == date(2026, 2, 16))["forecast"].unique().to_list() == [41.0]
    assert windows.group_by("origin").agg(pl.col("day").min())["day"].sort().to_list() == origins


def test_intervals_cover_their_share_of_a_series_with_known_noise():
    # weekly pattern × level 200 with Gaussian noise of 10%: 80% intervals should hold about 80% of new days
    rng = np.random.default_rng(7)
    first = date(2025, 1, 6)
    pattern = np.array([1.3, 1.1, 1.0, 1.0, 1.1, 0.6, 0.4])
    days = 280 + 42
    truth = 200 * np.resize(pattern, days) * (1 + 0.1 * rng.standard_normal(days))
    daily = pl.DataFrame({"day": pl.date_range(first, first + timedelta(days=days - 1), eager=True),
                          "contacts": truth})
    outcome = forecast_series(daily.head(280), Calendar(), first + timedelta(days=280), 42, origins=12)
    future = daily.tail(42)["contacts"].to_numpy()
    inside_80 = np.mean((future >= outcome.forecast["lower_80"].to_numpy()) & (future <= outcome.forecast["upper_80"].to_numpy()))
    inside_95 = np.mean((future >= outcome.forecast["lower_95"].to_numpy()) & (future <= outcome.forecast["upper_95"].to_numpy()))
    assert 0.65 <= inside_80 <= 0.95 and inside_95 >= 0.85
    backtest = outcome.backtest.filter(pl.col("model") == outcome.model).row(0, named=True)
    assert 0.7 <= backtest["coverage_80"] <= 0.9
    # the noise is 10%: the chosen model's WAPE is close to E|0.1·Z| = 8%
    assert 0.06 <= backtest["wape"] <= 0.11


def test_an_80_percent_range_of_a_small_count_holds_the_whole_numbers_closest_to_80_percent():
    # Poisson(2): P(0) = 0.135, P(≤3) = 0.857, P(≤4) = 0.947. Equal tails give 0–4 (94.7%); 1–4 holds
    # 0.947 − 0.135 = 81.2%, closer to 80% than 0–3 (85.7%) or 1–3 (72.2%).
    lower, upper = count_ranges(np.array([2.0]), np.array([1e-6]), 0.80)
    assert (lower[0, 0], upper[0, 0]) == (1, 4)
    # a wider count distribution (variance 2 + 0.5 · 4 = 4) gets a wider range
    wide_lower, wide_upper = count_ranges(np.array([2.0]), np.array([0.5]), 0.80)
    assert wide_upper[0, 0] - wide_lower[0, 0] > 3


def test_intervals_of_a_low_volume_poisson_series_cover_80_percent_of_days():
    # about 3 contacts a day, Poisson around a known weekly rate: the 80% ranges, calibrated on earlier backtest
    # days only, must hold 75–85% of the backtest days, and of new days drawn from the same rate
    rng = np.random.default_rng(11)
    first, history_days = date(2025, 1, 6), 308
    rate = np.resize(3.0 * np.array([1.4, 1.2, 1.0, 1.0, 1.1, 0.7, 0.6]), history_days)
    daily = pl.DataFrame({"day": pl.date_range(first, first + timedelta(days=history_days - 1), eager=True),
                          "contacts": rng.poisson(rate).astype(float)})
    # two quick models: the calibration, not the model, is under test
    outcome = forecast_series(daily, Calendar(), first + timedelta(days=history_days), 28, origins=24,
                              models={"seasonal_naive": seasonal_naive, "weekday_mean": weekday_mean})
    backtest = outcome.backtest.filter(pl.col("model") == outcome.model).row(0, named=True)
    assert 0.75 <= backtest["coverage_80"] <= 0.85
    # 200 new draws of every forecast day (4 weeks of the same weekly rate)
    future = rng.poisson(np.resize(rate[:7], 28), size=(200, 28))
    inside = (future >= outcome.forecast["lower_80"].to_numpy()) & (future <= outcome.forecast["upper_80"].to_numpy())
    assert 0.75 <= inside.mean() <= 0.85


def test_dispersion_calibrated_on_poisson_days_at_their_true_rate_stays_near_poisson():
    # forecasts equal to the true rate: the calibrated ranges are Poisson ranges and hold about 80% of new days
    rng = np.random.default_rng(5)
    rate = np.resize(np.array([1.0, 2.5, 4.0, 6.0]), 2000)
    dispersions = calibrated_dispersions(rng.poisson(rate).astype(float), rate)
    assert DISPERSIONS[dispersions["80"]] < 0.05
    ranges = interval_columns(rate, dispersions)
    fresh = rng.poisson(rate)
    assert 0.77 <= np.mean((fresh >= ranges["lower_80"]) & (fresh <= ranges["upper_80"])) <= 0.83


def test_a_range_row_computed_alone_equals_the_row_of_the_whole_table():
    # a forecast's intervals read one row per level (range_row); the backtest calibrates on the whole table
    for level in INTERVAL_LEVELS.values():
        lower, upper = range_table(level)
        for row in (0, 17, len(DISPERSIONS) - 1):
            row_lower, row_upper = range_row(level, row)
            assert np.array_equal(row_lower, lower[row]) and np.array_equal(row_upper, upper[row])


# Run in a fresh interpreter: scikit-learn's OpenMP must load inside a thread-pool limit that started before it, as in
# the first calendar fit of a `cx run` step (forecast_series' limit). Only a limit entered after the import reaches it.
FIRST_CALENDAR_FIT = """
from datetime import date
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
from ml.forecast import Calendar, gbm_calendar
assert "sklearn" not in __import__("sys").modules
history = np.resize([100.0, 120, 110, 90, 95, 40, 30], 140)
with threadpool_limits(limits=1):
    gbm_calendar(history, date(2026, 5, 25), 14, Calendar())  # loads scikit-learn and its OpenMP
    from sklearn.ensemble import HistGradientBoostingRegressor
    fit, threads = HistGradientBoostingRegressor.fit, []
    def counting_fit(model, *args):
        threads.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp")
        return fit(model, *args)
    HistGradientBoostingRegressor.fit = counting_fit
    gbm_calendar(history, date(2026, 5, 25), 14, Calendar())
print(max(threads))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: OpenMP uses one thread anyway")
def test_the_calendar_model_fits_on_one_openmp_thread_after_loading_scikit_learn_within_a_limit():
    # Two threads on the first series took 3.2 s instead of 0.1 s on the busy 2-core machine (issue 19).
    completed = subprocess.run([sys.executable, "-c", FIRST_CALENDAR_FIT], capture_output=True, text=True, check=True)
    assert completed.stdout.split()[-1] == "1"


def test_intraday_forecast_splits_each_day_by_its_weekday_profile():
    history = pl.DataFrame({"day": [date(2026, 11, 2)] * 2 + [date(2026, 11, 9)] * 2, "slot": [480, 510] * 2,
                            "contacts": [30.0, 10.0, 30.0, 10.0]})
    profile = intraday_profile(history)
    assert profile.rows() == [(1, 480, 0.75), (1, 510, 0.25)]
    daily = pl.DataFrame({"day": [date(2026, 11, 16)], "forecast": [100.0], "lower_80": [80.0], "upper_80": [120.0]})
    split = intraday_forecast(daily, profile)
    assert split.select("slot", "forecast", "lower_80", "upper_80").rows() == [(480, 75.0, 60.0, 90.0),
                                                                             (510, 25.0, 20.0, 30.0)]


def test_a_quiet_weekday_borrows_the_time_of_day_profile_of_all_days():
    # Mondays: 300 contacts at 08:00, 100 at 08:30; Sundays one contact, at 08:30. All days: 300 / 401 at 08:00.
    # With a prior of 200 contacts: Sunday 08:00 = (0 + 200 · 300/401) / (1 + 200) = 0.7444, not 0;
    # Monday 08:00 = (300 + 200 · 300/401) / (400 + 200) = 0.7494.
    history = pl.DataFrame({"day": [date(2026, 11, 2)] * 2 + [date(2026, 11, 8)], "slot": [480, 510, 510],
                            "contacts": [300.0, 100.0, 1.0]})
    shares = {(weekday, slot): share for weekday, slot, share in intraday_profile(history).rows()}
    assert shares[(7, 480)] == pytest.approx(200 * 300 / 401 / 201)
    assert shares[(1, 480)] == pytest.approx((300 + 200 * 300 / 401) / 600)
    assert shares[(7, 480)] + shares[(7, 510)] == pytest.approx(1.0)


def test_plan_against_actual_weights_the_expected_service_level_by_offered_calls():
    # 30 calls expected 90% within target, 10 calls expected 50%: (27 + 5) / 40 = 80% expected;
    # 12 + 6 of them answered in time: 45% reached. The interval without calls does not count.
    adherence = pl.DataFrame({"offered_contacts": [30, 10, 0], "answered_within_target": [12, 6, 0],
                              "expected_service_level": [0.9, 0.5, 0.99], "planned_agents": [6, 2, 1],
                              "agents_seen": [5, 2, 0]})
    assert plan_vs_actual_summary(adherence) == pytest.approx({
        "expected_service_level": 0.8, "service_level_reached": 0.45, "planned_agents_mean": 4.0,
        "agents_seen_mean": 3.5, "offered_contacts": 40})
    assert plan_vs_actual_summary(adherence.filter(pl.col("offered_contacts") == 0)) == {}


def test_backtest_windows_too_few_to_calibrate_give_no_coverage_rather_than_an_error():
    # one origin has no earlier windows to calibrate its intervals on (a short history): no coverage figure
    days = pl.date_range(date(2025, 3, 3), date(2025, 3, 9), eager=True)
    windows = pl.DataFrame({"model": "weekday_mean", "origin": date(2025, 3, 3), "day": days,
                            "actual": [5.0] * 7, "forecast": [4.0] * 7})
    assert coverage(with_honest_intervals(windows)).height == 0


@pytest.mark.parametrize("model", ["erlang_a", "erlang_c"])
def test_an_interval_without_expected_contacts_needs_no_agent(model):
    # a quiet half-hour (forecast 0) of a queue whose callers hang up: no agent, nobody waits
    agents, outcome = agents_for_queue(model, 0.0, 20, 300, 0.8, 0.85, 120.0)
    assert agents == 0 and outcome.service_level == 1.0 and outcome.abandonment == 0.0


def test_a_given_model_choice_refits_only_its_model_and_forecasts_as_the_backtest_did():
    # Counting fits: with the choice of an earlier backtest only the chosen model is fitted, once, on the whole
    # history, and the forecast with its intervals is the one the backtesting run gave on the same data.
    fits: dict[str, int] = {}

    def counted(name: str):
        def forecaster(history: np.ndarray, first_day: date, days: int, calendar: Calendar) -> np.ndarray:
            fits[name] = fits.get(name, 0) + 1
            return MODELS_UNDER_TEST[name](history, first_day, days, calendar)
        return forecaster

    rng = np.random.default_rng(3)
    first = date(2025, 1, 6)
    daily = pl.DataFrame({"day": pl.date_range(first, first + timedelta(days=139), eager=True),
                          "contacts": rng.poisson(np.resize([30.0, 20, 20, 20, 25, 8, 4], 140)).astype(float)})
    models = {name: counted(name) for name in MODELS_UNDER_TEST}
    backtested = forecast_series(daily, Calendar(), first + timedelta(days=140), 14, origins=4, models=models)
    # every model from each of the 4 origins, and the chosen one once more for the forecast
    assert fits == {name: 4 + (name == backtested.model) for name in MODELS_UNDER_TEST}
    fits.clear()
    refitted = forecast_series(daily, Calendar(), first + timedelta(days=140), 14, models=models,
                               choice=backtested.choice)
    assert fits == {backtested.model: 1}
    assert refitted.forecast.equals(backtested.forecast) and refitted.backtest.equals(backtested.backtest)


def test_a_reused_choice_starts_holt_winters_from_the_backtesting_runs_fit_and_keeps_its_calendar_model(monkeypatch):
    # The run that backtests keeps Holt-Winters' parameters and the calendar model fitted on its whole history; a
    # later run with a day more starts Holt-Winters from them, skipping statsmodels' grid search, forecasts what a
    # fit with the search forecasts, and predicts with the kept calendar model instead of fitting one.
    from sklearn.ensemble import HistGradientBoostingRegressor
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    rng = np.random.default_rng(5)
    first = date(2025, 1, 6)
    week = np.resize([60.0, 45, 44, 46, 50, 20, 12], 141)
    daily = pl.DataFrame({"day": pl.date_range(first, first + timedelta(days=140), eager=True),
                          "contacts": rng.poisson(week * np.linspace(1.0, 1.3, 141)).astype(float)})
    history = daily["contacts"].to_numpy()
    backtest_day, last_day = first + timedelta(days=140), first + timedelta(days=141)
    unchosen = ModelChoice("combined", pl.DataFrame(), calibrated_dispersions(np.array([]), np.array([])))
    choice = with_kept_fits(unchosen, history[:-1], backtest_day, Calendar(), MODELS)
    assert choice.holt_winters_start == holt_winters_parameters(fit_holt_winters(history[:-1]))
    assert isinstance(choice.calendar_model, HistGradientBoostingRegressor)
    naive = with_kept_fits(replace(unchosen, model="seasonal_naive"), history[:-1], backtest_day, Calendar(), MODELS)
    assert naive.holt_winters_start is None and naive.calendar_model is None
    searches, calendar_fits = [], []
    setup_brute, fit = ExponentialSmoothing._setup_brute, HistGradientBoostingRegressor.fit
    monkeypatch.setattr(ExponentialSmoothing, "_setup_brute",
                        staticmethod(lambda *args: searches.append(1) or setup_brute(*args)))
    monkeypatch.setattr(HistGradientBoostingRegressor, "fit", lambda *args: calendar_fits.append(1) or fit(*args))
    reused = forecast_series(daily, Calendar(), last_day, 14, choice=choice)
    assert searches == [] and calendar_fits == []
    holt_winters_alone = forecast_series(daily, Calendar(), last_day, 14, choice=replace(choice, model="holt_winters"))
    searched = forecast_series(daily, Calendar(), last_day, 14, choice=replace(unchosen, model="holt_winters"))
    assert searches and calendar_fits == []  # without kept parameters Holt-Winters searches
    difference = (holt_winters_alone.forecast["forecast"] - searched.forecast["forecast"]).abs().max()
    assert difference < 0.01 * history[-28:].mean()
    calendar_alone = gbm_calendar(history, last_day, 14, Calendar(), fitted=choice.calendar_model)
    combined = (holt_winters_alone.forecast["forecast"].to_numpy() + calendar_alone) / 2
    assert np.allclose(reused.forecast["forecast"].to_numpy(), combined)


MODELS_UNDER_TEST = {"seasonal_naive": seasonal_naive, "weekday_mean": weekday_mean}
