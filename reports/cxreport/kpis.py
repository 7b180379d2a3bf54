"""The scorecard KPIs (names as in the kpi_metrics mart), how to print them, and when a change is real."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import polars as pl

from cxreport.formatting import NumberFormat

Z_95 = 1.96
NOT_AVAILABLE = "not available"


@dataclass(frozen=True)
class Kpi:
    metric: str
    label: str
    unit: str  # points | share | mean | seconds
    higher_is_better: bool
    meaning: str

    def value_text(self, fmt: NumberFormat, value: float | None, sample_size: int | None = None) -> str:
        """The value in the KPI's unit; a share with its sample size when one is given ('84% (n = 412)')."""
        if value is None:
            return NOT_AVAILABLE  # not measured is not zero
        if self.unit == "share":
            return fmt.share_of(value, sample_size, 1 if value < 0.1 else 0)
        if self.unit == "seconds":
            return fmt.duration(value)
        return fmt.number(value, 1 if self.unit == "mean" else 0)

    def change_text(self, fmt: NumberFormat, change: float | None) -> str:
        if self.unit == "share":
            return fmt.percentage_points(change)
        if self.unit == "seconds":
            return fmt.duration(change, signed=True)
        return fmt.number(change, 1 if self.unit == "mean" else 0, signed=True)


SCORECARD_KPIS = [
    Kpi("nps", "NPS", "points", True, "promoters minus detractors, in points from −100 to 100"),
    Kpi("csat", "CSAT", "share", True, "share of 4–5 answers on the 1–5 satisfaction scale"),
    Kpi("ces", "CES", "mean", True, "mean customer-effort answer on a 1–7 scale (7 = very easy)"),
    Kpi("journey_conversion_rate", "Conversion", "share", True, "journeys with a purchase ÷ journeys with research"),
    Kpi("churn_rate", "Churn rate", "share", False, "buyers without a purchase in the last 90 days"),
    Kpi("fcr_rate", "First contact resolution", "share", True, "issues solved at the first contact, no repeat in 7 days"),
    Kpi("first_response_median_seconds", "First response time", "seconds", False, "median time to the first reply"),
    Kpi("aht_seconds", "Average handle time", "seconds", False, "talk + hold + wrap-up per handled contact"),
    Kpi("bot_containment_rate", "Bot containment", "share", True, "bot chats closed without a human handover"),
]
SLA_ATTAINMENT = Kpi("sla_attainment", "SLA attainment", "share", True,
                     "answered within the channel's target time ÷ (answered + abandoned after it)")
ABANDONMENT = Kpi("abandonment_rate", "Abandonment", "share", False,
                  "callers who hung up in the queue (short abandons aside) ÷ calls offered")
SERVICE_KPI_METRICS = ["csat", "fcr_rate", "aht_seconds", "first_response_median_seconds", "sla_attainment",
                       "abandonment_rate"]
KPIS_BY_METRIC = {kpi.metric: kpi for kpi in [*SCORECARD_KPIS, SLA_ATTAINMENT, ABANDONMENT]}
# Where to act on a KPI: the report (file stem) and the part of it that says what to do.
ACTION_REPORTS = {
    **dict.fromkeys(["nps", "csat", "ces", "sentiment_negative_share"],
                    ("voice_of_customer", "what drives NPS and the most negative themes")),
    **dict.fromkeys(["fcr_rate", "repeat_contact_rate", "aht_seconds", "first_response_median_seconds",
                     "sla_attainment", "abandonment_rate", "bot_containment_rate", "bot_handover_rate",
                     "contacts_per_order"],
                    ("service_operations", "resolution, service levels and the staffing plan")),
    **dict.fromkeys(["journey_conversion_rate", "session_conversion_rate", "cart_recovery_rate"],
                    ("customer_journeys", "the funnel and where customers drop off")),
    "churn_rate": ("churn_and_actions", "the action plan for customers at risk"),
}


def action_link(metric: str) -> tuple[str, str]:
    """Where to act on `metric`: (what to look at, report name); the scorecard itself when no report goes
    deeper. `Report.say(..., links=...)` turns it into a link."""
    report, part = ACTION_REPORTS.get(metric, ("cx_scorecard", "the trends"))
    return part, report


