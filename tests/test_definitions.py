"""The code location loads as `dagster dev` loads it, with every asset group, job, schedule, sensor and check."""

import subprocess
import sys

import dagster as dg

from dagster_project.definitions import defs
from dagster_project.runner import INGEST_JOB
from cx_core.sources.contracts import CONTRACTS


def group_of(graph, key: str) -> str:
    return graph.get(dg.AssetKey.from_user_string(key)).group_name


def test_definitions_load_with_every_group_job_schedule_and_sensor():
    graph = defs.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    assert groups == {"ingest", "seeds", "staging", "intermediate", "marts", "kpi", "ml", "alerts", "cases", "reports", "privacy"}
    assert {group_of(graph, f"raw/{name}") for name in CONTRACTS} == {"ingest"}
    assert group_of(graph, "kpi_metrics") == "kpi" and group_of(graph, "ml_churn_scores") == "ml"
    assert (group_of(graph, "channel_taxonomy"), group_of(graph, "stg_orders__orders")) == ("seeds", "staging")
    assert (group_of(graph, "int_web_sessions"), group_of(graph, "dim_customers")) == ("intermediate", "marts")
    assert {job.name for job in defs.resolve_all_job_defs()} >= {"full_refresh", "kpi_refresh", "ingest_new_files"}
    assert defs.resolve_schedule_def("kpi_refresh_daily").job_name == "kpi_refresh"
    assert defs.resolve_sensor_def("landing_files_sensor").job_name == "ingest_new_files"
    assert defs.resolve_sensor_def("erasure_requests_sensor").job_name == "erasure"
    assert defs.resolve_schedule_def("retention_daily").job_name == "retention"
    # erasure rewrites raw files: never in the same run as an ingestion
    for job in ("full_refresh", "kpi_refresh"):
        assert not {"erasure_requests", "retention_cleanup"} & {n.name for n in defs.resolve_job_def(job).graph.nodes}


def test_workforce_assets_sit_between_the_marts_and_the_service_report():
    graph = defs.resolve_asset_graph()
    workforce = ["ml_contact_forecast", "ml_forecast_backtest", "ml_forecast_cleaned_days", "ml_staffing_plan",
                 "ml_staffing_adherence"]
    assert {group_of(graph, key) for key in workforce} == {"ml"}
    assert {"fct_service_contacts", "fct_marketing_contacts", "holidays"} <= {
        key.to_user_string() for key in graph.get(dg.AssetKey("ml_contact_forecast")).parent_keys}
    assert "ml_contact_forecast" in {key.to_user_string() for key in graph.get(dg.AssetKey("ml_staffing_plan")).parent_keys}
    assert set(workforce) <= {key.to_user_string() for key in graph.get(dg.AssetKey("service_operations")).parent_keys}


def test_the_voice_of_customer_kpis_run_after_the_ml_assets_they_read():
    graph = defs.resolve_asset_graph()
    parents = {key.to_user_string() for key in graph.get(dg.AssetKey("kpi_voice_of_customer")).parent_keys}
    assert {"ml_sentiment", "ml_text_insights"} <= parents
    steps = [node.name for node in defs.resolve_job_def("full_refresh").graph.nodes]
    assert len([step for step in steps if step.startswith("cx_dbt_assets")]) >= 2  # dbt before and after ML


def test_dim_customers_and_the_kpis_wait_for_every_ml_asset_they_show():
    """dim_customers carries persona, expected value, churn risk and next best action, and the KPI marts slice by
    persona: both run after those ML assets, which therefore must not read dim_customers themselves (nor wait for a
    check that does); next best actions read the profiles instead. So the marts after the ML step, the KPIs and the
    cases are one dbt step: the refresh runs dbt twice (issue 19)."""
    graph = defs.resolve_asset_graph()
    parents = {key.to_user_string() for key in graph.get(dg.AssetKey("dim_customers")).parent_keys}
    assert {"ml_personas", "ml_customer_value", "ml_churn_scores", "ml_next_best_actions"} <= parents
    for ml_asset in ("ml_personas", "ml_persona_profiles", "ml_customer_value", "ml_churn_scores", "ml_next_best_actions"):
        upstream = {key.to_user_string() for key in graph.get_ancestor_asset_keys(dg.AssetKey(ml_asset))}
        assert not {"dim_customers", "kpi_metrics"} & upstream, ml_asset
    assert "dim_customer_profiles" in {key.to_user_string() for key in
                                       graph.get(dg.AssetKey("ml_next_best_actions")).parent_keys}
    # full_refresh builds the seeds in a step of their own first: they do not wait for the ingestion
    for job, dbt_steps in (("full_refresh", 3), ("kpi_refresh", 2)):
        steps = [node.name for node in defs.resolve_job_def(job).graph.nodes]
        assert len([step for step in steps if step.startswith("cx_dbt_assets")]) == dbt_steps, job


def test_checks_and_freshness_cover_sources_model_quality_reports_and_kpis():
    graph = defs.resolve_asset_graph()
    check_names = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    for name in CONTRACTS:
        assert {(f"raw/{name}", "rows_reconcile"), (f"raw/{name}", "quarantine_rate")} <= check_names
    assert ("ml_churn_model_card", "roc_auc_above_floor") in check_names
    assert ("kpi_alerts", "no_active_alerts") in check_names
    assert ("ml_staffing_adherence", "plan_not_optimistic") in check_names
    assert ("cx_scorecard", "html_fresh") in check_names
    assert any(asset == "kpi_metrics" and name.startswith("unique_") for asset, name in check_names)  # dbt tests
    fresh = {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).freshness_policy}
    assert {"kpi_metrics", "kpi_nps", "cx_scorecard", "churn_and_actions"} <= fresh
    assert "stg_orders__orders" not in fresh and "kpi_targets" not in fresh


def steps_and_checks(job: dg.JobDefinition) -> tuple[set[str], set[dg.AssetCheckKey]]:
    return {node.name for node in job.graph.nodes}, set(job.asset_layer.asset_graph.asset_check_keys)


def test_the_ingestion_job_loads_alone_with_the_same_steps_and_checks_as_in_the_code_location():
    from dagster_project.ingest_definitions import defs as ingestion

    alone = ingestion.resolve_job_def(INGEST_JOB)
    assert steps_and_checks(alone) == steps_and_checks(defs.resolve_job_def(INGEST_JOB))
    steps, checks = steps_and_checks(alone)
    assert (len(steps), len(checks)) == (3 * len(CONTRACTS), 2 * len(CONTRACTS))  # each source, its two checks
    # `cx run --job ingest_new_files` loads neither dbt nor dagster-dbt (runner.job_definitions)
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from dagster_project.runner import job_definitions; "
                               f"job_definitions({INGEST_JOB!r}).resolve_job_def({INGEST_JOB!r}); "
                               "print(sorted({name.split('.')[0] for name in sys.modules} & {'dbt', 'dagster_dbt'}))"],
        capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
