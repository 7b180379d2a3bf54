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
# Service operations: contact volume by channel, weekday and hour; FCR, AHT and SLA by channel; the contact
# forecast with its ranges and accuracy, the intraday profile, the staffing plan per half-hour, abandonment and
# the plan against what happened. Reads fct_service_contacts, kpi_metrics, fct_marketing_contacts, the seeds holidays
# and sla_targets, and the workforce tables ml_contact_forecast, ml_forecast_backtest, ml_forecast_cleaned_days,
# ml_staffing_plan and ml_staffing_adherence.
warehouse_path = "../data/warehouse.duckdb"
as_of = None  # ISO date, or None for the day of the newest data
number_locale = "en"  # "de" for German number formats
business_timezone = "Europe/Berlin"
hold_connection = False  # True when the pipeline renders it: one warehouse connection for the notebook
holiday_country = "DE"  # public holidays named in the forecast (seed holidays)

# %%
from datetime import timedelta

import plotly.graph_objects as go
import polars as pl

import cxreport as cx
from ml.forecast_labels import MODEL_LABELS
from ml.plan_vs_actual import plan_vs_actual_by_channel

VOICE = "phone"
INTERVAL = "30min"
FORECAST_COLUMNS = ["channel", "queue", "granularity", "day", "forecast", "lower_80", "upper_80", "lower_95",
                    "upper_95", "model"]
MODEL_WORDS = {name: label[0].upper() + label[1:] for name, label in MODEL_LABELS.items()}

report = cx.Report("Service operations", warehouse_path, as_of, number_locale, business_timezone,
                   hold_connection=hold_connection)
fmt, month = report.fmt, report.month
previous_month = report.months(2)[0]
contacts_missing = report.missing({"fct_service_contacts": ["contact_id", "occurred_at", "inbound_channel",
                                                             "handle_seconds"]})
# Contacts are counted on the business day and hour, in the business time zone.
LOCAL_TIME = f"((occurred_at at time zone 'UTC') at time zone '{business_timezone}')"
holidays = dict(report.query("select holiday_date, holiday_name from holidays where country = ?", [holiday_country]
                             ).iter_rows()) if not report.missing({"holidays": ["holiday_date"]}) else {}
campaign_days = set(report.query(
    f"select distinct ((sent_at at time zone 'UTC') at time zone '{business_timezone}')::date from fct_marketing_contacts"
)[:, 0].to_list()) if not report.missing({"fct_marketing_contacts": ["sent_at"]}) else set()


def peak_reason(day, busiest_weekday: int, holidays: dict, campaign_days: set) -> str:
    """Why a forecast day is high, in words: a holiday next to it, campaign sends in the days before, the busiest
    weekday of the pattern, or the month end."""
    near_holiday = [holidays[d] for d in (day - timedelta(days=1), day - timedelta(days=3)) if d in holidays]
    if near_holiday:
        return f"the first working day after {near_holiday[0]}"
    sends = [d for d in (day - timedelta(days=k) for k in range(1, 4)) if d in campaign_days]
    reason = f"{day:%A}s are the busiest weekday" if day.isoweekday() == busiest_weekday else ""
    if sends:
        reason += (" and " if reason else "") + f"campaigns went out on {fmt.day(max(sends))}"
    return reason or "the regular weekly pattern"


def peak_of(frame: pl.DataFrame, value: str, *when: str) -> dict:
    """The peak, one definition for the whole report: the row with the most contacts (`value`), the earliest
    of equals (`when` columns)."""
    return frame.sort([value, *when], descending=[True] + [False] * len(when)).row(0, named=True)

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
# Loaded once: "What to do next" ranks what the sections below show in detail.
forecast_missing = report.missing({"ml_contact_forecast": FORECAST_COLUMNS})
forecast = None if forecast_missing else report.query(
    "select channel, day, forecast, lower_80, upper_80, lower_95, upper_95, model, as_of_date "
    "from ml_contact_forecast where granularity = 'day' and queue = 'all' order by channel, day")
# A queued call (channel phone) without a handle time was abandoned before an agent answered.
abandonment = None if contacts_missing else report.query(
    f"""
    select count(*) filter (where handle_seconds is null) as abandoned, count(*) as offered,
           avg(wait_seconds) filter (where handle_seconds is null) as wait_before_hanging_up
    from fct_service_contacts
    where inbound_channel = ? and {LOCAL_TIME} >= ? and {LOCAL_TIME} < ?
    """, [VOICE, report.month, report.period_end]).row(0, named=True)
