"""The alert assets (group `alerts`): after each KPI refresh, `kpi_alerts` of the latest periods and
`kpi_change_drivers`, the root cause of each significant change of a total.

Delivered three ways: the warehouse table `kpi_alerts` (read by the asset check and the reports),
`<CX_ALERTS_DIR>/<run>/alerts.md` + `alerts.json`, and, when CX_ALERT_WEBHOOK_URL is set, a POST of the new or
worsened ones. `state.json` remembers what was last sent, so a condition that persists is not sent again
unless it worsens; when the webhook fails the state is kept, so the next run sends again.
"""

import json
import urllib.error
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import polars as pl

from cx_core.warehouse import read_frames, replace_table, table_names
from cx_core.webhook import post_json
from dagster_project.defs.assets.dbt import warehouse_table_key
from dagster_project.defs.metadata import frame_metadata
from dagster_project.defs.resources import PipelineSettings, WarehouseResource, holds_warehouse_open
from ml.alerts import SEVERITY_RANK, AlertOptions, alerts_markdown, kpi_alerts, notifications
from ml.change_drivers import change_drivers, driver_sentence

# Alerts and change drivers slice by channel and segment: the persona rows slice the same customers a second
# way (segment_type 'persona'), which would count every customer twice in a decomposition.
METRICS_SQL = """
    SELECT period_grain, period_start, channel, segment, metric, value, n, ci_low, ci_high, target, denominator
    FROM kpi_metrics WHERE segment_type <> 'persona'
"""
# Change drivers read the persona rows too, as one more dimension (segment_type tells the two slicings apart).
DRIVER_METRICS_SQL = """
    SELECT period_grain, period_start, channel, segment_type, segment, metric, value, ci_low, ci_high, denominator
    FROM kpi_metrics
"""
# The answer-level KPIs by entry channel and topic; absent until dbt has built the model.
ANSWER_SLICES_TABLE = "kpi_metric_slices"
# Persona slices are persona ids (kpi_metrics); sentences name them as the persona step does.
PERSONAS_TABLE = "ml_personas"
PERSONA_NAMES_SQL = f"SELECT DISTINCT persona_id, persona_name FROM {PERSONAS_TABLE} WHERE persona_name IS NOT NULL"
# The changes worth a root cause: significant moves of a total against the previous period.
TOTAL_CHANGES_SQL = """
    SELECT DISTINCT metric, period_grain, period_start FROM kpi_alerts
    WHERE kind = 'change_vs_previous' AND channel = 'all' AND segment = 'all'
"""


def load_state(path: Path) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.exists() else {}


def write_run_files(run_dir: Path, alerts: pl.DataFrame, sent: pl.DataFrame, run_label: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "alerts.md").write_text(alerts_markdown(alerts, sent, run_label), encoding="utf-8")
    document = {"run": run_label, "alerts": alerts.to_dicts(), "sent": sent["alert_key"].to_list()}
    (run_dir / "alerts.json").write_text(json.dumps(document, default=str, indent=2), encoding="utf-8")


def webhook_payload(sent: pl.DataFrame, run_label: str) -> dict:
    """`text` for chat tools (Slack, Teams), `alerts` for machines."""
    lines = [f"{len(sent)} new or worsened KPI alert(s), run {run_label}:"]
    lines += [f"[{row['severity']}] {row['sentence']}" for row in sent.iter_rows(named=True)]
    return {"text": "\n".join(lines), "alerts": sent.to_dicts()}


