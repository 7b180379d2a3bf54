"""KPI alerts (polars in, polars out): target/threshold breaches and significant changes of the latest period.

For every series (metric × period grain × channel × segment of `kpi_metrics`) and the latest period of its grain:
1. Threshold rules (seed `kpi_alert_rules`): the value is below a floor (`bound = min`) or above a ceiling
   (`max`); an empty threshold means the KPI's own target. The rule's severity is the alert's.
2. Change vs the previous period: difference of two estimates with their standard errors (taken from the 95%
   intervals of kpi_metrics), z-test.
3. Outside the expected range: the value against the same weekday of the previous weeks (day grain) or the
   previous periods (week, month): mean and spread of that history, t-test with a prediction interval.
Only series with an interval (rates, shares, means; not counts) and enough observations are tested. All tests of
a run are corrected together (Benjamini–Hochberg), so hundreds of noisy series do not raise a handful of false
alarms every day.

Repeats: `notifications` compares the alerts with the state of the last notification; a condition that
persists is reported again only when its severity rises or its gap grows by `WORSENING_FACTOR`.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
# SciPy's statistics: imported in the functions that use it, not here. The Dagster definitions import this module, and
# every `cx run` paid for the import at start-up, before its first step (issue 19, tests/test_definitions_imports.py).

from ml.wording import words

Z95 = 1.959964
SERIES = ["metric", "period_grain", "channel", "segment"]
ANY = "*"  # rule wildcard: every channel / segment / grain
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
# A significant change in the bad direction is critical when its corrected p-value is below this.
CRITICAL_Q = 0.01
WORSENING_FACTOR = 1.5
PERIOD_LENGTH = {"day": "1d", "week": "1w", "month": "1mo"}

ALERT_SCHEMA = {
    "alert_key": pl.String, "kind": pl.String, "severity": pl.String,
    "metric": pl.String, "period_grain": pl.String, "period_start": pl.Date, "channel": pl.String,
    "segment": pl.String, "n": pl.Int64, "value": pl.Float64, "reference": pl.Float64,
    "difference": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
    "p_value": pl.Float64, "q_value": pl.Float64, "sentence": pl.String,
}


@dataclass(frozen=True)
class AlertOptions:
    fdr: float = 0.05  # false discovery rate of the change tests (Benjamini–Hochberg)
    min_n: int = 30  # fewer observations behind a value: no change test
    history_periods: int = 8  # periods (day grain: same weekdays) behind the expected range
    min_history: int = 4


def standard_error(ci_low: pl.Expr, ci_high: pl.Expr) -> pl.Expr:
    return (ci_high - ci_low) / (2 * Z95)


def latest_periods(metrics: pl.DataFrame) -> pl.DataFrame:
    """The rows of the latest complete period of each grain: a week or month that ends after the last day with
    data is still filling up (fewer contacts, journeys not converted yet) and would raise false alarms."""
    days = metrics.filter(pl.col("period_grain") == "day")["period_start"]
    complete = metrics
    if not days.is_empty():
        period_end = pl.col("period_start").dt.offset_by(
            pl.col("period_grain").replace_strict(PERIOD_LENGTH, return_dtype=pl.String)).dt.offset_by("-1d")
        complete = metrics.filter(period_end <= days.max())
    return complete.filter(pl.col("period_start") == pl.col("period_start").max().over("period_grain"))


def rule_matches(rules: pl.DataFrame, latest: pl.DataFrame) -> pl.DataFrame:
    """Every latest row × the rules that apply to it (`*` matches any channel, segment or grain)."""
    joined = latest.join(rules.rename({c: f"rule_{c}" for c in ("channel", "segment", "period_grain")}),
                         on="metric", how="inner")
    return joined.filter(*[
        (pl.col(f"rule_{c}") == ANY) | (pl.col(f"rule_{c}") == pl.col(c)) for c in ("channel", "segment", "period_grain")
    ])


def threshold_breaches(latest: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """Values beyond their rule's floor or ceiling (the KPI target when the rule has no threshold)."""
    matched = rule_matches(rules, latest).with_columns(
        pl.coalesce("threshold", "target").alias("reference"),
    ).filter(pl.col("value").is_not_null() & pl.col("reference").is_not_null() & (pl.col("n") >= pl.col("min_n")))
    breached = matched.filter(
        pl.when(pl.col("bound") == "min").then(pl.col("value") < pl.col("reference"))
        .otherwise(pl.col("value") > pl.col("reference"))
    )
    # One alert per series: the strictest rule that fires.
    return breached.with_columns(
        pl.lit("threshold").alias("kind"),
        (pl.col("value") - pl.col("reference")).alias("difference"),
        (pl.col("ci_low") - pl.col("reference")).alias("ci_low"),
        (pl.col("ci_high") - pl.col("reference")).alias("ci_high"),
        pl.col("severity").replace_strict(SEVERITY_RANK).alias("_rank"),
    ).sort("_rank", descending=True).unique(SERIES, keep="first", maintain_order=True).drop("_rank")


