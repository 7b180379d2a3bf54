"""Personas on small hand-made data: behaviour features by hand, clustering determinism with a seed, k by
stability, names and descriptions from features, ids kept and matched across refreshes, drift counts."""

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score

from ml.persona_drift import persona_drift
from ml.persona_features import BehaviourHistory, behaviour_features
from ml.persona_profiles import describe, nps, persona_names
from ml.personas import cluster_personas, match_clusters, persona_model_from_frame, persona_model_frame
from tests.helpers.settings_env import point_settings_at

AS_OF = date(2026, 3, 1)
# Three planted habits: (purchases a year, basket EUR, web/app/store shares, e-mail open rate)
GROUPS = {
    "store": (6.0, 45.0, (0.1, 0.0, 0.9), 0.3),
    "app": (5.0, 55.0, (0.3, 0.7, 0.0), 0.25),
    "web_bargain": (4.0, 30.0, (0.9, 0.1, 0.0), 0.6),
}


def planted(per_group: int = 60, seed: int = 1, groups: dict = GROUPS) -> tuple[pl.DataFrame, np.ndarray]:
    """A behaviour-feature frame (as `behaviour_features` returns it) with well-separated groups, and the
    group of each row."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for index, (name, (rate, basket, shares, open_rate)) in enumerate(groups.items()):
        for i in range(per_group):
            noisy = np.clip(np.array(shares) + rng.normal(0, 0.04, 3), 0, 1)
            rows.append({
                "customer_key": f"{name}-{i:03d}", "touchpoints": 10,
                "purchases_per_year": rate * rng.uniform(0.85, 1.15), "basket_mean_eur": basket * rng.uniform(0.9, 1.1),
                "purchase_share_web": noisy[0], "purchase_share_app": noisy[1], "purchase_share_store": noisy[2],
                "return_rate": 0.1, "browse_days_per_year": 10.0, "browse_days_per_purchase": 2.0, "browse_share_app": 0.3,
                "consent_email": 1.0, "consent_phone": 0.0, "consent_push": 0.0, "has_loyalty_card": 1.0,
                "service_contacts_per_year": 1.0, "service_share_phone": 0.5, "service_share_chat": 0.5,
                "service_share_email": 0.0, "service_share_social": 0.0,
                "email_open_rate": open_rate + rng.normal(0, 0.02), "email_click_rate": 0.05, "nps_score_mean": 8.0,
            })
            truth.append(index)
    return pl.DataFrame(rows), np.array(truth)


def test_behaviour_features_by_hand():
    at = lambda day: datetime.fromisoformat(day)  # noqa: E731
    touchpoints = pl.DataFrame({  # per day: two page views of a on 2025-10-01 are one row counting 2
        "customer_key": ["a"] * 3 + ["b"] * 2,
        "occurred_at": [at("2025-09-02"), at("2025-10-01"), at("2026-02-01"), at("2026-01-01"), at("2026-01-02")],
        "channel": ["store", "web", "app", "web", "web"],
        "source": ["orders", "web_events", "orders", "web_events", "web_events"],
        "direction": ["inbound"] * 5,
        "touchpoints": [1, 2, 1, 1, 1],
    })
    orders = pl.DataFrame({
        "customer_key": ["a", "a", "a"], "ordered_at": [at("2025-09-02"), at("2026-02-01"), at("2026-02-10")],
        "order_type": ["sale", "sale", "return"], "value_eur": [40.0, 60.0, 60.0], "channel": ["store", "app", "app"],
    })
    service = pl.DataFrame({"customer_key": ["a", "a"], "occurred_at": [at("2025-11-01"), at("2026-04-01")],
                            "inbound_channel": ["chat_bot", "phone"]})
    surveys = pl.DataFrame({"customer_key": ["a"], "responded_at": [at("2026-01-05")], "survey_type": ["nps"], "score": [9]})
    marketing = pl.DataFrame({"customer_key": ["a", "a"], "sent_at": [at("2025-12-01"), at("2026-01-01")],
                              "channel": ["email", "email"], "opened": [True, False], "clicked": [False, False]})
    crm = pl.DataFrame({"customer_key": ["b"], "consent_email": [True], "consent_phone": [False],
                        "consent_push": [True], "has_loyalty_card": [True]})
    features = behaviour_features(BehaviourHistory(touchpoints, orders, service, surveys, marketing, crm), AS_OF)
    # b has only 2 touchpoints: no persona. a: first touchpoint 2025-09-02, cut-off 2026-03-02 → 181 days.
    assert features["customer_key"].to_list() == ["a"]
    a = features.row(0, named=True)
    assert a["touchpoints"] == 4
    years = 181 / 365.25
    assert abs(a["purchases_per_year"] - 2 / years) < 1e-9
    assert a["basket_mean_eur"] == 50.0
    assert (a["purchase_share_store"], a["purchase_share_app"], a["purchase_share_web"]) == (0.5, 0.5, 0.0)
    assert a["return_rate"] == 0.5
    assert abs(a["browse_days_per_year"] - 1 / years) < 1e-9  # two page views on one day count once
    assert a["browse_days_per_purchase"] == 0.5
    assert abs(a["service_contacts_per_year"] - 1 / years) < 1e-9  # the April contact is after the cut-off
    assert a["service_share_chat"] == 1.0
    assert a["email_open_rate"] == 0.5 and a["nps_score_mean"] == 9.0
    assert a["browse_share_app"] == 0.0
    assert (a["consent_email"], a["has_loyalty_card"]) == (0.0, 0.0)  # not in the CRM: no consent, no card


def test_clustering_is_deterministic_with_a_seed_and_finds_the_planted_groups():
    features, truth = planted()
    first, second = cluster_personas(features, seed=3), cluster_personas(features, seed=3)
    assert first.assignments.equals(second.assignments)
    assert first.stability == second.stability
    assert first.model.centroids.height == 3  # k chosen by stability, not fixed
    assert adjusted_rand_score(truth, first.assignments["persona_id"].to_numpy()) == 1.0
    assert sorted(first.model.centroids["persona_id"]) == ["P01", "P02", "P03"]


def test_names_and_descriptions_come_from_the_distinguishing_features():
    features, truth = planted()
    labelled = features.with_columns(pl.Series("persona_id", np.array(["S", "A", "W"])[truth]))
    names = persona_names(labelled)
    assert names["S"] == "Frequent store shoppers"  # 6 a year vs 5 average; 90 % in the store
    assert names["A"].endswith("app shoppers")
    assert names["W"] == "Newsletter-reading web shoppers"  # open rate 0.6 vs 0.38 on average
    assert persona_names(labelled, keep={"S": "Our regulars"})["S"] == "Our regulars"
    # A persona most of whose members have not bought is named for that, not for a purchase channel.
    prospects = labelled.with_columns(
        pl.when(pl.col("persona_id") == "W").then(0.0).otherwise(pl.col("purchases_per_year")).alias("purchases_per_year")
    )
    assert persona_names(prospects)["W"].endswith("prospects")
    medians = {"purchases_per_year": 8.7, "basket_mean_eur": 45.2, "purchase_share_web": 0.1, "purchase_share_app": 0.0,
               "purchase_share_store": 0.9, "service_contacts_per_year": 0.2, "email_open_rate": 0.31,
               **{f"service_share_{c}": None for c in ("phone", "chat", "email", "social")}}
    assert describe(medians) == ("buys every 6 weeks, mostly in the store, baskets around 45 EUR, "
                                 "rarely contacts service, opens 31 % of e-mails")
    assert nps(pl.Series([10, 9, 7, 3])) == 25.0 and nps(pl.Series([], dtype=pl.Int64)) is None


def test_a_refresh_keeps_ids_and_assignments_when_the_structure_holds():
    features, _ = planted()
    first = cluster_personas(features, seed=0)
    stored = persona_model_from_frame(persona_model_frame(first.model, AS_OF))  # through the warehouse table
    later, _ = planted(seed=2)  # the same customers, habits a little noisier a week later
    refreshed = cluster_personas(later, seed=5, previous=stored)
    assert refreshed.kept_previous
    assert refreshed.assignments.equals(first.assignments)


def test_a_changed_structure_matches_old_personas_and_adds_new_ids():
    features, _ = planted()
    first = cluster_personas(features, seed=0)
    old_id = dict(zip(first.assignments["customer_key"], first.assignments["persona_id"]))
    grown, _ = planted(groups={**GROUPS, "big_store": (12.0, 150.0, (0.0, 0.0, 1.0), 0.5)})
    refreshed = cluster_personas(grown, seed=0, previous=first.model)
    assert not refreshed.kept_previous
    new_id = dict(zip(refreshed.assignments["customer_key"], refreshed.assignments["persona_id"]))
    for group in ("store", "app", "web_bargain"):
        assert new_id[f"{group}-000"] == old_id[f"{group}-000"]
    assert new_id["big_store-000"] == "P04"


def test_hungarian_matching_undoes_a_permutation():
    old = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0]])
    new = old[[2, 0, 1]] + 0.1
    assert match_clusters(old, new) == {0: 2, 1: 0, 2: 1}


def moved(assignments: pl.DataFrame, keys: list[str], target: str) -> pl.DataFrame:
    return assignments.with_columns(
        pl.when(pl.col("customer_key").is_in(keys)).then(pl.lit(target)).otherwise(pl.col("persona_id")).alias("persona_id")
    )


def test_drift_counts_movers_and_flags_review():
    features, _ = planted(per_group=10)
    first = cluster_personas(features, seed=0)
    previous = first.assignments
    source = previous["persona_id"][0]
    target = next(p for p in first.model.centroids["persona_id"] if p != source)
    members = previous.filter(pl.col("persona_id") == source)["customer_key"].to_list()
    one_moved = persona_drift(AS_OF, moved(previous, members[:1], target), features, previous, first.model)
    row = {r["persona_id"]: r for r in one_moved.iter_rows(named=True)}
    assert (row[source]["customers_previous"], row[source]["customers"], row[source]["movers_out"]) == (10, 9, 1)
    assert (row[target]["customers"], row[target]["movers_in"]) == (11, 1)
    # −10 % size and 10 % movers are within the limits (25 %, 10 %)
    assert not {"size changed", "many customers moved away"} & set((row[source]["review_reason"] or "").split("; "))
    half_moved = persona_drift(AS_OF, moved(previous, members[:5], target), features, previous, first.model)
    row = {r["persona_id"]: r for r in half_moved.iter_rows(named=True)}
    assert row[source]["review"] and {"size changed", "many customers moved away"} <= set(row[source]["review_reason"].split("; "))
    first_refresh = persona_drift(AS_OF, previous, features, None, None)
    assert first_refresh["review"].all() and set(first_refresh["review_reason"]) == {"new persona"}


def write_planted_marts(warehouse: Path) -> None:
    """The marts the personas read, for 150 customers of three planted habits (orders, touchpoints derived)."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(150):
        channel, basket = [("store", 40.0), ("app", 60.0), ("web", 25.0)][i % 3]
        for day in sorted(rng.uniform(0, 360, 4 + i % 3 * 2)):
            rows.append((f"C-{i:03d}", datetime(2025, 11, 1) + timedelta(days=float(day)), "sale", basket * rng.uniform(0.8, 1.2), channel))
    orders = pl.DataFrame(rows, schema=["customer_key", "ordered_at", "order_type", "value_eur", "channel"], orient="row")
    with duckdb.connect(str(warehouse)) as connection:
        connection.register("orders", orders.to_arrow())
        connection.execute("CREATE TABLE fct_orders AS SELECT * FROM orders")
        connection.execute("""CREATE TABLE fct_touchpoints AS SELECT customer_key, ordered_at AS occurred_at, channel,
                              'orders' AS source, 'inbound' AS direction FROM fct_orders""")
        connection.execute("""CREATE TABLE fct_service_contacts AS SELECT customer_key, occurred_at, 'phone' AS inbound_channel
                              FROM fct_touchpoints WHERE false""")
        connection.execute("""CREATE TABLE fct_survey_responses AS SELECT customer_key, occurred_at AS responded_at,
                              'nps' AS survey_type, 9 AS score FROM fct_touchpoints WHERE channel = 'store'""")
        connection.execute("""CREATE TABLE fct_marketing_contacts AS SELECT customer_key, occurred_at AS sent_at,
                              'email' AS channel, channel = 'web' AS opened, false AS clicked FROM fct_touchpoints""")
        connection.execute("""CREATE TABLE stg_crm_customers__customers AS SELECT DISTINCT substr(customer_key, 3) AS customer_id,
                              true AS consent_email, false AS consent_phone, channel = 'app' AS consent_push,
                              NULL AS loyalty_id FROM fct_touchpoints""")


