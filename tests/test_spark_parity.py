"""The same dbt models on Spark (dbt-spark, in-process local session) and on DuckDB give the same marts: every
KPI row within 1e-9 relative, the same customers, the same identity assignment, the same redacted texts, on a
small generated demo; the sentiment and the churn scores computed partitioned on Spark equal the single-process
DuckDB path, a second run scores no text again (text cache), and the voice-of-customer KPIs built on the ML
tables agree."""

import dataclasses
import shutil
from pathlib import Path

import dagster as dg

import duckdb
import polars as pl
import pytest

from cx_demo.generate import generate_demo
from cx_core.customer_history import HISTORY_TABLES, load_history
from cx_core.privacy.pseudonym import pseudonym, pseudonym_key
from cx_core.privacy.spark_erasure import erase_from_parquet_folders
from cx_core.settings import Settings, get_settings
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import ingest_source
from cx_core.spark_catalog import SPARK_SCHEMA_FOLDER, publish_parquet_views, publish_spark_tables, share_tables_with_spark
from cx_core.spark_churn import SCORES_TABLE, SparkChurn
from cx_core.spark_session import spark_session
from cx_core.warehouse import WarehouseFile
from cx_core.spark_scoring import (
    SENTIMENT_TABLE,
    TEXT_COLUMNS,
    score_sentiment_on_spark,
    score_touchpoint_texts,
    sentiment_folder,
    table_path,
)
from dagster_project.defs.assets.dbt import ml_tables_read_by_models
from dagster_project.defs.assets.ml_customers import ml_churn
from dagster_project.defs.assets.ml_text import ml_text
from dagster_project.defs.resources import pipeline_resources
from ml.churn import REASON_COLUMNS, train_and_score
from ml.features import last_event_date
from ml.sentiment import HEAD_PATH, load_sentiment_model
from ml.text_cache import text_hash
from tests.helpers.dbt_engines import dbt_on
from tests.helpers.materializations import materialization_of
from tests.helpers.settings_env import point_settings_at

pytestmark = pytest.mark.slow

RELATIVE_TOLERANCE = 1e-9
# table -> key columns; every other column is compared (numbers within the tolerance; the keyed pseudonyms too,
# macros/personal_data.sql) except the start of the dbt run that changed an identity row or resolved a touchpoint
# (changed_at, _resolved_at: each engine's own run)
NOT_COMPARED = {"changed_at", "_resolved_at"}
TEXT_TOUCHPOINTS = f"SELECT {', '.join(TEXT_COLUMNS)} FROM fct_touchpoints WHERE text IS NOT NULL"
COMPARED = {
    "kpi_metrics": ["period_grain", "period_start", "channel", "segment_type", "segment", "metric"],
    "kpi_metric_slices": ["period_grain", "period_start", "metric", "dimension", "slice"],
    "dim_customers": ["customer_key"],
    "int_identity_components": ["identifier"],
    "fct_journeys": ["journey_id"],
    "kpi_cohort_retention": ["segment", "cohort_month", "months_since_first_purchase"],
    # free text redacted by the same function on both engines (macros/personal_data.sql)
    "fct_touchpoints": ["touchpoint_id"],
    "fct_survey_responses": ["response_id"],
    # a seed with empty cells: null on both engines (macros/spark_seed_nulls.sql)
    "case_routing": ["case_type"],
}


def dbt(target: str, data: Path, command: str, *arguments: str) -> None:
    completed = dbt_on(target, data / "raw", data, command, *arguments)
    assert completed.returncode == 0, completed.stdout[-4000:]


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory):
    data = tmp_path_factory.mktemp("parity")
    generate_demo(data / "landing", data / "truth", customers=300, days=150, seed=3, progress=False)
    settings = dataclasses.replace(Settings.from_env(), landing_dir=data / "landing", raw_dir=data / "raw",
                                   quarantine_dir=data / "quarantine")
    for contract in CONTRACTS.values():
        ingest_source(contract, settings)
    for target in ("duckdb", "spark"):
        dbt(target, data, "seed")
        dbt(target, data, "run")
    # the DuckDB view layer the Dagster assets use on Spark
    published = publish_spark_tables(data / "spark", data / "spark.duckdb")
    return data, published


