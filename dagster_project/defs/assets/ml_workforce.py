"""Workforce-management assets (group `ml`): the contact forecast with its backtest, the staffing plan, and the
plan against what happened.

- `ml_contact_forecast` (+ `ml_forecast_backtest`, `ml_forecast_cleaned_days`): daily and 30-minute contacts per
  channel, and per queue for the phone, for CX_FORECAST_HORIZON_DAYS after the as-of date, with 80% and 95%
  intervals; the model of each series is chosen by a rolling-origin backtest (`ml/forecast.py`).
- `ml_staffing_plan`: agents per 30 minutes and staffed channel (`ml/staffing.py`, seeds `staffing_channels`
  and `sla_targets`), with the expected service level, speed of answer and abandonment.
- `ml_staffing_adherence`: the last four weeks of every staffed channel with contacts (phone, chat, e-mail,
  web form, social): what a plan made four weeks ago asked for, the agents seen handling contacts (where the
  export names them: calls and chats) and the service level reached; its check warns when the plan promised
  more than 10 points above what a channel's customers got.
Contacts count on the business day and half-hour (CX_TIMEZONE). The as-of date is CX_AS_OF or the last day
with contacts. The forecast and the adherence plan keep the model choices of their backtests in CX_MODELS_DIR
(`ml/forecast_store.py`): while younger than CX_MODEL_MAX_AGE_DAYS a run refits only the chosen models; the
metadata `model_choice` says which.
"""


from datetime import date, datetime, timedelta, timezone

import dagster as dg
import polars as pl

from dagster_duckdb import DuckDBResource

from cx_core.settings import Settings
from cx_core.warehouse import Warehouse, drop_tables, read_frame, replace_table, table_names
from dagster_project.defs.assets.dbt import warehouse_table_key
from dagster_project.defs.metadata import frame_metadata, skipped
from dagster_project.defs.resources import PipelineSettings, WarehouseResource, holds_warehouse_open
from ml.forecast import Calendar, ModelChoice, SeriesForecast, forecast_series, intraday_forecast, intraday_profile
from ml.forecast_store import ADHERENCE_CHOICES, FORECAST_CHOICES, parameters, save_choices, stored_choices
from ml.model_store import ModelStore
from ml.plan_vs_actual import plan_vs_actual_by_channel
from ml.staffing import PlanPolicy, estimate_patience_seconds, staffing_plan

INTERVAL_MINUTES = 30
PROFILE_WEEKS = 8  # recent weeks that give the intraday profile, handle times and patience
ADHERENCE_WEEKS = 4
ALL_QUEUES = "all"
FORECAST_TABLES = ["ml_contact_forecast", "ml_forecast_backtest", "ml_forecast_cleaned_days"]
VOICE_CHANNEL = "phone"
CHAT_AGENT_CHANNEL = "chat_agent"
# Channels whose exports name the agent of each contact: only there can agents be seen.
AGENT_EXPORT_CHANNELS = [VOICE_CHANNEL, CHAT_AGENT_CHANNEL]
# Expected service level above the reached one, in points, from which the adherence check warns.
ADHERENCE_WARN_POINTS = 0.10


def local_time(column: str, timezone: str) -> str:
    return f"(({column} at time zone 'UTC') at time zone '{timezone}')"


def contacts_sql(timezone: str) -> str:
    """One row per service contact with its workforce channel (chats handed over are agent work on
    `chat_agent`; the phone keeps its queue) and how it was answered: the wait for an agent (calls answered by a
    person, chats handed over) or for the first reply (tickets, social posts); null when never answered."""
    return f"""
        SELECT
            CASE WHEN inbound_channel = 'chat_bot' AND bot_handover THEN 'chat_agent' ELSE inbound_channel END
                AS channel,
            CASE WHEN inbound_channel = 'phone' THEN contact_reason END AS queue,
            {local_time('occurred_at', timezone)} AS local_at,
            handle_seconds,
            CASE WHEN inbound_channel = 'chat_bot' THEN wait_seconds ELSE first_response_seconds END
                AS response_seconds,
            coalesce(abandoned, false) AS abandoned
        FROM fct_service_contacts
    """