def test_features_computed_in_customer_groups_equal_one_computation(tmp_path):
    """A million customers' history is read in groups of customers (issue 19): the groups give the same rows."""
    from dagster_duckdb import DuckDBResource

    from dagster_project.defs.assets.ml_personas import grouped_behaviour_features

    write_planted_marts(tmp_path / "warehouse.duckdb")
    warehouse = DuckDBResource(database=str(tmp_path / "warehouse.duckdb"))
    whole = grouped_behaviour_features(warehouse, date(2026, 10, 31), groups=1)
    grouped = grouped_behaviour_features(warehouse, date(2026, 10, 31), groups=3)

    assert whole.height == 150
    assert grouped.equals(whole)


def test_touchpoints_read_per_day_give_the_features_of_every_touchpoint(tmp_path):
    """The loader counts web page views per customer and day in DuckDB and leaves out the touchpoints no feature
    reads (issue 19): the features equal those computed on every touchpoint row, each counting one."""
    from dagster_duckdb import DuckDBResource

    from dagster_project.defs.assets.ml_personas import BEHAVIOUR_QUERIES, grouped_behaviour_features

    write_planted_marts(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        # page views, several a day, on the web and in the app; e-mails sent to the customers; one view the
        # night before the cut-off and one on the next day; an inbound touchpoint without a source
        connection.execute("""INSERT INTO fct_touchpoints
                              SELECT customer_key, occurred_at + to_hours(hours), CASE WHEN hours % 2 = 0 THEN 'web'
                                     ELSE 'app' END, 'web_events', 'inbound'
                              FROM fct_touchpoints, range(1, 6) AS views(hours)
                              UNION ALL SELECT customer_key, occurred_at - to_hours(30), 'email', 'email_events',
                                     'outbound' FROM fct_touchpoints
                              UNION ALL SELECT 'C-000', TIMESTAMP '2026-10-31 23:59:59', 'web', 'web_events', 'inbound'
                              UNION ALL SELECT 'C-000', TIMESTAMP '2026-11-01 00:00:00', 'app', 'web_events', 'inbound'
                              UNION ALL SELECT 'C-001', TIMESTAMP '2026-05-01 10:00:00', 'store', NULL, 'inbound'""")
    warehouse = DuckDBResource(database=str(tmp_path / "warehouse.duckdb"))
    every_touchpoint = {**BEHAVIOUR_QUERIES, "touchpoints": """SELECT customer_key, occurred_at, channel, source, direction,
                                                                   1 AS touchpoints FROM fct_touchpoints"""}
    with warehouse.get_connection() as connection:
        history = BehaviourHistory(**{name: connection.sql(query).pl() for name, query in every_touchpoint.items()})

    per_day = grouped_behaviour_features(warehouse, date(2026, 10, 31), groups=1)
    assert per_day.height == 150
    assert per_day.equals(behaviour_features(history, date(2026, 10, 31)))


@pytest.mark.slow
def test_assets_materialise_and_a_refresh_keeps_the_personas(tmp_path, monkeypatch):
    """ml_customer_value and ml_personas on a tiny warehouse (orders of three planted habits, touchpoints derived
    from them), run twice: the second refresh rescores with the stored model, keeps persona ids and logs its drift."""
    import dagster as dg

    from dagster_project.defs.assets.ml_customer_value import ml_customer_value
    from dagster_project.defs.assets.ml_personas import ml_personas
    from dagster_project.defs.resources import pipeline_resources

    warehouse = tmp_path / "warehouse.duckdb"
    write_planted_marts(warehouse)
    point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse))

    first = dg.materialize([ml_customer_value, ml_personas], resources=pipeline_resources())
    second = dg.materialize([ml_customer_value, ml_personas], resources=pipeline_resources())

    assert first.success and second.success
    metadata = {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
                for e in second.get_asset_materialization_events()}
    assert metadata["ml_personas"]["previous_personas_kept"] is True
    # the second refresh assigns customers to the stored personas without clustering again
    first_scoring = [e.materialization.metadata["scoring"].value for e in first.get_asset_materialization_events()
                     if e.asset_key.to_user_string() == "ml_personas"]
    assert first_scoring == ["refitted: no stored model"]
    assert metadata["ml_personas"]["scoring"].startswith("rescored with the model trained on ")
    assert "stability_by_k" not in metadata["ml_personas"]
    assert metadata["ml_personas"]["customers"] == 150
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        names = connection.execute("SELECT count(DISTINCT persona_name) FROM ml_persona_profiles").fetchone()[0]
        drift = connection.execute("SELECT count(*), sum(movers_out), min(customers_previous) FROM ml_persona_drift").fetchone()
        valued = connection.execute("SELECT count(*) FROM ml_customer_value WHERE value_low_eur <= value_high_eur").fetchone()[0]
    assert names == metadata["ml_personas"]["personas"]
    assert drift[0] == names and drift[1] == 0 and drift[2] > 0
    assert valued == 150