adherence_missing = report.missing({"ml_staffing_adherence": ["interval_start", "planned_agents", "agents_seen",
                                                               "expected_service_level", "service_level_reached",
                                                               "offered_contacts", "answered_within_target"]})
by_channel = {} if adherence_missing else plan_vs_actual_by_channel(
    report.query("select * from ml_staffing_adherence order by channel, interval_start"))

# %%
report.section("What to do next", "The findings that touch the most contacts, each with how sure it is and where "
               "to act; the sections after it show the detail.")
findings = []
if by_channel:
    channel, summary = max(by_channel.items(), key=lambda item: item[1]["expected_service_level"]
                           - item[1]["service_level_reached"])
    expected, reached, offered = (summary["expected_service_level"], summary["service_level_reached"],
                                  summary["offered_contacts"])
    if expected > reached:
        findings.append(cx.Finding(
            f"**{report.channel_label(channel)}** is furthest behind its plan: customers got **{fmt.percent(reached)} "
            f"answered within target** where the plan expected {fmt.percent(expected)} "
            f"({fmt.percentage_points(reached - expected)}), the four weeks to {fmt.day(report.as_of)}.",
            cx.share_confidence(fmt, round(reached * offered), offered),
            "check the handle time and shrinkage the plan assumes for it against what happened, and schedule for "
            "the reached level (see Abandonment and plan against actual).",
            (expected - reached) * offered,
        ))
if forecast is not None and forecast.height:
    peak = peak_of(forecast, "forecast", "day")
    findings.append(cx.Finding(
        f"The busiest day ahead: **{report.channel_label(peak['channel'])}** expects about "
        f"**{fmt.number(peak['forecast'])} contacts** on {cx.WEEKDAYS[peak['day'].weekday()]} {fmt.day(peak['day'])}.",
        f"80% range {fmt.number(peak['lower_80'])} to {fmt.number(peak['upper_80'])} "
        f"({MODEL_WORDS.get(peak['model'], peak['model'])}; see How good is the forecast?).",
        "schedule the agents the plan asks for that day (see Agents needed per half-hour).",
        peak["forecast"],
    ))
if abandonment and abandonment["abandoned"]:
    findings.append(cx.Finding(
        f"**{fmt.percent(abandonment['abandoned'] / abandonment['offered'])} of "
        f"{fmt.number(abandonment['offered'])} queued calls** were abandoned in {fmt.month(month)} "
        f"({fmt.number(abandonment['abandoned'])} callers).",
        cx.share_confidence(fmt, abandonment["abandoned"], abandonment["offered"]),
        "staff the phone peaks (see Agents needed per half-hour); callers who hang up come back on other "
        f"channels ({cx.link_token(0)}).",
        abandonment["abandoned"],
    ))
report.say(cx.next_steps_markdown(findings) or "Nothing to rank yet: the plan against actual, the forecast and "
           "the queued calls are not available (the sections below say why).",
           links=[("where customers switch channel", "customer_journeys")])

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
        peak = peak_of(weekly_pattern, "contacts", "weekday", "hour")
        report.say(f"**When customers get in touch** in {fmt.month(month)}: the peak (the hour of the week with "
                   f"the most contacts) was {cx.WEEKDAYS[peak['weekday'] - 1]} {peak['hour']:02d}:00–"
                   f"{peak['hour'] + 1:02d}:00 with {fmt.number(peak['contacts'])} contacts over the month (all "
                   f"channels, {business_timezone} time).")
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
report.section(
    "Forecast: contacts in the next weeks",
    "Expected contacts per day and channel with the range they should fall in: the darker band holds 8 of 10 "
    "days, the lighter one 19 of 20. Each channel's model is the one that predicted the past weeks best "
    "(see the next section); holidays and one-off spikes were taken out of the history first.",
)
if forecast_missing:
    report.unavailable("Contact forecast", forecast_missing)
