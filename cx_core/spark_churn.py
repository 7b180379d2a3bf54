"""Churn on Spark, for the `spark` dbt target: features built partitioned by customer, the model fitted on the
driver, every customer scored partitioned by the same `ml/` functions as in one process.

Every churn feature and label of a customer depends on that customer's rows only (`ml.features`), so the marts
are read as Parquet straight from the Spark warehouse folder (the queries of `cx_core.customer_history`), packed
into one frame with a struct column per input and split by customer_key: each partition holds whole customers
of every input and runs the unchanged polars functions on them (`mapInArrow`). What reaches the driver:
- the earliest and latest row of each input (per order type for the orders): the default as-of date, the
  feature families and the history check (`ml.features`, `ml.churn`) run unchanged on these few rows;
- one row per customer and backtest date: labelled features and the BG/NBD summary, collected via Arrow;
  the backtest and the fit run on the driver exactly as in one process (same rows, same order, same model);
- the fitted model then goes to the executors, which build the features as of the scoring date and score them
  with `ml.churn.score_churn`; the scores are written as Parquet beside the marts and published as a view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from functools import reduce

import polars as pl
import polars.selectors as cs
import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import DateType, DoubleType, StringType, StructField, StructType

from cx_core.customer_history import HISTORY_QUERIES, HISTORY_TABLES
from cx_core.settings import Settings
from cx_core.spark_catalog import ml_table_folders, publish_spark_tables, spark_table_folders
from cx_core.spark_scoring import table_path
from cx_core.spark_session import spark_session
from ml import bgnbd
from ml.churn import (
    Backtest,
    BacktestDates,
    ChurnModel,
    ChurnResult,
    labelled_features,
    require_enough_history,
    score_churn,
)
from ml.features import TIME_COLUMNS, CustomerHistory, available_families, build_features

SCORES_TABLE = "ml_churn_scores"
# The history check needs the first sale, not the first order of any type: the orders' boundary rows are per type.
BOUNDARY_GROUPS = {"orders": ["order_type"]}
SUMMARY_COLUMNS = ["x", "t_x", "T"]
# Frames cross between Spark and polars in these types only: numbers travel as doubles (counts stay exact).
SPARK_TYPES = {pl.String: StringType(), pl.Date: DateType(), pl.Float64: DoubleType()}


def naive_utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Spark hands timestamps over as instants; the features compare plain UTC timestamps, as the DuckDB marts
    have them."""
    zoned = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime) and dtype.time_zone]
    return frame.with_columns(pl.col(zoned).dt.convert_time_zone("UTC").dt.replace_time_zone(None))


def to_polars(frame: DataFrame) -> pl.DataFrame:
    """Collect a Spark frame onto the driver via Arrow."""
    return naive_utc(pl.from_arrow(frame.toArrow()))


