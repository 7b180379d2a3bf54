"""Root cause of a KPI change: the mix/rate arithmetic by hand (effects sum to the change), slices present in
one period only, the weighted-mean guard, the planted cause found on kpi_metrics-shaped slices and on the entry
channel and topic slices of kpi_metric_slices, and dimensions without data skipped with a reason."""

from datetime import date

import dagster as dg
import numpy as np
import polars as pl
import pytest

from cx_core.settings import REPO_ROOT
from cx_core.warehouse import WarehouseFile, read_frame, replace_table
from dagster_project.defs.resources import pipeline_resources
from cx_demo.surveys import PlantedChange
from ml.change_drivers import change_drivers, decompose, driver_sentence
from tests.helpers.demo_warehouse import build_demo_warehouse, run_dbt
from tests.helpers.settings_env import point_settings_at

Z95 = 1.959964
WEEK_1, WEEK_2 = date(2026, 3, 2), date(2026, 3, 9)


def slices(rows: list[tuple[str, int, float]], half_width: float = 2.0) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["slice", "denominator", "value"], orient="row").with_columns(
        (pl.col("value") - half_width).alias("ci_low"), (pl.col("value") + half_width).alias("ci_high"))


def test_mix_and_rate_effects_by_hand_sum_to_the_change():
    # A 50 × 10 and B 50 × 50 (total 30), then A 80 × 10 and B 20 × 40 (total 16): change −14.
    # Means of both periods: total 23, weights A 0.65 / B 0.35, values A 10 / B 45.
    # mix A = +0.3 · (10 − 23) = −3.9, mix B = −0.3 · (45 − 23) = −6.6, rate A = 0, rate B = 0.35 · (−10) = −3.5.
    result = decompose(slices([("A", 50, 10.0), ("B", 50, 50.0)]), slices([("A", 80, 10.0), ("B", 20, 40.0)]))
    effects = {row["slice"]: row for row in result.iter_rows(named=True)}
    assert effects["A"]["mix_effect"] == pytest.approx(-3.9) and effects["A"]["rate_effect"] == pytest.approx(0.0)
    assert effects["B"]["mix_effect"] == pytest.approx(-6.6) and effects["B"]["rate_effect"] == pytest.approx(-3.5)
    assert result["contribution"].sum() == pytest.approx(-14.0)
    assert result["slice"].to_list() == ["B", "A"]  # largest contribution first
    for row in effects.values():
        assert row["ci_low"] < row["contribution"] < row["ci_high"]


def test_a_slice_new_in_the_second_period_contributes_by_mix_only():
    # A 100 × 20, then A 50 × 20 and a new C 50 × 0: total 20 → 10; mean total 15.
    # mix A = −0.5 · (20 − 15) = −2.5, mix C = +0.5 · (0 − 15) = −7.5.
    result = decompose(slices([("A", 100, 20.0)]), slices([("A", 50, 20.0), ("C", 50, 0.0)]))
    effects = {row["slice"]: (row["mix_effect"], row["rate_effect"]) for row in result.iter_rows(named=True)}
    assert effects == {"A": (pytest.approx(-2.5), 0.0), "C": (pytest.approx(-7.5), 0.0)}


def kpi_rows(cells: dict[tuple[str, str], tuple[int, float]], period_start: date, metric: str = "nps") -> pl.DataFrame:
    """kpi_metrics rows of one period from its channel × segment cells, with channel, segment and total rows
    computed from them (as the grouping sets of the mart do)."""
    cell = pl.DataFrame([(c, s, n, v) for (c, s), (n, v) in cells.items()],
                        schema=["channel", "segment", "denominator", "value"], orient="row")
    levels = [cell, *[
        cell.group_by(keys).agg(((pl.col("value") * pl.col("denominator")).sum() / pl.col("denominator").sum())
                                .alias("value"), pl.col("denominator").sum())
        .with_columns(*[pl.lit("all").alias(c) for c in ("channel", "segment") if c not in keys])
        for keys in (["channel"], ["segment"], [])
    ]]
    rows = pl.concat([f.select("channel", "segment", "denominator", "value") for f in levels], how="vertical_relaxed")
    return with_nps_interval(rows.with_columns(
        pl.lit(metric).alias("metric"), pl.lit("week").alias("period_grain"), pl.lit(period_start).alias("period_start"),
        pl.when(pl.col("segment") == "all").then(pl.lit("all")).otherwise(pl.lit("segment")).alias("segment_type"),
    ))


