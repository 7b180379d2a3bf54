"""Next best action on tiny hand-made frames: triggers, consent and cap on every row, expected-value and
response-rate arithmetic, reasons; and both customer ML assets materialised on a tiny warehouse."""

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest

from cx_demo.marketing import response_model
from cx_demo.people import PERSONA_NAMES
from ml import bgnbd
from ml.churn import skipped_scores
from ml.features import CustomerHistory
from ml.next_best_action import (
    CHANNEL_NOUNS,
    ContactCap,
    NbaInputs,
    learn_response_rates,
    next_best_actions,
    organic_baselines,
    outbound_contacts,
    plan_next_best_actions,
    with_expected_value,
)
from cx_core.warehouse import WarehouseFile, read_frame
from ml.holdout import holdout_flags
from ml.policy_eval import cap_breaks, consent_breaks, evaluate_policy
from tests.helpers.settings_env import point_settings_at

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
AS_OF = date(2026, 3, 1)  # cut-off 2026-03-02 00:00
CAP = ContactCap.parse("7:2,30:4")
CONSENTS = ("consent_email", "consent_sms", "consent_phone", "consent_push")


def catalogue() -> pl.DataFrame:
    return pl.read_csv(SEEDS / "nba_actions.csv")


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day) + timedelta(hours=hour)


def customer(key: str, consents: str, preferred: str = "web", segment: str = "s1") -> dict:
    """consents: letters e s p u for e-mail, SMS, phone, push."""
    return {"customer_key": key, "segment": segment, "is_crm_contact": True, "preferred_inbound_channel": preferred,
            **{column: letter in consents for column, letter in zip(CONSENTS, "espu")}}


def story() -> NbaInputs:
    customers = pl.DataFrame([
        customer("CART", "e", preferred="app"),      # app user without push consent: the reminder goes by e-mail
        customer("BOTH", "ep"),                      # a cart and a detractor answer: service recovery first
        customer("BOUGHT", "e"),                     # put in the cart, then ordered: no reminder
        customer("CAPPED", "espu"),                  # two contacts in the last week
        customer("SILENT", ""),                      # no consent at all
        customer("PUSHER", "eu", preferred="app"),   # a cart, push consent, prefers the app
    ])
    sales = [(key, at(day), "sale", 40.0, "web") for key, day in (
        ("CART", "2026-01-10"), ("BOTH", "2026-01-05"), ("BOUGHT", "2026-02-26"), ("CAPPED", "2026-02-01"),
        ("SILENT", "2026-02-01"), ("PUSHER", "2025-12-01"),
    )]
    orders = pl.DataFrame(sales, schema=["customer_key", "ordered_at", "order_type", "value_eur", "channel"], orient="row")
    carts = [(key, at(day), "add_to_cart") for key, day in (
        ("CART", "2026-02-28"), ("BOTH", "2026-02-28"), ("BOUGHT", "2026-02-25"), ("CAPPED", "2026-02-28"),
        ("SILENT", "2026-02-28"), ("PUSHER", "2026-02-24"),
    )]
    web = pl.DataFrame(carts, schema=["customer_key", "occurred_at", "touchpoint_type"], orient="row")
    surveys = pl.DataFrame({"customer_key": ["BOTH"], "responded_at": [at("2026-02-27")], "survey_type": ["nps"],
                            "score": [3]})
    contacts = pl.DataFrame({
        "customer_key": ["CAPPED", "CAPPED", "CART"],
        "sent_at": [at("2026-02-25"), at("2026-02-27"), at("2026-01-20")],
        "channel": ["email", "sms", "email"],
        "campaign_type": ["newsletter", "promotion", "newsletter"],
    })
    churn = pl.DataFrame({"customer_key": [c for c in customers["customer_key"]], "churn_probability": 0.2,
                          "top_reason": None}, schema_overrides={"top_reason": pl.String})
    return NbaInputs(customers, CustomerHistory(orders=orders, web_events=web, surveys=surveys), contacts, churn)


