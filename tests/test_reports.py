"""The five CX reports end to end: real Dagster materialisations of the report assets, executing every notebook
against a small generated warehouse (tests/helpers/report_warehouse.py), then checks on the HTML a reader
gets: the expected sections, numbers that match the marts, no code, no errors, no personal data."""

import html
import json
import re
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.defs.assets.reports import REPORTS, report_assets
from cx_core.reporting import REPORTS_SOURCE_DIR, render_report
from dagster_project.defs.resources import pipeline_resources
from tests.helpers.report_html import chart_figures
from tests.helpers.report_warehouse import AS_OF, CUSTOMER_NAMES, EMERGING_EMAIL, build_report_warehouse
from tests.helpers.settings_env import point_settings_at

pytestmark = pytest.mark.slow

SECTIONS = {
    "cx_scorecard": ["What to do next", "Headline numbers", "Trends over 13 months", "By channel", "Closed-loop cases",
                     "Open cases by type and team"],
    "customer_journeys": ["What to do next", "Top journey paths", "Paths by persona", "Channel-to-channel flow", "Where customers switch channel",
                          "Web and app funnel", "Time to convert", "Bot-to-human handovers"],
    "voice_of_customer": ["What to do next", "Sentiment over time", "Sentiment by channel", "Topics", "The most negative themes",
                          "Emerging themes", "What drives NPS"],
    "churn_and_actions": ["What to do next", "Risk distribution", "At-risk segments", "Value at risk", "Why customers are at risk",
                          "How good is the model?", "Action plan", "Who to contact first"],
    "customer_personas": ["What to do next", "The personas", "How the personas changed", "How good are the value estimates?"],
    "service_operations": ["What to do next", "Contact volume", "Resolution, handling time and service levels",
                           "Forecast: contacts in the next weeks", "How good is the forecast?",
                           "When contacts arrive", "Agents needed per half-hour",
                           "Abandonment and plan against actual"],
}
DEMO_CUSTOMERS, DEMO_DAYS, DEMO_END = 400, 400, date(2026, 10, 31)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
PHONE = re.compile(r"(?:\+|\b0)\d[\d \-/()]{6,}\d")


def readable_text(page: str) -> str:
    """What a reader sees: the page without scripts, styles and tags, whitespace collapsed."""
    without_code = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    without_inline_tags = re.sub(r"</?(strong|em|span|a)\b[^>]*>", "", without_code)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", without_inline_tags)))


def body_without_plotly_library(page: str) -> str:
    """Everything the notebook produced (text and chart data), without the embedded plotly.js in the head."""
    return page.split("<main>", 1)[1]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    warehouse = build_report_warehouse(folder / "warehouse.duckdb")
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, folder, CX_WAREHOUSE=str(warehouse), CX_REPORTS_DIR=str(folder / "out"),
                          CX_AS_OF=AS_OF.isoformat())
        result = dg.materialize(report_assets, resources=pipeline_resources())
    assert result.success
    metadata = {event.asset_key.to_user_string(): event.materialization.metadata
                for event in result.get_asset_materialization_events()}
    pages = {spec.name: (folder / "out" / f"{spec.name}.html").read_text(encoding="utf-8") for spec in REPORTS}
    return {"folder": folder, "warehouse": warehouse, "metadata": metadata, "pages": pages}


def card_value(page: str, label: str) -> str:
    """The big number on the scorecard card titled `label`."""
    return html.unescape(re.search(rf'class="label">{label}</div>\s*<div class="value">([^<]*)<', page).group(1))


def scalar_row(warehouse: Path, sql: str) -> tuple:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()[0]


def scalar(warehouse: Path, sql: str):
    return scalar_row(warehouse, sql)[0]