def testable(options: AlertOptions) -> pl.Expr:
    return pl.col("value").is_not_null() & pl.col("ci_low").is_not_null() & (pl.col("n") >= options.min_n)


def changes_vs_previous(metrics: pl.DataFrame, options: AlertOptions) -> pl.DataFrame:
    """z-test of the latest value against the previous period's, per series."""
    from scipy import stats
    with_previous = metrics.sort("period_start").with_columns(
        standard_error(pl.col("ci_low"), pl.col("ci_high")).alias("se"),
    ).with_columns(
        pl.col("se").shift(1).over(SERIES).alias("previous_se"),
        pl.col("n").shift(1).over(SERIES).alias("previous_n"),
        pl.col("value").shift(1).over(SERIES).alias("reference"),
    )
    latest = latest_periods(with_previous).filter(
        testable(options) & pl.col("reference").is_not_null() & pl.col("previous_se").is_not_null()
        & (pl.col("previous_n") >= options.min_n)
    )
    se_difference = (pl.col("se") ** 2 + pl.col("previous_se") ** 2).sqrt()
    return latest.with_columns(
        pl.lit("change_vs_previous").alias("kind"),
        (pl.col("value") - pl.col("reference")).alias("difference"),
        se_difference.alias("se_difference"),
    ).with_columns(
        (pl.col("difference") - Z95 * pl.col("se_difference")).alias("ci_low"),
        (pl.col("difference") + Z95 * pl.col("se_difference")).alias("ci_high"),
        pl.col("difference").truediv(pl.col("se_difference")).alias("statistic"),
    ).with_columns(
        pl.col("statistic").map_elements(lambda z: float(2 * stats.norm.sf(abs(z))), return_dtype=pl.Float64)
        .alias("p_value"),
    )


def comparable_history(metrics: pl.DataFrame, latest: pl.DataFrame, periods: int) -> pl.DataFrame:
    """The `periods` values before each latest row that it should resemble: the same weekday for days."""
    earlier = metrics.join(latest.select(*SERIES, pl.col("period_start").alias("latest_start")), on=SERIES)
    earlier = earlier.filter(pl.col("period_start") < pl.col("latest_start")).filter(
        (pl.col("period_grain") != "day")
        | (pl.col("period_start").dt.weekday() == pl.col("latest_start").dt.weekday())
    )
    return earlier.sort("period_start", descending=True).group_by(SERIES, maintain_order=True).head(periods)


