"""When things happen: day weights (season, weekday, Black Friday, Christmas) and hour-of-day profiles.

Every simulated time is an int64 count of *local wall-clock* seconds (Europe/Berlin) since midnight of the
window's first day; `writers.py` turns them into real instants. Sampling is vectorised: draw a day from the
cumulative day weights restricted to a per-row window, then an hour from a profile, then minutes and seconds.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

DAY = 86_400
HOUR = 3_600

# Month factors (Jan..Dec): January sales, summer dip, the run-up to Christmas.
MONTH_FACTOR = np.array([1.05, 0.9, 0.97, 1.0, 1.0, 0.92, 0.78, 0.8, 0.97, 1.0, 1.12, 1.45])
# Weekday factors (Mon..Sun). German stores are closed on Sundays; online shopping peaks Sunday evening.
WEEKDAY_FACTOR = {
    "online": np.array([1.1, 1.0, 1.0, 1.0, 0.9, 0.85, 1.25]),
    "store": np.array([0.85, 0.9, 0.95, 1.0, 1.25, 1.7, 0.0]),
    "service": np.array([1.35, 1.15, 1.05, 1.0, 0.95, 0.55, 0.35]),
}
HOUR_PROFILE = {
    "online": np.array([2, 1, 0.5, 0.3, 0.3, 0.5, 1.5, 3, 4, 4.5, 5, 5, 5.5, 5, 4.5, 4.5, 5, 5.5, 6.5, 8, 9, 8.5, 6, 3.5]),
    "store": np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 6, 7, 8, 8, 7, 7, 8, 9, 9, 6, 3, 0, 0, 0]),
    "service": np.array([0.2, 0.1, 0, 0, 0, 0, 0.3, 2, 6, 8, 8, 7.5, 6.5, 7, 7, 6.5, 6, 5.5, 4, 3, 2, 1.5, 1, 0.5]),
}


def black_friday(year: int) -> date:
    """The Friday after the fourth Thursday of November."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(days=22)


def day_weights(start: date, days: int, kind: str) -> np.ndarray:
    """Relative activity per day of the window for `kind` (online, store or service)."""
    dates = [start + timedelta(days=i) for i in range(days)]
    months = np.array([d.month for d in dates]) - 1
    weekdays = np.array([d.weekday() for d in dates])
    weights = MONTH_FACTOR[months] * WEEKDAY_FACTOR[kind][weekdays]
    peaks = {}
    for year in {d.year for d in dates}:
        friday = black_friday(year)
        peaks.update({friday - timedelta(days=k): 1.3 for k in range(1, 7)})
        peaks.update({friday: 3.5, friday + timedelta(days=1): 2.4, friday + timedelta(days=3): 2.8})
        peaks.update({date(year, 12, d): 1.25 for d in range(1, 24)})
        peaks.update({date(year, 12, 24): 0.5, date(year, 12, 25): 0.1, date(year, 12, 26): 0.2})
    for i, d in enumerate(dates):
        factor = peaks.get(d, 1.0)
        if kind == "service" and factor > 1:  # contact centres feel the peaks, but damped
            factor = 1 + (factor - 1) / 2
        weights[i] *= factor
    return weights / weights.sum()


class Clock:
    """Samples local times inside per-row day windows for one demo window."""

    def __init__(self, start: date, days: int):
        self.start = start
        self.days = days
        self._cdf = {kind: np.concatenate([[0.0], np.cumsum(day_weights(start, days, kind))]) for kind in WEEKDAY_FACTOR}
        self._hour_cdf = {kind: np.cumsum(p) / p.sum() for kind, p in HOUR_PROFILE.items()}

    def days_between(self, rng: np.random.Generator, low: np.ndarray, high: np.ndarray, kind: str) -> np.ndarray:
        """A day index in [low, high) per row, drawn from the day weights of `kind` (high > low expected)."""
        cdf = self._cdf[kind]
        low = np.clip(low, 0, self.days - 1)
        high = np.clip(np.maximum(high, low + 1), 1, self.days)
        u = cdf[low] + rng.random(len(low)) * (cdf[high] - cdf[low])
        return np.clip(np.searchsorted(cdf, u, side="right") - 1, low, high - 1)

    def seconds_of_day(self, rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
        hours = np.searchsorted(self._hour_cdf[kind], rng.random(n), side="right").clip(0, 23)
        return hours * HOUR + rng.integers(0, HOUR, n)

    def times_between(self, rng: np.random.Generator, low_day: np.ndarray, high_day: np.ndarray, kind: str) -> np.ndarray:
        """Local seconds for one event per row with its day in [low_day, high_day)."""
        day = self.days_between(rng, np.asarray(low_day), np.asarray(high_day), kind)
        return day.astype(np.int64) * DAY + self.seconds_of_day(rng, len(day), kind)

    def end_seconds(self) -> int:
        return self.days * DAY
