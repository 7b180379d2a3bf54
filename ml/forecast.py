"""Daily contact-volume forecasts with prediction intervals, chosen per series by a rolling-origin backtest;
polars in, polars out.

A series is the daily contacts of one channel (or one queue of a channel). Before any model sees it, the
history is cleaned: public holidays (seed per country) and outliers (far from the same weekday's median of the
surrounding weeks) are replaced by that median and listed with their reason, so one quiet holiday or one storm
evening does not bend the forecast. Candidate models:
- `seasonal_naive`: next week repeats the last week;
- `weekday_mean`: the mean of the same weekday over the last 4 weeks (the project's first forecast);
- `holt_winters`: exponential smoothing with damped trend and additive weekly seasonality (statsmodels);
- `gbm_calendar`: gradient boosting on calendar features (weekday, day of month, month end, holiday, campaign
  sends of the day and the week before) predicting each day relative to the last 4 weeks' level;
- `combined`: the mean of Holt-Winters and the calendar model (combining forecasts is robust).
The backtest forecasts the horizon from weekly origins, each model fitted only on days before its origin.
Intervals are count-aware and calibrated on backtest errors (split conformal): a day's contacts are taken as
negative binomial around the forecast (variance = forecast + dispersion × forecast², Poisson at dispersion 0),
and the dispersion of each interval level is the one whose integer ranges held the share closest to the level on
backtest windows that ended before the day they are used for. So the backtest's interval coverage is honest, the
final forecast's intervals use all windows, and a channel with 3 contacts a day gets whole-contact ranges whose
coverage is right (equal-tailed quantiles of small counts overshoot: 0-4 holds 95% of Poisson(2)). Future holidays
are scaled by the series' median holiday ratio seen in the history.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from datetime import date, timedelta

import numpy as np
import polars as pl
# SciPy, scikit-learn and statsmodels: imported in the functions that use them, not here. The Dagster definitions import
# this module, and every `cx run` paid for the imports at start-up, before its first step (issue 19,
# tests/test_definitions_imports.py).
from threadpoolctl import threadpool_limits

WEEK = 7
LEVEL_DAYS = 28
CLEANING_WEEKS = 3  # same-weekday neighbours on each side for the expected value of a day
OUTLIER_SCALES = 4.0  # a day further than this many robust scales from its expected value is an outlier
INTERVAL_LEVELS = {"80": 0.80, "95": 0.95}
# Candidate dispersions of the count distribution (variance = mean + dispersion · mean²), from nearly Poisson to
# a day that may easily be a tenth or three times the forecast.
DISPERSIONS = np.geomspace(1e-6, 4.0, 64)
# The ranges are tabulated once for means on a grid 2% apart (0.01 to a million contacts a day); a forecast uses
# the nearest mean of the grid, so calibrating thousands of backtest windows costs lookups, not quantiles.
MEAN_GRID = np.geomspace(0.01, 1e6, int(np.log(1e8) / np.log(1.02)) + 1)
MIN_CALIBRATION_DAYS = 28  # backtest days needed before an origin's interval is scored
MIN_TRAINING_WEEKS = 8  # history the calendar model needs to learn weekday and calendar effects
PROFILE_PRIOR_CONTACTS = 200  # weight of the all-days intraday profile in each weekday's, in contacts


@dataclass(frozen=True)
class Calendar:
    """What is known about each day ahead of time: public holidays (date → name) and campaign sends per day."""

    holidays: dict[date, str] = field(default_factory=dict)
    campaign_sends: dict[date, float] = field(default_factory=dict)


def day_range(first: date, days: int) -> list[date]:
    return [first + timedelta(days=offset) for offset in range(days)]


def complete_days(daily: pl.DataFrame, first: date, last: date) -> pl.DataFrame:
    """`daily` (day, contacts) with every day from `first` to `last`; days without a row count as zero."""
    days = pl.DataFrame({"day": pl.date_range(first, last, eager=True)})
    return days.join(daily.select("day", "contacts"), on="day", how="left").with_columns(
        pl.col("contacts").fill_null(0).cast(pl.Float64))


def expected_by_weekday(contacts: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """Median of the same weekday within `CLEANING_WEEKS` weeks on each side, leaving out the day itself and
    excluded (holiday) days; the day's own value where it has no neighbour."""
    expected = contacts.copy()
    for index in range(len(contacts)):
        neighbours = [index + WEEK * k for k in range(-CLEANING_WEEKS, CLEANING_WEEKS + 1)
                      if k and 0 <= index + WEEK * k < len(contacts) and not excluded[index + WEEK * k]]
        if neighbours:
            expected[index] = np.median(contacts[neighbours])
    return expected