def recommendations() -> dict[str, dict]:
    frame = next_best_actions(story(), catalogue(), AS_OF, CAP)
    assert frame["customer_key"].n_unique() == frame.height == 6
    return {row["customer_key"]: row for row in frame.iter_rows(named=True)}


def test_triggers_cart_reminder_by_a_consented_channel_and_service_recovery_first():
    rows = recommendations()

    assert (rows["CART"]["action"], rows["CART"]["channel"]) == ("cart_reminder", "email")
    assert rows["CART"]["reason"].startswith("left a cart yesterday without ordering; Cart reminder e-mail")
    assert (rows["BOTH"]["action"], rows["BOTH"]["channel"]) == ("service_recovery_call", "phone")
    # answered at noon on Feb 27: 2.5 days before the cut-off
    assert rows["BOTH"]["reason"].startswith("gave an NPS of 3 (detractor) 2 days ago; Service recovery call")
    assert rows["BOUGHT"]["action"] != "cart_reminder"
    # a cart six days old still counts (7-day window); push is consented and preferred
    assert (rows["PUSHER"]["action"], rows["PUSHER"]["channel"]) == ("cart_reminder", "push")
    assert "(preferred channel)" in rows["PUSHER"]["reason"]


def test_reasons_name_the_configured_currency():
    default = next_best_actions(story(), catalogue(), AS_OF, CAP).filter(pl.col("customer_key") == "CART")
    dollars = next_best_actions(story(), catalogue(), AS_OF, CAP, currency="USD").filter(pl.col("customer_key") == "CART")

    value = f"{default['expected_value_eur'][0]:.2f}"
    assert default["reason"][0].endswith(f"expected value EUR {value}")
    assert dollars["reason"][0].endswith(f"expected value USD {value}")


def test_plan_without_orders_or_churn_scores_still_acts_on_triggers():
    """A company without an order export (churn skipped, no scores): the trigger actions still come."""
    full = story()
    inputs = NbaInputs(full.customers, CustomerHistory(full.history.orders.clear(), full.history.web_events,
                                                       surveys=full.history.surveys),
                       full.contacts.clear(), skipped_scores())
    rows = {row["customer_key"]: row for row in next_best_actions(inputs, catalogue(), AS_OF, CAP).iter_rows(named=True)}

    assert set(rows) == {"CART", "BOTH", "BOUGHT", "CAPPED", "SILENT", "PUSHER"}
    assert (rows["BOTH"]["action"], rows["CART"]["action"], rows["SILENT"]["action"]) == (
        "service_recovery_call", "cart_reminder", "no_action")


def test_cap_and_missing_consent_give_no_action_with_the_reason():
    rows = recommendations()

    assert rows["CAPPED"]["action"] == "no_action" and rows["CAPPED"]["channel"] is None
    assert rows["CAPPED"]["reason"] == "contact cap reached (two contacts in 7 days, two contacts in 30 days)"
    assert rows["SILENT"]["action"] == "no_action"
    assert rows["SILENT"]["reason"] == "no consented channel makes an eligible action worth its cost"


def many_customers(count: int = 120, seed: int = 5) -> NbaInputs:
    """Customers with random consents, carts, answers and recent contacts (some above the cap)."""
    rng = np.random.default_rng(seed)
    keys = [f"K{i:03d}" for i in range(count)]
    consent = rng.random((count, 4)) < 0.4
    customers = pl.DataFrame({
        "customer_key": keys, "segment": rng.choice(["a", "b"], count), "is_crm_contact": True,
        "preferred_inbound_channel": rng.choice(["email", "app", "phone", "web"], count),
        **{column: consent[:, i] for i, column in enumerate(CONSENTS)},
    })
    end = datetime(2026, 3, 2)
    days_ago = lambda n: [end - timedelta(days=float(d)) for d in rng.uniform(0, 60, n)]  # noqa: E731
    orders = pl.DataFrame({"customer_key": rng.choice(keys, 300), "ordered_at": days_ago(300), "order_type": "sale",
                           "value_eur": 30.0, "channel": "web"})
    web = pl.DataFrame({"customer_key": rng.choice(keys, 80), "occurred_at": days_ago(80),
                        "touchpoint_type": "add_to_cart"})
    surveys = pl.DataFrame({"customer_key": rng.choice(keys, 60), "responded_at": days_ago(60), "survey_type": "nps",
                            "score": rng.integers(0, 11, 60)})
    contacts = pl.DataFrame({
        "customer_key": rng.choice(keys, 400), "sent_at": days_ago(400),
        "channel": rng.choice(["email", "sms", "phone", "push"], 400),
        "campaign_type": rng.choice(["newsletter", "cross_sell", "win_back", "cart_reminder", "review_request"], 400),
    })
    churn = pl.DataFrame({"customer_key": keys, "churn_probability": rng.random(count), "top_reason": "x"})
    return NbaInputs(customers, CustomerHistory(orders=orders, web_events=web, surveys=surveys), contacts, churn)