@pytest.mark.parametrize("name", list(SECTIONS))
def test_report_has_its_sections_and_no_code_or_errors(rendered, name):
    page = rendered["pages"][name]
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", page)
    assert [html.unescape(h) for h in headings] == SECTIONS[name]
    assert "<h1>" in page and "Data as of 31 Oct 2026" in page
    # No input cells, prompts or error/warning outputs.
    for trace in ["jp-InputArea", "jp-InputPrompt", "In&nbsp;[", "Traceback", "Error", "application/vnd.jupyter.stderr",
                  "import cxreport", "report.query("]:
        assert trace not in body_without_plotly_library(page), trace
    # Offline: no script or stylesheet from elsewhere.
    assert not re.search(r"<(script|link)[^>]+(src|href)=['\"]https?:", page)
    assert "not available yet" not in readable_text(page)


@pytest.mark.parametrize("name", list(SECTIONS))
def test_report_shows_no_personal_data(rendered, name):
    page = rendered["pages"][name]
    text, produced = readable_text(page), body_without_plotly_library(page)
    assert not EMAIL.search(produced)
    assert not PHONE.search(text)
    for first, last in CUSTOMER_NAMES:
        assert not re.search(rf"\b({first}|{last})\b", produced)


def test_scorecard_numbers_match_the_kpi_mart(rendered):
    page, warehouse = rendered["pages"]["cx_scorecard"], rendered["warehouse"]
    # Hand-set in the fixture: NPS 35 (32–38) in September, 41 (38–44) in October; the difference's interval is
    # 6 ± 1.96·sqrt(2·(3/1.96)²) = 6 ± 4.24, so the rise is significant.
    assert "NPS rose to 41 (+6 vs last month, significant)." in readable_text(page)
    assert card_value(page, "NPS") == "41"
    csat = scalar(warehouse, "select value from kpi_metrics where metric = 'csat' and channel = 'all' "
                             "and period_grain = 'month' and period_start = date '2026-10-01'")
    assert card_value(page, "CSAT") == f"{round(csat * 100)}%"
    phone_aht = scalar(warehouse, "select value from kpi_metrics where metric = 'aht_seconds' and channel = 'phone' "
                                  "and period_start = date '2026-10-01'")
    minutes, seconds = divmod(round(phone_aht), 60)
    assert f"{minutes} min {seconds} s" in page
    assert rendered["metadata"]["cx_scorecard"]["NPS"].value == "41"
    # What to do next: active alerts (not the info one), the cause of a change, where to act.
    text = readable_text(page)
    first = text[text.index("What to do next"):text.index("Headline numbers")]
    assert ("critical: Weekly NPS (all channels, all segments, 2026-10-26) fell to 28.0 from 36.0. Why: NPS fell "
            "8.0; -5.0 of it comes from segment vip. How sure: beyond normal variation after the correction for "
            "testing many series (interval, n and q in the alert). Act on it: what drives NPS and the most negative "
            "themes.") in first
    # A channel's change has no decomposition of its own: no cause attached. The larger change ranks first.
    assert "critical: Weekly NPS (phone, all segments, 2026-10-26) fell to 29.0 from 36.0. How sure:" in first
    # Then the overdue cases (fixture: September's 3 + October's 6), below the critical alerts.
    # ... with the case lists they are in (fixture CASE_TABLES: the lists with overdue cases, most overdue first)
    assert ("9 closed-loop cases are open past their due time. How sure: a count of the cases themselves (fct cx "
            "cases), no estimate. Act on it: work them oldest first: the case lists Detractor answer of owner team "
            "cx recovery (12 open, 5 of them past their due time) and Urgent negative text of owner team escalations "
            "(7 open, 4 of them past their due time) in the CRM file cases_2026-10-31.csv (see Open cases by type "
            "and team); the rates are in Closed-loop cases.") in first
    assert "<a href=\"cx_scorecard.html#open-cases\">Open cases by type and team</a>" in page
    assert first.index("fell to 28.0") < first.index("fell to 29.0") < first.index("9 closed-loop cases")
    assert first.count("How sure:") == 3
    assert "href=\"voice_of_customer.html\"" in page
    assert "rose to 41.0 from 35.0" not in text
    # Closed-loop cases: counts and rates of October (CASES_BY_MONTH); overdue = September's 3 + October's 6.
    assert ("In October 2026, 120 cases were opened and 100 closed; 85% (n = 100) of the cases that came due were "
            "closed in time, in a median of 20 h 30 min. 9 cases are open past their due time. Customers of the "
            "cases closed this month: NPS −40 at their last answer before the case and 10 at their next answer "
            "(95% interval −12 to 32, n = 50)") in text
    # The case lists the findings link to: counts per case type and owner team, no case and no customer.
    assert '<h2 id="open-cases">Open cases by type and team</h2>' in page
    lists = text[text.index("Open cases by type and team The open cases"):]
    assert "as the CRM file cases_2026-10-31.csv lists them" in lists
    assert ("Case type Owner team Open Past their due time Detractor answer Cx recovery 12 5 Urgent negative text "
            "Escalations 7 4 Repeated unresolved contact Service desk 3 0 High churn risk Retention team 2 0") in lists


