"""Forecast model choices kept between runs, so a daily refresh refits only the chosen model of each series instead
of backtesting every candidate from 12 origins again (issue 19: the backtest was 50 of 54 s of ml_contact_forecast
and 18 of 24 s of ml_staffing_adherence at 100,000 customers). Two sets are kept: `contact_forecast` (the series of
ml_contact_forecast, as of the as-of date) and `adherence_plan` (the channels of ml_staffing_adherence, as of the
day before its four weeks: that plan may only know what was known then).

A run that backtests keeps, per series (channel, queue), its `ml.forecast.ModelChoice`: the chosen model, the
backtest table, the calibrated interval dispersions and what later runs reuse of the chosen model's fit
(Holt-Winters' parameters, the calendar model; daily totals only, no customer rows) in the model store
(`ml.model_store`), with the as-of date of the backtest. Later runs reuse the choices (Holt-Winters refitted from
the kept parameters, the kept calendar model) while `ml.model_store.retrain_reason` finds nothing against them:
younger than CX_MODEL_MAX_AGE_DAYS, an as-of date not before the backtest's, the same horizon, holiday country,
time zone, series and candidate models and the same library versions.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from datetime import date, datetime

from ml.forecast import MODELS, ModelChoice
from ml.model_store import ModelInfo, ModelStore, library_versions, retrain_reason

FORECAST_CHOICES = "contact_forecast"
ADHERENCE_CHOICES = "adherence_plan"
Series = tuple[str, str]  # channel, queue


def parameters(horizon_days: int, holiday_country: str, timezone: str, series: list[Series]) -> dict[str, object]:
    """What decides the choices besides the data: a change means the stored choices no longer apply."""
    return {"horizon_days": horizon_days, "holiday_country": holiday_country, "timezone": timezone,
            "series": [f"{channel}/{queue}" for channel, queue in series], "models": sorted(MODELS),
            "statsmodels": importlib.metadata.version("statsmodels")}  # read without importing statsmodels (issue 19)


@dataclass(frozen=True)
class StoredChoices:
    choices: dict[Series, ModelChoice] | None  # None: backtest every series afresh
    backtest_as_of: date | None  # the as-of date of the stored backtest
    reuse: str  # in words: reused which backtest, or backtested and why


def stored_choices(store: ModelStore, name: str, parameters: dict[str, object], as_of: date, now: datetime,
                   max_age_days: int) -> StoredChoices:
    info = store.info(name)
    reason = retrain_reason(info, parameters, as_of, now, max_age_days)
    if reason is not None:
        return StoredChoices(None, None, f"backtested: {reason}")
    return StoredChoices(store.load(name), info.as_of,
                         f"reused the model choices of the backtest as of {info.as_of.isoformat()} "
                         f"(run on {info.trained_at.date().isoformat()}); refitted the chosen models only")


def save_choices(store: ModelStore, name: str, choices: dict[Series, ModelChoice], parameters: dict[str, object],
                 as_of: date, now: datetime, history_days: int) -> None:
    store.save(choices, ModelInfo(
        name=name, trained_at=now, as_of=as_of, features=["daily contacts", "calendar"],
        training_rows=history_days, parameters=parameters, library_versions=library_versions()))