def calls_sql(timezone: str) -> str:
    """Inbound calls that reached an agent queue (answered or abandoned)."""
    return f"""
        SELECT {local_time('started_at', timezone)} AS local_at, wait_seconds, abandoned, agent_id
        FROM stg_calls__calls
        WHERE direction = 'inbound' AND (agent_id IS NOT NULL OR abandoned)
    """


def agents_sql(timezone: str) -> str:
    """Who handled what, where the exports name agents: calls answered and chats handed over."""
    return f"""
        SELECT '{VOICE_CHANNEL}' AS channel, {local_time('started_at', timezone)} AS local_at, agent_id
        FROM stg_calls__calls
        WHERE direction = 'inbound' AND agent_id IS NOT NULL AND NOT coalesce(abandoned, false)
        UNION ALL
        SELECT '{CHAT_AGENT_CHANNEL}', {local_time('started_at', timezone)}, agent_id
        FROM stg_chat_conversations__conversations
        WHERE handover AND agent_id IS NOT NULL
    """


CHANNEL_RULES_SQL = """
    SELECT staffing.channel, staffing.staffing_model, staffing.concurrency, staffing.assumed_handle_seconds,
           sla.first_response_target_seconds::DOUBLE AS answer_within_seconds, sla.service_level_target
    FROM staffing_channels AS staffing
    INNER JOIN sla_targets AS sla ON sla.channel = staffing.channel
"""
FORECAST_DEPS = [warehouse_table_key(name) for name in ("fct_service_contacts", "fct_marketing_contacts", "holidays")]
PLAN_DEPS = [warehouse_table_key(name) for name in ("ml_contact_forecast", "fct_service_contacts", "stg_calls__calls",
                                                    "staffing_channels", "sla_targets")]
ADHERENCE_DEPS = [*PLAN_DEPS, warehouse_table_key("stg_chat_conversations__conversations")]


# The backtest table of histories too short to backtest: no rows, the columns readers filter on.
EMPTY_BACKTEST = {"channel": pl.String, "queue": pl.String, "model": pl.String, "wape": pl.Float64,
                  "wape_vs_baselines": pl.Float64, "chosen": pl.Boolean}