def on_the_wire(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(cs.numeric().cast(pl.Float64))


def spark_schema(schema: pl.Schema) -> StructType:
    return StructType([StructField(name, SPARK_TYPES[dtype.base_type()]) for name, dtype in schema.items()])


def history_frames(spark: SparkSession, settings: Settings) -> dict[str, DataFrame]:
    """The CustomerHistory inputs over the Parquet marts and ML tables (ml_sentiment), by field; a missing
    optional one is left out."""
    folders = spark_table_folders(settings.spark_dir) | ml_table_folders(settings.spark_dir)
    for table in HISTORY_TABLES:
        if table in folders:
            spark.read.parquet(str(folders[table])).createOrReplaceTempView(table)
    return {name: spark.sql(query) for name, (table, query) in HISTORY_QUERIES.items() if table in folders}


def packed(frames: dict[str, DataFrame]) -> DataFrame:
    """Every input in one frame: customer_key and one struct column per input, set on that input's rows only."""
    parts = [
        frame.select("customer_key", F.struct(*[c for c in frame.columns if c != "customer_key"]).alias(name))
        for name, frame in frames.items()
    ]
    return reduce(lambda left, right: left.unionByName(right, allowMissingColumns=True), parts)


def unpacked(frame: pl.DataFrame) -> CustomerHistory:
    """The CustomerHistory of a packed frame."""
    return CustomerHistory(**{
        name: naive_utc(frame.filter(pl.col(name).is_not_null()).select("customer_key", pl.col(name).struct.unnest()))
        for name in frame.columns if name != "customer_key"
    })


def boundary_history(customers: DataFrame) -> CustomerHistory:
    """The earliest and the latest row of each input of a packed frame (per BOUNDARY_GROUPS), in one pass."""
    inputs = [name for name in customers.columns if name != "customer_key"]
    groups = [F.col(f"{name}.{column}")
              for name, columns in BOUNDARY_GROUPS.items() if name in inputs for column in columns]

    def edges(name: str) -> Column:
        row, time = F.struct("customer_key", name), F.col(f"{name}.{TIME_COLUMNS[name]}")
        return F.array(F.min_by(row, time), F.max_by(row, time)).alias(name)

    collected = to_polars(customers.groupBy(*groups).agg(*(edges(name) for name in inputs)).select(*inputs))
    rows = [collected.select(pl.col(name).explode()).unnest(name) for name in inputs]
    return unpacked(pl.concat(rows, how="diagonal"))


def per_partition(customers: DataFrame, compute: Callable[[CustomerHistory], pl.DataFrame]) -> DataFrame:
    """`compute` on the history of each partition's customers (the partition's Arrow batches taken together);
    its output columns are what it gives for no customers at all."""
    input_schema = to_arrow_schema(customers.schema, timezone="UTC")
    output_schema = spark_schema(on_the_wire(compute(unpacked(pl.from_arrow(input_schema.empty_table())))).schema)
    output_arrow = to_arrow_schema(output_schema)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        batches = list(batches)
        table = pa.Table.from_batches(batches) if batches else input_schema.empty_table()
        result = on_the_wire(compute(unpacked(pl.from_arrow(table))))
        yield from result.to_arrow().cast(output_arrow).to_batches()

    return customers.mapInArrow(run, output_schema)


class SparkChurn:
    """Churn from the Parquet marts Spark wrote (see the module docstring); `history` holds the boundary rows the
    date checks read."""

    def __init__(self, settings: Settings, partitions: int | None = None):
        self.settings = settings
        self.spark = spark_session(settings)
        customers = packed(history_frames(self.spark, settings))
        self.history = boundary_history(customers)
        # By default spark.sql.shuffle.partitions: the profile's, or on Spark Connect the cluster's.
        self.customers = (customers.repartition(partitions, "customer_key") if partitions
                          else customers.repartition("customer_key"))

    def train_and_score(self, as_of: date, horizon_days: int, seed: int = 0) -> ChurnResult:
        """`ml.churn.train_and_score` with the features built and the customers scored partitioned; writes
        ml_churn_scores beside the marts and publishes it. Raises NotEnoughHistory as the one-process path does."""
        require_enough_history(self.history.orders, as_of, horizon_days)
        dates = BacktestDates.before(as_of, horizon_days)
        families = available_families(self.history, dates.train_as_of)
        self.customers.persist()  # read and shuffled once for the backtest rows and the scores
        try:
            trained = self.backtest(dates, horizon_days, families).fit(seed)
            scores = self.score(trained.model, families, as_of)
        finally:
            self.customers.unpersist()
        return trained.result(scores)

    def score(self, model: ChurnModel, families: list[str], as_of: date) -> pl.DataFrame:
        """Every customer scored partitioned with a fitted model (also a stored one: no training); writes
        ml_churn_scores beside the marts, publishes it and returns it."""
        self.write_scores(per_partition(
            self.customers, lambda history: score_churn(model, build_features(history, as_of, families), as_of)
        ))
        return pl.read_parquet(f"{table_path(self.settings, SCORES_TABLE)}/*.parquet").sort("customer_key")

    def backtest(self, dates: BacktestDates, horizon_days: int, families: list[str]) -> Backtest:
        """Labelled features and the BG/NBD summary as of both backtest dates, built per partition and collected
        in the order the one-process path has them (by customer_key)."""
        def backtest_rows(history: CustomerHistory) -> pl.DataFrame:
            return pl.concat([
                labelled_features(history, as_of, horizon_days, families)
                .join(bgnbd.rfm_summary(history.orders, as_of), on="customer_key", how="left")
                .with_columns(pl.lit(as_of).alias("as_of_date"))
                for as_of in (dates.train_as_of, dates.evaluation_as_of)
            ])

        rows = to_polars(per_partition(self.customers, backtest_rows)).sort("customer_key")
        train, recent = (
            rows.filter(pl.col("as_of_date") == as_of).drop("as_of_date").with_columns(pl.col("churned").cast(pl.Int8))
            for as_of in (dates.train_as_of, dates.evaluation_as_of)
        )
        return Backtest(
            dates, horizon_days, families, train=train.drop(SUMMARY_COLUMNS), recent=recent.drop(SUMMARY_COLUMNS),
            recent_summary=recent.select("customer_key", *SUMMARY_COLUMNS),
        )

    def store_scores(self, scores: pl.DataFrame) -> None:
        """Replace ml_churn_scores with a frame from the driver (the empty scores of a skipped run)."""
        schema = spark_schema(scores.schema)
        self.write_scores(self.spark.createDataFrame(scores.to_arrow().cast(to_arrow_schema(schema)), schema))

    def write_scores(self, scores: DataFrame) -> None:
        scores.write.mode("overwrite").parquet(table_path(self.settings, SCORES_TABLE))
        publish_spark_tables(self.settings.spark_dir, self.settings.warehouse_path)
