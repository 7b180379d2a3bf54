"""KPI alerts on hand-made series: threshold rules, the change tests with hand-computed figures, no alert on
pure noise (Benjamini–Hochberg), no repeat while a condition persists unless it worsens."""

import json
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest

from cx_core.settings import REPO_ROOT
from cx_core.warehouse import WarehouseFile, replace_table
from dagster_project.defs.resources import pipeline_resources
from tests.helpers.settings_env import point_settings_at
from ml.alerts import AlertOptions, alerts_markdown, kpi_alerts, notifications

SEEDS = REPO_ROOT / "seeds"
Z95 = 1.959964
TARGETS = pl.DataFrame({
    "metric": ["nps", "aht_seconds", "csat"],
    "direction": ["higher_is_better", "lower_is_better", "higher_is_better"],
    "unit": ["points", "seconds", "share"],
})
NO_RULES = pl.DataFrame(schema={
    "metric": pl.String, "channel": pl.String, "segment": pl.String, "period_grain": pl.String, "bound": pl.String,
    "threshold": pl.Float64, "severity": pl.String, "min_n": pl.Int64,
})
MONDAY = date(2026, 3, 2)


def series(metric: str, values: list[float | None], half_widths: list[float | None], grain: str = "week",
           channel: str = "all", segment: str = "all", n: int = 100, target: float | None = None) -> pl.DataFrame:
    """One kpi_metrics series: consecutive periods from MONDAY, value ± half width (None: no interval)."""
    step = {"day": 1, "week": 7}[grain]
    return pl.DataFrame({
        "period_grain": grain, "channel": channel, "segment": segment, "metric": metric,
        "period_start": [MONDAY + timedelta(days=step * i) for i in range(len(values))],
        "value": values, "n": n, "denominator": float(n), "target": target,
        "ci_low": [None if v is None or h is None else v - h for v, h in zip(values, half_widths)],
        "ci_high": [None if v is None or h is None else v + h for v, h in zip(values, half_widths)],
    }, schema_overrides={"value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "target": pl.Float64,
                         "n": pl.Int64})


def rules(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=NO_RULES.schema, orient="row")


def test_threshold_rules_fire_once_per_series_with_the_most_severe_rule():
    # Latest week: NPS 15 ± 4 against the target 40 (warning) and the hard floor 20 (critical); no intervals
    # before, so no change test runs.
    metrics = series("nps", [45.0, 15.0], [None, 4.0], target=40.0)
    alerts = kpi_alerts(metrics, rules(
        ("nps", "*", "all", "week", "min", None, "warning", 30),
        ("nps", "all", "all", "week", "min", 20.0, "critical", 30),
        ("nps", "all", "all", "week", "min", 10.0, "critical", 500),  # too few responses for this rule
        ("csat", "*", "all", "week", "min", None, "critical", 30),  # another metric
    ), TARGETS)
    assert alerts.height == 1
    alert = alerts.row(0, named=True)
    assert (alert["kind"], alert["severity"], alert["reference"]) == ("threshold", "critical", 20.0)
    assert alert["difference"] == pytest.approx(-5.0)
    assert (alert["ci_low"], alert["ci_high"]) == (pytest.approx(-9.0), pytest.approx(-1.0))
    assert alert["sentence"] == ("Weekly NPS (all channels, all segments, 2026-03-09) is 15.0, below its floor of "
                                 "20.0 (-5.0; 95% interval -9.0 to -1.0; n = 100).")


def test_a_ceiling_rule_and_a_value_inside_its_bounds():
    metrics = pl.concat([
        series("aht_seconds", [400.0, 500.0], [None, None], channel="phone"),
        series("aht_seconds", [400.0, 410.0], [None, None], channel="chat_agent"),
    ])
    alerts = kpi_alerts(metrics, rules(("aht_seconds", "*", "all", "*", "max", 420.0, "warning", 1)), TARGETS)
    assert alerts.select("channel", "difference").rows() == [("phone", 80.0)]


def test_change_vs_previous_period_with_hand_computed_test():
    # 40 ± 3 then 30 ± 3: se of each 3 / 1.96 = 1.5306, of the difference 1.5306 · √2 = 2.1646,
    # z = −10 / 2.1646 = −4.620, p = 3.84e-6; interval −10 ± 1.96 · 2.1646 = −14.243 .. −5.757.
    metrics = series("nps", [40.0, 30.0], [3.0, 3.0])
    alerts = kpi_alerts(metrics, NO_RULES, TARGETS)
    assert alerts.height == 1
    alert = alerts.row(0, named=True)
    assert (alert["kind"], alert["severity"]) == ("change_vs_previous", "critical")
    assert alert["reference"] == 40.0 and alert["difference"] == pytest.approx(-10.0)
    assert alert["ci_low"] == pytest.approx(-14.243, abs=1e-3) and alert["ci_high"] == pytest.approx(-5.757, abs=1e-3)
    assert alert["p_value"] == pytest.approx(3.84e-6, rel=0.01)
    assert alert["q_value"] == alert["p_value"]  # one test: the correction changes nothing
    assert "fell to 30.0 from the previous period's 40.0 (-10.0;" in alert["sentence"]