def test_every_row_respects_consent_and_the_cap():
    inputs = many_customers()
    actions = next_best_actions(inputs, catalogue(), AS_OF, CAP)
    consent = {row["customer_key"]: row for row in inputs.customers.iter_rows(named=True)}
    end = datetime(2026, 3, 2)

    assert actions["customer_key"].n_unique() == actions.height
    assert actions.filter(pl.col("action") != "no_action").height > 20
    for row in actions.iter_rows(named=True):
        if row["action"] == "no_action":
            continue
        assert consent[row["customer_key"]][f"consent_{row['channel']}"], row
        mine = inputs.contacts.filter((pl.col("customer_key") == row["customer_key"]) & (pl.col("sent_at") < end))
        assert mine.filter(pl.col("sent_at") >= end - timedelta(days=7)).height < 2, row
        assert mine.filter(pl.col("sent_at") >= end - timedelta(days=30)).height < 4, row
    assert consent_breaks(actions, inputs.customers) == 0
    assert cap_breaks(actions, inputs.contacts, AS_OF, CAP) == 0


def test_rule_checks_catch_breaks():
    customers = pl.DataFrame([customer("A", "e"), customer("B", "u")])
    broken = pl.DataFrame({"customer_key": ["A", "B"], "action": ["cross_sell", "cross_sell"], "channel": ["sms", "push"]})
    contacts = pl.DataFrame({"customer_key": ["B", "B"], "sent_at": [at("2026-02-28"), at("2026-03-01")]})

    assert consent_breaks(broken, customers) == 1
    assert cap_breaks(broken, contacts, AS_OF, CAP) == 1  # B had two contacts in 7 days, the 7-day limit
    assert cap_breaks(broken, contacts, AS_OF, ContactCap({7: 3, 30: 4})) == 0


def test_each_action_is_named_by_what_it_is_on_its_channel():
    options = pl.DataFrame({"customer_key": "A", "action": ["service_recovery_call"] * 2 + ["cart_reminder"] * 2,
                            "channel": ["phone", "email", "sms", "push"]})
    named = with_expected_value(options, options.with_columns(response_probability=pl.lit(0.1)), catalogue())
    assert dict(zip(named["channel"], named["label"])) == {
        "phone": "Service recovery call", "email": "Service recovery e-mail",  # no "call" sent by e-mail
        "sms": "Cart reminder SMS", "push": "Cart reminder push message"}


def test_expected_value_is_probability_times_value_minus_cost():
    options = pl.DataFrame({"customer_key": ["A", "A"], "action": ["cross_sell", "win_back_offer"],
                            "channel": ["email", "email"]})
    probabilities = pl.DataFrame({"customer_key": ["A", "A"], "action": ["cross_sell", "win_back_offer"],
                                  "channel": ["email", "email"], "response_probability": [0.25, 0.05]})
    valued = with_expected_value(options, probabilities, catalogue()).sort("action")

    # seed: cross_sell value 12, cost 0.15; win_back_offer value 40, cost 3
    assert valued["expected_value_eur"].to_list() == pytest.approx([0.25 * 12 - 0.15, 0.05 * 40 - 3])