def with_slots(frame: pl.DataFrame) -> pl.DataFrame:
    """Add day and slot (minutes after midnight of the half-hour) from local_at."""
    return frame.with_columns(
        pl.col("local_at").dt.date().alias("day"),
        (pl.col("local_at").dt.hour().cast(pl.Int32) * 60
         + pl.col("local_at").dt.minute().cast(pl.Int32) // INTERVAL_MINUTES * INTERVAL_MINUTES).alias("slot"),
    )


def load_contacts(settings: Settings, warehouse: Warehouse) -> pl.DataFrame:
    return with_slots(read_frame(warehouse, contacts_sql(settings.timezone)))


def load_calendar(settings: Settings, warehouse: Warehouse) -> Calendar:
    holidays = read_frame(warehouse, f"SELECT holiday_date, holiday_name FROM holidays "
                                     f"WHERE country = '{settings.holiday_country}'")
    sends = read_frame(warehouse, f"SELECT {local_time('sent_at', settings.timezone)}::DATE AS day, count(*) AS sends "
                                  "FROM fct_marketing_contacts GROUP BY ALL")
    return Calendar(dict(holidays.iter_rows()), {day: float(sends) for day, sends in sends.iter_rows()})


def series_keys(contacts: pl.DataFrame) -> list[tuple[str, str]]:
    """Every channel as a whole, and each queue of a channel that has more than one."""
    keys = [(channel, ALL_QUEUES) for channel in sorted(contacts["channel"].unique().to_list())]
    queues = contacts.filter(pl.col("queue").is_not_null()).group_by("channel").agg(pl.col("queue").unique().sort())
    for channel, names in queues.sort("channel").iter_rows():
        keys += [(channel, name) for name in names] if len(names) > 1 else []
    return keys


def series_contacts(contacts: pl.DataFrame, channel: str, queue: str) -> pl.DataFrame:
    rows = contacts.filter(pl.col("channel") == channel)
    return rows if queue == ALL_QUEUES else rows.filter(pl.col("queue") == queue)


def daily_counts(contacts: pl.DataFrame) -> pl.DataFrame:
    return contacts.group_by("day").agg(pl.len().cast(pl.Float64).alias("contacts")).sort("day")


def slot_counts(contacts: pl.DataFrame, first_day: date, weeks: int) -> pl.DataFrame:
    recent = contacts.filter(pl.col("day").is_between(first_day - timedelta(weeks=weeks), first_day, closed="left"))
    return recent.group_by("day", "slot").agg(pl.len().cast(pl.Float64).alias("contacts"))


def forecast_one(contacts: pl.DataFrame, calendar: Calendar, first_day: date, horizon: int,
                 choice: ModelChoice | None = None) -> tuple[SeriesForecast, pl.DataFrame]:
    """Daily forecast of one series from its contacts before `first_day` (with the given model choice, else
    backtested), and its split over half-hours."""
    history = contacts.filter(pl.col("day") < first_day)
    outcome = forecast_series(daily_counts(history), calendar, first_day, horizon, choice=choice)
    intraday = intraday_forecast(outcome.forecast, intraday_profile(slot_counts(history, first_day, PROFILE_WEEKS)))
    return outcome, intraday


def interval_start(day: pl.Expr, slot: pl.Expr) -> pl.Expr:
    return day.cast(pl.Datetime("us")) + pl.duration(minutes=slot)


def forecast_all(contacts: pl.DataFrame, calendar: Calendar, first_day: date, horizon: int,
                 choices: dict[tuple[str, str], ModelChoice] | None = None):
    """The three tables of `ml_contact_forecast` for every series, and the model choice of each (the given
    `choices`, else backtested)."""
    forecasts, backtests, cleaned, chosen = [], [], [], {}
    for channel, queue in series_keys(contacts):
        outcome, intraday = forecast_one(series_contacts(contacts, channel, queue), calendar, first_day, horizon,
                                         (choices or {}).get((channel, queue)))
        chosen[channel, queue] = outcome.choice
        key = [pl.lit(channel).alias("channel"), pl.lit(queue).alias("queue")]
        forecasts.append(outcome.forecast.with_columns(
            *key, pl.lit("day").alias("granularity"), interval_start(pl.col("day"), pl.lit(0)).alias("interval_start")))
        forecasts.append(intraday.with_columns(
            *key, pl.lit(f"{INTERVAL_MINUTES}min").alias("granularity"),
            interval_start(pl.col("day"), pl.col("slot")).alias("interval_start")).drop("slot"))
        if outcome.backtest.height:
            backtests.append(outcome.backtest.with_columns(*key, (pl.col("model") == outcome.model).alias("chosen")))
        cleaned.append(outcome.cleaned_days.with_columns(*key))
    columns = ["channel", "queue", "granularity", "interval_start", "day", "forecast", "lower_80", "upper_80",
               "lower_95", "upper_95", "model"]
    return (pl.concat(forecasts, how="diagonal_relaxed").select(columns),
            pl.concat(backtests, how="diagonal_relaxed") if backtests else pl.DataFrame(schema=EMPTY_BACKTEST),
            pl.concat(cleaned), chosen)


def as_of_date(settings: Settings, contacts: pl.DataFrame) -> date:
    return date.fromisoformat(settings.as_of) if settings.as_of else contacts["day"].max()


@dg.multi_asset(
    specs=[
        dg.AssetSpec("ml_contact_forecast", group_name="ml", deps=FORECAST_DEPS, kinds={"python", "duckdb"},
                     description="Contacts per channel (and phone queue) per day and per half-hour for the "
                                 "forecast horizon, with 80% and 95% prediction intervals and the chosen model."),
        dg.AssetSpec("ml_forecast_backtest", group_name="ml", deps=FORECAST_DEPS, kinds={"python", "duckdb"},
                     description="Rolling-origin backtest per series and model: WAPE, MAPE, bias, 80%/95% "
                                 "interval coverage; the chosen model per series."),
        dg.AssetSpec("ml_forecast_cleaned_days", group_name="ml", deps=FORECAST_DEPS, kinds={"python", "duckdb"},
                     description="History days replaced before fitting (holidays, outliers) with the reason."),
    ],
    pool="duckdb",
)
@holds_warehouse_open
def ml_contact_forecast(context: dg.AssetExecutionContext, cx: PipelineSettings, warehouse: WarehouseResource):
    settings = cx.settings
    contacts = load_contacts(settings, warehouse)
    if contacts.is_empty():
        reason = "no service contacts in fct_service_contacts: nothing to forecast"
        drop_tables(warehouse, FORECAST_TABLES)
        context.log.warning(f"contact forecast skipped: {reason}")
        for table in FORECAST_TABLES:
            yield dg.MaterializeResult(asset_key=table, metadata=skipped(reason))
        return
    as_of = as_of_date(settings, contacts)
    store, now = ModelStore(settings.models_dir), datetime.now(timezone.utc)
    setup = parameters(settings.forecast_horizon_days, settings.holiday_country, settings.timezone,
                       series_keys(contacts))
    stored = stored_choices(store, FORECAST_CHOICES, setup, as_of, now, settings.model_max_age_days)
    forecast, backtest, cleaned, choices = forecast_all(
        contacts, load_calendar(settings, warehouse), as_of + timedelta(days=1), settings.forecast_horizon_days,
        stored.choices)
    if stored.choices is None:
        save_choices(store, FORECAST_CHOICES, choices, setup, as_of, now, history_days=contacts["day"].n_unique())
    backtest_as_of = stored.backtest_as_of or as_of  # a reused backtest keeps the as-of date it was run for
    tables = {name: frame.with_columns(pl.lit(day).alias("as_of_date")) for name, frame, day in
              (("ml_contact_forecast", forecast, as_of), ("ml_forecast_backtest", backtest, backtest_as_of),
               ("ml_forecast_cleaned_days", cleaned, as_of))}
    for table, frame in tables.items():
        replace_table(warehouse, table, frame)
    chosen = backtest.filter("chosen")
    context.log.info(f"forecast as of {as_of}: {forecast['channel'].n_unique()} channels, {chosen.height} backtests")
    summary = {"as_of": as_of.isoformat(), "horizon_days": settings.forecast_horizon_days,
               "model_choice": stored.reuse}
    yield dg.MaterializeResult(asset_key="ml_contact_forecast",
                               metadata={**summary, **frame_metadata(tables["ml_contact_forecast"])})
    yield dg.MaterializeResult(asset_key="ml_forecast_backtest", metadata={
        **summary, **frame_metadata(tables["ml_forecast_backtest"]),
        **{f"wape_{channel}_{queue}": dg.MetadataValue.float(round(wape, 4))
           for channel, queue, wape in chosen.select("channel", "queue", "wape").rows()},
        **{f"wape_vs_baselines_{channel}_{queue}": dg.MetadataValue.float(round(ratio, 3))
           for channel, queue, ratio in chosen.select("channel", "queue", "wape_vs_baselines").rows()},
    })
    yield dg.MaterializeResult(asset_key="ml_forecast_cleaned_days",
                               metadata={**summary, **frame_metadata(tables["ml_forecast_cleaned_days"])})


def recent_contacts(contacts: pl.DataFrame, first_day: date) -> pl.DataFrame:
    """The rows (with a day column) of the `PROFILE_WEEKS` weeks before `first_day`."""
    return contacts.filter(pl.col("day").is_between(first_day - timedelta(weeks=PROFILE_WEEKS), first_day,
                                                    closed="left"))


def staffed_series(forecast: pl.DataFrame, contacts: pl.DataFrame, first_day: date) -> pl.DataFrame:
    """The half-hours to staff: every channel as one pool of agents who take all its contacts (queue `all`), and
    each queue of a channel forecast per queue as a pool of its own, skilled for that queue only, with the queue's
    own handle time where measured (the two plans are alternatives: small queues cost more agents apart)."""
    handle = recent_contacts(contacts, first_day).group_by("channel", "queue").agg(
        pl.col("handle_seconds").mean().alias("queue_handle_seconds"))
    return forecast.join(handle, on=["channel", "queue"], how="left")


def channel_rules(settings: Settings, warehouse: Warehouse, contacts: pl.DataFrame, first_day: date) -> pl.DataFrame:
    """Staffed channels with their model, targets, handle time (measured in the recent weeks, else the seed's
    assumption) and, for the voice queue, the callers' patience estimated from abandoned calls."""
    handle = recent_contacts(contacts, first_day).group_by("channel").agg(
        pl.col("handle_seconds").mean().alias("measured_handle_seconds"))
    calls = recent_contacts(with_slots(read_frame(warehouse, calls_sql(settings.timezone))), first_day)
    patience = estimate_patience_seconds(calls["wait_seconds"].fill_null(0).to_list(),
                                         calls["abandoned"].fill_null(False).to_list())
    return read_frame(warehouse, CHANNEL_RULES_SQL).join(handle, on="channel", how="left").select(
        "channel", "staffing_model", "concurrency", "answer_within_seconds", "service_level_target",
        pl.coalesce("measured_handle_seconds", "assumed_handle_seconds").alias("handle_seconds"),
        pl.when(pl.col("channel") == VOICE_CHANNEL).then(pl.lit(patience, pl.Float64)).alias("patience_seconds"),
    )


def plan_intervals(half_hours: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """Half-hourly forecast rows (channel, queue, interval_start, forecast and optionally queue_handle_seconds)
    of the staffed channels with their rules; a queue's own handle time replaces its channel's."""
    rows = half_hours.join(rules, on="channel", how="inner")
    if "queue_handle_seconds" in rows.columns:
        rows = rows.with_columns(pl.coalesce("queue_handle_seconds", "handle_seconds").alias("handle_seconds")).drop(
            "queue_handle_seconds")
    return rows.filter(pl.col("handle_seconds").is_not_null()).rename({"forecast": "contacts"})


def plan_policy(settings: Settings) -> PlanPolicy:
    return PlanPolicy(shrinkage=settings.staffing_shrinkage, max_occupancy=settings.staffing_max_occupancy)


@dg.asset(
    group_name="ml", pool="duckdb", deps=PLAN_DEPS, kinds={"python", "duckdb"},
    description="Agents per half-hour and staffed channel (queue `all`; and per queue where calls have queues, "
                "each a pool of its own) for the forecast horizon: required on the queue and "
                "scheduled (with shrinkage), expected service level, speed of answer, abandonment; Erlang A for "
                "the phone (Erlang C beside it), chat with concurrency, tickets as backlog.",
)
@holds_warehouse_open
def ml_staffing_plan(context: dg.AssetExecutionContext, cx: PipelineSettings,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = cx.settings
    if "ml_contact_forecast" not in table_names(warehouse):
        drop_tables(warehouse, ["ml_staffing_plan"])
        return dg.MaterializeResult(metadata=skipped("no contact forecast (ml_contact_forecast was skipped)"))
    forecast = read_frame(warehouse, f"""
        SELECT channel, queue, interval_start, forecast, as_of_date FROM ml_contact_forecast
        WHERE granularity = '{INTERVAL_MINUTES}min'""")
    first_day = forecast["as_of_date"].max() + timedelta(days=1)
    contacts = load_contacts(settings, warehouse)
    rules = channel_rules(settings, warehouse, contacts, first_day)
    plan = staffing_plan(plan_intervals(staffed_series(forecast, contacts, first_day), rules), INTERVAL_MINUTES * 60,
                         plan_policy(settings))
    replace_table(warehouse, "ml_staffing_plan", plan)
    peaks = plan.filter(pl.col("queue") == ALL_QUEUES).group_by("channel").agg(
        pl.col("agents_scheduled").max()).sort("channel")
    context.log.info(f"staffing plan: {plan.height} intervals")
    return dg.MaterializeResult(metadata={
        **frame_metadata(plan), "shrinkage": settings.staffing_shrinkage,
        "max_occupancy": settings.staffing_max_occupancy,
        **{f"peak_scheduled_{channel}": int(agents) for channel, agents in peaks.iter_rows()},
    })


def actual_intervals(settings: Settings, warehouse: Warehouse, contacts: pl.DataFrame, rules: pl.DataFrame,
                     first_day: date, last_day: date) -> pl.DataFrame:
    """Per staffed channel and half-hour: contacts offered, answered within the channel's target, abandoned, and
    agents seen (calls and chats only; null where the export names no agent)."""
    period = pl.col("day").is_between(first_day, last_day)
    answered_in_time = ~pl.col("abandoned") & (pl.col("response_seconds") <= pl.col("answer_within_seconds"))
    outcomes = contacts.filter(period).join(rules.select("channel", "answer_within_seconds"), on="channel").group_by(
        "channel", "day", "slot").agg(
        pl.len().alias("offered_contacts"), answered_in_time.sum().alias("answered_within_target"),
        pl.col("abandoned").sum().alias("abandoned_contacts"))
    agents = with_slots(read_frame(warehouse, agents_sql(settings.timezone))).filter(period).group_by(
        "channel", "day", "slot").agg(pl.col("agent_id").n_unique().alias("agents_seen"))
    return outcomes.join(agents, on=["channel", "day", "slot"], how="full", coalesce=True).with_columns(
        interval_start(pl.col("day"), pl.col("slot")).alias("interval_start")).drop("day", "slot")


def staffing_adherence(settings: Settings, warehouse: Warehouse, contacts: pl.DataFrame, calendar: Calendar,
                       as_of: date) -> tuple[pl.DataFrame, str]:
    """Every staffed channel's plan made before the last `ADHERENCE_WEEKS` weeks (forecast from the history
    before them, with the model choices of the stored backtest while young, `ml.forecast_store`) next to what
    happened in each half-hour of those weeks, and in words whether the choices were reused. A backlog channel's
    plan is sized to answer within the target, so it expects the channel's service-level target."""
    first_day = as_of - timedelta(weeks=ADHERENCE_WEEKS) + timedelta(days=1)
    rules = channel_rules(settings, warehouse, contacts, first_day).filter(
        pl.col("channel").is_in(contacts["channel"].unique().implode()))
    channels = rules["channel"].sort().to_list()
    plan_as_of, store, now = first_day - timedelta(days=1), ModelStore(settings.models_dir), datetime.now(timezone.utc)
    setup = parameters(ADHERENCE_WEEKS * 7, settings.holiday_country, settings.timezone,
                       [(channel, ALL_QUEUES) for channel in channels])
    stored = stored_choices(store, ADHERENCE_CHOICES, setup, plan_as_of, now, settings.model_max_age_days)
    half_hours, choices = [], {}
    for channel in channels:
        outcome, intraday = forecast_one(series_contacts(contacts, channel, ALL_QUEUES), calendar, first_day,
                                         ADHERENCE_WEEKS * 7, (stored.choices or {}).get((channel, ALL_QUEUES)))
        choices[channel, ALL_QUEUES] = outcome.choice
        half_hours.append(intraday.select(pl.lit(channel).alias("channel"), pl.lit(ALL_QUEUES).alias("queue"),
                                          interval_start(pl.col("day"), pl.col("slot")).alias("interval_start"),
                                          "forecast"))
    if stored.choices is None:
        save_choices(store, ADHERENCE_CHOICES, choices, setup, plan_as_of, now,
                     history_days=contacts.filter(pl.col("day") < first_day)["day"].n_unique())
    plan = staffing_plan(plan_intervals(pl.concat(half_hours), rules), INTERVAL_MINUTES * 60, plan_policy(settings))
    actual = actual_intervals(settings, warehouse, contacts, rules, first_day, as_of)
    has_agents = pl.col("channel").is_in(AGENT_EXPORT_CHANNELS)
    adherence = plan.select(
        "channel", "interval_start", pl.col("contacts").alias("forecast_contacts"),
        pl.col("agents_required").alias("planned_agents"),
        pl.coalesce("expected_service_level", "service_level_target").alias("expected_service_level"),
        pl.col("abandonment").alias("expected_abandonment"),
    ).join(actual, on=["channel", "interval_start"], how="full", coalesce=True).with_columns(
        pl.col("offered_contacts", "answered_within_target", "abandoned_contacts").fill_null(0),
        pl.when(has_agents).then(pl.col("agents_seen").fill_null(0)).alias("agents_seen"),
    ).with_columns(
        (pl.col("answered_within_target") / pl.col("offered_contacts")).alias("service_level_reached"),
        (pl.col("abandoned_contacts") / pl.col("offered_contacts")).alias("abandonment_reached"),
    ).sort("channel", "interval_start")
    return adherence, stored.reuse


@dg.asset(
    group_name="ml", pool="duckdb", deps=ADHERENCE_DEPS, kinds={"python", "duckdb"},
    description="Plan against actual for every staffed channel over the last four weeks, per half-hour: forecast "
                "and offered contacts, planned agents and agents seen handling contacts (calls and chats), "
                "expected and reached service level and abandonment.",
)
@holds_warehouse_open
def ml_staffing_adherence(cx: PipelineSettings, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = cx.settings
    contacts = load_contacts(settings, warehouse)
    if contacts.is_empty():
        drop_tables(warehouse, ["ml_staffing_adherence"])
        return dg.MaterializeResult(metadata=skipped("no service contacts: no plan to hold against them"))
    as_of = as_of_date(settings, contacts)
    adherence, model_choice = staffing_adherence(settings, warehouse, contacts, load_calendar(settings, warehouse),
                                                 as_of)
    adherence = adherence.with_columns(pl.lit(as_of).alias("as_of_date"))
    replace_table(warehouse, "ml_staffing_adherence", adherence)
    return dg.MaterializeResult(metadata={**frame_metadata(adherence), **summary_metadata(adherence),
                                          "model_choice": model_choice})


def summary_metadata(adherence: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """Plan against actual per channel, rounded: expected_service_level_phone, service_level_reached_phone, ..."""
    return {f"{name}_{channel}": dg.MetadataValue.int(value) if isinstance(value, int)
            else dg.MetadataValue.float(round(value, 4))
            for channel, summary in plan_vs_actual_by_channel(adherence).items()
            for name, value in summary.items() if value is not None}


@dg.asset_check(asset="ml_staffing_adherence", name="plan_not_optimistic",
                description=f"Warns when a channel's plan expected a service level more than "
                            f"{ADHERENCE_WARN_POINTS:.0%} points above the one its customers got.")
def plan_not_optimistic(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    if "ml_staffing_adherence" not in table_names(warehouse):
        return dg.AssetCheckResult(passed=True, description="no plan against actual to judge (no service contacts)")
    by_channel = plan_vs_actual_by_channel(read_frame(warehouse, "SELECT * FROM ml_staffing_adherence"))
    gaps = {channel: summary["expected_service_level"] - summary["service_level_reached"]
            for channel, summary in by_channel.items()}
    short = [channel for channel, gap in gaps.items() if gap > ADHERENCE_WARN_POINTS]
    shortfalls = [f"{channel}: the plan expected {by_channel[channel]['expected_service_level']:.0%} answered within "
                  f"target, customers got {by_channel[channel]['service_level_reached']:.0%}" for channel in short]
    within = f"every channel within {ADHERENCE_WARN_POINTS:.0%} points of its plan" if gaps else "no contacts"
    return dg.AssetCheckResult(
        passed=not short,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(shortfalls) or within,
        metadata={f"gap_points_{channel}": dg.MetadataValue.float(round(gap * 100, 1))
                  for channel, gap in gaps.items()},
    )


ml_workforce_assets = [ml_contact_forecast, ml_staffing_plan, ml_staffing_adherence]
ml_workforce_checks = [plan_not_optimistic]