def clean_history(series: pl.DataFrame, holidays: dict[date, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Replace holidays and outliers of a complete daily series (day, contacts) by their expected value.
    Returns the cleaned series and the cleaned days (day, contacts, expected, reason)."""
    contacts = series["contacts"].to_numpy().astype(float)
    days = series["day"].to_list()
    is_holiday = np.array([day in holidays for day in days])
    expected = expected_by_weekday(contacts, is_holiday)
    # Deviations relative to the usual level, so a quiet weekend and a busy Monday are judged alike; the robust
    # scale is their median absolute value over ordinary days with contacts expected (MAD).
    usual = ~is_holiday & (expected > 0)
    relative = np.abs(contacts - expected) / np.where(expected > 0, expected, 1.0)
    scale = 1.4826 * float(np.median(relative[usual])) if usual.any() else 0.0
    # Poisson noise alone (about √expected) never makes an outlier, however flat the series.
    noise = 3 * np.sqrt(np.maximum(expected, 1.0))
    is_outlier = ~is_holiday & (relative > OUTLIER_SCALES * scale) & (np.abs(contacts - expected) > noise)
    reasons = [f"holiday: {holidays[day]}" if holiday else
               f"outlier: {value:.0f} contacts where about {typical:.0f} were usual" if outlier else None
               for day, holiday, outlier, value, typical in zip(days, is_holiday, is_outlier, contacts, expected)]
    cleaned_days = pl.DataFrame({"day": days, "contacts": contacts, "expected": expected, "reason": reasons},
                                schema={"day": pl.Date, "contacts": pl.Float64, "expected": pl.Float64,
                                        "reason": pl.String}).filter(pl.col("reason").is_not_null())
    cleaned = series.with_columns(pl.Series("contacts", np.where(is_holiday | is_outlier, expected, contacts)))
    return cleaned, cleaned_days


def holiday_ratio(cleaned_days: pl.DataFrame) -> float:
    """Median contacts on past holidays relative to an ordinary same weekday; 1.0 without any."""
    holidays = cleaned_days.filter(pl.col("reason").str.starts_with("holiday") & (pl.col("expected") > 0))
    return float((holidays["contacts"] / holidays["expected"]).median()) if holidays.height else 1.0


# --- the candidate models: history (cleaned daily values before `first_day`) -> `days` forecasts -----------------

def seasonal_naive(history: np.ndarray, first_day: date, days: int, calendar: Calendar) -> np.ndarray:
    return np.resize(history[-WEEK:], days)


def weekday_mean(history: np.ndarray, first_day: date, days: int, calendar: Calendar, weeks: int = 4) -> np.ndarray:
    recent = history[-WEEK * weeks:]
    week = np.array([recent[offset::WEEK].mean() for offset in range(WEEK)])
    return np.resize(week, days)


def fit_holt_winters(history: np.ndarray, start: tuple[float, ...] | None = None):
    """Holt-Winters fitted on `history`. Without `start` the optimiser begins where a grid search over the smoothing
    parameters points; from `start`, the parameters of an earlier fit of the same series (a history some days
    shorter), it skips that search. Measured on four public daily series (fpp3's bank calls, OTexts page views,
    Melbourne pedestrians, Victoria's electricity demand), starting each of the 14 days after 12 backtest fits from
    that fit's parameters: 8x faster, the sum of squared errors 0.90-1.08 times the grid search's (mean 0.97-1.00),
    the 28-day WAPE equal to within 0.0002 (issue 19)."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    model = ExponentialSmoothing(history, trend="add", damped_trend=True, seasonal="add", seasonal_periods=WEEK,
                                 initialization_method="estimated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit() if start is None else model.fit(start_params=np.array(start), use_brute=False)


def holt_winters_parameters(fitted) -> tuple[float, ...]:
    """A fit's parameters in the order `fit_holt_winters` takes them as `start`."""
    return tuple(float(value) for value in fitted.params_formatted["param"])


def holt_winters(history: np.ndarray, first_day: date, days: int, calendar: Calendar,
                 start: tuple[float, ...] | None = None) -> np.ndarray:
    return np.clip(fit_holt_winters(history, start).forecast(days), 0, None)


def calendar_features(days: list[date], calendar: Calendar) -> np.ndarray:
    sends = np.array([calendar.campaign_sends.get(day, 0.0) for day in days])
    week_before = np.array([sum(calendar.campaign_sends.get(day - timedelta(days=k), 0.0) for k in range(1, 8))
                            for day in days])
    days_to_month_end = np.array([((day.replace(day=28) + timedelta(days=4)).replace(day=1) - day).days
                                  for day in days])
    return np.column_stack([
        [day.isoweekday() for day in days], [day.day for day in days], days_to_month_end,
        [day in calendar.holidays for day in days], sends, week_before,
    ]).astype(float)


def fit_calendar_model(history: np.ndarray, first_day: date, calendar: Calendar):
    """The calendar model: each day of `history` (the days before `first_day`) relative to the mean of the 4 weeks
    before it, learnt from calendar features. None with too few weeks to learn weekday and calendar effects from."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    history_days = day_range(first_day - timedelta(days=len(history)), len(history))
    level = np.convolve(history, np.ones(LEVEL_DAYS) / LEVEL_DAYS, mode="full")[:len(history)]
    trailing_level = np.concatenate([[np.nan], level[:-1]])[LEVEL_DAYS:]
    usable = trailing_level > 0
    features = calendar_features(history_days[LEVEL_DAYS:], calendar)[usable]
    ratios = history[LEVEL_DAYS:][usable] / trailing_level[usable]
    if len(ratios) < MIN_TRAINING_WEEKS * WEEK:
        return None
    model = HistGradientBoostingRegressor(loss="squared_error", max_iter=150, learning_rate=0.05, max_depth=3,
                                          categorical_features=[0], random_state=0)
    # Limited here, after the import: forecast_series' limit reaches only the thread pools loaded when it started,
    # and the first call of a process loads scikit-learn's OpenMP. Unlimited, that first fit took 3.2 s instead of
    # 0.1 s on the busy 2-core machine (issue 19).
    with threadpool_limits(limits=1, user_api="openmp"):
        return model.fit(features, ratios)


def gbm_calendar(history: np.ndarray, first_day: date, days: int, calendar: Calendar, fitted=None) -> np.ndarray:
    """The calendar model's ratios (fitted on `history`, or the `fitted` one of an earlier run) times the last
    4 weeks' level; the same-weekday mean where the model has too little history or the level is zero."""
    current_level = history[-LEVEL_DAYS:].mean()
    if current_level <= 0:
        return weekday_mean(history, first_day, days, calendar)
    model = fitted if fitted is not None else fit_calendar_model(history, first_day, calendar)
    if model is None:  # too few weeks to learn from
        return weekday_mean(history, first_day, days, calendar)
    with threadpool_limits(limits=1, user_api="openmp"):
        prediction = model.predict(calendar_features(day_range(first_day, days), calendar))
    return np.clip(prediction * current_level, 0, None)


Forecaster = Callable[[np.ndarray, date, int, Calendar], np.ndarray]
MODELS: dict[str, Forecaster] = {
    "seasonal_naive": seasonal_naive, "weekday_mean": weekday_mean, "holt_winters": holt_winters,
    "gbm_calendar": gbm_calendar,
}
# Forecast combinations: the mean of their members' forecasts (computed once per origin, not refitted).
COMBINATIONS = {"combined": ("holt_winters", "gbm_calendar")}
# The simple benchmarks every chosen model is compared with (column wape_vs_baselines of the backtest).
BASELINES = ("seasonal_naive", "holt_winters")


# --- backtest -----------------------------------------------------------------------------------------------------

def rolling_origins(first_day: date, last_day: date, horizon: int, origins: int, min_history: int) -> list[date]:
    """Weekly forecast origins, the last one with a full `horizon` of actuals up to `last_day`, none with less than
    `min_history` days before it. Oldest first."""
    last_origin = last_day - timedelta(days=horizon - 1)
    candidates = [last_origin - timedelta(weeks=k) for k in range(origins)]
    return sorted(origin for origin in candidates if (origin - first_day).days >= min_history)


def predict_all(history: np.ndarray, first_day: date, days: int, calendar: Calendar,
                models: dict[str, Forecaster]) -> dict[str, np.ndarray]:
    """Every model's forecast, and every combination whose members are among the models."""
    forecasts = {name: model(history, first_day, days, calendar) for name, model in models.items()}
    for name, members in COMBINATIONS.items():
        if all(member in forecasts for member in members):
            forecasts[name] = np.mean([forecasts[member] for member in members], axis=0)
    return forecasts


def forecast_windows(series: pl.DataFrame, calendar: Calendar, origins: list[date], horizon: int,
                     models: dict[str, Forecaster]) -> pl.DataFrame:
    """Every model's forecast of `horizon` days from every origin, fitted on the cleaned days before the origin
    only; columns model, origin, day, actual (raw), forecast."""
    days = series["day"].to_list()
    cleaned = series["cleaned"].to_numpy()
    frames = []
    for origin in origins:
        cut = days.index(origin)
        window = series.slice(cut, horizon)
        for name, forecast in predict_all(cleaned[:cut], origin, window.height, calendar, models).items():
            frames.append(pl.DataFrame({
                "model": name, "origin": origin, "day": window["day"], "actual": window["contacts"],
                "forecast": forecast,
            }))
    return pl.concat(frames)


def count_ranges(mean: np.ndarray, dispersions: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """For each mean (columns) and dispersion (rows), the whole-number range [lower, upper] of a negative binomial
    count holding the probability closest to `level`: the equal-tailed quantiles, each narrowed by one where that
    brings the probability closer (the widest range wins a tie)."""
    from scipy.stats import nbinom
    size = 1 / dispersions[:, None]
    count = nbinom(size, size / (size + np.maximum(mean, 1e-9)[None, :]))
    lower, upper = count.ppf((1 - level) / 2), count.ppf((1 + level) / 2)
    below_lower, at_lower, below_upper, at_upper = (count.cdf(k) for k in (lower - 1, lower, upper - 1, upper))
    best_lower, best_upper, best_gap = lower, upper, np.abs(at_upper - below_lower - level)
    for narrower_lower, narrower_upper, mass in ((lower + 1, upper, at_upper - at_lower),
                                                 (lower, upper - 1, below_upper - below_lower),
                                                 (lower + 1, upper - 1, below_upper - at_lower)):
        gap = np.abs(mass - level)
        better = (gap < best_gap) & (narrower_lower <= narrower_upper)
        best_lower = np.where(better, narrower_lower, best_lower)
        best_upper = np.where(better, narrower_upper, best_upper)
        best_gap = np.where(better, gap, best_gap)
    return best_lower, best_upper


@lru_cache(maxsize=len(INTERVAL_LEVELS))
def range_table(level: float) -> tuple[np.ndarray, np.ndarray]:
    """`count_ranges` of every grid mean (columns) for every candidate dispersion (rows)."""
    return count_ranges(MEAN_GRID, DISPERSIONS, level)


@lru_cache(maxsize=len(INTERVAL_LEVELS) * len(DISPERSIONS))
def range_row(level: float, row: int) -> tuple[np.ndarray, np.ndarray]:
    """One row of `range_table`, computed alone: a forecast with calibrated dispersions needs one row per level,
    and the whole table took 0.6 s of every process that forecasts (issue 19)."""
    lower, upper = count_ranges(MEAN_GRID, DISPERSIONS[row:row + 1], level)
    return lower[0], upper[0]


def grid_columns(forecast: np.ndarray) -> np.ndarray:
    """The column of the nearest grid mean of each forecast."""
    steps = np.log(np.maximum(forecast, MEAN_GRID[0]) / MEAN_GRID[0]) / np.log(MEAN_GRID[1] / MEAN_GRID[0])
    return np.clip(np.rint(steps).astype(int), 0, len(MEAN_GRID) - 1)


def calibrated_dispersions(actual: np.ndarray, forecast: np.ndarray) -> dict[str, int]:
    """Per interval level, the row of `DISPERSIONS` whose ranges around `forecast` held the share of `actual`
    closest to the level (the narrowest of equals); nearly Poisson without any days."""
    columns = grid_columns(forecast)
    rows = {}
    for name, level in INTERVAL_LEVELS.items():
        lower, upper = range_table(level)
        held = ((actual >= lower[:, columns]) & (actual <= upper[:, columns])).mean(axis=1) if actual.size else None
        rows[name] = int(np.argmin(np.abs(held - level))) if held is not None else 0
    return rows


def interval_columns(forecast: np.ndarray, dispersions: dict[str, int]) -> dict[str, np.ndarray]:
    """The interval columns for `forecast`: {'lower_80': ..., 'upper_80': ..., 'lower_95': ..., ...}."""
    columns = {}
    for name, level in INTERVAL_LEVELS.items():
        lower, upper = range_row(level, dispersions[name])
        grid = grid_columns(forecast)
        columns[f"lower_{name}"], columns[f"upper_{name}"] = lower[grid], upper[grid]
    return columns


def with_honest_intervals(windows: pl.DataFrame) -> pl.DataFrame:
    """Each backtest window gets its intervals calibrated on the model's windows whose days all lie before its
    origin, so no interval is calibrated on what it is scored against; windows without enough earlier days get
    none."""
    scored = []
    for (model, origin), rows in windows.group_by("model", "origin", maintain_order=True):
        earlier = windows.filter((pl.col("model") == model) & (pl.col("day") < origin) & (pl.col("origin") < origin))
        complete = earlier.group_by("origin").agg(pl.col("day").max()).filter(pl.col("day") < origin)["origin"]
        earlier = earlier.filter(pl.col("origin").is_in(complete.implode()))
        if earlier.height < MIN_CALIBRATION_DAYS:
            continue
        dispersions = calibrated_dispersions(earlier["actual"].to_numpy(), earlier["forecast"].to_numpy())
        scored.append(rows.with_columns(pl.Series(name, values, dtype=pl.Float64) for name, values in
                                        interval_columns(rows["forecast"].to_numpy(), dispersions).items()))
    if not scored:  # no window has enough earlier days: the columns exist, the rows do not
        return windows.clear().with_columns(pl.lit(None, pl.Float64).alias(f"{bound}_{name}")
                                            for name in INTERVAL_LEVELS for bound in ("lower", "upper"))
    return pl.concat(scored)


def accuracy(windows: pl.DataFrame) -> pl.DataFrame:
    """Per model: WAPE (Σ|error| / Σ actual), MAPE (over days with contacts), bias (Σ error / Σ actual),
    days scored; and interval coverage where intervals exist."""
    error = pl.col("forecast") - pl.col("actual")
    return windows.group_by("model").agg(
        (error.abs().sum() / pl.col("actual").sum()).alias("wape"),
        (error.abs() / pl.col("actual")).filter(pl.col("actual") > 0).mean().alias("mape"),
        (error.sum() / pl.col("actual").sum()).alias("bias"),
        pl.len().alias("days"),
    )


def coverage(scored: pl.DataFrame) -> pl.DataFrame:
    """Per model: share of days whose actual lies inside the 80% and 95% intervals."""
    inside = {level: pl.col("actual").is_between(pl.col(f"lower_{level}"), pl.col(f"upper_{level}"))
              for level in INTERVAL_LEVELS}
    return scored.group_by("model").agg(
        *(inside[level].mean().alias(f"coverage_{level}") for level in INTERVAL_LEVELS),
        pl.len().alias("coverage_days"),
    )


@dataclass(frozen=True)
class ModelChoice:
    """What the backtest of a series decided: the chosen model, the backtest table (one row per model) and the
    interval dispersions calibrated on the chosen model's backtest days. Daily totals only, no customer rows: a
    refresh may keep it and refit only the chosen model (ml_contact_forecast)."""

    model: str
    backtest: pl.DataFrame
    dispersions: dict[str, int]
    # What the run that backtested fitted on the whole history, for the runs that reuse the choice (None where the
    # chosen model does not use it, and in a choice stored before it was kept): Holt-Winters' parameters, from which
    # their refits start (`fit_holt_winters`), and the calendar model, which they reuse as it is: a refresh does not
    # retrain it until the choice is backtested again (CX_MODEL_MAX_AGE_DAYS), as churn is not retrained.
    holt_winters_start: tuple[float, ...] | None = None
    calendar_model: object | None = None


@dataclass(frozen=True)
class SeriesForecast:
    """The outcome for one series: the forecast (day, forecast, lower/upper 80/95, model), the cleaned days and
    the model choice (new, or given by the caller)."""

    forecast: pl.DataFrame
    cleaned_days: pl.DataFrame
    choice: ModelChoice

    @property
    def model(self) -> str:
        return self.choice.model

    @property
    def backtest(self) -> pl.DataFrame:
        return self.choice.backtest


def choose_model(series: pl.DataFrame, calendar: Calendar, horizon: int, origins: int,
                 models: dict[str, Forecaster]) -> ModelChoice:
    """Backtest every model on the series (day, contacts, cleaned); choose the one with the lowest WAPE, with the
    backtest table and the interval dispersions calibrated on all the chosen model's backtest days. Without room
    for a backtest: the same-weekday mean, no table, nearly Poisson intervals."""
    backtest_origins = rolling_origins(series["day"][0], series["day"][-1], horizon, origins,
                                       min_history=LEVEL_DAYS + 2 * WEEK)
    if not backtest_origins:
        return ModelChoice("weekday_mean", pl.DataFrame(), calibrated_dispersions(np.array([]), np.array([])))
    windows = forecast_windows(series, calendar, backtest_origins, horizon, models)
    backtest = accuracy(windows).join(coverage(with_honest_intervals(windows)), on="model", how="left")
    best_baseline = pl.col("wape").filter(pl.col("model").is_in(BASELINES)).min()
    backtest = backtest.with_columns(pl.lit(len(backtest_origins)).alias("origins"),
                                     (pl.col("wape") / best_baseline).alias("wape_vs_baselines")).sort("wape", "model")
    model = backtest["model"][0]
    chosen = windows.filter(pl.col("model") == model)
    return ModelChoice(model, backtest, calibrated_dispersions(chosen["actual"].to_numpy(), chosen["forecast"].to_numpy()))


def fitted_models(model: str) -> tuple[str, ...]:
    """The models a forecast of `model` fits: a combination's members, else the model itself."""
    return COMBINATIONS.get(model, (model,))


def with_kept_fits(choice: ModelChoice, history: np.ndarray, first_day: date, calendar: Calendar,
                   models: dict[str, Forecaster]) -> ModelChoice:
    """The choice with what the runs that reuse it keep of its models' fits on the whole `history` (the days before
    `first_day`): Holt-Winters' parameters and the calendar model, where the chosen model uses them."""
    fitted = fitted_models(choice.model)
    kept = {}
    if "holt_winters" in fitted and models.get("holt_winters") is holt_winters:
        kept["holt_winters_start"] = holt_winters_parameters(fit_holt_winters(history))
    if "gbm_calendar" in fitted and models.get("gbm_calendar") is gbm_calendar:
        kept["calendar_model"] = fit_calendar_model(history, first_day, calendar)
    return replace(choice, **kept)


def chosen_members(choice: ModelChoice, models: dict[str, Forecaster]) -> dict[str, Forecaster]:
    """The forecasters of the chosen model, with the fits the choice keeps."""
    chosen = {name: models[name] for name in fitted_models(choice.model)}
    if choice.holt_winters_start is not None and chosen.get("holt_winters") is holt_winters:
        chosen["holt_winters"] = partial(holt_winters, start=choice.holt_winters_start)
    if choice.calendar_model is not None and chosen.get("gbm_calendar") is gbm_calendar:
        chosen["gbm_calendar"] = partial(gbm_calendar, fitted=choice.calendar_model)
    return chosen


def forecast_series(daily: pl.DataFrame, calendar: Calendar, first_day: date, horizon: int, origins: int = 12,
                    models: dict[str, Forecaster] | None = None, choice: ModelChoice | None = None) -> SeriesForecast:
    """Clean, backtest, choose the model with the lowest WAPE and forecast `horizon` days from `first_day`; with a
    `choice` (of an earlier backtest) skip the backtest: refit only its model on the whole history (Holt-Winters from
    the parameters the backtesting run fitted, the calendar model as that run fitted it) and keep its intervals'
    dispersions. `daily` has day, contacts for days before `first_day` (missing days count as zero)."""
    models = MODELS if models is None else models
    series = complete_days(daily, daily["day"].min(), first_day - timedelta(days=1))
    cleaned, cleaned_days = clean_history(series, calendar.holidays)
    series = series.with_columns(cleaned["contacts"].alias("cleaned"))
    history = series["cleaned"].to_numpy()
    # Hundreds of small fits: thread pools only add overhead (and fight other work on a shared machine).
    with threadpool_limits(limits=1):
        choice = choice or with_kept_fits(choose_model(series, calendar, horizon, origins, models), history,
                                          first_day, calendar, models)
        point = predict_all(history, first_day, horizon, calendar, chosen_members(choice, models))[choice.model]
    days = day_range(first_day, horizon)
    on_holiday = holiday_ratio(cleaned_days)
    point = point * np.array([on_holiday if day in calendar.holidays else 1.0 for day in days])
    forecast = pl.DataFrame({"day": days, "forecast": point, **interval_columns(point, choice.dispersions)}).with_columns(
        pl.lit(choice.model).alias("model"))
    return SeriesForecast(forecast, cleaned_days, choice)


# --- intraday -----------------------------------------------------------------------------------------------------

def intraday_profile(intervals: pl.DataFrame) -> pl.DataFrame:
    """Share of a weekday's contacts in each interval of the day: from (day, slot, contacts) rows of past days
    (slot = minutes after midnight) to weekday, slot, share (shares of a weekday add up to 1). Each weekday's own
    shares are shrunk towards the all-days profile as if it had `PROFILE_PRIOR_CONTACTS` more contacts shaped like
    it: a weekday with a few contacts a day would otherwise put its peak wherever chance put the last ones."""
    by_slot = intervals.with_columns(pl.col("day").dt.weekday().alias("weekday")).group_by("weekday", "slot").agg(
        pl.col("contacts").sum())
    all_days = by_slot.group_by("slot").agg(pl.col("contacts").sum().alias("all_days"))
    grid = by_slot.select("weekday").unique().join(all_days, how="cross").join(
        by_slot, on=["weekday", "slot"], how="left").with_columns(pl.col("contacts").fill_null(0.0))
    prior = PROFILE_PRIOR_CONTACTS * pl.col("all_days") / pl.col("all_days").sum().over("weekday")
    return grid.with_columns(((pl.col("contacts") + prior) / (pl.col("contacts").sum().over("weekday")
                                                             + PROFILE_PRIOR_CONTACTS)).alias("share")).select(
        "weekday", "slot", "share").sort("weekday", "slot")


def intraday_forecast(daily_forecast: pl.DataFrame, profile: pl.DataFrame) -> pl.DataFrame:
    """Split each forecast day (day, forecast, lower/upper columns) over its weekday's intraday profile: one row
    per day and slot with the same columns scaled by the slot's share."""
    values = [name for name in daily_forecast.columns if name == "forecast" or name.startswith(("lower_", "upper_"))]
    return (daily_forecast.with_columns(pl.col("day").dt.weekday().alias("weekday"))
            .join(profile, on="weekday", how="inner")
            .with_columns(pl.col(values) * pl.col("share"))
            .drop("weekday", "share").sort("day", "slot"))