def test_response_rates_net_of_organic_purchases_with_shrinkage():
    old = at("2026-01-05")
    contacts = pl.DataFrame({
        "customer_key": ["a1", "a2", "a3", "a4", "b1", "b2", "a1"],
        "action": ["cross_sell"] * 6 + ["win_back_offer"],
        "channel": ["email"] * 7,
        "sent_at": [old] * 7,
        "responded": [True, True, False, False, False, False, True],
        "organic_probability": [0.5, 0, 0, 0, 0, 0, 0],
    })
    customers = pl.DataFrame({"customer_key": ["a1", "a2", "a3", "a4", "b1", "b2"], "segment": ["s1"] * 4 + ["s2"] * 2})
    rates = learn_response_rates(contacts, customers, catalogue(), AS_OF, strength=2.0)
    p = {(r["segment"], r["action"], r["channel"]): r["response_probability"] for r in rates.iter_rows(named=True)}

    # net responses / contacts that would not have bought anyway: overall (3 − 0.5) / (7 − 0.5)
    overall = 2.5 / 6.5
    cross_sell = (1.5 + 2 * overall) / (5.5 + 2)
    cross_sell_email = (1.5 + 2 * cross_sell) / (5.5 + 2)
    assert p[("s1", "cross_sell", "email")] == pytest.approx((1.5 + 2 * cross_sell_email) / (3.5 + 2))
    assert p[("s2", "cross_sell", "email")] == pytest.approx((0 + 2 * cross_sell_email) / (2 + 2))
    assert p[("s1", "cross_sell", "push")] == pytest.approx(cross_sell)  # never sent by push: the action's rate
    assert p[("s2", "onboarding_help", "email")] == pytest.approx(overall)  # never sent at all: the overall rate


def test_organic_purchase_probability_reads_each_moments_purchases_before_its_day():
    """Every contact's BG/NBD summary is `rfm_summary` of the sales before the contact's day (same-day sales and
    returns do not count), whatever the order of the contacts; without an earlier sale the probability is 0."""
    inputs = many_customers()
    orders = pl.concat([inputs.history.orders, inputs.history.orders.head(40).with_columns(
        pl.lit("return").alias("order_type"), pl.col("ordered_at") - timedelta(days=3))])
    same_day = inputs.history.orders.head(5).select("customer_key", pl.col("ordered_at").alias("at"))
    moments = pl.concat([inputs.contacts.select("customer_key", pl.col("sent_at").alias("at")), same_day])
    params = bgnbd.BgNbdParams(r=0.8, alpha=20.0, a=0.9, b=2.5)

    probabilities = bgnbd.purchase_probability_after(orders, moments, params, 14.0)

    expected = []
    for key, moment in moments.iter_rows():
        summary = bgnbd.rfm_summary(orders.filter(pl.col("customer_key") == key), moment.date() - timedelta(days=1))
        expected.append(1.0 - float(np.exp(-bgnbd.expected_purchases(
            params, 14.0, *(summary[c].to_numpy().astype(float) for c in ("x", "t_x", "T")))[0])) if summary.height else 0.0)
    assert probabilities.len() == moments.height
    assert probabilities.to_list() == pytest.approx(expected, rel=1e-12, abs=0.0)
    assert 0.0 in expected and len(set(expected)) > 20


def test_policy_evaluation_prices_only_the_plans_options():
    """The truth holds every customer × action × channel; the evaluation reads the rows of the plan's options
    only, so the truth's other rows (customers without options, channels without consent) change nothing."""
    plan = plan_next_best_actions(many_customers(), catalogue(), AS_OF, CAP)
    customers = pl.concat([plan.signals.select("customer_key"), pl.DataFrame({"customer_key": ["nobody"]})])
    rng = np.random.default_rng(3)
    grid = customers.join(catalogue().select("action"), how="cross").join(
        pl.DataFrame({"channel": list(CHANNEL_NOUNS)}), how="cross")
    truth = grid.with_columns(pl.Series("response_probability", rng.uniform(0, 0.4, grid.height)))
    options_only = truth.join(plan.options.select("customer_key", "action", "channel"),
                              on=["customer_key", "action", "channel"], how="inner")

    assert truth.height > 2 * options_only.height
    evaluation = evaluate_policy(plan, catalogue(), truth)
    narrowed = evaluate_policy(plan, catalogue(), options_only)
    assert evaluation.keys() == narrowed.keys()
    for name, value in evaluation.items():  # numbers equal up to the order polars sums in (last digits)
        assert value == (pytest.approx(narrowed[name], rel=1e-12, abs=0.0) if isinstance(value, float) else narrowed[name])
    assert 0 < evaluation["policy_vs_oracle"] <= 1