def _standard_error(ci_low: float | None, ci_high: float | None) -> float | None:
    if ci_low is None or ci_high is None:
        return None
    return (ci_high - ci_low) / (2 * Z_95)


def change_is_significant(
    value: float | None,
    ci: tuple[float | None, float | None],
    previous_value: float | None,
    previous_ci: tuple[float | None, float | None],
) -> bool | None:
    """True when the 95% interval of the difference excludes zero; None when an interval is missing.

    The standard errors are read back from each period's 95% interval (half-width / 1.96) and combined as for
    two independent samples: se(diff) = sqrt(se₁² + se₂²).
    """
    errors = [_standard_error(*ci), _standard_error(*previous_ci)]
    if value is None or previous_value is None or None in errors:
        return None
    difference_error = math.sqrt(errors[0] ** 2 + errors[1] ** 2)
    if difference_error == 0:
        return value != previous_value
    return abs(value - previous_value) > Z_95 * difference_error


@dataclass(frozen=True)
class Change:
    """One KPI in one period compared with the period before and with its target."""

    kpi: Kpi
    value: float | None
    previous_value: float | None
    significant: bool | None
    target: float | None
    # why value is missing (kpi_metrics.value_missing_reason), e.g. "not measured: needs ..."
    missing_reason: str | None = None

    @property
    def difference(self) -> float | None:
        if self.value is None or self.previous_value is None:
            return None
        return self.value - self.previous_value

    @property
    def verdict(self) -> str:
        """'better' or 'worse' only for a significant change, else 'steady'."""
        if not self.significant or not self.difference:
            return "steady"
        return "better" if (self.difference > 0) == self.kpi.higher_is_better else "worse"

    @property
    def meets_target(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.value >= self.target if self.kpi.higher_is_better else self.value <= self.target

    def sentence(self, fmt: NumberFormat, period_word: str = "last month") -> str:
        """'NPS rose to 41 (+6 vs last month, significant).' in the reader's words."""
        label, value_text = self.kpi.label, self.kpi.value_text(fmt, self.value)
        if self.value is None:
            return f"{label}: {NOT_AVAILABLE} ({self.missing_reason or 'no data in this period'})."
        if self.difference is None:
            return f"{label} was {value_text} (no data for {period_word})."
        change_text = self.kpi.change_text(fmt, self.difference)
        # Compare what the reader sees: a change that rounds to zero "held", whatever its sign.
        visible = any(character in "123456789" for character in change_text)
        verb = "held" if not visible else "rose" if self.difference > 0 else "fell"
        evidence = {True: "significant", False: "within normal variation", None: "no interval to judge"}
        return f"{label} {verb} {'at' if verb == 'held' else 'to'} {value_text} ({change_text} vs {period_word}, {evidence[self.significant]})."

    def target_text(self, fmt: NumberFormat) -> str:
        if self.target is None:
            return "has no target set"
        if self.meets_target is None:
            return f"cannot be compared with its target of {self.kpi.value_text(fmt, self.target)}"
        relation = "meets" if self.meets_target else "misses"
        return f"{relation} the target of {self.kpi.value_text(fmt, self.target)}"


def month_changes(rows: pl.DataFrame, kpis: list[Kpi], month: date, previous_month: date) -> list[Change]:
    """One Change per KPI from kpi_metrics rows (columns period_start, metric, value, ci_low, ci_high, target,
    and value_missing_reason when present) of one channel and segment; a KPI without a row for the month gets an
    empty Change."""
    by_key = {(row["metric"], row["period_start"]): row for row in rows.iter_rows(named=True)}
    changes = []
    for kpi in kpis:
        current = by_key.get((kpi.metric, month), {})
        previous = by_key.get((kpi.metric, previous_month), {})
        changes.append(Change(
            kpi=kpi,
            value=current.get("value"),
            previous_value=previous.get("value"),
            significant=change_is_significant(
                current.get("value"), (current.get("ci_low"), current.get("ci_high")),
                previous.get("value"), (previous.get("ci_low"), previous.get("ci_high")),
            ),
            target=current.get("target"),
            missing_reason=current.get("value_missing_reason"),
        ))
    return changes
