"""Churn features, labels, BG/NBD baseline, metrics and reasons on tiny hand-made frames."""

import math
import threading
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from ml import bgnbd, churn
from ml.churn import (
    SCORES_SCHEMA,
    BacktestDates,
    NotEnoughHistory,
    calibration_table,
    fit_churn_model,
    probabilities_on_one_thread,
    lift_in_top_decile,
    risk_band,
    score_churn,
    train_and_score,
)
from ml.churn_reasons import REASON_COLUMNS, ReasonProfile
from ml.features import (
    CustomerHistory,
    available_families,
    build_features,
    cutoff,
    last_event_date,
    with_churn_labels,
)

AS_OF = date(2026, 3, 1)


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day) + timedelta(hours=hour)


def orders_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"customer_key": pl.String, "ordered_at": pl.Datetime("us"), "order_type": pl.String,
                      "value_eur": pl.Float64, "channel": pl.String},
        orient="row",
    )


def full_history() -> CustomerHistory:
    """Two customers with every family, each with rows before and after the as-of date (2026-03-01)."""
    orders = orders_frame([
        ("A", at("2026-01-01"), "sale", 50.0, "web"),
        ("A", at("2026-01-11"), "sale", 30.0, "app"),
        ("A", at("2026-01-31"), "sale", 40.0, "web"),
        ("A", at("2026-02-05"), "return", 30.0, "web"),
        ("A", at("2026-03-01", 23), "sale", 20.0, "store"),  # the last hour of the as-of day still counts
        ("A", at("2026-03-02", 0), "sale", 99.0, "store"),  # the first instant after it does not
        ("B", at("2025-12-01"), "sale", 80.0, "store"),
        ("B", at("2026-04-01"), "sale", 80.0, "store"),
        ("C", at("2026-03-05"), "sale", 10.0, "web"),  # only after the as-of date: not a customer yet
    ])
    web = pl.DataFrame({
        "customer_key": ["A", "A", "A", "B"],
        "occurred_at": [at("2026-02-20"), at("2026-01-15"), at("2026-03-10"), at("2026-02-27")],
        "touchpoint_type": ["add_to_cart", "page_view", "page_view", "page_view"],
    })
    email = pl.DataFrame({
        "customer_key": ["A", "A", "A", "B"],
        "occurred_at": [at("2026-02-01"), at("2026-02-02"), at("2026-03-03"), at("2026-03-04")],
        "touchpoint_type": ["send", "open", "send", "unsubscribe"],
    })
    service = pl.DataFrame(
        {
            "customer_key": ["B", "B", "B", "A"],
            "issue_id": ["I1", "I1", "I2", "I3"],
            "occurred_at": [at("2026-02-10"), at("2026-02-12"), at("2026-02-25"), at("2026-03-20")],
            # I1 was solved after the as-of date: it was still open on 2026-03-01
            "resolved": [False, True, True, False],
            "closed_at": [None, at("2026-03-05"), at("2026-02-25", 14), None],
            "is_repeat_contact_7d": [False, True, False, False],
            "wait_seconds": [600, 300, None, 60],
        },
        schema_overrides={"closed_at": pl.Datetime("us")},
    )
    surveys = pl.DataFrame({
        "customer_key": ["B", "B", "A"],
        "responded_at": [at("2026-02-13"), at("2026-03-08"), at("2026-02-01")],
        "survey_type": ["nps", "nps", "csat"],
        "score": [3, 10, 2],
    })
    sentiment = pl.DataFrame({
        "customer_key": ["B", "B"],
        "occurred_at": [at("2026-02-10"), at("2026-03-09")],
        "label": ["negative", "negative"],
        "score": [-0.8, -0.6],
    })
    return CustomerHistory(orders, web, email, service, surveys, sentiment)