def numeric(connection, table: str) -> set[str]:
    return {name for name, kind, *_ in connection.sql(f"DESCRIBE {table}").fetchall()
            if kind in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT") or kind.startswith("DECIMAL")}


def assert_same_rows(data: Path, table: str, keys: list[str]) -> None:
    """`table` in the DuckDB warehouse and in the Spark tables' DuckDB views: the same keys, every other column
    equal (numbers within the tolerance)."""
    with duckdb.connect(str(data / "duckdb.duckdb"), read_only=True) as connection:
        connection.execute(f"ATTACH '{data / 'spark.duckdb'}' AS spark (READ_ONLY)")
        columns = [name for name, *_ in connection.sql(f"DESCRIBE {table}").fetchall()]
        numbers = numeric(connection, table)
        counts = connection.sql(f"SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM spark.{table})").fetchall()
        assert counts[0][0] == counts[0][1] > 0
        differs = " OR ".join(
            f"NOT (d.{c} IS NOT DISTINCT FROM s.{c} OR abs(d.{c} - s.{c}) <= {RELATIVE_TOLERANCE} * greatest(abs(d.{c}), abs(s.{c})))"
            if c in numbers else f"d.{c} IS DISTINCT FROM s.{c}"
            for c in columns if c not in keys and c not in NOT_COMPARED
        )
        joined = f"{table} d JOIN spark.{table} s USING ({', '.join(keys)})"
        matched = connection.sql(f"SELECT count(*) FROM {joined}").fetchall()[0][0]
        different = connection.sql(f"SELECT {', '.join(keys)} FROM {joined} WHERE {differs} LIMIT 5").fetchall()
    assert matched == counts[0][0]  # every row has its partner on the other engine
    assert different == []


@pytest.mark.parametrize("table", sorted(COMPARED))
def test_spark_builds_the_same_rows_as_duckdb(both_engines, table):
    data, published = both_engines
    assert table in published
    assert_same_rows(data, table, COMPARED[table])


def test_free_text_is_redacted_on_spark(both_engines):
    """Parity alone would pass if neither engine redacted: the demo's texts carry personal data, so Spark's
    texts must carry placeholders (ml/redaction.py)."""
    data, _ = both_engines
    with duckdb.connect(str(data / "spark.duckdb"), read_only=True) as connection:
        [(redacted,)] = connection.sql(
            r"SELECT count(*) FROM fct_touchpoints WHERE regexp_matches(text, '\[(EMAIL|PHONE|NAME|ADDRESS|HANDLE)\]')"
        ).fetchall()
    assert redacted > 0


def test_keyed_pseudonyms_on_spark(both_engines):
    """Parity alone would pass if both engines left the pseudonyms empty: on Spark each e-mail hash is the keyed
    pseudonym (cx_core/privacy/pseudonym.py, the key from the settings) of one of the customer's e-mails (a
    customer whose only e-mail is a shared or test address has none, on both engines)."""
    data, _ = both_engines
    key = pseudonym_key(Settings.from_env().pseudonym_key_file)
    with duckdb.connect(str(data / "spark.duckdb"), read_only=True) as connection:
        rows = connection.sql(
            "SELECT d.customer_key, d.email_hash, list(c.identifier_value) FROM dim_customers d "
            "JOIN int_identity_components c ON c.customer_key = d.customer_key AND c.identifier_type = 'email' "
            "WHERE d.email_hash IS NOT NULL GROUP BY ALL"
        ).fetchall()
    assert len(rows) > 100  # of the 300 demo customers
    for customer_key, email_hash, emails in rows:
        assert email_hash in {pseudonym(key, f"email:{email}") for email in emails}, customer_key


def test_spark_reads_a_table_after_an_erasure_rewrote_it(both_engines, tmp_path):
    """cx_core/privacy/spark_erasure.py rewrites a Spark table's Parquet files: Spark still reads the table, with
    every row but the erased customer's."""
    data, _ = both_engines
    journeys = tmp_path / "fct_journeys"
    shutil.copytree(data / "spark" / "warehouse" / SPARK_SCHEMA_FOLDER / "fct_journeys", journeys)
    spark = spark_session(Settings.from_env())
    try:  # stopped after: the later fixtures open sessions of their own
        before = spark.read.parquet(str(journeys)).toPandas()
        erased = before["customer_key"].iloc[0]
        removed = erase_from_parquet_folders({"fct_journeys": journeys}, {erased})
        after = spark.read.parquet(str(journeys)).toPandas()
    finally:
        spark.stop()
    assert removed == {"fct_journeys": int((before["customer_key"] == erased).sum())}
    assert len(after) == len(before) - removed["fct_journeys"] and erased not in set(after["customer_key"])
    assert list(after.dtypes) == list(before.dtypes)


@pytest.fixture(scope="module")
def sentiment_on_both(both_engines):
    """ml_sentiment scored partitioned on Spark (2 partitions, local[2]) from the Spark marts with an empty text
    cache, and by the same functions in one process from the Spark marts and from the DuckDB marts."""
    data, _ = both_engines
    settings = dataclasses.replace(Settings.from_env(), dbt_target="spark", spark_dir=data / "spark",
                                   warehouse_path=data / "spark.duckdb", ml_cache_dir=data / "ml_cache_spark")
    model = load_sentiment_model(None, HEAD_PATH)
    scoring = score_sentiment_on_spark(settings, model, HEAD_PATH, partitions=2)
    publish_parquet_views({SENTIMENT_TABLE: sentiment_folder(settings)}, settings.warehouse_path)
    with duckdb.connect(str(data / "spark.duckdb"), read_only=True) as connection:
        on_spark = connection.sql(f"SELECT * FROM {SENTIMENT_TABLE}").pl()
        spark_texts = connection.sql(TEXT_TOUCHPOINTS).pl()
    with duckdb.connect(str(data / "duckdb.duckdb"), read_only=True) as connection:
        duckdb_texts = connection.sql(TEXT_TOUCHPOINTS).pl()
    return {"settings": settings, "model": model, "scoring": scoring, "on_spark": on_spark,
            "spark_texts": spark_texts, "duckdb_texts": duckdb_texts,
            "one_process": score_touchpoint_texts(spark_texts, model), "on_duckdb": score_touchpoint_texts(duckdb_texts, model)}


def assert_same_sentiment(expected: pl.DataFrame, actual: pl.DataFrame) -> None:
    joined = expected.join(actual, on="touchpoint_id", how="inner", suffix="_actual")
    assert joined.height == expected.height == actual.height > 0
    for column in ("label", "language", "customer_key", "channel", "occurred_at"):
        different = joined.filter(pl.col(column).ne_missing(pl.col(f"{column}_actual")))
        assert different.height == 0, different.select("touchpoint_id", column, f"{column}_actual").rows()[:5]
    assert (joined["score"] - joined["score_actual"]).abs().max() <= RELATIVE_TOLERANCE


def distinct_texts(texts: pl.DataFrame) -> int:
    return len({text_hash(text) for text in texts["text"]})


def test_sentiment_partitioned_on_spark_equals_one_process_on_the_same_marts(sentiment_on_both):
    scoring, on_spark = sentiment_on_both["scoring"], sentiment_on_both["on_spark"]
    assert scoring.rows == on_spark.height
    assert on_spark["touchpoint_id"].n_unique() == scoring.rows  # each text touchpoint scored exactly once
    assert on_spark["model_version"].unique().to_list() == [sentiment_on_both["model"].model_version]
    # an empty cache: every distinct text scored once
    assert (scoring.texts_scored, scoring.cache_hits) == (distinct_texts(sentiment_on_both["spark_texts"]), 0)
    assert_same_sentiment(sentiment_on_both["one_process"], on_spark)


def test_sentiment_scored_on_spark_equals_the_duckdb_path(sentiment_on_both):
    """Both engines redact with the same function: every text, and so every sentiment, is the same."""
    texts = sentiment_on_both["duckdb_texts"].join(sentiment_on_both["spark_texts"], on="touchpoint_id", suffix="_spark")
    assert texts.height == sentiment_on_both["duckdb_texts"].height > 0
    assert texts.filter(pl.col("text") != pl.col("text_spark")).height == 0
    assert_same_sentiment(sentiment_on_both["on_duckdb"], sentiment_on_both["on_spark"])


def test_second_spark_run_scores_no_text_again(sentiment_on_both):
    """The fixture's run filled the text cache: the same texts again come from it, with the same results."""
    settings, model = sentiment_on_both["settings"], sentiment_on_both["model"]
    again = score_sentiment_on_spark(settings, model, HEAD_PATH, partitions=2)
    assert (again.rows, again.texts_scored, again.cache_hits) == (
        sentiment_on_both["scoring"].rows, 0, distinct_texts(sentiment_on_both["spark_texts"]))
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        from_cache = connection.sql(f"SELECT * FROM {SENTIMENT_TABLE}").pl()
    assert from_cache.sort("touchpoint_id").equals(sentiment_on_both["on_spark"].sort("touchpoint_id"))


def test_ml_sentiment_asset_scores_on_spark_on_the_spark_target(both_engines, monkeypatch):
    data, _ = both_engines
    point_settings_at(monkeypatch, data, CX_DBT_TARGET="spark", CX_WAREHOUSE=str(data / "spark.duckdb"),
                      CX_ML_CACHE_DIR=str(data / "ml_cache_asset"))
    output = sentiment_folder(get_settings())
    shutil.rmtree(output, ignore_errors=True)
    result = dg.materialize([ml_text], selection=["ml_sentiment"], resources=pipeline_resources())
    assert result.success
    materialization = materialization_of(result, "ml_sentiment")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    with duckdb.connect(str(data / "spark.duckdb"), read_only=True) as connection:
        texts = connection.sql(TEXT_TOUCHPOINTS).pl()
        [(kind,)] = connection.sql("SELECT table_type FROM information_schema.tables WHERE table_name = 'ml_sentiment'").fetchall()
    assert (metadata["dagster/row_count"], metadata["rows_scored"], metadata["cache_hits"]) == (
        texts.height, distinct_texts(texts), 0)
    assert kind == "VIEW" and any(output.glob("*.parquet"))  # Parquet for the Spark models, a view for DuckDB's readers
    assert (data / "ml_cache_asset" / "sentiment.parquet").exists()  # the DuckDB path's text cache, shared


# The demo above covers 150 days: a 30-day horizon leaves the backtest its two horizons and 30 days before them.
CHURN_HORIZON_DAYS = 30


@pytest.fixture(scope="module")
def churn_on_both(both_engines, tmp_path_factory):
    """ml_churn_scores computed partitioned on Spark (2 partitions, local[2]) from the Spark marts, and by
    train_and_score in one process from the same marts and from the DuckDB marts. The Spark folder holds only the
    marts churn reads without sentiment (the DuckDB warehouse has no ml_sentiment: the same families on all paths)."""
    data, _ = both_engines
    spark_dir = tmp_path_factory.mktemp("churn") / "spark"
    for table in HISTORY_TABLES:
        if table != SENTIMENT_TABLE:
            shutil.copytree(data / "spark" / "warehouse" / SPARK_SCHEMA_FOLDER / table,
                            spark_dir / "warehouse" / SPARK_SCHEMA_FOLDER / table)
    settings = dataclasses.replace(Settings.from_env(), dbt_target="spark", spark_dir=spark_dir,
                                   warehouse_path=spark_dir.parent / "churn.duckdb")
    churn = SparkChurn(settings, partitions=2)
    as_of = last_event_date(churn.history)
    on_spark = churn.train_and_score(as_of, CHURN_HORIZON_DAYS)
    published = load_history(WarehouseFile(settings.warehouse_path))  # views over the same Parquet marts
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        published_scores = connection.sql(f"SELECT * FROM {SCORES_TABLE}").pl()
    return {
        "spark_dir": spark_dir, "on_spark": on_spark, "published_scores": published_scores,
        "score_files": list(Path(table_path(settings, SCORES_TABLE)).glob("*.parquet")),
        "one_process": train_and_score(published, as_of, CHURN_HORIZON_DAYS),
        "on_duckdb": train_and_score(load_history(WarehouseFile(data / "duckdb.duckdb")), as_of, CHURN_HORIZON_DAYS),
    }


def assert_same_churn_scores(expected: pl.DataFrame, actual: pl.DataFrame) -> None:
    joined = expected.join(actual, on="customer_key", how="inner", suffix="_actual")
    assert joined.height == expected.height == actual.height > 0
    for column in ("as_of_date", "risk_band", *REASON_COLUMNS):
        different = joined.filter(pl.col(column).ne_missing(pl.col(f"{column}_actual")))
        assert different.height == 0, different.select("customer_key", column, f"{column}_actual").rows()[:5]
    assert (joined["churn_probability"] - joined["churn_probability_actual"]).abs().max() <= RELATIVE_TOLERANCE


def test_churn_partitioned_on_spark_equals_one_process_on_the_same_marts(churn_on_both):
    on_spark, one_process = churn_on_both["on_spark"], churn_on_both["one_process"]
    assert len(churn_on_both["score_files"]) == 2  # one Parquet file per partition, published as one view
    assert_same_churn_scores(one_process.scores, churn_on_both["published_scores"])
    assert_same_churn_scores(one_process.scores, on_spark.scores)
    assert on_spark.families == one_process.families == ["purchases", "web", "email", "service", "surveys"]
    # the fit on the driver saw the same rows in the same order: the same model and the same evaluation
    assert on_spark.model.columns == one_process.model.columns
    assert on_spark.evaluation.metrics == pytest.approx(one_process.evaluation.metrics, rel=RELATIVE_TOLERANCE)
    assert on_spark.baseline_roc_auc == pytest.approx(one_process.baseline_roc_auc, rel=RELATIVE_TOLERANCE)


def test_churn_on_spark_equals_the_duckdb_path(churn_on_both):
    on_spark, on_duckdb = churn_on_both["on_spark"], churn_on_both["on_duckdb"]
    assert_same_churn_scores(on_duckdb.scores, on_spark.scores)
    assert on_spark.evaluation.metrics == pytest.approx(on_duckdb.evaluation.metrics, rel=RELATIVE_TOLERANCE)


def test_ml_churn_asset_scores_on_spark_and_a_skip_replaces_the_scores(churn_on_both, monkeypatch):
    """On the spark target the asset writes its scores beside the marts (a view in DuckDB, no table); the next run
    rescores with the stored model; a later run that cannot train leaves empty scores there, not the earlier run's."""
    spark_dir = churn_on_both["spark_dir"]
    data = spark_dir.parent
    expected = churn_on_both["on_spark"].scores.height

    def materialize(horizon_days: int) -> dict[str, object]:
        point_settings_at(monkeypatch, data, CX_DBT_TARGET="spark", CX_SPARK_DIR=str(spark_dir),
                          CX_WAREHOUSE=str(data / "churn.duckdb"), CX_CHURN_HORIZON_DAYS=str(horizon_days))
        result = dg.materialize([ml_churn], resources=pipeline_resources())
        assert result.success
        [materialization] = [materialization for materialization in result.asset_materializations_for_node("ml_churn")
                             if materialization.asset_key == dg.AssetKey(SCORES_TABLE)]
        with duckdb.connect(str(data / "churn.duckdb"), read_only=True) as connection:
            [(kind, rows)] = connection.sql(
                f"SELECT table_type, (SELECT count(*) FROM {SCORES_TABLE}) FROM information_schema.tables "
                f"WHERE table_name = '{SCORES_TABLE}'").fetchall()
        return {key: value.value for key, value in materialization.metadata.items()} | {"kind": kind, "rows": rows}

    trained = materialize(CHURN_HORIZON_DAYS)
    assert (trained["status"], trained["kind"], trained["rows"], trained["scored_customers"]) == (
        "trained", "VIEW", expected, expected)
    # The next run rescores with the stored model (ml.churn_rescoring), still partitioned on Spark.
    rescored = materialize(CHURN_HORIZON_DAYS)
    assert rescored["scoring"].startswith("rescored with the model trained on")
    assert (rescored["kind"], rescored["rows"], rescored["scored_customers"]) == ("VIEW", expected, expected)
    skipped = materialize(90)  # 150 days of demo cannot hold two 90-day horizons
    assert (skipped["status"], skipped["kind"], skipped["rows"]) == ("skipped", "VIEW", 0)


@pytest.fixture(scope="module")
def voice_of_customer_on_both(both_engines, sentiment_on_both):
    """The ML tables kpi_voice_of_customer reads, written by the assets on each engine's warehouse (ml_sentiment
    on Spark by the fixture above, on DuckDB by the asset), then the KPI model built again on each engine: on
    Spark after the DuckDB-written ML tables were shared as Parquet, as the dbt asset does."""
    data, _ = both_engines
    with pytest.MonkeyPatch.context() as monkeypatch:
        point_settings_at(monkeypatch, data, CX_DBT_TARGET="duckdb", CX_WAREHOUSE=str(data / "duckdb.duckdb"),
                          CX_ML_CACHE_DIR=str(data / "ml_cache_duckdb"))
        assert dg.materialize([ml_text], selection=["ml_sentiment", "ml_text_insights"], resources=pipeline_resources()).success
        point_settings_at(monkeypatch, data, CX_DBT_TARGET="spark", CX_WAREHOUSE=str(data / "spark.duckdb"),
                          CX_ML_CACHE_DIR=str(data / "ml_cache_spark"))
        assert dg.materialize([ml_text], selection=["ml_text_insights"], resources=pipeline_resources()).success
    shared = share_tables_with_spark(data / "spark.duckdb", data / "spark", ml_tables_read_by_models())
    for target in ("duckdb", "spark"):
        dbt(target, data, "run", "--select", "kpi_voice_of_customer")
    publish_spark_tables(data / "spark", data / "spark.duckdb")
    return data, shared


def test_voice_of_customer_kpis_on_spark_equal_duckdb(voice_of_customer_on_both):
    data, shared = voice_of_customer_on_both
    assert shared == ["ml_text_insights"]  # ml_sentiment is Spark's own table; the other ML assets did not run
    assert_same_rows(data, "kpi_voice_of_customer",
                     ["period_grain", "period_start", "channel", "segment_type", "segment", "metric"])