def test_small_change_and_too_few_observations_give_no_alert():
    quiet = series("nps", [40.0, 38.0], [3.0, 3.0])  # z = −0.92
    thin = series("nps", [40.0, 10.0], [3.0, 3.0], channel="phone", n=12)  # large, but below min_n
    assert kpi_alerts(pl.concat([quiet, thin]), NO_RULES, TARGETS, AlertOptions(min_n=30)).is_empty()


def test_outside_expected_range_compares_the_same_weekday():
    # Daily AHT: Mondays 10, 12, 10, 12 then 20 (no sampling error); the other days are 100 without an interval
    # (not testable, but they must not enter the Monday history).
    # mean 11, variance 1.3333 (no sampling error: all of it between periods), scale √(1.3333 + 1.3333 / 4)
    # = 1.2910, t = 9 / 1.2910 = 6.971 with 3 df: p = 0.00607;
    # interval 9 ± 3.1824 · 1.2910 = 4.892 .. 13.108.
    values, widths = [], []
    for week, monday in enumerate([10.0, 12.0, 10.0, 12.0, 20.0]):
        values += [monday] + ([100.0] * 6 if week < 4 else [])
        widths += [0.0] + ([None] * 6 if week < 4 else [])
    alerts = kpi_alerts(series("aht_seconds", values, widths, grain="day"), NO_RULES, TARGETS)
    assert alerts.height == 1
    alert = alerts.row(0, named=True)
    assert (alert["kind"], alert["period_start"]) == ("outside_expected_range", MONDAY + timedelta(days=28))
    assert alert["reference"] == pytest.approx(11.0) and alert["difference"] == pytest.approx(9.0)
    assert alert["p_value"] == pytest.approx(0.00607, rel=0.01)
    assert alert["ci_low"] == pytest.approx(4.892, abs=1e-3) and alert["ci_high"] == pytest.approx(13.108, abs=1e-3)
    assert alert["severity"] == "critical"  # AHT rose (lower is better) with q < 0.01


def noise(series_count: int, weeks: int, seed: int) -> pl.DataFrame:
    """NPS series of pure sampling noise around 30 with the honest interval ± 1.96 · 5."""
    rng = np.random.default_rng(seed)
    return pl.concat([
        series("nps", list(30.0 + rng.normal(0, 5, weeks)), [Z95 * 5] * weeks, channel=f"c{i}")
        for i in range(series_count)
    ])


def test_no_alert_on_pure_noise_while_uncorrected_tests_would_raise_dozens():
    metrics = noise(series_count=400, weeks=10, seed=7)
    assert kpi_alerts(metrics, NO_RULES, TARGETS).is_empty()
    # The same 800 tests at p < 0.05 without the correction: 15 of the 400 changes vs the previous week (3.8%),
    # 4 of the 400 expected-range tests (the t-test on 8 past weeks is conservative).
    uncorrected = kpi_alerts(metrics, NO_RULES, TARGETS, AlertOptions(fdr=1.0)).filter(pl.col("p_value") < 0.05)
    assert uncorrected.height == 19


def test_a_real_change_is_still_found_among_noise():
    metrics = noise(series_count=200, weeks=10, seed=7).with_columns(
        pl.when((pl.col("channel") == "c3") & (pl.col("period_start") == pl.col("period_start").max()))
        .then(pl.col("value") - 40).otherwise(pl.col("value")).alias("value")
    ).with_columns(pl.col("value").sub(Z95 * 5).alias("ci_low"), pl.col("value").add(Z95 * 5).alias("ci_high"))
    alerts = kpi_alerts(metrics, NO_RULES, TARGETS)
    assert set(alerts["channel"]) == {"c3"}
    assert set(alerts["kind"]) == {"change_vs_previous", "outside_expected_range"}


def test_a_persisting_condition_is_sent_again_only_when_it_worsens():
    def alert(difference: float, severity: str = "warning") -> pl.DataFrame:
        return pl.DataFrame({"alert_key": ["threshold|nps|week|all|all"], "severity": [severity],
                             "difference": [difference]})

    sent, state = notifications(alert(-5.0), {})
    assert sent.height == 1
    sent, state = notifications(alert(-7.0), state)  # persists, 1.4 × the gap last sent
    assert sent.is_empty() and state["threshold|nps|week|all|all"]["gap"] == 5.0
    sent, state = notifications(alert(-7.5), state)  # 1.5 × the gap last sent
    assert sent.height == 1 and state["threshold|nps|week|all|all"]["gap"] == 7.5
    sent, state = notifications(alert(-7.5, "critical"), state)  # severity rose
    assert sent.height == 1
    sent, state = notifications(alert(-7.5).clear(), state)  # ended
    assert state == {}
    sent, state = notifications(alert(-2.0), state)  # returns: new again
    assert sent.height == 1