def test_churn_report_starts_with_its_three_findings_and_where_to_act(rendered):
    page, warehouse = rendered["pages"]["churn_and_actions"], rendered["warehouse"]
    text = readable_text(page)
    first = text[text.index("What to do next"):text.index("Risk distribution")]
    assert first.count("How sure:") == first.count("Act on it:") == 3
    high_risk = scalar(warehouse, "select count(*) from ml_churn_scores where risk_band = 'high'")
    at_risk, segment, largest = (first.index(f"with the {high_risk} high-risk customers"), first.index("Segment "),
                                 first.index("The largest item of the plan"))
    assert at_risk < segment < largest  # ranked by the money at stake (fixture: 6,141 > 4,811 > 1,041 EUR)
    # The largest plan item (fixture: expected values by label and channel) is named with its customers and value.
    label, customers = scalar_row(warehouse, """
        select label, count(*) from ml_next_best_actions where action <> 'no_action'
        group by label, channel order by sum(expected_value_eur) desc limit 1""")
    assert f"The largest item of the plan is {label} for {customers} customers" in first
    assert "ROC AUC 0.78" in first
    # The high-risk customers' win-backs are cases: the finding names their case list and links the scorecard's.
    assert ("those with a win-back are cases already: the case list High churn risk of owner team retention team "
            "(2 open, 0 of them past their due time) in the CRM file cases_2026-10-31.csv (see Open cases by type "
            "and team in the CX scorecard).") in first
    assert 'href="cx_scorecard.html#open-cases"' in page


def test_personas_report_starts_with_the_personas_holding_most_value_at_risk(rendered):
    text = readable_text(rendered["pages"]["customer_personas"])
    first = text[text.index("What to do next"):text.index("The personas")]
    # Fixture: 120 × 150 EUR × 30% = 5,400 EUR before 80 × 90 EUR × 50% = 3,600 EUR.
    assert first.index("Frequent store shoppers holds about 5,400 EUR") < first.index(
        "Newsletter-reading web shoppers holds about 3,600 EUR")
    assert first.count("How sure:") == 2 and "correlation of 0.98" in first
    assert 'href="churn_and_actions.html"' in rendered["pages"]["customer_personas"]


def first_section(page: str, next_heading: str) -> str:
    """The readable text of "What to do next", up to the heading of the section after it."""
    text = readable_text(page)
    return text[text.index("What to do next"):text.index(next_heading)]


