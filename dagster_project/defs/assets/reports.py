"""The CX lead reports as Dagster assets (group "reports"): one asset per notebook in `reports/`, run after the
marts and ML tables it reads. Each asset's metadata links its HTML file and shows the report's headline
numbers; every page links the others. Every report also refreshes `index.html`, which links all reports with
their as-of dates: the index is current even when another report could not run (its upstream ML step failed,
say). plotly.js is shared beside the reports or inlined into each, as `CX_REPORT_PLOTLY` says.

Reports only read the warehouse, but they take the `duckdb` pool anyway: a read-only connection still blocks
a writer (dbt, ML) that starts while the notebook reads. The report steps of a run take their kernels from the
`report_kernels` resource, which starts the kernel of the run's next report while one renders.
"""

from dataclasses import dataclass

import dagster as dg

from cx_core.reporting import REPORTS_SOURCE_DIR, RenderedReport, render_index, render_report
from cx_core.settings import Settings
from dagster_project.defs.assets.dbt import warehouse_table_key
from dagster_project.defs.resources import PipelineSettings, ReportKernelsResource

REPORTS_GROUP = "reports"


@dataclass(frozen=True)
class ReportSpec:
    name: str  # notebook reports/<name>.py and output <name>.html
    title: str
    question: str  # what the report answers, for the index page
    reads: tuple[str, ...]  # warehouse tables (asset keys) the notebook reads


REPORTS = [
    ReportSpec("cx_scorecard", "CX scorecard", "How are NPS, CSAT, CES, conversion, churn and service KPIs "
               "doing, and which changes are real?",
               ("kpi_metrics", "channel_taxonomy", "kpi_alerts", "kpi_change_driver_sentences", "kpi_open_case_lists")),
    ReportSpec("customer_journeys", "Customer journeys", "Which paths do customers take, where do they switch "
               "channel or drop off, and what happens after a bot hands over?",
               ("fct_journeys", "fct_channel_transitions", "fct_web_sessions", "fct_service_contacts",
                "channel_taxonomy", "dim_customers")),
    ReportSpec("voice_of_customer", "Voice of the customer", "How do customers feel, about what, and what "
               "drives NPS?", ("ml_sentiment", "ml_text_insights", "ml_emerging_topics", "fct_touchpoints",
                               "fct_survey_responses", "fct_service_contacts", "fct_orders", "channel_taxonomy",
                               "kpi_open_case_lists")),
    ReportSpec("churn_and_actions", "Churn and next best actions", "Who is likely to leave, why, and what do we "
               "do about it?", ("ml_churn_scores", "ml_churn_model_card", "ml_next_best_actions", "dim_customers",
                               "ml_customer_value", "channel_taxonomy", "kpi_open_case_lists")),
    ReportSpec("customer_personas", "Customer personas", "Who are our customers by behaviour across channels, "
               "what is each persona worth, and how are the personas changing?",
               ("ml_persona_profiles", "ml_persona_drift", "ml_customer_value_model_card", "channel_taxonomy")),
    ReportSpec("service_operations", "Service operations", "How busy is service, how well does it resolve, and "
               "how many agents do the next weeks need?",
               ("fct_service_contacts", "kpi_metrics", "sla_targets", "channel_taxonomy", "fct_marketing_contacts",
                "holidays", "ml_contact_forecast", "ml_forecast_backtest",
                "ml_forecast_cleaned_days", "ml_staffing_plan", "ml_staffing_adherence")),
]


def notebook_parameters(settings: Settings) -> dict[str, str | float | bool | None]:
    return {
        "warehouse_path": str(settings.warehouse_path),
        "as_of": settings.as_of,
        "number_locale": settings.report_locale,
        "business_timezone": settings.timezone,
        "currency": settings.currency,
        "holiday_country": settings.holiday_country,
        "churn_auc_floor": settings.churn_auc_floor,
        "hold_connection": True,  # the step holds the duckdb pool until the notebook's kernel has stopped
    }


def report_metadata(report: RenderedReport) -> dict[str, dg.MetadataValue]:
    headline_rows = "\n".join(f"| {name} | {value} |" for name, value in report.headlines.items())
    return {
        "html": dg.MetadataValue.path(str(report.html_path)),
        "open": dg.MetadataValue.url(report.html_path.resolve().as_uri()),
        "as_of": dg.MetadataValue.text(report.as_of),
        "headlines": dg.MetadataValue.md(f"| Headline | Value |\n|---|---|\n{headline_rows}"),
        **{name: dg.MetadataValue.text(value) for name, value in report.headlines.items()},
        "render_seconds": dg.MetadataValue.float(report.seconds),
        "hidden_warning_lines": dg.MetadataValue.int(report.stderr_lines),
    }


def reports_of_process(context: dg.AssetExecutionContext) -> list[str]:
    """The reports whose steps this process executes, for which the run's kernels start one ahead: all of the run's
    in `cx run` (the in-process executor), only the step's own where every step has a process of its own (runs the
    UI, a schedule or a sensor launches), so such a step starts no kernel that no report of its process would use."""
    in_process = set(context.get_step_execution_context().execution_plan.step_keys_to_execute)
    return [spec.name for spec in REPORTS if spec.name in in_process]


def build_report_asset(spec: ReportSpec) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.name,
        group_name=REPORTS_GROUP,
        deps=[warehouse_table_key(table) for table in spec.reads],
        description=f"{spec.title}: {spec.question} (notebook reports/{spec.name}.py, HTML in the reports folder)",
        kinds={"jupyter", "html"},
        pool="duckdb",
    )
    def report_asset(context: dg.AssetExecutionContext, cx: PipelineSettings,
                     report_kernels: ReportKernelsResource) -> dg.MaterializeResult:
        settings = cx.settings
        rendered = render_report(spec.name, spec.title, REPORTS_SOURCE_DIR / f"{spec.name}.py",
                                 settings.reports_dir, notebook_parameters(settings), settings.report_plotly,
                                 siblings=[(other.name, other.title) for other in REPORTS],
                                 kernels=report_kernels.kernels, reports_of_run=reports_of_process(context))
        if rendered.stderr_lines:
            context.log.warning(f"{spec.name}: {rendered.stderr_lines} warning lines left out of the HTML")
        index_path = render_index(settings.reports_dir, [(s.name, s.title, s.question) for s in REPORTS])
        context.log.info(f"Wrote {rendered.html_path} in {rendered.seconds:.1f} s and refreshed {index_path}")
        return dg.MaterializeResult(metadata={**report_metadata(rendered), "index": dg.MetadataValue.path(str(index_path))})

    return report_asset


report_assets = [build_report_asset(spec) for spec in REPORTS]