def test_contact_cap_parsing():
    assert ContactCap.parse("7:2, 30:4").limits == {7: 2, 30: 4}
    assert ContactCap.parse("14:1").describe() == "1 in 14 days"


# --- the Dagster assets on a tiny warehouse ---------------------------------------------------------------


def write_tiny_warehouse(path: Path, customers: int = 300, seed: int = 11) -> None:
    """fct_orders (buyers who stop at random dates), dim_customer_profiles, fct_marketing_contacts and the seed."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 11, 1)
    rows = []
    for i in range(customers):
        rate, stop, t = rng.gamma(2.0, 1 / 50), rng.uniform(60, 700), rng.uniform(0, 60)
        while t < min(365, stop):
            rows.append((f"C-{i:04d}", start + timedelta(days=float(t)), "sale", round(float(rng.gamma(2, 25)), 2), "web"))
            t += rng.exponential(1 / rate)
    orders = pl.DataFrame(rows, schema=["customer_key", "ordered_at", "order_type", "value_eur", "channel"], orient="row")
    keys = [f"C-{i:04d}" for i in range(customers)]
    dim = pl.DataFrame({"customer_key": keys, "segment": rng.choice(["a", "b"], customers), "is_crm_contact": True,
                        "preferred_inbound_channel": "email", "consent_email": rng.random(customers) < 0.7,
                        "consent_sms": False, "consent_phone": False, "consent_push": False})
    marketing = pl.DataFrame({"customer_key": rng.choice(keys, 500), "channel": "email",
                              "sent_at": [start + timedelta(days=float(d)) for d in rng.uniform(0, 365, 500)],
                              "campaign_type": rng.choice(["cross_sell", "win_back", "newsletter"], 500)})
    with duckdb.connect(str(path)) as connection:
        for name, frame in (("fct_orders", orders), ("dim_customer_profiles", dim),
                            ("fct_marketing_contacts", marketing)):
            connection.register("frame", frame.to_arrow())
            connection.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            connection.unregister("frame")
        connection.execute(f"CREATE TABLE nba_actions AS SELECT * FROM read_csv('{SEEDS / 'nba_actions.csv'}')")


def write_tiny_truth(folder: Path, customers: int = 300) -> Path:
    """persons (customer_key C-<i> is CRM id <i>) with a persona each, and the demo's true response model."""
    folder.mkdir()
    pl.DataFrame({"customer_id": [f"{i:04d}" for i in range(customers)],
                  "persona": [PERSONA_NAMES[i % len(PERSONA_NAMES)] for i in range(customers)]}).write_parquet(
        folder / "persons.parquet")
    response_model().write_parquet(folder / "response_model.parquet")
    return folder