def test_journeys_report_starts_with_the_funnel_drop_off_the_switch_into_service_and_the_bot(rendered):
    page, warehouse = rendered["pages"]["customer_journeys"], rendered["warehouse"]
    first = first_section(page, "Top journey paths")
    assert first.count("How sure:") == first.count("Act on it:") == 3
    # Fixture funnel: 60% of sessions view a product, 25% add to cart: 1 - 25/60 = 58% is the largest drop-off.
    viewed, carted = scalar_row(warehouse, "select count(*) filter (has_view_item), count(*) filter "
                                "(has_add_to_cart) from fct_web_sessions where started_at >= '2026-08-01' "
                                "and started_at < '2026-11-01'")
    assert (f"{1 - carted / viewed:.0%} of {viewed:,} sessions that got as far as viewed a product did not go on to "
            f"added to cart ({viewed - carted:,} sessions). How sure: 95% interval") in first
    # Into service: web to chat bot (weight 20) and web to phone (8); chat bot to agent starts in service already.
    to_bot, to_phone = scalar_row(warehouse, """
        select sum(transitions) filter (to_channel = 'chat_bot'), sum(transitions) filter (to_channel = 'phone')
        from fct_channel_transitions where from_channel = 'web' and period_start >= '2026-08-01'""")
    assert (f"Web shop to Chat bot, {to_bot} times ({to_bot / (to_bot + to_phone):.0%} of the switches into "
            f"service).") in first and f"n = {to_bot + to_phone}." in first
    assert "The bot handed" in first and 'href="voice_of_customer.html"' in page


def test_voice_report_starts_with_the_worst_theme_the_emerging_one_and_the_top_nps_driver(rendered):
    page, warehouse = rendered["pages"]["voice_of_customer"], rendered["warehouse"]
    first = first_section(page, "Sentiment over time")
    assert first.count("How sure:") == first.count("Act on it:") == 3
    label, negative, texts = scalar_row(warehouse, """
        select insights.topic_label, count(*) filter (sentiment.label = 'negative'), count(*)
        from fct_touchpoints as touchpoints
        join ml_sentiment as sentiment using (touchpoint_id) join ml_text_insights as insights using (touchpoint_id)
        where touchpoints.direction = 'inbound' and insights.topic <> 'other'
          and touchpoints.occurred_at >= '2026-08-01' and touchpoints.occurred_at < '2026-11-01'
        group by all order by count(*) filter (sentiment.label = 'negative') / count(*) desc limit 1""")
    assert (f"The most negative theme: {label}, {negative / texts:.0%} of its {texts:,} texts negative") in first
    assert f"n = {texts:,}." in first
    # Fixture: the new theme has 14 texts against 1.56 expected, adjusted p 3e-9.
    assert ("An emerging theme: “app, voucher, crashes / app, gutschein, stürzt” (new), 14 texts from 25 Oct 2026 "
            "to 31 Oct 2026 where 1.6 were expected. How sure: p < 0.001 after the correction") in first
    answers = scalar(warehouse, "select count(*) from fct_survey_responses where survey_type = 'nps' and "
                     "customer_key is not null and responded_at >= '2026-08-01' and responded_at < '2026-11-01'")
    assert "The experience that costs NPS most: customers who" in first and f"of {answers} answers)" in first
    # Fixture: the top driver's interval includes 0, and the sentence says so.
    assert "95% interval of the effect" in first and "so no effect at all is still possible" in first
    assert 'href="service_operations.html"' in page
    # The theme's urgent texts are cases: the finding names their case list and links the scorecard's.
    assert ("work its urgent texts: the case list Urgent negative text of owner team escalations (7 open, 4 of them "
            "past their due time) in the CRM file cases_2026-10-31.csv (see Open cases by type and team in the CX "
            "scorecard); each case's reason names its theme.") in first
    assert 'href="cx_scorecard.html#open-cases"' in page


