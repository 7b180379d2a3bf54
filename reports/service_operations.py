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
# Service operations: contact volume by channel, weekday and hour; FCR, AHT and SLA by channel; a forecast
# of the next weeks' contacts per channel and the agents needed per hour to meet the service level (Erlang C).
# Reads fct_service_contacts, kpi_metrics and the sla_targets seed.
warehouse_path = "../data/warehouse.duckdb"
as_of = None  # ISO date, or None for the day of the newest data
number_locale = "en"  # "de" for German number formats
business_timezone = "Europe/Berlin"

# %%
from datetime import timedelta

import plotly.graph_objects as go
import polars as pl

import cxreport as cx
from ml.forecast import forecast_daily_volume, staffing_plan

FORECAST_WEEKS = 4
HISTORY_WEEKS = 4
STAFFED_CHANNELS = ["phone", "chat_agent"]  # live channels where a queue forms and Erlang C applies

report = cx.Report("Service operations", warehouse_path, as_of, number_locale, business_timezone)
fmt, month = report.fmt, report.month
previous_month = report.months(2)[0]
contacts_missing = report.missing({"fct_service_contacts": ["contact_id", "occurred_at", "inbound_channel",
                                                             "handle_seconds"]})
# Contacts are counted on the business day and hour, in the business time zone.
LOCAL_TIME = f"((occurred_at at time zone 'UTC') at time zone '{business_timezone}')"

# %%
if contacts_missing:
    report.header(f"This report covers {fmt.month(month)}.")
    report.unavailable("Service contact data", contacts_missing)
else:
    monthly = report.query(
        f"""
        select date_trunc('month', {LOCAL_TIME})::date as month, inbound_channel as channel, count(*) as contacts
        from fct_service_contacts
        where {LOCAL_TIME} >= ? and {LOCAL_TIME} < ?
        group by all order by month, channel
        """,
        [report.window_start(13), report.period_end],
    )
    this_month = monthly.filter(month=month)
    total, total_before = this_month["contacts"].sum(), monthly.filter(month=previous_month)["contacts"].sum()
    busiest = this_month.sort("contacts", descending=True).row(0, named=True) if this_month.height else None
    change = (total - total_before) / total_before if total_before else None
    summary = f"Customers contacted service **{fmt.number(total)} times** in {fmt.month(month)}" + (
        f" ({fmt.percent(change, 0, signed=True)} vs {fmt.month(previous_month)})." if change is not None else ".")
    if busiest:
        summary += (f" {report.channel_label(busiest['channel'])} carried the most contacts "
                    f"({fmt.percent(busiest['contacts'] / total)}).")
    report.header(summary)
    report.headline("Contacts", fmt.number(total))

# %%
if not contacts_missing:
    report.section("Contact volume", "Contacts per month and channel over the last 13 months.")
    if monthly.height:
        figure = go.Figure([
            go.Bar(x=rows["month"], y=rows["contacts"], name=report.channel_label(channel),
                   marker_color=cx.channel_colour(channel))
            for (channel,), rows in monthly.group_by("channel", maintain_order=True)
        ])
        figure.update_layout(barmode="stack", yaxis_title="contacts", xaxis=dict(tickformat="%b %y", dtick="M1"))
        report.chart(figure, height=380)
    else:
        report.nothing_in_period("service contacts", "the last 13 months")

    weekly_pattern = report.query(
        f"""
        select isodow({LOCAL_TIME}) as weekday, hour({LOCAL_TIME}) as hour, count(*) as contacts
        from fct_service_contacts
        where {LOCAL_TIME} >= ? and {LOCAL_TIME} < ?
        group by all
        """,
        [report.month, report.period_end],
    )
    if weekly_pattern.height:
        peak = weekly_pattern.sort("contacts", descending=True).row(0, named=True)
        report.say(f"**When customers get in touch** in {fmt.month(month)}: the busiest hour was "
                   f"{cx.WEEKDAYS[peak['weekday'] - 1]} {peak['hour']:02d}:00–{peak['hour'] + 1:02d}:00 with "
                   f"{fmt.number(peak['contacts'])} contacts over the month (all channels, {business_timezone} "
                   "time).")
        report.weekday_hour_heatmap(weekly_pattern, "contacts", "Blues")
    else:
        report.nothing_in_period("service contacts", fmt.month(month))

# %%
report.section("Resolution, handling time and service levels",
               f"First contact resolution, average handle time, first response, SLA attainment and call abandonment "
               f"per channel in {fmt.month(month)}. SLA attainment counts as contact centres do: answered within "
               "the channel's target ÷ (answered + abandoned after the target); abandonment leaves out callers who "
               "hung up within a few seconds.")
report.kpi_channel_table([cx.KPIS_BY_METRIC[m] for m in ["fcr_rate", "aht_seconds", "first_response_median_seconds",
                                                         "sla_attainment", "abandonment_rate"]])

