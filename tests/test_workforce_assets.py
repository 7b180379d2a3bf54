"""The workforce assets materialised for real on a small hand-made warehouse (20 weeks of phone, chat and e-mail
contacts with a known weekly pattern, a holiday and a storm day, two phone queues, known response times), then
the service operations report rendered from their tables."""

from datetime import date, datetime, timedelta

import dagster as dg
import duckdb
import polars as pl
import pytest

from cx_core.reporting import REPORTS_SOURCE_DIR, render_report
from cx_core.settings import REPO_ROOT
from dagster_project.defs.assets.ml_workforce import ml_workforce_assets, plan_not_optimistic
from dagster_project.defs.resources import pipeline_resources
from tests.helpers.settings_env import point_settings_at

pytestmark = pytest.mark.slow

FIRST_DAY, LAST_DAY = date(2026, 6, 15), date(2026, 10, 31)  # a Monday, 20 weeks before the as-of date
PHONE_PER_WEEKDAY = [40, 30, 30, 30, 36, 12, 6]
HOLIDAY, STORM = date(2026, 10, 26), date(2026, 9, 15)  # Austria's National Day (a Monday); a storm Tuesday
SEEDS = REPO_ROOT / "seeds"


def phone_calls() -> pl.DataFrame:
    """Calls spread evenly over 08:00-17:00 UTC; every second waits 40 s (the others 10 s); every tenth (a
    40-second one) hangs up; agents A0..A2 answer in turn; queues alternate."""
    rows, number = [], 0
    day = FIRST_DAY
    while day <= LAST_DAY:
        calls = 3 if day == HOLIDAY else 150 if day == STORM else PHONE_PER_WEEKDAY[day.weekday()]
        for index in range(calls):
            started = datetime(day.year, day.month, day.day, 8) + timedelta(seconds=index * 9 * 3600 // calls)
            abandoned = number % 10 == 9
            rows.append({"started_at": started, "direction": "inbound", "wait_seconds": 40 if number % 2 else 10,
                         "abandoned": abandoned, "agent_id": None if abandoned else f"A{number % 3}",
                         "queue": "de_orders" if number % 2 else "en_general"})
            number += 1
        day += timedelta(days=1)
    return pl.DataFrame(rows)


def service_contacts(calls: pl.DataFrame) -> pl.DataFrame:
    """Calls as above; one chat an hour 09:00-16:00 UTC handed over to an agent who replies after 30 s (within
    the 60 s target); one e-mail an hour, those of 09:00, 12:00 and 15:00 answered after 30 hours (beyond the
    24-hour target), the others after 2 hours: 5 of 8 in time."""
    phone = calls.select(pl.lit("phone").alias("inbound_channel"), pl.lit(False).alias("bot_handover"),
                         pl.col("queue").alias("contact_reason"), pl.col("started_at").alias("occurred_at"),
                         pl.when(pl.col("abandoned")).then(None).otherwise(240).alias("handle_seconds"),
                         "wait_seconds", pl.when(pl.col("abandoned")).then(None).otherwise(pl.col("wait_seconds"))
                         .alias("first_response_seconds"), "abandoned")
    chats = chat_starts().select(pl.lit("chat_bot").alias("inbound_channel"), pl.lit(True).alias("bot_handover"),
                                 pl.lit(None, pl.String).alias("contact_reason"), pl.col("started_at").alias("occurred_at"),
                                 pl.lit(600).alias("handle_seconds"), pl.lit(30).alias("wait_seconds"),
                                 pl.lit(5).alias("first_response_seconds"), pl.lit(None, pl.Boolean).alias("abandoned"))
    late = pl.col("occurred_at").dt.hour().is_in([9, 12, 15])
    mails = chats.with_columns(pl.lit("email").alias("inbound_channel"), pl.lit(False).alias("bot_handover"),
                               pl.lit(None, pl.Int32).alias("handle_seconds"), pl.lit(None, pl.Int32).alias("wait_seconds"),
                               pl.when(late).then(30 * 3600).otherwise(2 * 3600).alias("first_response_seconds"))
    return pl.concat([phone, chats, mails], how="vertical_relaxed").with_row_index("contact_id")


def chat_starts() -> pl.DataFrame:
    """One chat an hour, 09:00-16:00 UTC, handed over to agent C1 (even hours) or C2 (odd hours)."""
    days = pl.date_range(FIRST_DAY, LAST_DAY, eager=True)
    starts = [datetime(d.year, d.month, d.day, 9 + h) for d in days for h in range(8)]
    return pl.DataFrame({"started_at": starts, "handover": True,
                         "agent_id": [f"C{1 + start.hour % 2}" for start in starts]})


def write_warehouse(path) -> None:
    calls = phone_calls()
    with duckdb.connect(str(path)) as connection:
        for name, frame in {"stg_calls__calls": calls, "fct_service_contacts": service_contacts(calls),
                            "stg_chat_conversations__conversations": chat_starts(),
                            "fct_marketing_contacts": pl.DataFrame({"sent_at": [datetime(2026, 10, 5, 9)] * 50})}.items():
            connection.register("frame", frame.to_arrow())
            connection.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            connection.unregister("frame")
        for seed in ("holidays", "staffing_channels", "sla_targets"):
            connection.execute(f"CREATE TABLE {seed} AS SELECT * FROM read_csv('{SEEDS / f'{seed}.csv'}')")


@pytest.fixture(scope="module")
def materialised(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workforce")
    warehouse = folder / "warehouse.duckdb"
    write_warehouse(warehouse)
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, folder / "data", CX_WAREHOUSE=str(warehouse), CX_TIMEZONE="UTC",
                          CX_HOLIDAY_COUNTRY="AT", CX_FORECAST_HORIZON_DAYS="14")
        resources = pipeline_resources()
        result = dg.materialize(ml_workforce_assets, resources=resources, raise_on_error=False)
        check = plan_not_optimistic(warehouse=resources["warehouse"])
        rendered = render_report("service_operations", "Service operations", REPORTS_SOURCE_DIR / "service_operations.py",
                                 folder / "out", {"warehouse_path": str(warehouse), "as_of": LAST_DAY.isoformat(),
                                                  "business_timezone": "UTC", "holiday_country": "AT"})
    return {"warehouse": warehouse, "result": result, "check": check, "html": rendered.html_path.read_text()}


def query(materialised, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(materialised["warehouse"]), read_only=True) as connection:
        return connection.sql(sql).pl()


def test_forecast_covers_every_series_daily_and_half_hourly(materialised):
    assert materialised["result"].success
    series = query(materialised, "SELECT DISTINCT channel, queue FROM ml_contact_forecast ORDER BY ALL").rows()
    assert series == [("chat_agent", "all"), ("email", "all"), ("phone", "all"), ("phone", "de_orders"),
                      ("phone", "en_general")]
    daily = query(materialised, "SELECT * FROM ml_contact_forecast WHERE granularity = 'day' AND queue = 'all' "
                                "AND channel = 'phone' ORDER BY day")
    assert daily["day"].to_list() == [LAST_DAY + timedelta(days=k) for k in range(1, 15)]
    assert (daily["lower_95"] <= daily["lower_80"]).all() and (daily["lower_80"] <= daily["forecast"]).all()
    assert (daily["forecast"] <= daily["upper_80"]).all() and (daily["upper_80"] <= daily["upper_95"]).all()
    # The weekly pattern is exact apart from the holiday and the storm, which were cleaned: Mondays 40, Sundays 6.
    by_weekday = dict(zip(daily["day"].dt.weekday(), daily["forecast"]))
    assert by_weekday[1] == pytest.approx(40, abs=3) and by_weekday[7] == pytest.approx(6, abs=2)
    # The half-hours of a day add up to the day.
    halves = query(materialised, "SELECT day, sum(forecast) AS forecast FROM ml_contact_forecast WHERE "
                                 "granularity = '30min' AND queue = 'all' AND channel = 'phone' GROUP BY day ORDER BY day")
    assert halves["forecast"].to_list() == pytest.approx(daily["forecast"].to_list())


def test_backtest_and_cleaned_days_are_stored(materialised):
    backtest = query(materialised, "SELECT * FROM ml_forecast_backtest WHERE channel = 'phone' AND queue = 'all'")
    assert set(backtest["model"]) == {"seasonal_naive", "weekday_mean", "holt_winters", "gbm_calendar", "combined"}
    assert backtest["chosen"].sum() == 1
    chosen = backtest.filter("chosen").row(0, named=True)
    assert chosen["wape"] == backtest["wape"].min()
    best_baseline = backtest.filter(pl.col("model").is_in(["seasonal_naive", "holt_winters"]))["wape"].min()
    assert chosen["wape_vs_baselines"] == pytest.approx(chosen["wape"] / best_baseline)
    assert chosen["origins"] == 12 and 0 <= chosen["coverage_80"] <= 1
    cleaned = query(materialised, "SELECT day, reason FROM ml_forecast_cleaned_days WHERE channel = 'phone' AND "
                                  "queue = 'all' ORDER BY day").rows()
    assert (STORM, "outlier: 150 contacts where about 30 were usual") in cleaned
    assert (HOLIDAY, "holiday: National Day") in cleaned


def test_staffing_plan_uses_erlang_a_for_the_phone_with_the_estimated_patience(materialised):
    plan = query(materialised, "SELECT * FROM ml_staffing_plan")
    assert set(plan["channel"]) == {"phone", "chat_agent", "email"}
    phone = plan.filter(channel="phone")
    # waits: half 10 s, half 40 s (mean 25 s); one call in ten hangs up: patience = 25 s · 10 = 250 s
    assert phone["patience_seconds"].unique().to_list() == [pytest.approx(250.0, rel=0.01)]
    busy = phone.filter(pl.col("contacts") > 0)
    assert (busy["agents_required"] > 0).all() and (busy["expected_service_level"] >= 0.8).all()
    assert (busy["erlang_c_agents"] >= busy["agents_required"]).all()
    assert (plan["agents_scheduled"] == (plan["agents_required"] / 0.7).round(6).ceil()).all()
    assert plan.filter(channel="email")["expected_service_level"].is_null().all()


def test_plan_against_actual_and_its_check_warn_about_an_optimistic_plan(materialised):
    adherence = query(materialised, "SELECT * FROM ml_staffing_adherence WHERE channel = 'phone'")
    assert adherence["interval_start"].min().date() == LAST_DAY - timedelta(days=27)
    assert adherence["agents_seen"].max() == 3
    with_calls = adherence.filter(pl.col("offered_contacts") > 0)
    # half of the calls waited 10 s, within the 20 s target: 50% reached against a plan of 80% or more
    reached = with_calls["answered_within_target"].sum() / with_calls["offered_contacts"].sum()
    assert reached == pytest.approx(0.5, abs=0.02)
    evaluation = materialised["check"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["gap_points_phone"].value > 10


def test_plan_against_actual_covers_chat_and_e_mail_too(materialised):
    adherence = query(materialised, "SELECT * FROM ml_staffing_adherence")
    assert set(adherence["channel"]) == {"phone", "chat_agent", "email"}
    reached = adherence.filter(pl.col("offered_contacts") > 0).group_by("channel").agg(
        pl.col("offered_contacts").sum(), pl.col("answered_within_target").sum(), pl.col("agents_seen").max(),
        pl.col("expected_service_level").min())
    by_channel = {row["channel"]: row for row in reached.iter_rows(named=True)}
    # 4 weeks × 8 chats a day, all answered by an agent within 30 s (target 60 s); one agent per half-hour
    chat = by_channel["chat_agent"]
    assert (chat["offered_contacts"], chat["answered_within_target"]) == (224, 224)
    assert by_channel["chat_agent"]["agents_seen"] == 1
    # 8 e-mails a day, 3 answered after 30 h: 5 × 28 = 140 of 224 within 24 h (62.5%); the backlog plan expects
    # the 80% target; the export names no agent
    assert (by_channel["email"]["offered_contacts"], by_channel["email"]["answered_within_target"]) == (224, 140)
    assert by_channel["email"]["expected_service_level"] == 0.8 and by_channel["email"]["agents_seen"] is None
    # the check names e-mail (17.5 points short) beside the phone, not the chat (its customers got 100%)
    evaluation = materialised["check"]
    assert evaluation.metadata["gap_points_email"].value == 17.5
    assert evaluation.metadata["gap_points_chat_agent"].value < 0
    assert "email: the plan expected 80%" in evaluation.description and "chat_agent" not in evaluation.description


def test_phone_is_staffed_per_queue(materialised):
    plan = query(materialised, "SELECT channel, queue, count(*) AS n FROM ml_staffing_plan GROUP BY ALL ORDER BY ALL")
    # the calls alternate between two queues: each is also planned as a pool of its own, beside the whole phone
    # channel as one pool; chat and e-mail have no queues
    assert plan.select("channel", "queue").rows() == [("chat_agent", "all"), ("email", "all"), ("phone", "all"),
                                                      ("phone", "de_orders"), ("phone", "en_general")]
    assert plan.filter(channel="phone")["n"].n_unique() == 1
    # two pools of half the calls each need at least as many agents as one pool of all of them
    hours = query(materialised, "SELECT queue = 'all' AS pooled, sum(agents_required) AS agents FROM ml_staffing_plan "
                                "WHERE channel = 'phone' GROUP BY ALL")
    by_pool = dict(hours.rows())
    assert by_pool[False] >= by_pool[True] > 0


def test_service_report_shows_the_workforce_sections(materialised):
    page = materialised["html"]
    for text in ("How good is the forecast?", "off</strong> on average", "agents scheduled",
                 "Agents needed per half-hour", "National Day", "customers got", "were abandoned",
                 "the half-hour with the most contacts expected", "queues of their own"):
        assert text in page
    assert "Traceback" not in page


def test_every_workforce_table_reports_its_rows_and_columns(materialised):
    events = materialised["result"].get_asset_materialization_events()
    metadata = {event.asset_key.to_user_string(): event.materialization.metadata for event in events}
    for table in ("ml_contact_forecast", "ml_forecast_backtest", "ml_forecast_cleaned_days", "ml_staffing_plan",
                  "ml_staffing_adherence"):
        rows = query(materialised, f"SELECT count(*) AS n FROM {table}")["n"][0]
        assert metadata[table]["dagster/row_count"].value == rows
        columns = [column.name for column in metadata[table]["dagster/column_schema"].value.columns]
        assert columns == query(materialised, f"SELECT * FROM {table} LIMIT 0").columns