def test_operations_report_starts_with_the_plan_gap_the_next_peak_and_abandonment(rendered):
    page, warehouse = rendered["pages"]["service_operations"], rendered["warehouse"]
    first = first_section(page, "Contact volume")
    assert first.count("How sure:") == first.count("Act on it:") == 3
    # Fixture: 560 phone half-hours, 6 contacts each, 4 answered in time where the plan expected 85%.
    assert ("Phone is furthest behind its plan: customers got 67% answered within target where the plan expected "
            "85% (−18.3 pp)") in first and "n = 3,360." in first
    channel, peak = scalar_row(warehouse, "select channel, forecast from ml_contact_forecast where granularity = "
                               "'day' and queue = 'all' order by forecast desc, day limit 1")
    assert f"expects about {peak:,.0f} contacts on" in first
    abandoned, offered = scalar_row(warehouse, """
        select count(*) filter (where handle_seconds is null), count(*) from fct_service_contacts
        where inbound_channel = 'phone' and date_trunc('month', (occurred_at at time zone 'UTC')
              at time zone 'Europe/Berlin') = date '2026-10-01'""")
    assert abandoned  # fixture: about 8% of calls abandoned
    assert (f"{abandoned / offered:.0%} of {offered:,} queued calls were abandoned in October 2026 "
            f"({abandoned} callers)") in first
    assert 'href="customer_journeys.html"' in page


def test_operations_and_journey_numbers_match_the_marts(rendered):
    warehouse = rendered["warehouse"]
    contacts = scalar(warehouse, "select count(*) from fct_service_contacts where date_trunc('month', "
                                 "(occurred_at at time zone 'UTC') at time zone 'Europe/Berlin') = date '2026-10-01'")
    assert f"Customers contacted service {contacts} times in October 2026" in readable_text(
        rendered["pages"]["service_operations"])
    bot_chats = scalar(warehouse, "select count(*) from fct_service_contacts where is_bot "
                                  "and occurred_at >= '2026-08-01' and occurred_at < '2026-11-01'")
    assert f"The bot handled {bot_chats} chats" in readable_text(rendered["pages"]["customer_journeys"])
    high_risk = scalar(warehouse, "select count(*) from ml_churn_scores where risk_band = 'high'")
    assert rendered["metadata"]["churn_and_actions"]["Customers at high risk"].value == str(high_risk)


def test_value_at_risk_is_churn_probability_times_expected_value(rendered):
    with duckdb.connect(str(rendered["warehouse"]), read_only=True) as connection:
        at_risk, high = connection.execute(
            "SELECT sum(scores.churn_probability * value.expected_value_eur), "
            "sum(CASE WHEN risk_band = 'high' THEN scores.churn_probability * value.expected_value_eur END) "
            "FROM ml_churn_scores AS scores JOIN ml_customer_value AS value USING (customer_key)"
        ).fetchone()
    text = readable_text(rendered["pages"]["churn_and_actions"])
    assert f"{at_risk:,.0f} EUR is at risk; the high-risk band holds {high / at_risk:.0%} of it" in text
    assert "Frequent store shoppers" in readable_text(rendered["pages"]["customer_personas"])


def test_nps_drivers_count_the_answers_of_the_window(rendered):
    answers = scalar(rendered["warehouse"], "select count(*) from fct_survey_responses where survey_type = 'nps' and "
                     "customer_key is not null and responded_at >= '2026-08-01' and responded_at < '2026-11-01'")
    text = readable_text(rendered["pages"]["voice_of_customer"])
    assert f"Across {answers} answers NPS was" in text
    # The key-driver table: adjusted effect with its interval and the impact on the overall NPS.
    assert "Effect (NPS points) 95% interval p Impact 95% interval" in text


def test_topics_have_readable_names_and_the_share_of_other(rendered):
    other, texts = (scalar(rendered["warehouse"], f"""
        select {what} from ml_text_insights join fct_touchpoints using (touchpoint_id)
        where direction = 'inbound' and occurred_at >= '2026-08-01' and occurred_at < '2026-11-01'""")
        for what in ("count(*) filter (where topic = 'other')", "count(*)"))
    text = readable_text(rendered["pages"]["voice_of_customer"])
    assert f"{other / texts:.0%} of the {texts:,} texts fit none of the topics (Other:" in text
    assert "Returns & refunds" in text and "returns refunds" not in text.lower()