else:
    weekly_total = forecast["forecast"].sum() / (forecast["day"].n_unique() / 7) if forecast.height else 0
    report.headline("Contacts per week (forecast)", fmt.number(weekly_total))
    for (channel,), rows in forecast.group_by("channel", maintain_order=True):
        label, colour = report.channel_label(channel), cx.channel_colour(channel)
        weekday_means = rows.group_by(pl.col("day").dt.weekday().alias("weekday")).agg(pl.col("forecast").mean())
        busiest_weekday = weekday_means.sort("forecast", descending=True)["weekday"][0]
        peak = peak_of(rows, "forecast", "day")
        reason = peak_reason(peak["day"], busiest_weekday, holidays, campaign_days)
        report.say(
            f"**{label}**: about **{fmt.number(rows['forecast'].sum() / (rows.height / 7))} contacts a week** "
            f"({MODEL_WORDS.get(rows['model'][0], rows['model'][0])}). Busiest day ahead: "
            f"{cx.WEEKDAYS[peak['day'].weekday()]} {fmt.day(peak['day'])} with about {fmt.number(peak['forecast'])} "
            f"(80% range {fmt.number(peak['lower_80'])}–{fmt.number(peak['upper_80'])}), {reason}.")
        figure = go.Figure([
            go.Scatter(x=rows["day"].to_list() + rows["day"].reverse().to_list(),
                       y=rows["upper_95"].to_list() + rows["lower_95"].reverse().to_list(), fill="toself",
                       fillcolor=colour, opacity=0.15, line=dict(width=0), name="95% range", hoverinfo="skip"),
            go.Scatter(x=rows["day"].to_list() + rows["day"].reverse().to_list(),
                       y=rows["upper_80"].to_list() + rows["lower_80"].reverse().to_list(), fill="toself",
                       fillcolor=colour, opacity=0.3, line=dict(width=0), name="80% range", hoverinfo="skip"),
            go.Scatter(x=rows["day"], y=rows["forecast"], mode="lines", line=dict(color=colour, width=2),
                       name="expected"),
        ])
        figure.update_layout(title=f"{label}: contacts per day", yaxis_title="contacts", showlegend=False,
                             xaxis=dict(tickformat="%d %b"))
        report.chart(figure, height=260)
    cleaned = report.query("select channel, day, contacts, expected, reason from ml_forecast_cleaned_days "
                           "where queue = 'all' order by day") if not report.missing(
        {"ml_forecast_cleaned_days": ["channel", "day", "contacts", "expected", "reason"]}) else pl.DataFrame()
    if cleaned.height:
        holidays_cleaned = cleaned.filter(pl.col("reason").str.starts_with("holiday")).unique("day", keep="first").sort("day")
        spikes = cleaned.filter(pl.col("reason").str.starts_with("outlier")).with_columns(
            (pl.col("contacts") / pl.col("expected").clip(1)).alias("ratio")).sort("ratio", descending=True).head(5)
        report.say(
            "**Taken out of the history before fitting** (replaced by a usual day of the same weekday): "
            + (f"{len(holidays_cleaned)} public holidays ("
               + ", ".join(f"{name.removeprefix('holiday: ')} {fmt.day(day)}"
                           for day, name in holidays_cleaned.select("day", "reason").rows()) + ")"
               if holidays_cleaned.height else "no holidays")
            + (f"; the biggest of {cleaned.height - holidays_cleaned.height} one-off spikes: " + "; ".join(
                f"{report.channel_label(channel)} {fmt.day(day)} ({fmt.number(contacts)} contacts where about "
                f"{fmt.number(expected)} were usual)" for channel, day, contacts, expected in
                spikes.select("channel", "day", "contacts", "expected").rows()) if spikes.height else "")
            + ".")

# %%
report.section(
    "How good is the forecast?",
    "Each model forecast the same horizon again and again from weekly starting points in the past, seeing only "
    "the days before each start; the average miss (share of contacts it was off) decides the model.",
)
backtest_missing = report.missing({"ml_forecast_backtest": ["channel", "queue", "model", "wape", "bias",
                                                             "coverage_80", "origins", "chosen"]})
if backtest_missing:
    report.unavailable("Forecast backtest", backtest_missing)
