"""Churn on a public real order history: the CDNOW data set (a CD retailer, 23,570 customers who all made their
first purchase in the first quarter of 1997, orders with dates only, 1997-01-01 to 1998-06-30).

Set CX_CDNOW_PATH to `CDNOW_master.txt` (whitespace-separated: customer id, yyyymmdd, CDs, dollar value; e.g.
from the `lifetimes` repository, `lifetimes/datasets/CDNOW_master.txt`). The file is not shipped with this
project (no licence is stated for it); without the variable the benchmark says so and prints nothing else.

At each cut-off the models are fitted as of one horizon earlier (labels up to the cut-off) and evaluated on the
customers who bought before the cut-off, labelled by whether they buy in the horizon after it. Printed: the
ROC AUC of the churn model (ml.churn), of the RFM logistic regression alone, and of BG/NBD; the customers that
share the top churn score; and the target: the model at least as good as the best classic baseline.
"""

import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from ml.churn import (
    BacktestDates,
    bgnbd_roc_auc,
    evaluate_backtest,
    feature_matrix,
    labelled_features,
    model_columns,
    rfm_logistic_model,
)
from ml.features import PURCHASES, CustomerHistory

CUT_OFFS = (date(1997, 9, 30), date(1998, 3, 31))
HORIZON_DAYS = 90


def read_cdnow(path: Path) -> pl.DataFrame:
    """The orders in the shape of fct_orders (every row a sale at midnight of its day, dollars as value_eur);
    a header line (the `lifetimes` copy has one) is left out."""
    rows = [fields for fields in map(str.split, path.read_text().splitlines()) if fields and fields[0].isdigit()]
    frame = pl.DataFrame(rows, schema=["customer_key", "day", "cds", "value"], orient="row")
    return frame.select(
        pl.col("customer_key"),
        pl.col("day").str.to_datetime("%Y%m%d").alias("ordered_at"),
        pl.lit("sale").alias("order_type"),
        pl.col("value").cast(pl.Float64).alias("value_eur"),
        pl.lit("web").alias("channel"),
    )


def rfm_logistic_roc_auc(history: CustomerHistory, dates: BacktestDates) -> float:
    train = labelled_features(history, dates.train_as_of, HORIZON_DAYS, [PURCHASES])
    test = labelled_features(history, dates.evaluation_as_of, HORIZON_DAYS, [PURCHASES])
    columns = model_columns(train)
    model = rfm_logistic_model(columns).fit(feature_matrix(train, columns), train["churned"].to_numpy())
    return float(roc_auc_score(test["churned"].to_numpy(), model.predict_proba(feature_matrix(test, columns))[:, 1]))


def main() -> int:
    location = os.environ.get("CX_CDNOW_PATH")
    if not location or not Path(location).exists():
        print("bench_churn_real: set CX_CDNOW_PATH to CDNOW_master.txt to measure churn on real orders (skipped)")
        return 0
    history = CustomerHistory(orders=read_cdnow(Path(location)))
    print(f"CDNOW: {history.orders.height:,} orders of {history.orders['customer_key'].n_unique():,} customers, "
          f"horizon {HORIZON_DAYS} days")
    for cut_off in CUT_OFFS:
        dates = BacktestDates(cut_off - timedelta(days=HORIZON_DAYS), cut_off, cut_off + timedelta(days=HORIZON_DAYS))
        started = time.perf_counter()
        evaluation = evaluate_backtest(history, dates, HORIZON_DAYS, [PURCHASES])
        seconds = time.perf_counter() - started
        model = evaluation.metrics["roc_auc"]
        rfm = rfm_logistic_roc_auc(history, dates)
        bgnbd = bgnbd_roc_auc(history, dates, HORIZON_DAYS, evaluation)
        top = np.sum(evaluation.probabilities == evaluation.probabilities.max())
        best = max(rfm, bgnbd)
        print(f"cut-off {cut_off}: {len(evaluation.labels):,} customers, churn rate {evaluation.labels.mean():.3f}")
        print(f"  ROC AUC  model {model:.3f}  RFM logistic {rfm:.3f}  BG/NBD {bgnbd:.3f}  "
              f"(target: model >= best baseline {best:.3f}: {'met' if model >= best else 'NOT met'})")
        print(f"  PR AUC {evaluation.metrics['pr_auc']:.3f}, Brier {evaluation.metrics['brier_score']:.4f}, "
              f"{top:,} customers share the top churn score, {seconds:.1f} s to fit and evaluate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