def test_emerging_themes_say_what_is_new_with_n_and_the_test(rendered):
    text = readable_text(rendered["pages"]["voice_of_customer"])
    assert ("New theme: “app, voucher, crashes / app, gutschein, stürzt”: 14 texts from 25 Oct 2026 to 31 Oct 2026 "
            "against 0 in the 56 days before, where its earlier share predicts 1.6 (p < 0.001 after correction).") in text
    assert "“Die App stürzt beim Scannen des Gutscheins ab.”" in text
    assert "The app crashes when I scan my voucher, write to [EMAIL]" in text and EMERGING_EMAIL not in text
    assert "Growing theme" not in text  # the steady theme is only in the table


def test_verbatims_are_pseudonymised(rendered):
    text = readable_text(rendered["pages"]["voice_of_customer"])
    assert "Ich bin [NAME], Paket kam nie an, ruft mich an unter [PHONE] oder [EMAIL]" in text


def test_assets_link_their_html_and_the_index_links_every_report(rendered):
    out = rendered["folder"] / "out"
    for spec in REPORTS:
        metadata = rendered["metadata"][spec.name]
        assert Path(metadata["html"].value) == out / f"{spec.name}.html"
        assert metadata["as_of"].value == "2026-10-31"
        assert json.loads((out / f"{spec.name}.json").read_text())["headlines"]
        # every report links every other one (footer)
        page = rendered["pages"][spec.name]
        assert {f"href='{other.name}.html'" for other in REPORTS if other != spec} <= set(
            re.findall(r"href='[a-z_]+\.html'", page))
    index = (out / "index.html").read_text(encoding="utf-8")
    assert {Path(rendered["metadata"][spec.name]["index"].value) for spec in REPORTS} == {out / "index.html"}
    for spec in REPORTS:
        assert f"href='{spec.name}.html'" in index
    assert index.count("Data as of 2026-10-31") == len(REPORTS)


def test_reports_render_on_an_empty_warehouse_and_say_what_is_missing(tmp_path, capfd):
    warehouse = tmp_path / "empty.duckdb"
    duckdb.connect(str(warehouse)).close()
    for spec in REPORTS:
        report = render_report(spec.name, spec.title, REPORTS_SOURCE_DIR / f"{spec.name}.py", tmp_path,
                               {"warehouse_path": str(warehouse), "as_of": "2026-10-31", "number_locale": "de"})
        text = readable_text(report.html_path.read_text(encoding="utf-8"))
        assert ": not available yet." in text, spec.name
        assert "Traceback" not in text
        # Every report starts with what to do next; without data it says in words that there is nothing to rank.
        assert re.findall(r"<h2>(.*?)</h2>", report.html_path.read_text(encoding="utf-8"))[0] == "What to do next"
        if spec.name in ("customer_journeys", "voice_of_customer", "service_operations", "churn_and_actions"):
            assert "Nothing to rank yet" in text, spec.name
    assert "IPKernelApp" not in capfd.readouterr().err  # the kernels' start-up log stays off the console


@pytest.fixture(scope="module")
def pipeline_reports(tmp_path_factory):
    """The reports downstream of the real pipeline on a small demo: generated exports, the ingest assets, `dbt build`
    and the report assets in one Dagster materialisation (no ML assets: their sections must say so plainly)."""
    from dagster_project.defs.assets.dbt import cx_dbt_assets
    from dagster_project.defs.assets.ingest import ingest_assets
    from cx_demo.generate import generate_demo

    data_dir = tmp_path_factory.mktemp("pipeline")
    generate_demo(data_dir / "landing", data_dir / "demo_truth", customers=DEMO_CUSTOMERS, days=DEMO_DAYS, seed=5,
                  end_date=DEMO_END)
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, data_dir)
        # dbt's data tests are covered by the customer-view and KPI tests; here they would only cost time.
        result = dg.materialize([*ingest_assets, cx_dbt_assets, *report_assets], resources=pipeline_resources(),
                                selection=dg.AssetSelection.all().without_checks(), raise_on_error=False)
    return data_dir, result