def with_nps_interval(rows: pl.DataFrame) -> pl.DataFrame:
    half = Z95 * 100 / rows["denominator"].cast(pl.Float64).sqrt()  # NPS-like sampling error
    return rows.with_columns((pl.col("value") - half).alias("ci_low"), (pl.col("value") + half).alias("ci_high"))


CHANNELS, SEGMENTS = ("phone", "email", "chat_agent", "web_form"), ("regular", "vip", "new")


def planted_weeks(drop: dict[tuple[str, str], float], seed: int = 3) -> pl.DataFrame:
    """Two weeks of 12 cells with sampling noise; the cells in `drop` lose that many NPS points in week 2."""
    rng = np.random.default_rng(seed)
    base = {(c, s): (int(rng.integers(1000, 3000)), float(rng.uniform(20, 50))) for c in CHANNELS for s in SEGMENTS}
    week_1 = {k: (n, v + rng.normal(0, 100 / np.sqrt(n))) for k, (n, v) in base.items()}
    week_2 = {k: (n, v + rng.normal(0, 100 / np.sqrt(n)) - drop.get(k, 0.0)) for k, (n, v) in base.items()}
    return pl.concat([kpi_rows(week_1, WEEK_1), kpi_rows(week_2, WEEK_2)])


def test_the_planted_cause_is_the_top_driver_in_the_finest_dimension_that_explains_it():
    metrics = planted_weeks({("phone", "vip"): 30.0})
    drivers = change_drivers(metrics, pl.DataFrame({"metric": ["nps"], "period_grain": ["week"],
                                                    "period_start": [WEEK_2]})).drivers
    for dimension in ("channel", "segment", "channel × segment"):  # each dimension adds up to the same change
        total_change = metrics.filter(pl.col("channel") == "all", pl.col("segment") == "all")["value"].diff()[1]
        assert drivers.filter(pl.col("dimension") == dimension)["contribution"].sum() == pytest.approx(total_change)
    cells = drivers.filter(pl.col("dimension") == "channel × segment")
    assert cells["slice"][0] == "phone / vip" and cells["ci_high"][0] < 0
    assert " comes from channel × segment phone / VIP, whose value fell" in driver_sentence(drivers, unit=" points")


def test_a_cause_across_all_segments_of_a_channel_is_named_as_the_channel():
    metrics = planted_weeks({("phone", s): 15.0 for s in SEGMENTS})
    drivers = change_drivers(metrics, pl.DataFrame({"metric": ["nps"], "period_grain": ["week"],
                                                    "period_start": [WEEK_2]})).drivers
    assert " comes from channel phone, " in driver_sentence(drivers, unit=" points")


def test_metrics_that_are_not_weighted_means_are_left_out():
    metrics = planted_weeks({}).with_columns(  # a median: the total is not the weighted mean of its parts
        pl.when(pl.col("channel") == "all").then(pl.col("value") + 5).otherwise(pl.col("value")).alias("value"))
    changes = pl.DataFrame({"metric": ["nps"], "period_grain": ["week"], "period_start": [WEEK_2]})
    assert change_drivers(metrics, changes).drivers.is_empty()