def export_taken_on_as_of_day(history: CustomerHistory) -> CustomerHistory:
    """What exports taken at the end of 2026-03-01 would hold: no later rows, and issue I1 not solved yet."""
    end = cutoff(AS_OF)
    service = history.service_contacts.filter(pl.col("occurred_at") < end).with_columns(
        pl.when(pl.col("closed_at") >= end).then(False).otherwise(pl.col("resolved")).alias("resolved"),
        pl.when(pl.col("closed_at") >= end).then(None).otherwise(pl.col("closed_at")).alias("closed_at"),
    )
    return CustomerHistory(
        orders=history.orders.filter(pl.col("ordered_at") < end),
        web_events=history.web_events.filter(pl.col("occurred_at") < end),
        email_events=history.email_events.filter(pl.col("occurred_at") < end),
        service_contacts=service,
        surveys=history.surveys.filter(pl.col("responded_at") < end),
        sentiment=history.sentiment.filter(pl.col("occurred_at") < end),
    )


def test_features_as_of_a_date_ignore_everything_after_it():
    with_future = build_features(full_history(), AS_OF)
    without_future = build_features(export_taken_on_as_of_day(full_history()), AS_OF)

    assert with_future.equals(without_future)
    assert with_future["customer_key"].to_list() == ["A", "B"]


def test_purchase_features_by_hand():
    row = build_features(full_history(), AS_OF).filter(pl.col("customer_key") == "A").row(0, named=True)

    # sales on Jan 1, 11, 31 and Mar 1 (12:00, 23:00); cut-off Mar 2 00:00
    assert row["purchases_count"] == 4
    assert row["days_since_last_purchase"] == pytest.approx(1 / 24)
    assert row["tenure_days"] == pytest.approx(31 + 28 + 0.5)
    assert row["purchase_gap_mean_days"] == pytest.approx((10 + 20 + 29 + 11 / 24) / 3)
    assert row["purchase_value_total_eur"] == pytest.approx(140.0)
    assert row["purchases_last_90d"] == 4 and row["purchases_previous_90d"] == 0
    assert row["returns_count"] == 1 and row["return_rate"] == pytest.approx(0.25)
    assert (row["purchase_share_web"], row["purchase_share_app"], row["purchase_share_store"]) == (0.5, 0.25, 0.25)


def test_other_families_by_hand():
    rows = {r["customer_key"]: r for r in build_features(full_history(), AS_OF).iter_rows(named=True)}
    a, b = rows["A"], rows["B"]

    assert (a["web_events_last_30d"], a["web_events_previous_30d_avg"], a["web_carts_last_30d"]) == (1, 0.5, 1)
    assert a["web_trend"] == pytest.approx(0.5)
    assert (a["email_sends_90d"], a["email_opens_90d"], a["email_open_rate_90d"]) == (1, 1, 1.0)
    assert a["days_since_last_email_open"] == pytest.approx(27.5)  # Feb 2, 12:00 to the cut-off
    assert b["email_unsubscribed"] is None  # B's unsubscribe came after the as-of date: no e-mail rows before
    # B: issue I1 open at the cut-off (solved on Mar 5), I2 solved; one repeat contact; waits 600 and 300
    assert (b["service_contacts_90d"], b["service_repeat_contacts_90d"], b["service_unresolved_issues"]) == (3, 1, 1)
    assert b["service_wait_mean_seconds_90d"] == pytest.approx(450.0)
    assert a["service_contacts_90d"] is None  # A's only contact is after the as-of date
    assert (b["survey_last_nps"], a["survey_min_csat_180d"]) == (3, 2)
    assert (b["sentiment_negative_90d"], b["sentiment_mean_score_90d"]) == (1, pytest.approx(-0.8))


def test_families_are_optional_and_orders_alone_work():
    orders_only = full_history().only_purchases()

    assert available_families(orders_only, AS_OF) == ["purchases"]
    features = build_features(orders_only, AS_OF)
    assert features["customer_key"].to_list() == ["A", "B"]
    assert not any(c.startswith(("web_", "email_", "service_", "survey_", "sentiment_")) for c in features.columns)
    assert available_families(full_history(), AS_OF) == [
        "purchases", "web", "email", "service", "surveys", "sentiment"
    ]