def test_reports_run_downstream_of_the_real_marts(pipeline_reports):
    data_dir, result = pipeline_reports
    warehouse, out = data_dir / "warehouse.duckdb", data_dir / "reports"
    rendered = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert {spec.name for spec in REPORTS} <= set(rendered)
    # No as-of date given: the reports take the day of the newest data, so October is the complete month.
    assert rendered["cx_scorecard"]["as_of"].value == DEMO_END.isoformat()
    scorecard = (out / "cx_scorecard.html").read_text(encoding="utf-8")
    for label, metric in [("NPS", "nps"), ("CSAT", "csat"), ("First contact resolution", "fcr_rate")]:
        value = scalar(warehouse, f"select value from kpi_metrics where metric = '{metric}' and channel = 'all' and "
                                  "segment = 'all' and period_grain = 'month' and period_start = date '2026-10-01'")
        expected = f"{value:.0f}".replace("-", "−") if metric == "nps" else f"{100 * value:.0f}%"
        assert card_value(scorecard, label) == expected
    contacts = scalar(warehouse, "select count(*) from fct_service_contacts where date_trunc('month', "
                                 "(occurred_at at time zone 'UTC') at time zone 'Europe/Berlin') = date '2026-10-01'")
    assert f"Customers contacted service {contacts:,} times in October 2026" in readable_text(
        (out / "service_operations.html").read_text(encoding="utf-8"))
    # Without the ML assets, the ML sections say so plainly instead of failing.
    assert "Sentiment scores: not available yet." in readable_text((out / "voice_of_customer.html").read_text())
    assert "Churn scores: not available yet." in readable_text((out / "churn_and_actions.html").read_text())


def test_demo_reports_show_no_personal_data(pipeline_reports):
    data_dir, _ = pipeline_reports
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        names = {name for (name,) in con.execute(
            "select distinct unnest([first_name, last_name]) from stg_crm_customers__customers"
        ).fetchall() if name}
    assert len(names) > 50
    name_pattern = re.compile(r"\b(" + "|".join(re.escape(name) for name in names) + r")\b")
    for spec in REPORTS:
        page = (data_dir / "reports" / f"{spec.name}.html").read_text(encoding="utf-8")
        produced = body_without_plotly_library(page)
        assert not EMAIL.search(produced) and not PHONE.search(readable_text(page))
        assert not name_pattern.search(readable_text(page)), name_pattern.search(readable_text(page))


def test_churn_report_shows_amounts_in_the_configured_currency(tmp_path):
    warehouse = build_report_warehouse(tmp_path / "warehouse.duckdb")
    report = render_report("churn_and_actions", "Churn and next best actions", REPORTS_SOURCE_DIR / "churn_and_actions.py",
                           tmp_path, {"warehouse_path": str(warehouse), "as_of": AS_OF.isoformat(), "currency": "USD"})
    text = readable_text(report.html_path.read_text(encoding="utf-8"))

    assert re.search(r"an expected value of [\d,]+ USD", text)
    assert "€" not in text and "EUR" not in text


def test_scorecard_trends_say_how_many_months_they_show(tmp_path):
    """A warehouse whose KPIs start in Nov 2025 (the demo's 365 days): the trend panels show the 12 months there
    are, the heading says 12, not 13, and the lead says where the data starts."""
    warehouse = build_report_warehouse(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from kpi_metrics where period_start < date '2025-11-01'")
    report = render_report("cx_scorecard", "CX scorecard", REPORTS_SOURCE_DIR / "cx_scorecard.py", tmp_path / "out",
                           {"warehouse_path": str(warehouse), "as_of": AS_OF.isoformat()})
    page = report.html_path.read_text(encoding="utf-8")

    assert "<h2>Trends over 12 months</h2>" in page
    assert "The data starts in November 2025." in readable_text(page)
    lines = [trace for figure in chart_figures(page) for trace in figure["data"]
             if trace.get("mode") == "lines+markers"]
    assert len(lines) == 9 and {len(trace["x"]) for trace in lines} == {12}