def outside_expected_range(metrics: pl.DataFrame, options: AlertOptions) -> pl.DataFrame:
    """t-test of the latest value against the mean of its comparable history, with a 95% prediction interval.

    The history's spread holds real period-to-period variation and the past values' sampling error; the latter
    is replaced by the latest value's own (a thin day is noisier than the weeks before it):
    scale² = max(0, sd² − mean(past se²)) + se² + sd² / periods (the uncertainty of the mean)."""
    from scipy import stats
    latest = latest_periods(metrics).filter(testable(options)).with_columns(
        standard_error(pl.col("ci_low"), pl.col("ci_high")).alias("se"),
    )
    history = comparable_history(metrics, latest, options.history_periods).filter(pl.col("value").is_not_null())
    expected = history.group_by(SERIES).agg(
        pl.col("value").mean().alias("reference"),
        pl.col("value").var().alias("history_var"),
        (standard_error(pl.col("ci_low"), pl.col("ci_high")) ** 2).mean().fill_null(0).alias("history_sampling_var"),
        pl.len().alias("history_n"),
    ).filter(pl.col("history_n") >= options.min_history)
    between_periods = (pl.col("history_var") - pl.col("history_sampling_var")).clip(lower_bound=0)
    tested = latest.join(expected, on=SERIES).with_columns(
        (between_periods + pl.col("se") ** 2 + pl.col("history_var") / pl.col("history_n")).sqrt().alias("scale"),
        (pl.col("value") - pl.col("reference")).alias("difference"),
    ).filter(pl.col("scale") > 0)
    rows = []
    for row in tested.iter_rows(named=True):
        degrees = row["history_n"] - 1
        t_crit = float(stats.t.ppf(0.975, degrees))
        rows.append({
            "p_value": float(2 * stats.t.sf(abs(row["difference"]) / row["scale"], degrees)),
            "ci_low": row["difference"] - t_crit * row["scale"],
            "ci_high": row["difference"] + t_crit * row["scale"],
        })
    intervals = pl.DataFrame(rows, schema={"p_value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64})
    return pl.concat([tested.drop("ci_low", "ci_high"), intervals], how="horizontal").with_columns(
        pl.lit("outside_expected_range").alias("kind"),
    )


def benjamini_hochberg(p_values: pl.Series) -> pl.Series:
    from scipy import stats
    if p_values.is_empty():
        return pl.Series("q_value", [], pl.Float64)
    return pl.Series("q_value", stats.false_discovery_control(p_values.to_numpy()), pl.Float64)


def change_severity(directions: dict[str, str]) -> pl.Expr:
    """Bad-direction changes are warnings (critical below CRITICAL_Q); good or undirected ones are info."""
    direction = pl.col("metric").replace_strict(directions, default=None, return_dtype=pl.String)
    bad = ((direction == "higher_is_better") & (pl.col("difference") < 0)) | (
        (direction == "lower_is_better") & (pl.col("difference") > 0))
    return (pl.when(bad & (pl.col("q_value") < CRITICAL_Q)).then(pl.lit("critical"))
            .when(bad).then(pl.lit("warning")).otherwise(pl.lit("info")))


def significant_changes(metrics: pl.DataFrame, directions: dict[str, str], options: AlertOptions) -> pl.DataFrame:
    tests = pl.concat([
        select_alert_columns(changes_vs_previous(metrics, options)),
        select_alert_columns(outside_expected_range(metrics, options)),
    ])
    corrected = tests.with_columns(benjamini_hochberg(tests["p_value"]))
    return corrected.filter(pl.col("q_value") < options.fdr).with_columns(change_severity(directions).alias("severity"))


def select_alert_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The alert columns a test produced, null where it has none (a threshold has no p-value)."""
    return frame.select(*[
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in ALERT_SCHEMA.items() if name not in ("alert_key", "sentence")
    ])


@dataclass(frozen=True)
class MetricFormat:
    unit: str  # kpi_targets.unit: "share…" values are fractions shown in % and their differences in points

    @property
    def is_share(self) -> bool:
        return self.unit.startswith("share")

    def value(self, x: float) -> str:
        return f"{x:.1%}" if self.is_share else f"{x:,.2f}" if abs(x) < 1 else f"{x:,.1f}"

    def difference(self, x: float) -> str:
        return f"{x * 100:+.1f} points" if self.is_share else f"{x:+,.2f}" if abs(x) < 1 else f"{x:+,.1f}"


def series_label(row: dict) -> str:
    grain = {"day": "Daily", "week": "Weekly", "month": "Monthly"}[row["period_grain"]]
    channel = "all channels" if row["channel"] == "all" else words(row["channel"])
    segment = "all segments" if row["segment"] == "all" else f"segment {words(row['segment'])}"
    return f"{grain} {words(row['metric'])} ({channel}, {segment}, {row['period_start']})"


def sentence(row: dict, fmt: MetricFormat) -> str:
    interval = ("no interval" if row["ci_low"] is None
                else f"95% interval {fmt.difference(row['ci_low'])} to {fmt.difference(row['ci_high'])}")
    label, value, gap = series_label(row), fmt.value(row["value"]), fmt.difference(row["difference"])
    if row["kind"] == "threshold":
        side = "below its floor" if row["difference"] < 0 else "above its ceiling"
        return f"{label} is {value}, {side} of {fmt.value(row['reference'])} ({gap}; {interval}; n = {row['n']})."
    moved = "rose" if row["difference"] > 0 else "fell"
    versus = ("the previous period's" if row["kind"] == "change_vs_previous"
              else "the expected (mean of comparable periods)")
    return (f"{label} {moved} to {value} from {versus} {fmt.value(row['reference'])} ({gap}; {interval}; "
            f"n = {row['n']}; q = {row['q_value']:.3g}).")


def kpi_alerts(metrics: pl.DataFrame, rules: pl.DataFrame, targets: pl.DataFrame,
               options: AlertOptions = AlertOptions()) -> pl.DataFrame:
    """Every alert of the latest periods, worst first: kind, severity, figures, interval and a sentence.

    metrics: kpi_metrics rows; rules: kpi_alert_rules; targets: kpi_targets (metric, direction, unit)."""
    directions = dict(targets.unique("metric", keep="first").select("metric", "direction").iter_rows())
    units = dict(targets.unique("metric", keep="first").select("metric", "unit").iter_rows())
    breaches = threshold_breaches(latest_periods(metrics), rules)
    alerts = pl.concat([select_alert_columns(breaches), significant_changes(metrics, directions, options)])
    alerts = alerts.with_columns(
        pl.concat_str([pl.col(c) for c in ("kind", *SERIES)], separator="|").alias("alert_key"),
        pl.struct(pl.all()).map_elements(
            lambda row: sentence(row, MetricFormat(units.get(row["metric"], ""))), return_dtype=pl.String
        ).alias("sentence"),
    )
    return alerts.select(list(ALERT_SCHEMA)).sort(
        pl.col("severity").replace_strict(SEVERITY_RANK), pl.col("difference").abs(), descending=True
    )


def notifications(alerts: pl.DataFrame, state: dict[str, dict]) -> tuple[pl.DataFrame, dict[str, dict]]:
    """The alerts to send now and the new state: a condition is sent when it is new, its severity rose or its
    gap grew by WORSENING_FACTOR since it was last sent. Conditions that ended leave the state, so they are
    sent again when they return."""
    send, new_state = [], {}
    for row in alerts.iter_rows(named=True):
        gap = abs(row["difference"])
        last = state.get(row["alert_key"])
        worse = last is None or SEVERITY_RANK[row["severity"]] > SEVERITY_RANK[last["severity"]] or (
            gap >= WORSENING_FACTOR * last["gap"])
        send.append(worse)
        new_state[row["alert_key"]] = {"severity": row["severity"], "gap": gap} if worse else last
    return alerts.filter(pl.Series(send, dtype=pl.Boolean)), new_state


def alerts_markdown(alerts: pl.DataFrame, sent: pl.DataFrame, run_label: str) -> str:
    """The run's alerts file: counts, then every alert as a line, new ones marked."""
    counts = {s: alerts.filter(pl.col("severity") == s).height for s in SEVERITY_RANK}
    lines = [f"# KPI alerts — {run_label}", "",
             f"{counts['critical']} critical, {counts['warning']} warning, {counts['info']} info; "
             f"{sent.height} new or worse since the last run.", ""]
    new_keys = set(sent["alert_key"])
    for row in alerts.iter_rows(named=True):
        marker = " **new**" if row["alert_key"] in new_keys else ""
        lines.append(f"- **{row['severity']}**{marker} ({row['kind'].replace('_', ' ')}): {row['sentence']}")
    if alerts.is_empty():
        lines.append("No KPI is beyond its threshold or changed significantly.")
    return "\n".join(lines) + "\n"