@pytest.mark.slow
def test_assets_materialise_on_a_tiny_warehouse(tmp_path, monkeypatch):
    from dagster_project.defs.assets.ml_customers import ml_customer_assets
    from dagster_project.defs.checks import churn_probabilities_in_range, next_best_actions_respect_consent_and_cap
    from dagster_project.defs.jobs import SKIP_DEMO_TRUTH_TAG
    from dagster_project.defs.resources import pipeline_resources

    warehouse = tmp_path / "warehouse.duckdb"
    write_tiny_warehouse(warehouse)
    truth = write_tiny_truth(tmp_path / "truth")
    point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse), CX_DEMO_TRUTH_DIR=str(truth))

    checks = [churn_probabilities_in_range, next_best_actions_respect_consent_and_cap]
    result = dg.materialize([*ml_customer_assets, *checks], resources=pipeline_resources())

    assert result.success
    metadata = {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }
    assert metadata["ml_churn_scores"]["feature_families"] == "purchases"
    assert 0.5 < metadata["ml_churn_scores"]["roc_auc"] <= 1.0
    assert "bgnbd_baseline_roc_auc" in metadata["ml_churn_model_card"]
    evaluations = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    assert evaluations["probabilities_in_range"].passed
    nba_check = evaluations["consent_and_contact_cap"]
    assert nba_check.passed and (nba_check.metadata["consent_breaks"].value, nba_check.metadata["cap_breaks"].value) == (0, 0)
    # With a demo truth the policy is priced against it; the oracle follows the same rules knowing the truth.
    assert 0 < metadata["ml_next_best_actions"]["demo_truth_policy_vs_oracle"] <= 1
    # ... except in a run tagged like the daily refresh, which leaves the demo truth to the full run.
    daily = dg.materialize(ml_customer_assets, resources=pipeline_resources(), tags={SKIP_DEMO_TRUTH_TAG: "true"})
    [nba] = [event for event in daily.get_asset_materialization_events()
             if event.asset_key.to_user_string() == "ml_next_best_actions"]
    assert [name for name in nba.materialization.metadata if name.startswith("demo_truth_")] == []
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        scored, as_of = connection.execute("SELECT count(*), max(as_of_date) FROM ml_churn_scores").fetchone()
        card_sections = {row[0] for row in connection.execute("SELECT DISTINCT section FROM ml_churn_model_card").fetchall()}
        actions, customers = connection.execute(
            "SELECT count(*), count(DISTINCT customer_key) FROM ml_next_best_actions"
        ).fetchone()
    assert scored > 200 and as_of == metadata_date(metadata)
    assert card_sections == {"status", "quality", "setup", "feature_family", "calibration", "feature_importance"}
    assert actions == customers > 0
    # Holdouts: only customers with an action, the same hash groups as holdout_flags, recorded for the as-of date.
    recorded = read_frame(WarehouseFile(warehouse), "SELECT * FROM ml_nba_assignments")
    assert recorded["as_of_date"].unique().to_list() == [metadata_date(metadata)]
    assert recorded["is_holdout"].equals(holdout_flags(recorded["customer_key"], recorded["action"], 0.10))
    assert metadata["ml_next_best_actions"]["held_out"] == recorded["is_holdout"].sum()
    assert metadata["ml_next_best_actions"]["contacted"] == recorded.height


def metadata_date(metadata: dict) -> date:
    return date.fromisoformat(metadata["ml_churn_scores"]["as_of"])


@pytest.mark.slow
def test_four_months_of_history_skip_churn_with_the_reason_and_the_run_succeeds(tmp_path, monkeypatch):
    """The README's short-history case (`cx run --days 120`) on a small generated demo: ingest, dbt, the ML
    assets and the churn report in one real materialisation. Churn needs 2 × 90 + 30 days and is skipped with
    the reason; the next best actions and the report still run and say why churn is missing."""
    from cx_demo.generate import generate_demo
    from dagster_project.defs.assets.dbt import cx_dbt_assets
    from dagster_project.defs.assets.ingest import ingest_assets
    from dagster_project.defs.assets.ml_customers import ml_customer_assets
    from dagster_project.defs.assets.reports import report_assets
    from dagster_project.defs.resources import pipeline_resources

    generate_demo(tmp_path / "landing", tmp_path / "demo_truth", customers=150, days=120, seed=4,
                  end_date=date(2026, 10, 31))
    point_settings_at(monkeypatch, tmp_path)
    churn_report = [asset for asset in report_assets if asset.key == dg.AssetKey("churn_and_actions")]

    result = dg.materialize([*ingest_assets, cx_dbt_assets, *ml_customer_assets, *churn_report],
                            resources=pipeline_resources(), selection=dg.AssetSelection.all().without_checks(),
                            raise_on_error=False)

    assert result.success
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        first_sale, = connection.execute("SELECT min(ordered_at)::date FROM fct_orders WHERE order_type = 'sale'").fetchone()
        scores, = connection.execute("SELECT count(*) FROM ml_churn_scores").fetchone()
        roc_auc = connection.execute(
            "SELECT value, detail FROM ml_churn_model_card WHERE section = 'quality' AND metric = 'roc_auc'"
        ).fetchone()
        actions, = connection.execute("SELECT count(*) FROM ml_next_best_actions").fetchone()
    has_days = (date(2026, 10, 31) - first_sale).days + 1
    reason = f"not enough history for churn (needs 210 days, has {has_days})"
    metadata = {event.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()}
                for event in result.get_asset_materialization_events()}
    assert metadata["ml_churn_scores"]["status"] == "skipped"
    assert metadata["ml_churn_scores"]["skip_reason"].startswith(reason)
    assert scores == 0
    # not measured: null with the reason, never 0
    assert roc_auc[0] is None and roc_auc[1].startswith(reason)
    assert actions > 0 and metadata["ml_next_best_actions"]["churn_scores"].startswith(f"not available: {reason}")
    page = (tmp_path / "reports" / "churn_and_actions.html").read_text(encoding="utf-8")
    assert f"Churn scores: not available. The churn model was not trained: {reason}" in re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", "", page))