else:
    backtest = report.query("select * from ml_forecast_backtest where queue = 'all' order by channel, wape")
    for (channel,), rows in backtest.group_by("channel", maintain_order=True):
        chosen = rows.filter("chosen").row(0, named=True)
        naive = rows.filter(model="seasonal_naive")
        comparison = (f", {fmt.number(100 * (naive['wape'][0] - chosen['wape']))} points better than repeating "
                      f"last week's volumes" if naive.height and chosen["model"] != "seasonal_naive" else "")
        coverage = (f"; its 80% range held {fmt.percent(chosen['coverage_80'])} of the days"
                    if chosen["coverage_80"] is not None else "")
        direction = "over" if chosen["bias"] > 0 else "under"
        report.say(
            f"**{report.channel_label(channel)}**: {MODEL_WORDS.get(chosen['model'], chosen['model'])} was "
            f"**{fmt.percent(chosen['wape'])} off** on average over {chosen['origins']} backtests{comparison}, "
            f"{fmt.percent(abs(chosen['bias']))} {direction}-forecast in total{coverage}.")
    report.table(backtest.with_columns(pl.col("model").replace_strict(MODEL_WORDS, default=pl.col("model"))), {
        "channel": cx.Column("Channel"), "model": cx.Column("Model"),
        "wape": cx.Column("Average miss (WAPE)", lambda v: fmt.percent(v, 1), numeric=True),
        "bias": cx.Column("Bias", lambda v: fmt.percent(v, 1, signed=True), numeric=True),
        "coverage_80": cx.Column("Days in 80% range", fmt.percent, numeric=True),
        "coverage_95": cx.Column("Days in 95% range", fmt.percent, numeric=True),
    })

# %%
report.section("When contacts arrive",
               "Expected phone contacts per half-hour of each weekday over the forecast horizon: the daily forecast "
               "split by the intraday profile of the recent weeks.")
if forecast_missing:
    report.unavailable("Intraday profile", forecast_missing)
else:
    profile = report.query(
        f"""
        select isodow(interval_start) as weekday, hour(interval_start) * 60 + minute(interval_start) as slot,
               avg(forecast) as contacts
        from ml_contact_forecast
        where granularity = '{INTERVAL}' and queue = 'all' and channel = ?
        group by all
        """, [VOICE])
    if profile.height:
        report.weekday_slot_heatmap(profile.with_columns(pl.col("contacts").round(1)), "contacts", "Blues",
                                    title=f"{report.channel_label(VOICE)}: expected contacts per half-hour")
    else:
        report.nothing_in_period(f"{report.channel_label(VOICE)} forecast", "the forecast horizon")

# %%
report.section(
    "Agents needed per half-hour",
    "The workforce question: how many agents must be scheduled, half-hour by half-hour, to answer each "
    "channel's service level? Phone uses Erlang A (callers who wait too long hang up), chat lets an agent serve "
    "several chats at once, e-mail and tickets are worked within their response target. Scheduled agents "
    "include shrinkage (breaks, training, absence). Handle time is the average handle time of the table above "
    "(talk, hold and wrap-up per handled contact), over the 8 weeks before the plan; where the exports carry none "
    "(e-mail, forms, social), the assumption of the staffing seed. The grid shows the first full week of the plan.",
)
plan_missing = report.missing({"ml_staffing_plan": ["channel", "queue", "interval_start", "contacts", "agents_required",
                                                     "agents_scheduled", "expected_service_level",
                                                     "erlang_c_agents", "abandonment", "asa_seconds"]})
if plan_missing:
    report.unavailable("Staffing plan", plan_missing)