def test_markdown_lists_every_alert_and_marks_the_new_ones():
    alerts = kpi_alerts(series("nps", [40.0, 30.0], [3.0, 3.0]), NO_RULES, TARGETS)
    text = alerts_markdown(alerts, alerts, "2026-03-10")
    assert "1 critical, 0 warning, 0 info; 1 new or worse since the last run." in text
    assert "- **critical** **new** (change vs previous): Weekly NPS" in text
    assert "No KPI" in alerts_markdown(alerts.clear(), alerts.clear(), "2026-03-10")


class WebhookReceiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (the http.server name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        WebhookReceiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def webhook_url():
    server = HTTPServer(("127.0.0.1", 0), WebhookReceiver)
    WebhookReceiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def write_alert_warehouse(path: Path, latest_nps: float) -> None:
    """kpi_metrics with one weekly NPS series (target 40) and the real seeds kpi_alert_rules and kpi_targets."""
    warehouse = WarehouseFile(path)
    metrics = series("nps", [40.0, 41.0, 39.0, 40.0, latest_nps], [3.0] * 5, target=40.0)
    replace_table(warehouse, "kpi_metrics", metrics.with_columns(pl.lit("all").alias("segment_type")))
    replace_table(warehouse, "kpi_alert_rules", pl.read_csv(SEEDS / "kpi_alert_rules.csv",
                                                            schema_overrides={"threshold": pl.Float64}))
    replace_table(warehouse, "kpi_targets", pl.read_csv(SEEDS / "kpi_targets.csv"))


@pytest.fixture
def alert_warehouse(tmp_path, monkeypatch) -> Path:
    """The asset's warehouse and alert folder under tmp_path (settings point there), no webhook."""
    return point_settings_at(monkeypatch, tmp_path).warehouse_path


@pytest.mark.slow
def test_asset_writes_files_posts_new_alerts_once_and_the_check_fails(tmp_path, monkeypatch, webhook_url,
                                                                      alert_warehouse):
    from dagster_project.defs.assets.alerts import kpi_alerts_asset
    from dagster_project.defs.checks import no_active_kpi_alerts

    monkeypatch.setenv("CX_ALERT_WEBHOOK_URL", webhook_url)
    write_alert_warehouse(alert_warehouse, latest_nps=15.0)

    first = dg.materialize([kpi_alerts_asset, no_active_kpi_alerts], resources=pipeline_resources())
    assert first.success
    # NPS 15: below the floor 20 (critical) and the target 40 (warning: one alert, the worse), a fall of 25
    # from the previous week and from the expected 40.
    kinds = {alert["kind"] for alert in WebhookReceiver.received[0]["alerts"]}
    assert kinds == {"threshold", "change_vs_previous", "outside_expected_range"}
    assert WebhookReceiver.received[0]["text"].startswith("3 new or worsened KPI alert(s)")
    [check] = first.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    [run_dir] = [p for p in (alert_warehouse.parent / "alerts").iterdir() if p.is_dir()]
    assert "3 critical, 0 warning, 0 info; 3 new or worse" in (run_dir / "alerts.md").read_text()
    assert len(json.loads((run_dir / "alerts.json").read_text())["alerts"]) == 3

    # The next run sees the same conditions: nothing is posted again; the table still holds them.
    assert dg.materialize([kpi_alerts_asset], resources=pipeline_resources()).success
    assert len(WebhookReceiver.received) == 1
    with duckdb.connect(str(alert_warehouse), read_only=True) as connection:
        assert connection.execute("SELECT count(*), count(*) FILTER (is_new) FROM kpi_alerts").fetchone() == (3, 0)


@pytest.mark.slow
def test_the_check_passes_without_alerts(alert_warehouse):
    from dagster_project.defs.assets.alerts import kpi_alerts_asset
    from dagster_project.defs.checks import no_active_kpi_alerts

    write_alert_warehouse(alert_warehouse, latest_nps=41.0)
    result = dg.materialize([kpi_alerts_asset, no_active_kpi_alerts], resources=pipeline_resources())
    [check] = result.get_asset_check_evaluations()
    assert check.passed


def test_a_week_still_filling_up_is_not_evaluated():
    # Daily data ends on Wednesday 11 March: the week of 9 March is incomplete, so the week of 2 March is the
    # latest one evaluated (its threshold breach is the alert; the half week's worse value is not).
    days = series("csat", [0.8] * 10, [None] * 10, grain="day")
    weeks = series("csat", [0.60, 0.20], [None, None])
    alerts = kpi_alerts(pl.concat([days, weeks]), rules(("csat", "all", "all", "week", "min", 0.7, "warning", 1)),
                        TARGETS)
    assert alerts.select("period_start", "value").rows() == [(MONDAY, 0.6)]
    assert alerts["sentence"][0].startswith("Weekly CSAT (all channels, all segments, 2026-03-02) is 60.0%, below "
                                            "its floor of 70.0% (-10.0 points;")