def test_labels_are_no_purchase_within_the_horizon():
    history = full_history()
    labelled = with_churn_labels(build_features(history, AS_OF), history.orders, AS_OF, horizon_days=30)

    # A buys on Mar 2 (inside 30 days): retained; B buys on Apr 1, 31 days after the cut-off: churned
    assert dict(labelled.select("customer_key", "churned").iter_rows()) == {"A": 0, "B": 1}


def test_last_event_date_and_backtest_dates():
    assert last_event_date(full_history()) == date(2026, 4, 1)
    assert BacktestDates.before(date(2026, 10, 31), 90) == BacktestDates(
        date(2026, 5, 4), date(2026, 8, 2), date(2026, 10, 31)
    )


def test_lift_calibration_and_risk_bands_by_hand():
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 0, 1, 0] * 2)
    scores = np.array([0.95, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.5, 0.1] * 2)
    # top decile = the two 0.95 scores, both churned; base rate 0.2 -> lift 5
    assert lift_in_top_decile(labels, scores) == pytest.approx(5.0)

    table = calibration_table(np.array([0, 1, 1, 0]), np.array([0.05, 0.15, 0.95, 0.92]))
    assert table.to_dicts() == [
        {"predicted_from": 0.0, "predicted_to": 0.1, "predicted_mean": 0.05, "observed_rate": 0.0, "customers": 1},
        {"predicted_from": 0.1, "predicted_to": 0.2, "predicted_mean": 0.15, "observed_rate": 1.0, "customers": 1},
        {"predicted_from": 0.9, "predicted_to": 1.0, "predicted_mean": pytest.approx(0.935), "observed_rate": 0.5,
         "customers": 2},
    ]
    bands = pl.DataFrame({"p": [0.05, 0.3, 0.59, 0.6, 1.0]}).select(risk_band(pl.col("p")))["literal"].to_list()
    assert bands == ["low", "medium", "medium", "high", "high"]