else:
    # Each channel as one pool of agents; where calls have queues, the plan also staffs each queue apart.
    plan = report.query("select * from ml_staffing_plan where queue = 'all' order by channel, interval_start")
    first_monday = plan["interval_start"].min().date() + timedelta(days=-plan["interval_start"].min().weekday() % 7)
    week = plan.filter(pl.col("interval_start").dt.date().is_between(first_monday, first_monday + timedelta(days=6)))
    queue_pools = report.query(
        "select channel, count(distinct queue) as queues, sum(agents_scheduled) / 2 as agent_hours "
        "from ml_staffing_plan where queue <> 'all' and interval_start::date between ? and ? group by channel",
        [first_monday, first_monday + timedelta(days=6)])
    for (channel,), rows in week.group_by("channel", maintain_order=True):
        label = report.channel_label(channel)
        peak = peak_of(rows, "contacts", "interval_start")
        start = peak["interval_start"]
        by_weekday = rows.group_by(pl.col("interval_start").dt.weekday().alias("weekday")).agg(pl.col("contacts").sum())
        reason = peak_reason(start.date(), peak_of(by_weekday, "contacts", "weekday")["weekday"], holidays,
                             campaign_days)
        sentence = (f"**{label}**: the peak (the half-hour with the most contacts expected) is "
                    f"{cx.WEEKDAYS[start.weekday()]} {fmt.day(start.date())} {start:%H:%M}, about "
                    f"{fmt.number(peak['contacts'], 1)} contacts ({reason}): **{peak['agents_scheduled']} agents "
                    f"scheduled** ({peak['agents_required']} on the queue); at most {rows['agents_scheduled'].max()} "
                    f"at once in the week, which needs {fmt.number(rows['agents_scheduled'].sum() / 2)} agent-hours.")
        pools = queue_pools.filter(channel=channel)
        if pools.height:
            sentence += (f" Staffed as {pools['queues'][0]} queues of their own (agents skilled for one queue "
                         f"only), the week would need {fmt.number(pools['agent_hours'][0])} agent-hours: small "
                         "queues cost more agents apart than together.")
        if peak["expected_service_level"] is not None:
            sentence += f" Expected service level at the peak {fmt.percent(peak['expected_service_level'])}"
            sentence += (f", {fmt.percent(peak['abandonment'])} of callers hanging up" if peak["abandonment"] else "")
            sentence += "."
        if peak["erlang_c_agents"] is not None and peak["erlang_c_agents"] != peak["agents_required"]:
            sentence += (f" Erlang C, which assumes nobody hangs up, would put {peak['erlang_c_agents']} agents on "
                         f"the queue instead of {peak['agents_required']}.")
        report.say(sentence)
        report.headline(f"Agents at the peak, {label}", str(peak["agents_scheduled"]))
        grid = rows.select(pl.col("interval_start").dt.weekday().alias("weekday"),
                           (pl.col("interval_start").dt.hour().cast(pl.Int64) * 60
                            + pl.col("interval_start").dt.minute().cast(pl.Int64)).alias("slot"),
                           pl.col("agents_scheduled").alias("agents"))
        report.weekday_slot_heatmap(grid, "agents", "Oranges", title=f"{label}: agents scheduled per half-hour",
                                    whole_numbers=True)
    if not week.height:
        report.nothing_in_period("staffed contacts", "the first week of the plan")

# %%
report.section("Abandonment and plan against actual",
               "Callers who hang up before an agent answers, and whether the plan made before the last four weeks "
               "delivered the service level it promised, channel by channel: answered within the channel's target "
               "(a call or chat by an agent, an e-mail, form or post by a first reply).")
if contacts_missing:
    report.unavailable("Call abandonment", contacts_missing)
else:
    if abandonment["offered"]:
        share = abandonment["abandoned"] / abandonment["offered"]
        report.headline("Calls abandoned", fmt.percent(share))
        report.say(f"In {fmt.month(month)}, **{fmt.percent(share)} of {fmt.number(abandonment['offered'])} queued "
                   f"calls were abandoned**"
                   + (f", after {fmt.duration(abandonment['wait_before_hanging_up'])} of waiting on average."
                      if abandonment["abandoned"] else "."))
    else:
        report.nothing_in_period("queued calls", fmt.month(month))
if adherence_missing:
    report.unavailable("Plan against actual", adherence_missing)
else:
    for channel, summary in by_channel.items():
        expected, reached = summary["expected_service_level"], summary["service_level_reached"]
        seen = (f", **{fmt.number(summary['agents_seen_mean'], 1)}** were seen handling contacts"
                if summary["agents_seen_mean"] is not None else " (the export does not say who handled them)")
        report.say(
            f"**{report.channel_label(channel)}**, the four weeks to {fmt.day(report.as_of)}: the plan asked for "
            f"**{fmt.number(summary['planned_agents_mean'], 1)} agents** per half-hour with contacts{seen}. It "
            f"expected {fmt.percent(expected)} answered within target; customers got **{fmt.percent(reached)}**"
            + (" — more than 10 points short: the plan was too optimistic." if expected - reached > 0.10 else "."))
    if by_channel:
        report.table(pl.DataFrame([{"channel": channel, **summary} for channel, summary in by_channel.items()]), {
            "channel": cx.Column("Channel"),
            "planned_agents_mean": cx.Column("Agents planned", lambda v: fmt.number(v, 1), numeric=True),
            "agents_seen_mean": cx.Column("Agents seen", lambda v: fmt.number(v, 1), numeric=True,
                                          missing="not in the export"),
            "expected_service_level": cx.Column("Service level planned", fmt.percent, numeric=True),
            "service_level_reached": cx.Column("Service level reached", fmt.percent, numeric=True),
        })
    else:
        report.nothing_in_period("contacts with a plan", "the last four weeks")

# %%
report.publish_headlines()
