# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
# CX scorecard: the nine headline KPIs of the latest complete month, compared with the month before (marked
# only when the 95% intervals say the change is real) and with their targets, 13-month trends, and a table
# per channel. Reads the kpi_metrics mart (month grain, segment 'all').
warehouse_path = "../data/warehouse.duckdb"
as_of = None  # ISO date, or None for the day of the newest data
number_locale = "en"  # "de" for German number formats
business_timezone = "Europe/Berlin"

# %%
from datetime import timedelta

import plotly.graph_objects as go

import cxreport as cx

report = cx.Report("CX scorecard", warehouse_path, as_of, number_locale, business_timezone)
fmt, month = report.fmt, report.month
trend_months = report.months(13)
missing = report.missing({"kpi_metrics": ["period_grain", "period_start", "channel", "segment", "metric", "value",
                                          "ci_low", "ci_high", "target", "value_missing_reason"]})
metrics = [kpi.metric for kpi in cx.SCORECARD_KPIS]
rows = None if missing else report.query(
    """
    select period_start, channel, metric, value::double as value, ci_low::double as ci_low,
           ci_high::double as ci_high, n, target::double as target, value_missing_reason
    from kpi_metrics
    where period_grain = 'month' and segment = 'all' and period_start between ? and ?
    order by metric, channel, period_start
    """,
    [trend_months[0], month],
)
changes = [] if missing else cx.month_changes(
    rows.filter(channel="all"), cx.SCORECARD_KPIS, month, trend_months[-2]
)

# %%
if missing:
    report.header(f"This scorecard covers {fmt.month(month)}.")
    report.unavailable("The KPI mart", missing)
else:
    with_target = [c for c in changes if c.meets_target is not None]
    met = sum(c.meets_target for c in with_target)
    real_changes = [c for c in changes if c.verdict != "steady"]
    summary = (
        f"In **{fmt.month(month)}**, {met} of {len(with_target)} KPIs with a target met it. "
        + (
            "The changes the data supports: " + " ".join(c.sentence(fmt) for c in real_changes)
            if real_changes else "No KPI changed more than normal month-to-month variation."
        )
    )
    report.header(summary)
    for change in changes:
        report.headline(change.kpi.label, change.kpi.value_text(fmt, change.value), change.meets_target)

# %%
# What to do next: the most severe active alerts of the latest day, week and month (kpi_alerts), each with the
# slice that explains a significant change of a total (kpi_change_drivers) and where to act.
alert_inputs = {"kpi_alerts": ["severity", "metric", "period_grain", "period_start", "channel", "segment", "kind",
                               "sentence", "difference"],
                "kpi_change_driver_sentences": ["metric", "period_grain", "period_start", "sentence"]}
missing_alerts = report.missing(alert_inputs)
report.section("What to do next", "The most severe KPI alerts: targets and thresholds breached (seed "
               "kpi_alert_rules) and changes beyond normal variation, corrected for testing hundreds of series at "
               "once (q = the chance that it is a false alarm among the alerts). Every alert with its interval is "
               "in the alerts.md of the run.")
if missing_alerts:
    report.unavailable("KPI alerts", missing_alerts)
else:
    active = report.query(
        """
        select alerts.severity, alerts.metric, alerts.kind, alerts.sentence, causes.sentence as cause
        from kpi_alerts as alerts
        left join kpi_change_driver_sentences as causes
            on causes.metric = alerts.metric and causes.period_grain = alerts.period_grain
            and causes.period_start = alerts.period_start and alerts.kind = 'change_vs_previous'
            and alerts.channel = 'all' and alerts.segment = 'all'
        where alerts.severity in ('critical', 'warning')
        order by alerts.severity = 'critical' desc, abs(alerts.difference) desc
        """
    )
    findings = [
        cx.Finding(
            f"**{row['severity']}**: {row['sentence']}" + (f" Why: {row['cause']}" if row["cause"] else ""),
            "a breach of its rule in kpi_alert_rules." if row["kind"] == "threshold" else
            "beyond normal variation after the correction for testing many series (interval, n and q in the "
            "alert).",
            f"{cx.link_token(position)}.",
            # the query ranks by severity, then by the size of the change
            active.height - position,
        )
        for position, row in enumerate(active.iter_rows(named=True))
    ]
    more = (f"\n\n{active.height - cx.TOP_FINDINGS} more active alerts are in alerts.md."
            if active.height > cx.TOP_FINDINGS else "")
    report.say((cx.next_steps_markdown(findings) + more) if findings
               else "No KPI is beyond its threshold or worse than normal variation.",
               links=[cx.action_link(metric) for metric in active["metric"]])

# %%
if not missing:
    report.section(
        "Headline numbers",
        f"{fmt.month(month)} against {fmt.month(trend_months[-2])}. A coloured bar marks a change the 95% "
        "interval supports (green better, red worse); without it, the change is within normal variation.",
    )
    report.cards(changes)

# %%
if not missing:
    report.section("Trends over 13 months", "Each panel shows the monthly value, its 95% interval where one "
                   "exists (shaded) and the target (dashed).")
    # The full 13 months on every panel, half a month of air on each side, even when data starts later.
    trend_range = [trend_months[0] - timedelta(days=15), month + timedelta(days=15)]
    panels = []
    for kpi in cx.SCORECARD_KPIS:
        series = rows.filter(channel="all", metric=kpi.metric).sort("period_start")
        scale = 100 if kpi.unit == "share" else 1 / 60 if kpi.unit == "seconds" else 1
        figure = go.Figure()
        months, values = series["period_start"].to_list(), (series["value"] * scale).to_list()
        if series["ci_low"].null_count() < series.height:
            band_x = months + months[::-1]
            band_y = (series["ci_high"] * scale).to_list() + (series["ci_low"] * scale).to_list()[::-1]
            figure.add_trace(go.Scatter(x=band_x, y=band_y, mode="lines", fill="toself",
                                        fillcolor="rgba(61,90,128,0.15)",
                                        line=dict(width=0), hoverinfo="skip", showlegend=False))
        figure.add_trace(go.Scatter(x=months, y=values, mode="lines+markers", name=kpi.label, showlegend=False,
                                    line=dict(color=cx.channel_colour("all"), width=2), marker=dict(size=5)))
        targets = series["target"].drop_nulls()
        if targets.len():
            figure.add_hline(y=targets[-1] * scale, line=dict(dash="dash", color="#9aa5b1", width=1))
        figure.update_layout(title=kpi.label,
                             yaxis_ticksuffix={"share": fmt.percent_sign, "seconds": " min"}.get(kpi.unit, ""),
                             xaxis=dict(tickformat="%b %y", dtick="M3", range=trend_range))
        panels.append(figure)
    report.small_multiples(panels)

# %%
if not missing:
    report.section("By channel", f"The service KPIs of {fmt.month(month)} per channel; \"not available\" means "
                   "the KPI does not apply to the channel or its data was not measured.")
    report.kpi_channel_table([cx.KPIS_BY_METRIC[metric] for metric in cx.SERVICE_KPI_METRICS])

# %%
report.publish_headlines()
