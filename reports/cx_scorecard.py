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
# only when the 95% intervals say the change is real) and with their targets, trends over up to 13 months, and a
# table per channel. Reads the kpi_metrics mart (month grain, segment 'all').
warehouse_path = "../data/warehouse.duckdb"
as_of = None  # ISO date, or None for the day of the newest data
number_locale = "en"  # "de" for German number formats
business_timezone = "Europe/Berlin"
hold_connection = False  # True when the pipeline renders it: one warehouse connection for the notebook

# %%
from datetime import timedelta

import plotly.graph_objects as go
import polars as pl

import cxreport as cx

report = cx.Report("CX scorecard", warehouse_path, as_of, number_locale, business_timezone,
                   hold_connection=hold_connection)
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
# slice that explains a significant change of a total (kpi_change_drivers) and where to act, and the closed-loop
# cases open past their due time with the case lists they are in. Ranked by severity: critical alerts, overdue
# cases, warnings; alerts of the same severity by the size of their change.
SEVERITY_STAKE = {"critical": 2.0, "warning": 1.0}  # + up to 1 for the size rank within the severity
OVERDUE_CASES_STAKE = 2.0  # below every critical alert, above every warning
overdue = None if missing else report.query(
    "select sum(value) as overdue from kpi_metrics where metric = 'cases_overdue' and period_grain = 'month' "
    "and channel = 'all' and segment = 'all'")["overdue"][0]
alert_inputs = {"kpi_alerts": ["severity", "metric", "period_grain", "period_start", "channel", "segment", "kind",
                               "sentence", "difference"],
                "kpi_change_driver_sentences": ["metric", "period_grain", "period_start", "sentence"]}
missing_alerts = report.missing(alert_inputs)
report.section("What to do next", "The most severe KPI alerts: targets and thresholds breached (seed "
               "kpi_alert_rules) and changes beyond normal variation, corrected for testing hundreds of series at "
               "once (q = the chance that it is a false alarm among the alerts). Every alert with its interval is "
               "in the alerts.md of the run. And the closed-loop cases open past their due time.")