@dg.asset(
    name="kpi_alerts",
    group_name="alerts",
    pool="duckdb",
    deps=[warehouse_table_key(table) for table in ("kpi_metrics", "kpi_alert_rules", "kpi_targets")],
    kinds={"python", "duckdb"},
    description="KPI alerts of the latest day, week and month: breaches of the rules in seed kpi_alert_rules and "
                "significant changes vs the previous period and vs the expected range (Benjamini–Hochberg "
                "corrected), each with severity, figures, interval and a sentence.",
)
@holds_warehouse_open
def kpi_alerts_asset(context: dg.AssetExecutionContext, cx: PipelineSettings,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = cx.settings
    inputs = read_frames(warehouse, {"metrics": METRICS_SQL, "rules": "SELECT * FROM kpi_alert_rules",
                                     "targets": "SELECT metric, direction, unit FROM kpi_targets"})
    alerts = kpi_alerts(inputs["metrics"], inputs["rules"], inputs["targets"], AlertOptions(fdr=settings.alert_fdr))
    state_path = settings.alerts_dir / "state.json"
    sent, state = notifications(alerts, load_state(state_path))
    replace_table(warehouse, "kpi_alerts", alerts.with_columns(
        pl.col("alert_key").is_in(sent["alert_key"].implode()).alias("is_new")))
    run_label = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    run_dir = settings.alerts_dir / run_label
    write_run_files(run_dir, alerts, sent, run_label)
    webhook = "not configured"
    if settings.alert_webhook_url and not sent.is_empty():
        try:
            webhook = f"HTTP {post_json(settings.alert_webhook_url, webhook_payload(sent, run_label))}"
        except (urllib.error.URLError, TimeoutError) as error:
            webhook = f"failed: {error}"
            context.log.warning(f"alert webhook failed, the next run sends again: {error}")
    elif settings.alert_webhook_url:
        webhook = "nothing new to send"
    if not webhook.startswith("failed"):
        state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    counts = {severity: alerts.filter(pl.col("severity") == severity).height for severity in SEVERITY_RANK}
    return dg.MaterializeResult(metadata={
        **frame_metadata(alerts),
        **{f"{severity}_alerts": count for severity, count in counts.items()},
        "sent": sent.height,
        "webhook": webhook,
        "alerts_md": dg.MetadataValue.path(str(run_dir / "alerts.md")),
        "alerts": dg.MetadataValue.md(alerts_markdown(alerts, sent, run_label)),
    })


def driver_sentences(drivers: pl.DataFrame, units: dict[str, str], persona_names: dict[str, str]) -> pl.DataFrame:
    """One sentence per decomposed change; shares in percentage points."""
    rows = []
    for (metric, grain, start), frame in drivers.group_by(["metric", "period_grain", "period_start"]):
        share = units.get(metric) == "share"
        text = driver_sentence(frame, scale=100.0 if share else 1.0, unit=" points" if share else "",
                               persona_names=persona_names)
        rows.append({"metric": metric, "period_grain": grain, "period_start": start, "sentence": text})
    return pl.DataFrame(rows, schema={"metric": pl.String, "period_grain": pl.String, "period_start": pl.Date,
                                      "sentence": pl.String})


def skipped_summary(skipped: pl.DataFrame) -> str:
    """Markdown lines: each skipped dimension with its reason and how many changes it was skipped for."""
    counted = skipped.group_by("dimension", "reason").len().sort("dimension", "reason")
    return "\n".join(f"- {row['dimension']} ({row['len']} change(s)): {row['reason']}"
                     for row in counted.iter_rows(named=True)) or "none"


@dg.asset(
    group_name="alerts",
    pool="duckdb",
    deps=[kpi_alerts_asset, warehouse_table_key("kpi_metrics"), warehouse_table_key(ANSWER_SLICES_TABLE)],
    kinds={"python", "duckdb"},
    description="For each significant change of a KPI total vs the previous period: the contribution of every "
                "channel, segment, channel × segment cell and persona (kpi_metrics), and for NPS, CSAT and FCR of "
                "every entry channel and topic (kpi_metric_slices), in points, split into mix and rate effect, "
                "with a bootstrap interval; plus one sentence per change (kpi_change_driver_sentences) for the "
                "scorecard. A dimension without data (no topics before the ML text step) is skipped and listed.",
)
@holds_warehouse_open
def kpi_change_drivers(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    tables = table_names(warehouse)
    queries = {"metrics": DRIVER_METRICS_SQL, "changes": TOTAL_CHANGES_SQL,
               "units": "SELECT DISTINCT metric, unit FROM kpi_targets"}
    if ANSWER_SLICES_TABLE in tables:
        queries["answer_slices"] = f"SELECT * FROM {ANSWER_SLICES_TABLE}"
    if PERSONAS_TABLE in tables:
        queries["persona_names"] = PERSONA_NAMES_SQL
    inputs = read_frames(warehouse, queries)
    drivers, skipped = change_drivers(inputs["metrics"], inputs["changes"], inputs.get("answer_slices"))
    units = dict(inputs["units"].rows())
    persona_names = dict(inputs["persona_names"].rows()) if "persona_names" in inputs else {}
    sentences = driver_sentences(drivers, units, persona_names)
    replace_table(warehouse, "kpi_change_drivers", drivers)
    replace_table(warehouse, "kpi_change_driver_sentences", sentences)
    context.log.info(f"{sentences.height} change(s) decomposed")
    return dg.MaterializeResult(metadata={
        **frame_metadata(drivers),
        "changes": sentences.height,
        "dimensions": dg.MetadataValue.json(sorted(drivers["dimension"].unique().to_list())),
        "skipped_dimensions": dg.MetadataValue.md(skipped_summary(skipped)),
        "sentences": dg.MetadataValue.md("\n".join(f"- {text}" for text in sentences["sentence"]) or "none"),
    })


alert_assets = [kpi_alerts_asset, kpi_change_drivers]
