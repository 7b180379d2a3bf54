"""The pure parts behind the reports, on hand-computed values: number formats, the 'significant change'
rule, pseudonymised verbatims (Erlang staffing and the forecast: test_workforce.py)."""

import math
import sys
from datetime import date

import duckdb
import plotly.graph_objects as go
import polars as pl
import pytest

from cx_core.reporting import PLOTLY_BUNDLE, REPORTS_SOURCE_DIR, SHARED_PLOTLY_FILE, plotly_script
from tests.helpers.report_html import chart_figures

# The notebooks import `cxreport` from their own folder (the kernel runs there); so do these tests.
sys.path.insert(0, str(REPORTS_SOURCE_DIR))
from cxreport import (  # noqa: E402
    KPIS_BY_METRIC,
    Change,
    NumberFormat,
    Report,
    change_is_significant,
    label,
    month_changes,
    pseudonymise,
    readable,
    words,
)


def test_number_formats_in_english_and_german():
    english, german = NumberFormat("en"), NumberFormat("de")
    assert english.number(1234.5, 1) == "1,234.5"
    assert german.number(1234.5, 1) == "1.234,5"
    assert english.percent(0.412) == "41%"
    assert german.percent(0.412) == "41\u202f%"
    assert english.percentage_points(-0.023) == "−2.3 pp"
    assert german.percentage_points(0.023) == "+2,3 Pp."
    assert english.duration(42) == "42 s"
    assert english.duration(425) == "7 min 5 s"
    assert english.duration(12_000) == "3 h 20 min"
    assert english.duration(3 * 86_400 + 7_200) == "3 days 2 h"
    assert english.duration(-65, signed=True) == "−1 min 5 s"
    assert german.day(date(2026, 3, 1)) == "01.03.2026"
    assert english.day(date(2026, 3, 1)) == "01 Mar 2026"


def test_reports_compare_the_latest_complete_month():
    # No warehouse is read when the as-of date is given.
    mid_month = Report("test", "no-warehouse.duckdb", "2026-11-24")
    assert mid_month.month == date(2026, 10, 1) and mid_month.period_end == date(2026, 11, 1)
    assert Report("test", "no-warehouse.duckdb", "2026-10-31").month == date(2026, 10, 1)
    january = Report("test", "no-warehouse.duckdb", "2026-01-15")
    assert january.months(3) == [date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1)]
    assert january.window_start(3) == date(2025, 10, 1)