active = None if missing_alerts else report.query(
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
alert_rows = [] if active is None else list(active.iter_rows(named=True))
# one link per alert, then the case lists' table further down this page
links = [*(cx.action_link(row["metric"]) for row in alert_rows), (cx.CASE_LISTS_SECTION, cx.CASE_LISTS_LINK[1])]
case_lists, case_export = cx.open_case_lists(report), cx.case_export_file(as_of, business_timezone)
overdue_lists = [case_list for case_list in case_lists.values() if case_list.overdue_cases]
findings = []
if overdue:
    findings.append(cx.Finding(
        f"**{fmt.number(overdue)} closed-loop cases are open past their due time.**",
        "a count of the cases themselves (fct_cx_cases), no estimate.",
        "work them oldest first: "
        + (cx.case_lists_action(fmt, overdue_lists, case_export, cx.link_token(len(alert_rows))) if overdue_lists
           else "in the CRM from the case export")
        + "; the rates are in Closed-loop cases.",
        OVERDUE_CASES_STAKE,
    ))
alert_findings = [
    cx.Finding(
        f"**{row['severity']}**: {row['sentence']}" + (f" Why: {row['cause']}" if row["cause"] else ""),
        "a breach of its rule in kpi_alert_rules." if row["kind"] == "threshold" else
        "beyond normal variation after the correction for testing many series (interval, n and q in the "
        "alert).",
        f"{cx.link_token(position)}.",
        # the query ranks by severity, then by the size of the change
        SEVERITY_STAKE[row["severity"]] + (len(alert_rows) - position) / (len(alert_rows) + 1),
    )
    for position, row in enumerate(alert_rows)
]
findings += alert_findings
if missing_alerts:
    report.unavailable("KPI alerts", missing_alerts)
    if findings:
        report.say(cx.next_steps_markdown(findings), links=links)
else:
    shown_alerts = sum(finding in alert_findings for finding in cx.top_findings(findings))
    more = (f"\n\n{len(alert_rows) - shown_alerts} more active alerts are in alerts.md."
            if len(alert_rows) > shown_alerts else "")
    report.say((cx.next_steps_markdown(findings) + more) if findings
               else "No KPI is beyond its threshold or worse than normal variation, and no case is overdue.",
               links=links)

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
    # 13 months when the data reaches back that far, else the months it has: the heading counts what the
    # panels show.
    measured = rows.filter(pl.col("channel") == "all", pl.col("metric").is_in(metrics), pl.col("value").is_not_null())
    first_shown = measured["period_start"].min() or month
    shown_months = [m for m in trend_months if m >= first_shown]
    # A KPI can start later than the data: churn, say, needs its window of history before a month can be judged.
    starts = measured.group_by("metric").agg(pl.col("period_start").min())
    late = [f"{cx.KPIS_BY_METRIC[metric].label} from {fmt.month(start)}"
            for metric, start in starts.sort("metric").iter_rows() if start > first_shown]
    months_word = "month" if len(shown_months) == 1 else "months"
    report.section(f"Trends over {len(shown_months)} {months_word}", "Each panel shows the monthly value, its 95% "
                   "interval where one exists (shaded) and the target (dashed)."
                   + (f" The data starts in {fmt.month(first_shown)}." if len(shown_months) < len(trend_months)
                      else "")
                   + (f" Measured only once the data allows it: {', '.join(late)}." if late else ""))
    # The same months on every panel, half a month of air on each side, even when a KPI starts later.
    trend_range = [shown_months[0] - timedelta(days=15), month + timedelta(days=15)]
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
# Closed-loop cases (fct_cx_cases, counted in kpi_metrics): counts and rates only. The case list with the
# customers' CRM ids is the operational export cases_<date>.csv for the CRM, never part of a report.
if not missing:
    report.section("Closed-loop cases", "Situations that need a person (detractor answers, urgent negative texts, "
                   "repeated unresolved contacts, high churn risk with a recommended action), each routed to a team "
                   "with a due time; the CRM's updates close them.")
    cases = {row["metric"]: row for row in rows.filter(channel="all", period_start=month).iter_rows(named=True)
             if row["metric"].startswith(("cases_", "case_", "nps_before_case", "nps_after_case"))}
    opened = cases.get("cases_opened")
    if opened is None or opened["value"] is None:
        reason = opened["value_missing_reason"] if opened else "the KPI mart has no case figures"
        report.say(f"Closed-loop cases are not available: {reason}.")
    else:
        not_measured = {"value": None, "n": 0, "ci_low": None, "ci_high": None}
        closed, in_time, hours, before, after = (cases.get(metric, not_measured) for metric in (
            "cases_closed", "cases_closed_in_time_share", "case_hours_to_close_median", "nps_before_case",
            "nps_after_case"))
        text = (f"In {fmt.month(month)}, {fmt.number(opened['value'])} cases were opened and "
                f"{fmt.number(closed['value'])} closed; "
                f"{fmt.share_of(in_time['value'], in_time['n'])} of the cases that came due were closed in time, "
                f"in a median of {fmt.duration(None if hours['value'] is None else hours['value'] * 3600)}. "
                f"{fmt.number(overdue)} cases are open past their due time.")
        if after["n"]:
            text += (f" Customers of the cases closed this month: NPS {fmt.number(before['value'])} at their last "
                     f"answer before the case and {fmt.number(after['value'])} at their next answer (95% interval "
                     f"{fmt.number(after['ci_low'])} to {fmt.number(after['ci_high'])}, n = {fmt.number(after['n'])}); "
                     "a case often starts with a detractor answer, so part of any rise is regression to the mean.")
        report.say(text)

# %%
# The case lists the CRM works (kpi_open_case_lists), which the findings of every report that lead to cases link
# to: counts per case type and owner team. The cases themselves, with the customers' CRM ids, are only in the
# CRM's case export.
report.section(cx.CASE_LISTS_SECTION, "The open cases per case type and owner team, as the CRM file "
               f"{case_export} lists them: a team filters it by these two columns. "
               "Counts only: the file names the customers and stays out of this report.", anchor=cx.CASE_LISTS_ANCHOR)
if case_lists:
    report.table(pl.DataFrame([vars(case_list) for case_list in case_lists.values()]), {
        "case_label": cx.Column("Case type"), "owner_team": cx.Column("Owner team"),
        "open_cases": cx.Column("Open", fmt.number, numeric=True),
        "overdue_cases": cx.Column("Past their due time", fmt.number, numeric=True),
    })
else:
    report.say("No case lists yet: the closed-loop cases have not been built.")

# %%
report.publish_headlines()