# %%
if not contacts_missing:
    forecast_start = report.as_of + timedelta(days=1)
    daily = report.query(
        f"""
        select inbound_channel as channel, {LOCAL_TIME}::date as day, count(*) as contacts
        from fct_service_contacts
        where {LOCAL_TIME} >= ? and {LOCAL_TIME} < ?
        group by all
        """,
        [forecast_start - timedelta(weeks=HISTORY_WEEKS), forecast_start],
    )
    forecast = forecast_daily_volume(daily, forecast_start, FORECAST_WEEKS * 7, HISTORY_WEEKS)
    # Weeks counted from the first forecast day, so every bar is a full seven days.
    days_ahead = (pl.col("day") - pl.lit(forecast_start)).dt.total_days()
    weekly = (forecast.with_columns(week=pl.lit(forecast_start) + pl.duration(weeks=days_ahead // 7))
              .group_by("channel", "week").agg(pl.col("contacts").sum()).sort("channel", "week"))
    per_week = weekly.group_by("week").agg(pl.col("contacts").sum()).sort("week")
    report.section(
        "Forecast: contacts in the next weeks",
        f"Expected contacts per channel for the {FORECAST_WEEKS} weeks after {fmt.day(report.as_of)}: each day "
        f"is the average of the same weekday in the last {HISTORY_WEEKS} weeks. About "
        f"**{fmt.number(per_week['contacts'].mean())} contacts per week** are expected across all channels.",
    )
    if forecast["contacts"].sum() > 0:
        figure = go.Figure([
            go.Bar(x=rows["week"], y=rows["contacts"], name=report.channel_label(channel),
                   marker_color=cx.channel_colour(channel))
            for (channel,), rows in weekly.group_by("channel", maintain_order=True)
        ])
        figure.update_layout(barmode="stack", yaxis_title="expected contacts per week",
                             xaxis=dict(title="week starting", tickformat="%d %b", tickvals=per_week["week"]))
        report.chart(figure, height=340)
        report.headline("Contacts per week (forecast)", fmt.number(per_week["contacts"].mean()))
    else:
        report.nothing_in_period("service contacts", f"the {HISTORY_WEEKS} weeks before {fmt.day(forecast_start)}")

# %%
report.section(
    "Agents needed per hour",
    "The workforce question: how many agents must be logged in, hour by hour, to answer the channel's service "
    "level (e.g. 80% of calls within 20 seconds)? Erlang C turns the expected contacts per hour and the average "
    "handle time into that number.",
)
staffing_missing = contacts_missing + report.missing({"sla_targets": ["channel", "first_response_target_seconds",
                                                                       "service_level_target"]})
if staffing_missing:
    report.unavailable("Staffing", staffing_missing)
else:
    # Contacts per weekday and hour: the same average-of-recent-weeks rule as the daily forecast.
    intervals = report.query(
        f"""
        with hourly as (
            select inbound_channel as channel, isodow({LOCAL_TIME}) as weekday, hour({LOCAL_TIME}) as hour,
                   count(*) / {HISTORY_WEEKS} as contacts, avg(handle_seconds) as handle_seconds
            from fct_service_contacts
            where {LOCAL_TIME} >= ? and {LOCAL_TIME} < ? and list_contains(?, inbound_channel)
            group by all
        )
        select hourly.channel, weekday, hour, contacts::double as contacts,
               coalesce(avg(handle_seconds) over (partition by hourly.channel), 300)::double as handle_seconds,
               sla.first_response_target_seconds::double as answer_within_seconds,
               sla.service_level_target::double as service_level_target
        from hourly join sla_targets as sla on sla.channel = hourly.channel
        """,
        [forecast_start - timedelta(weeks=HISTORY_WEEKS), forecast_start, STAFFED_CHANNELS],
    )
    plan = staffing_plan(intervals, interval_seconds=3600)
    for (channel,), rows in plan.group_by("channel", maintain_order=True):
        peak = rows.sort("agents", descending=True).row(0, named=True)
        report.say(
            f"**{report.channel_label(channel)}**: to answer {fmt.percent(peak['service_level_target'])} within "
            f"{fmt.duration(peak['answer_within_seconds'])} (average handle time "
            f"{fmt.duration(peak['handle_seconds'])}), the peak hour ({cx.WEEKDAYS[peak['weekday'] - 1]} "
            f"{peak['hour']:02d}:00, about {fmt.number(peak['contacts'], 1)} contacts) needs **{peak['agents']} "
            f"agent{'s' if peak['agents'] != 1 else ''}**; a typical week needs {fmt.number(rows['agents'].sum())} agent-hours."
        )
        report.headline(f"Peak agents, {report.channel_label(channel)}", str(peak["agents"]))
        report.weekday_hour_heatmap(rows, "agents", "Oranges",
                                    title=f"{report.channel_label(channel)}: agents needed per hour")
    if not plan.height:
        report.nothing_in_period(f"contacts on {', '.join(report.channel_label(c) for c in STAFFED_CHANNELS)}",
                                 f"the {HISTORY_WEEKS} weeks before {fmt.day(forecast_start)}")

# %%
report.publish_headlines()