def test_a_report_reads_the_columns_once_and_names_what_a_section_lacks(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table fct_touchpoints as select timestamp '2026-10-30 23:10:00' as occurred_at, 1 as n")
    report = Report("test", path)
    assert report.as_of == date(2026, 10, 30)  # the newest touchpoint's day
    path.unlink()  # the listing read at the start answers every section
    assert report.missing({"fct_touchpoints": ["occurred_at", "channel"], "ml_sentiment": ["label"]}) == [
        "fct_touchpoints.channel", "table ml_sentiment"]


def test_a_report_holds_one_connection_only_when_the_pipeline_renders_it(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table fct_touchpoints as select timestamp '2026-10-30 23:10:00' as occurred_at, 1 as n")
    interactive = Report("test", path)
    assert interactive.query("select sum(n) as n from fct_touchpoints")["n"][0] == 1
    with duckdb.connect(str(path)) as writer:  # no connection left open between queries
        writer.execute("insert into fct_touchpoints values (timestamp '2026-10-31 08:00:00', 2)")
    rendered = Report("test", path, hold_connection=True)
    assert rendered.as_of == date(2026, 10, 31)  # the same connection reads the columns, the date and the rest
    assert rendered.query("select sum(n) as n from fct_touchpoints")["n"][0] == 3
    with pytest.raises(duckdb.ConnectionException):  # still open: a writer in this process is refused
        duckdb.connect(str(path))


def test_a_change_is_significant_only_when_its_interval_excludes_zero():
    # se = half-width / 1.96 = 3 / 1.96 for both periods; the difference's half-width is 1.96·sqrt(2)·3/1.96 = 4.24.
    assert change_is_significant(41, (38, 44), 35, (32, 38)) is True
    assert change_is_significant(39, (36, 42), 35, (32, 38)) is False  # 4 < 4.24
    assert change_is_significant(39, (None, None), 35, (32, 38)) is None


def test_change_sentences_and_verdicts():
    nps, aht = KPIS_BY_METRIC["nps"], KPIS_BY_METRIC["aht_seconds"]
    fmt = NumberFormat("en")
    rise = Change(nps, 41.0, 35.0, True, 40.0)
    assert rise.sentence(fmt) == "NPS rose to 41 (+6 vs last month, significant)."
    assert rise.verdict == "better" and rise.target_text(fmt) == "meets the target of 40"
    slower = Change(aht, 450.0, 420.0, True, 420.0)
    assert slower.verdict == "worse"  # lower is better for handle time
    assert slower.sentence(fmt) == "Average handle time rose to 7 min 30 s (+30 s vs last month, significant)."
    assert slower.target_text(fmt) == "misses the target of 7 min"
    assert Change(nps, 35.2, 35.0, False, None).sentence(fmt) == (
        "NPS held at 35 (+0 vs last month, within normal variation).")
    assert Change(nps, 30.0, 35.0, False, None).verdict == "steady"


def test_pseudonymise_masks_contacts_and_names_but_keeps_dates_and_amounts():
    text = ("Ich bin Jonas Becker (@jonas_b), jonas.becker@example.org, Tel. 0171 234-5678 oder +49 (30) 1234567. "
            "Bestellung 12345 vom 02.03.2026 über 59,90 €.")
    assert pseudonymise(text) == (
        "Ich bin [NAME] ([HANDLE]), [EMAIL], Tel. [PHONE] oder [PHONE]. "
        "Bestellung 12345 vom 02.03.2026 über 59,90 €."
    )


def test_codes_become_readable_labels():
    assert words("returns_refunds") == "returns and refunds"
    assert words("vip_omnichannel") == "VIP omnichannel"
    assert words("service_contacts_90d") == "service contacts (90 days)"
    assert label("days_since_last_order") == "Days since last order"
    assert label("payment_billing") == "Payment and billing"


def test_rates_carry_their_sample_size():
    english, german = NumberFormat("en"), NumberFormat("de")
    assert english.share_of(1.0, 3) == "100% (n = 3)"
    assert german.share_of(0.842, 1204) == "84\u202f% (n = 1.204)"
    assert english.share_of(0.842, None) == "84%"
    assert KPIS_BY_METRIC["csat"].value_text(english, 0.05, 40) == "5.0% (n = 40)"


def test_plotly_is_written_once_beside_the_reports_or_inlined(tmp_path):
    shared = plotly_script("shared", tmp_path)
    assert shared == f"<script type='text/javascript' src='{SHARED_PLOTLY_FILE}'></script>"
    written = (tmp_path / SHARED_PLOTLY_FILE).stat()
    assert (tmp_path / SHARED_PLOTLY_FILE).read_bytes() == PLOTLY_BUNDLE.read_bytes()
    plotly_script("shared", tmp_path)  # a second report reuses the file
    assert (tmp_path / SHARED_PLOTLY_FILE).stat().st_mtime_ns == written.st_mtime_ns
    inline = plotly_script("inline", tmp_path / "inline")
    assert PLOTLY_BUNDLE.read_text(encoding="utf-8") in inline and not (tmp_path / "inline").exists()
    with pytest.raises(ValueError, match="shared, inline"):
        plotly_script("cdn", tmp_path)


def test_codes_in_free_text_become_words():
    assert readable("purchase_share_store +2.0 sd, email_open_rate +1.1 sd") == (
        "purchase share store +2.0 sd, email open rate +1.1 sd")
    assert readable("BG/NBD × Gamma-Gamma, ml_customer_value, 7.5 min") == (
        "BG/NBD × Gamma-Gamma, ML customer value, 7.5 min")


def test_whole_numbers_on_bars_group_thousands_like_the_tables():
    figure = go.Figure([go.Bar(x=["a", "b"], y=[5488, 10548], text=[5488, 10548]),
                        go.Bar(x=["a"], y=[1], text=["41%"]), go.Scatter(x=[1], y=[1], text=[1.5])])
    chart = Report("test", "no-warehouse.duckdb", "2026-10-31", "de")._chart_html(figure, 300)
    assert figure.data[0].text == ("5.488", "10.548")
    assert figure.data[1].text == ("41%",) and figure.data[2].text == ("1.5",)  # not whole numbers: as given
    # The page draws the chart from its data (charts.js): a box of the chart's height and the figure beside it.
    assert "<div class='cx-chart'><div class='cx-plot' style='height:300px'></div>" in chart
    drawn = chart_figures(chart)[0]
    assert drawn["data"][0]["text"] == ["5.488", "10.548"] and drawn["layout"]["height"] == 300
    assert drawn["config"]["displaylogo"] is False


def test_a_kpi_that_was_not_measured_reads_not_available_with_its_reason():
    fcr = KPIS_BY_METRIC["fcr_rate"]
    fmt = NumberFormat("en")
    reason = "not measured: needs a resolution status of service contacts"
    rows = pl.DataFrame({"period_start": [date(2026, 9, 1), date(2026, 10, 1)], "metric": ["fcr_rate"] * 2,
                         "value": [None, None], "ci_low": [None, None], "ci_high": [None, None],
                         "target": [0.75, 0.75], "value_missing_reason": [reason, reason]},
                        schema_overrides={"value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64})
    [change] = month_changes(rows, [fcr], date(2026, 10, 1), date(2026, 9, 1))
    assert fcr.value_text(fmt, change.value) == "not available"  # never "0%"
    assert change.sentence(fmt) == f"First contact resolution: not available ({reason})."
    assert change.target_text(fmt) == "cannot be compared with its target of 75%"
    assert Change(fcr, None, None, None, None).sentence(fmt) == (
        "First contact resolution: not available (no data in this period).")


def test_sms_and_push_have_clearly_different_colours():
    """Both are short mobile messages and often share a chart: their hues must be far apart (not two yellows)."""
    import colorsys

    from cxreport.style import channel_colour

    def hue(colour: str) -> float:
        red, green, blue = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
        return colorsys.rgb_to_hsv(red, green, blue)[0] * 360

    distance = abs(hue(channel_colour("sms")) - hue(channel_colour("push")))
    assert min(distance, 360 - distance) > 60


def test_what_to_do_next_keeps_the_three_findings_with_most_at_stake():
    from cxreport import Finding, next_steps_markdown

    findings = [Finding(f"finding {stake}", "sure", f"act {stake}", stake) for stake in (5.0, 50.0, 1.0, 20.0)]
    assert next_steps_markdown(findings).splitlines() == [
        "1. finding 50.0 How sure: sure Act on it: act 50.0",
        "2. finding 20.0 How sure: sure Act on it: act 20.0",
        "3. finding 5.0 How sure: sure Act on it: act 5.0",
    ]


def test_a_share_in_what_to_do_next_carries_its_wilson_interval_and_n():
    from cxreport import NumberFormat, share_confidence

    # 1 of 4: p = 0.25, z² = 3.8416; centre (0.25 + 3.8416/8) / (1 + 3.8416/4) = 0.3725,
    # half 1.96 · sqrt(0.25 · 0.75/4 + 3.8416/64) / 1.9604 = 0.3269: 4.6% to 69.9%.
    assert share_confidence(NumberFormat("en"), 1, 4) == "95% interval 5% to 70%, n = 4."
    # 600 of 1,200 in German: 47.2% to 52.8%.
    assert share_confidence(NumberFormat("de"), 600, 1200) == "95% interval 47\u202f% to 53\u202f%, n = 1.200."


def test_a_finding_that_leads_to_cases_names_its_case_list_counts_and_crm_file(tmp_path):
    import duckdb
    from cxreport import case_export_file, case_lists_action, link_token, open_case_lists

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("""create table kpi_open_case_lists as select * from (values
            ('detractor', 'Detractor answer', 'cx_recovery', 12::bigint, 5::bigint),
            ('urgent_text', 'Urgent negative text', 'escalations', 7, 6)
        ) as lists(case_type, case_label, owner_team, open_cases, overdue_cases)""")
    case_lists = open_case_lists(Report("test", warehouse, "2026-10-31"))
    assert list(case_lists) == ["urgent_text", "detractor"]  # most overdue first
    export = case_export_file("2026-10-31", "Europe/Berlin")  # the cases_export asset's name for that day
    assert export == "cases_2026-10-31.csv"
    text = readable(case_lists_action(NumberFormat("de"), [case_lists["detractor"], case_lists["urgent_text"]],
                                      export, link_token(0)))
    # the team in words, the file name as the team finds it in its CRM
    assert text == ("the case lists *Detractor answer* of owner team cx recovery (12 open, 5 of them past their due "
                    "time) and *Urgent negative text* of owner team escalations (7 open, 6 of them past their due "
                    "time) in the CRM file cases_2026-10-31.csv (see \ue0000\ue001)")
    assert readable("owner_team in cases_2026-10-31.csv") == "owner team in cases_2026-10-31.csv"
    # before the cases are built: no case list, so the finding keeps its general action
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        con.execute("create table kpi_metrics (metric varchar)")
    assert open_case_lists(Report("test", tmp_path / "empty.duckdb", "2026-10-31")) == {}