def test_held_out_conversion_is_the_organic_baseline_where_enough_were_measured():
    """Cart reminders: 40 held out (window closed), 10 bought anyway → baseline 0.25 replaces BG/NBD. Cross-sell:
    5 held out, too few → BG/NBD. 20 contacted cart reminders, 10 bought: (10 − 20 · 0.25) / (20 · 0.75) = 1/3."""
    old, late = at("2026-01-05"), at("2026-02-20")  # late: its window ends after the 2 March cut-off
    held_keys = [f"H{i:02d}" for i in range(45)]
    held_out = pl.DataFrame({
        "customer_key": held_keys,
        "sent_at": [old] * 40 + [old] * 3 + [late] * 2,
        "channel": "email",
        "campaign_type": ["cart_reminder"] * 40 + ["cross_sell"] * 5,
    })
    contacts = pl.DataFrame({"customer_key": [f"R{i:02d}" for i in range(20)] + ["X1"], "sent_at": [old] * 21,
                             "channel": "email", "campaign_type": ["cart_reminder"] * 20 + ["cross_sell"]})
    buyers = held_keys[:10] + [f"R{i:02d}" for i in range(10)]  # 10 of the held-out reminders, 10 contacted
    orders = pl.DataFrame({"customer_key": buyers + ["X1"], "ordered_at": [at("2026-01-08")] * 21,
                           "order_type": "sale", "value_eur": 20.0, "channel": "web"})

    baselines = organic_baselines(held_out, orders, catalogue(), AS_OF)
    rows = {r["action"]: r for r in baselines.iter_rows(named=True)}
    assert (rows["cart_reminder"]["held_out"], rows["cart_reminder"]["held_out_converted"]) == (40, 10)
    assert (rows["cart_reminder"]["baseline"], rows["cart_reminder"]["source"]) == (0.25, "holdout")
    assert (rows["cross_sell"]["held_out"], rows["cross_sell"]["baseline"], rows["cross_sell"]["source"]) == (3, None, "bgnbd")
    assert rows["win_back_offer"]["held_out"] == 0 and rows["win_back_offer"]["source"] == "bgnbd"

    answered = outbound_contacts(contacts, orders, catalogue(), AS_OF, baselines)
    reminders = answered.filter(pl.col("action") == "cart_reminder")
    assert set(reminders["organic_source"]) == {"holdout"} and set(reminders["organic_probability"]) == {0.25}
    [cross_sell] = answered.filter(pl.col("action") == "cross_sell").iter_rows(named=True)
    assert cross_sell["organic_source"] == "bgnbd" and cross_sell["organic_probability"] != 0.25

    customers = pl.DataFrame({"customer_key": [f"R{i:02d}" for i in range(20)] + ["X1"], "segment": "s1"})
    rates = learn_response_rates(answered.filter(pl.col("action") == "cart_reminder"), customers, catalogue(), AS_OF,
                                 strength=0.0)
    [p] = rates.filter((pl.col("action") == "cart_reminder") & (pl.col("channel") == "email"))["response_probability"]
    assert p == pytest.approx(1 / 3)