def answer_weeks(drop: dict[str, float], seed: int = 4) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two weeks of NPS answers in channel × segment × topic cells with sampling noise; the topics in `drop` lose
    that many points in week 2. Returns the kpi_metrics rows (channel, segment) and the kpi_metric_slices rows
    (topic, entry channel = the channel here) of the same answers."""
    rng = np.random.default_rng(seed)
    base = {(c, s, t): (int(rng.integers(300, 900)), float(rng.uniform(10, 50)))
            for c in CHANNELS for s in SEGMENTS for t in TOPICS}
    metrics, answer_slices = [], []
    for week, start in enumerate((WEEK_1, WEEK_2)):
        cells = pl.DataFrame([(c, s, t, n, v + rng.normal(0, 100 / np.sqrt(n)) - week * drop.get(t, 0.0))
                              for (c, s, t), (n, v) in base.items()],
                             schema=["channel", "segment", "topic", "denominator", "value"], orient="row")
        by_cell = cells.group_by("channel", "segment").agg(weighted_value(), pl.col("denominator").sum())
        metrics.append(kpi_rows({(c, s): (n, v) for c, s, v, n in by_cell.iter_rows()}, start))
        for dimension, column in (("topic", "topic"), ("entry_channel", "channel")):
            answer_slices.append(with_nps_interval(cells.group_by(column).agg(weighted_value(), pl.col("denominator").sum())
                                 .select(pl.lit("nps").alias("metric"), pl.lit("week").alias("period_grain"),
                                         pl.lit(start).alias("period_start"), pl.lit(dimension).alias("dimension"),
                                         pl.col(column).alias("slice"), "denominator", "value")))
    return pl.concat(metrics), pl.concat(answer_slices)


TOPICS = ("delivery", "returns_refunds", "product_quality", "no_topic")
NPS_WEEK_2 = pl.DataFrame({"metric": ["nps"], "period_grain": ["week"], "period_start": [WEEK_2]})


def weighted_value() -> pl.Expr:
    return ((pl.col("value") * pl.col("denominator")).sum() / pl.col("denominator").sum()).alias("value")


def test_a_planted_topic_is_the_top_driver_and_every_dimension_adds_up_to_the_change():
    metrics, answer_slices = answer_weeks({"delivery": 25.0})
    drivers, skipped = change_drivers(metrics, NPS_WEEK_2, answer_slices)
    total_change = metrics.filter(pl.col("segment_type") == "all", pl.col("channel") == "all")["value"].diff()[1]
    for dimension in ("channel", "segment", "channel × segment", "entry_channel", "topic"):
        assert drivers.filter(pl.col("dimension") == dimension)["contribution"].sum() == pytest.approx(total_change)
    topics = drivers.filter(pl.col("dimension") == "topic")
    assert topics["slice"][0] == "delivery" and topics["ci_high"][0] < 0
    assert " comes from topic delivery problems, whose value fell" in driver_sentence(drivers, unit=" points")
    assert skipped["dimension"].to_list() == ["persona"]  # kpi_metrics rows without personas


def test_topic_and_entry_channel_arithmetic_by_hand():
    # NPS of 100 answers, 20 → 12. Topic delivery 40 × 10 then 50 × −4; other 60 × 26.67 then 50 × 28.
    # Means: total 16, weights 0.45 / 0.55, values delivery 3 / other 27.33.
    # delivery: mix +0.1 · (3 − 16) = −1.3, rate 0.45 · (−14) = −6.3; other: mix −0.1 · (27.33 − 16) = −1.13,
    # rate 0.55 · 1.33 = +0.73. Sum −1.3 − 6.3 − 1.13 + 0.73 = −8 = the change.
    metrics = pl.concat([kpi_rows({("email", "new"): (100, 20.0)}, WEEK_1), kpi_rows({("email", "new"): (100, 12.0)}, WEEK_2)])
    topics = with_nps_interval(pl.DataFrame({
        "metric": "nps", "period_grain": "week", "period_start": [WEEK_1, WEEK_1, WEEK_2, WEEK_2],
        "dimension": "topic", "slice": ["delivery", "other", "delivery", "other"],
        "denominator": [40, 60, 50, 50], "value": [10.0, 80 / 3, -4.0, 28.0]}))
    drivers = change_drivers(metrics, NPS_WEEK_2, topics).drivers.filter(pl.col("dimension") == "topic")
    effects = {row["slice"]: (row["mix_effect"], row["rate_effect"]) for row in drivers.iter_rows(named=True)}
    assert effects["delivery"] == (pytest.approx(-1.3), pytest.approx(-6.3))
    assert effects["other"] == (pytest.approx(-0.1 * (41 / 1.5 - 16)), pytest.approx(0.55 * (28 - 80 / 3)))
    assert drivers["contribution"].sum() == pytest.approx(-8.0)


def persona_week(start: date, p01: float) -> pl.DataFrame:
    """kpi_metrics rows of one week: 100 answers of persona P01 scoring `p01`, 100 of P02 scoring 40, all by e-mail."""
    return pl.DataFrame({"period_start": start, "channel": ["all", "email", "all", "all"],
                         "segment_type": ["all", "all", "persona", "persona"], "segment": ["all", "all", "P01", "P02"],
                         "denominator": [200, 200, 100, 100], "value": [(p01 + 40) / 2, (p01 + 40) / 2, p01, 40.0]})


def test_a_persona_cause_is_named_by_the_personas_name():
    # P01 100 × 20 → 100 × 0, P02 100 × 40 both weeks: total 30 → 20, all of it from P01 (rate −10, no mix)
    metrics = with_nps_interval(pl.concat([persona_week(WEEK_1, 20.0), persona_week(WEEK_2, 0.0)]).with_columns(
        pl.lit("nps").alias("metric"), pl.lit("week").alias("period_grain")))
    drivers, skipped = change_drivers(metrics, NPS_WEEK_2)
    assert drivers["dimension"].unique().to_list() == ["persona"]  # one channel, no segments: nothing to split
    assert skipped.filter(pl.col("dimension") == "channel")["reason"][0] == "one slice only (email): nothing to compare"
    sentence = driver_sentence(drivers, persona_names={"P01": "Frequent store shoppers"})
    assert sentence.startswith("NPS fell 10.0; -10.0 of it ") and " comes from persona Frequent store shoppers, " in sentence


def test_a_dimension_without_data_is_skipped_with_its_reason():
    metrics, answer_slices = answer_weeks({"delivery": 25.0})
    unclassified = answer_slices.filter(pl.col("dimension") == "topic").group_by(
        "metric", "period_grain", "period_start", "dimension").agg(
        pl.lit("no_topic").alias("slice"), pl.col("denominator").sum(), weighted_value())
    drivers, skipped = change_drivers(metrics, NPS_WEEK_2, with_nps_interval(unclassified))
    assert "topic" not in drivers["dimension"].to_list()
    reasons = dict(skipped.select("dimension", "reason").iter_rows())
    assert reasons["topic"].startswith("no known slice (no_topic): ")
    assert reasons["entry_channel"] == "no slices of this metric in this dimension"


def test_the_demo_option_plants_a_topic_on_any_trigger():
    planted = PlantedChange.parse("any@delivery:30:0.05")
    assert planted == PlantedChange("any", 30, 0.05, topic="delivery")
    surveys = pl.DataFrame({"trigger_type": ["purchase", "call", "call", "store_visit"],
                            "topic": ["delivery", "delivery", "delivery", "store_experience"],
                            "t": [31 * 86_400, 31 * 86_400, 29 * 86_400, 31 * 86_400]})
    assert surveys.select(planted.hits())[:, 0].to_list() == [True, True, False, False]
    assert surveys.select(PlantedChange.parse("call:30:0.1").hits())[:, 0].to_list() == [False, True, False, False]


def test_the_slices_wait_for_the_topics_and_the_drivers_for_the_slices():
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    slices, drivers = (graph.get(dg.AssetKey(key)).parent_keys for key in ("kpi_metric_slices", "kpi_change_drivers"))
    assert {"ml_text_insights", "kpi_base_journeys", "kpi_base_survey_responses"} <= {k.to_user_string() for k in slices}
    assert {"kpi_metrics", "kpi_metric_slices", "kpi_alerts"} <= {k.to_user_string() for k in drivers}


@pytest.mark.slow
def test_asset_decomposes_the_significant_total_changes_of_kpi_alerts(tmp_path, monkeypatch):
    from dagster_project.defs.assets.alerts import kpi_change_drivers

    warehouse = WarehouseFile(point_settings_at(monkeypatch, tmp_path).warehouse_path)
    metrics = planted_weeks({("phone", "vip"): 30.0}).with_columns(
        pl.col("denominator").alias("n"), pl.lit(None, pl.Float64).alias("target"))
    replace_table(warehouse, "kpi_metrics", metrics)
    replace_table(warehouse, "kpi_targets", pl.read_csv(REPO_ROOT / "seeds" / "kpi_targets.csv"))
    replace_table(warehouse, "kpi_alerts", pl.DataFrame({  # the total's change, and a channel's (not decomposed)
        "kind": ["change_vs_previous", "change_vs_previous"], "metric": "nps", "period_grain": "week",
        "period_start": WEEK_2, "channel": ["all", "phone"], "segment": "all"}))

    result = dg.materialize([kpi_change_drivers], resources=pipeline_resources())
    assert result.success
    with warehouse.get_connection() as connection:
        [(sentence,)] = connection.execute("SELECT sentence FROM kpi_change_driver_sentences").fetchall()
        dimensions = connection.execute("SELECT count(DISTINCT dimension) FROM kpi_change_drivers").fetchone()[0]
    assert sentence.startswith("NPS fell ") and "channel × segment phone / VIP" in sentence
    assert dimensions == 3
    # no persona rows and no kpi_metric_slices table: those dimensions are skipped, and the metadata says so
    metadata = result.asset_materializations_for_node("kpi_change_drivers")[0].metadata
    skipped = metadata["skipped_dimensions"].value
    for dimension in ("persona", "entry_channel", "topic"):
        assert f"- {dimension} (1 change(s)): no slices of this metric in this dimension" in skipped


@pytest.mark.slow
def test_the_demo_generators_planted_cause_is_the_top_driver(tmp_path):
    # September and October 2026; from 1 October (day 30) store visits are rated as after a badly handled issue
    # (about 25 of 150 CSAT answers a month). CSAT per channel comes from the real ingest and dbt (kpi_csat, a
    # part of kpi_metrics).
    with pytest.MonkeyPatch.context() as env:
        models_only = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
        warehouse = build_demo_warehouse(
            tmp_path, env, ["build", "--select", "+kpi_csat", *models_only], customers=4000, days=61, seed=5,
            end_date=date(2026, 10, 31), planted=PlantedChange("store_visit", from_day=30, quality=0.05))
        metrics = read_frame(WarehouseFile(warehouse), "SELECT * FROM kpi_csat WHERE period_grain = 'month'")
    october = pl.DataFrame({"metric": ["csat"], "period_grain": ["month"], "period_start": [date(2026, 10, 1)]})
    drivers = change_drivers(metrics, october).drivers
    sentence = driver_sentence(drivers, scale=100.0, unit=" points")
    assert sentence.startswith("CSAT fell ")
    channels = drivers.filter(pl.col("dimension") == "channel")
    assert channels["slice"][0] == "store" and channels["ci_high"][0] < 0
    assert " comes from channel store" in sentence


@pytest.mark.slow
def test_a_planted_topic_in_the_demo_is_the_top_driver_across_every_dimension(tmp_path):
    # September and October 2026; from 1 October (day 30) every survey about delivery (online purchases, delivery
    # issues) is rated as after a badly handled issue; these surveys comment on delivery in both months. Through the real ingest and
    # dbt: kpi_csat (a part of kpi_metrics) and kpi_metric_slices. The topic table stands in for the ML text step
    # (this test is about the decomposition, not the classifier): each text's topic from the generator's truth.
    models_only = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    with pytest.MonkeyPatch.context() as env:
        warehouse = WarehouseFile(build_demo_warehouse(
            tmp_path, env, ["build", "--select", "+kpi_csat", "+kpi_metric_slices", *models_only], customers=4000,
            days=61, seed=5, end_date=date(2026, 10, 31), planted=PlantedChange("any", 30, 0.05, topic="delivery")))
        october = pl.DataFrame({"metric": ["csat"], "period_grain": ["month"], "period_start": [date(2026, 10, 1)]})
        metrics_sql, slices_sql = ("SELECT * FROM kpi_csat WHERE period_grain = 'month'",
                                   "SELECT * FROM kpi_metric_slices WHERE metric = 'csat' AND period_grain = 'month'")
        # before the ML text step every answer is no_topic: the topic dimension is skipped, and says why
        _, skipped = change_drivers(read_frame(warehouse, metrics_sql), october, read_frame(warehouse, slices_sql))
        assert dict(skipped.select("dimension", "reason").iter_rows())["topic"].startswith("no known slice (no_topic): ")

        truth = pl.read_parquet(tmp_path / "demo_truth" / "texts.parquet")
        replace_table(warehouse, "ml_text_insights", truth.select(
            pl.concat_str("source", "record_id", separator=":").alias("touchpoint_id"), "topic").unique("touchpoint_id"))
        run_dbt(REPO_ROOT / "dbt_models", tmp_path, ["build", "--select", "kpi_metric_slices", *models_only])
        metrics, answer_slices = read_frame(warehouse, metrics_sql), read_frame(warehouse, slices_sql)

    # every dimension partitions the same answers as kpi_metrics' total
    totals = metrics.filter(pl.col("channel") == "all", pl.col("segment_type") == "all").select(
        "period_start", pl.col("denominator").alias("total_denominator"), pl.col("value").alias("total_value"))
    by_dimension = answer_slices.group_by("period_start", "dimension").agg(
        pl.col("denominator").sum(), (pl.col("numerator").sum() / pl.col("denominator").sum()).alias("value"))
    checked = by_dimension.join(totals, on="period_start")
    assert checked.height == 4 and (checked["denominator"] == checked["total_denominator"]).all()
    assert np.allclose(checked["value"], checked["total_value"])

    drivers, skipped = change_drivers(metrics, october, answer_slices)
    assert {"entry_channel", "topic"} <= set(drivers["dimension"])
    topics = drivers.filter(pl.col("dimension") == "topic")
    assert topics["slice"][0] == "delivery" and topics["ci_high"][0] < 0
    sentence = driver_sentence(drivers, scale=100.0, unit=" points")
    assert sentence.startswith("CSAT fell ") and " comes from topic delivery problems, " in sentence