def reason_frame() -> pl.DataFrame:
    """Ten customers: the first five churned, and they are the overdue, complaining, detracting ones."""
    return pl.DataFrame({
        "customer_key": [f"K{i}" for i in range(10)],
        "churned": [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        "days_since_last_purchase": [140.0, 150, 160, 170, 180, 10, 12, 14, 16, 18],
        "purchase_gap_mean_days": [35.0, 30, None, 40, 45, 20, 20, 20, 20, 20],
        "service_unresolved_issues": [2, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        "survey_last_nps": [2, None, 3, 4, 5, 9, 10, 9, 10, 9],
    })


def test_reasons_in_words_strongest_first():
    frame = reason_frame()
    reasons = ReasonProfile.learn(frame).top_reasons(frame)

    first = reasons.row(0, named=True)
    assert set(REASON_COLUMNS) < set(reasons.columns)
    assert {first["top_reason"], first["second_reason"], first["third_reason"]} == {
        "no purchase for 140 days, usually every 35 days", "two unresolved complaints", "gave an NPS of 2 (detractor)",
    }
    assert reasons.row(2, named=True)["top_reason"] in {"only one purchase, 160 days ago", "one unresolved complaint",
                                                        "gave an NPS of 3 (detractor)"}
    # retained customers show no warning sign: recent purchases, nothing open, promoters
    assert reasons.filter(pl.col("customer_key") == "K7").row(0)[1:] == (None, None, None)


def test_reason_strength_follows_past_churn_rates():
    frame = reason_frame()
    candidates = ReasonProfile.learn(frame).candidates(frame)
    strength = {(key, reason): value for key, reason, value in candidates.iter_rows()}
    # open issues 2,1,1,1,1,0,0,0,0,0: quantile edges 0 and 1, so K0 (2 open) has a bin of its own and
    # K1..K4 (1 open) share one; all churned; rates smoothed with 20 pseudo-customers at the base rate 0.5
    assert strength[("K0", "two unresolved complaints")] == pytest.approx((1 + 20 * 0.5) / (1 + 20) - 0.5)
    assert strength[("K1", "one unresolved complaint")] == pytest.approx((4 + 20 * 0.5) / (4 + 20) - 0.5)
    assert not candidates.filter(pl.col("customer_key") == "K5").height


def test_bgnbd_likelihood_and_expectation_on_known_cases():
    params = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # the CDNOW estimates of the paper
    # no repeat purchase: L = (alpha / (alpha + T))^r
    [no_repeat] = bgnbd.log_likelihood(params, np.array([0.0]), np.array([0.0]), np.array([38.86]))
    assert no_repeat == pytest.approx(0.243 * math.log(4.414 / (4.414 + 38.86)))
    # x = 2 by the closed form, term by term
    x, t_x, T = 2.0, 30.43, 38.86
    beta = lambda p, q: math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)  # noqa: E731
    common = math.lgamma(0.243 + x) - math.lgamma(0.243) + 0.243 * math.log(4.414)
    expected = common + math.log(
        math.exp(beta(0.793, 2.426 + x) - beta(0.793, 2.426) - (0.243 + x) * math.log(4.414 + T))
        + math.exp(beta(1.793, 2.426 + x - 1) - beta(0.793, 2.426) - (0.243 + x) * math.log(4.414 + t_x))
    )
    [two_repeats] = bgnbd.log_likelihood(params, np.array([x]), np.array([t_x]), np.array([T]))
    assert two_repeats == pytest.approx(expected)
    # the paper's worked example: 1.226 expected purchases in the next 39 weeks
    [purchases] = bgnbd.expected_purchases(params, 39.0, np.array([x]), np.array([t_x]), np.array([T]))
    assert purchases == pytest.approx(1.226, abs=0.001)


def test_bgnbd_summary_by_hand():
    summary = bgnbd.rfm_summary(full_history().orders, AS_OF)
    # A: purchase days Jan 1, 11, 31, Mar 1 -> x = 3, t_x = 59, T = Jan 1 .. Mar 2 = 60; B: one purchase Dec 1
    assert summary.rows() == [("A", 3, 59.0, 60.0), ("B", 0, 0.0, 91.0)]


def simulated_orders(customers: int, seed: int) -> pl.DataFrame:
    """Buyers with a Poisson rate per customer who stop buying at a random date (some before the data ends)."""
    rng = np.random.default_rng(seed)
    start, days = datetime(2025, 11, 1), 365
    rows = []
    for i in range(customers):
        rate = rng.gamma(2.0, 1 / 60)
        stop = rng.uniform(60, 2 * days)
        t = rng.uniform(0, 90)
        while t < min(days, stop):
            rows.append((f"K{i:04d}", start + timedelta(days=float(t)), "sale", float(rng.gamma(2, 25)), "web"))
            t += rng.exponential(1 / rate)
    return orders_frame(rows)


def test_bgnbd_fit_recovers_a_simulated_population():
    rng = np.random.default_rng(7)
    r, alpha, a, b = 0.8, 25.0, 0.6, 2.5
    n = 2000
    rate, dropout, horizon = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n), rng.uniform(100, 365, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = rng.exponential(1 / rate[i])
        while t < horizon[i]:
            x[i], t_x[i] = x[i] + 1, t
            if rng.random() < dropout[i]:
                break
            t += rng.exponential(1 / rate[i])
    # x counts repeat purchases after the first one at time 0, T runs from that first purchase
    fitted = bgnbd.fit(pl.DataFrame({"x": x, "t_x": t_x, "T": horizon}))
    assert fitted.r == pytest.approx(r, rel=0.25)
    assert fitted.alpha == pytest.approx(alpha, rel=0.35)


def test_train_and_score_on_purchase_history_alone():
    history = CustomerHistory(orders=simulated_orders(400, seed=3))
    result = train_and_score(history, date(2026, 10, 31), horizon_days=90)

    assert result.families == ["purchases"]
    card = result.model_card()
    assert card.filter(pl.col("section") == "feature_family")["metric"].to_list() == ["purchases"]
    assert set(card.filter(pl.col("section") == "quality")["metric"]) >= {
        "roc_auc", "pr_auc", "brier_score", "lift_top_decile", "base_rate", "bgnbd_baseline_roc_auc"
    }
    assert result.evaluation.metrics["roc_auc"] > 0.6
    scores = result.scores
    assert scores["customer_key"].n_unique() == scores.height
    assert scores["churn_probability"].is_between(0, 1).all()
    assert scores["top_reason"].is_not_null().any()


def test_the_fitted_model_rescores_as_train_and_score_did_in_any_batches():
    history = CustomerHistory(orders=simulated_orders(400, seed=3))
    as_of = date(2026, 10, 31)
    result = train_and_score(history, as_of, horizon_days=90)
    features = build_features(history, as_of, result.families)

    # the model train_and_score fitted on the most recent fully observed date (as of 2026-08-02)
    refitted = fit_churn_model(with_churn_labels(build_features(history, date(2026, 8, 2)), history.orders,
                                                 date(2026, 8, 2), 90))
    assert refitted.columns == result.model.columns
    assert score_churn(refitted, features, as_of).equals(result.scores)
    # customers scored in two batches (as Spark partitions do) get exactly the rows of one batch
    halves = [score_churn(result.model, part, as_of) for part in (features[:150], features[150:])]
    assert pl.concat(halves).equals(result.scores)
    # a batch without customers scores to no rows with the columns of the scores table
    assert score_churn(result.model, features.clear(), as_of).schema == pl.Schema(SCORES_SCHEMA)


def test_scoring_in_threads_gives_the_rows_of_one_thread_in_their_order(monkeypatch):
    history = CustomerHistory(orders=simulated_orders(400, seed=3))
    as_of = date(2026, 10, 31)
    result = train_and_score(history, as_of, horizon_days=90)
    features = build_features(history, as_of, result.families)
    one_thread = probabilities_on_one_thread(result.model, features)
    # five cores and chunks of at least 50 rows: five chunks of 80 rows, the last one shorter, none on this thread
    monkeypatch.setattr(churn, "MIN_ROWS_PER_SCORING_THREAD", 50)
    monkeypatch.setattr(churn.os, "cpu_count", lambda: 5)
    chunks = []
    probabilities = churn.ChurnModel.probabilities
    monkeypatch.setattr(churn.ChurnModel, "probabilities", lambda model, part: chunks.append(
        (threading.get_ident(), part.height)) or probabilities(model, part))
    assert np.array_equal(churn.probabilities_in_threads(result.model, features), one_thread)
    assert features.height == 396 and sorted(rows for _, rows in chunks) == [76, 80, 80, 80, 80]
    assert threading.get_ident() not in {thread for thread, _ in chunks}
    assert score_churn(result.model, features, as_of).equals(result.scores)


# --- real order histories: dates only, same-day repeats, one cohort ---------------------------------------


def dates_only(orders: pl.DataFrame) -> pl.DataFrame:
    """The orders as an export with dates only would give them: every order at midnight of its day."""
    return orders.with_columns(pl.col("ordered_at").dt.truncate("1d"))


def test_features_are_finite_with_same_day_repeats_and_dates_only():
    orders = dates_only(orders_frame([
        ("A", at("2026-02-01", 9), "sale", 10.0, "web"),
        ("A", at("2026-02-01", 17), "sale", 20.0, "web"),  # twice on one day: the only gap is 0 days
        ("B", at("2026-01-10"), "sale", 30.0, "store"),
        ("B", at("2026-01-20"), "sale", 30.0, "store"),
    ]))
    # A opened an e-mail in the last 90 days but was sent none in them (the send is older)
    email = pl.DataFrame({"customer_key": ["A", "A"], "occurred_at": [at("2025-10-01"), at("2026-02-10")],
                          "touchpoint_type": ["send", "open"]})
    features = build_features(CustomerHistory(orders, email_events=email), AS_OF)
    rows = {r["customer_key"]: r for r in features.iter_rows(named=True)}

    floats = features.select(pl.col(pl.Float64))
    assert floats.select(pl.all().is_infinite().any() | pl.all().is_nan().any()).row(0) == (False,) * floats.width
    # A: last purchase Feb 1 00:00, cut-off Mar 2 00:00 = 29 days; a same-day rhythm counts as one day
    assert rows["A"]["purchase_gap_mean_days"] == 0.0
    assert rows["A"]["purchase_overdue_ratio"] == pytest.approx(29.0)
    assert rows["B"]["purchase_overdue_ratio"] == pytest.approx(41 / 10)
    assert rows["A"]["email_open_rate_90d"] is None  # no send in the window: not measured, not infinite


def test_train_and_score_on_dates_only_orders_with_same_day_repeats():
    orders = dates_only(simulated_orders(400, seed=3))
    repeats = orders.filter(pl.col("customer_key") < "K0100").group_by("customer_key").first()
    history = CustomerHistory(orders=pl.concat([orders, repeats]))

    result = train_and_score(history, date(2026, 10, 31), horizon_days=90)

    assert result.scores["churn_probability"].is_finite().all()
    assert result.evaluation.metrics["roc_auc"] > 0.6


def one_cohort_orders(customers: int, seed: int) -> pl.DataFrame:
    """A one-cohort retailer like CDNOW: every customer's first purchase in January 2025 (dates only), then
    purchases at a rate of their own until they drop out after some purchase."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(customers):
        day, rate = float(rng.uniform(0, 31)), rng.gamma(0.8, 1 / 40)
        while day < 540:
            rows.append((f"K{i:04d}", datetime(2025, 1, 1) + timedelta(days=day), "sale", 15.0, "web"))
            if rng.random() < 0.25:
                break
            day += rng.exponential(1 / rate)
    return dates_only(orders_frame(rows))


def test_scores_keep_ranking_by_recency_beyond_the_training_range():
    history = CustomerHistory(orders=one_cohort_orders(600, seed=5))
    result = train_and_score(history, date(2026, 6, 24), horizon_days=90)

    scores = result.scores["churn_probability"]
    # Trees alone are flat beyond the recency the training date saw: hundreds of one-time buyers of January
    # 2025 shared the top probability. Customers with the same recency and frequency may tie, no others.
    top = result.scores.filter(pl.col("churn_probability") == scores.max())["customer_key"]
    same_history = build_features(history, date(2026, 6, 24)).filter(pl.col("customer_key").is_in(top.implode()))
    assert same_history.select("days_since_last_purchase", "purchases_count").unique().height == 1
    assert scores.n_unique() > 0.5 * scores.len()


@pytest.mark.parametrize("orders, has_days", [
    (orders_frame([("A", at("2026-07-04"), "sale", 10.0, "web"), ("B", at("2026-09-01"), "sale", 10.0, "web")]), 120),
    (orders_frame([]), 0),  # a calls-only company: no orders at all
])
def test_short_or_no_order_history_says_how_much_churn_needs(orders, has_days):
    with pytest.raises(NotEnoughHistory, match=rf"^not enough history for churn \(needs 210 days, has {has_days}\)"):
        train_and_score(CustomerHistory(orders=orders), date(2026, 10, 31), horizon_days=90)
