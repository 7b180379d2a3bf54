"""One settings object: every path and option comes from the environment, with defaults under the repo.

dbt runs in a subprocess and reads the same values through `env_var(...)` in profiles.yml and the
source definitions, so `export_env()` puts the resolved values into the environment once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _path(environ: Mapping[str, str], env: str, default: Path) -> Path:
    value = environ.get(env)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    raw_dir: Path
    quarantine_dir: Path
    warehouse_path: Path
    demo_truth_dir: Path
    reports_dir: Path
    exports_dir: Path  # operational exports for other systems (cases_<date>.csv for the CRM): personal data
    dagster_home: Path
    dbt_project_dir: Path
    dbt_target: str
    spark_dir: Path  # metastore and Parquet tables of the `spark` dbt target
    timezone: str
    default_phone_country_code: str
    as_of: str | None
    # Hugging Face sentiment model id or local path; None = the offline default shipped with ml/ (no download).
    sentiment_model: str | None
    ml_cache_dir: Path
    # Fitted models kept between runs (churn); a refresh rescores with one younger than model_max_age_days.
    models_dir: Path
    model_max_age_days: int
    # CX_AS_OF above dates the churn and next-best-action runs (default: the last event date in the data).
    churn_horizon_days: int
    contact_cap: str
    # ISO 4217 code of every amount (orders' value_eur and the columns derived from it; names kept for stability).
    currency: str
    # Workforce planning: forecast days ahead, public holidays of this seed country, plan house rules.
    forecast_horizon_days: int
    holiday_country: str
    staffing_shrinkage: float
    staffing_max_occupancy: float
    report_locale: str  # "de" prints German number formats (1.234,5 and 41 %) in every report
    report_plotly: str  # "shared": one plotly.min.js beside the reports; "inline": every report self-contained
    # Thresholds of the asset checks, freshness policies, schedule and sensor.
    quarantine_warn_rate: float
    churn_auc_floor: float
    report_max_age_hours: float
    freshness_warn_hours: float
    freshness_fail_hours: float
    kpi_refresh_cron: str
    sensor_interval_seconds: int
    short_abandon_seconds: int
    # The plausible event times of a load (issue 13): older or later ones are quarantined as out_of_range.
    event_time_years_back: int
    event_time_days_ahead: int
    # Suppression list and erasure log (docs in the README's "Personal data" section).
    privacy_dir: Path
    # The secret of the keyed hashes; CX_PSEUDONYM_KEY (hex) wins over this file, created on first use.
    pseudonym_key_file: Path
    # Raw rows older than this many days are removed, per source: "source:days" pairs; empty keeps everything.
    retention_days: str
    nba_holdout_share: float  # share of each action's customers held out (not contacted) to measure uplift
    alerts_dir: Path  # alerts.md + alerts.json per run, and the state that stops repeats
    alert_webhook_url: str | None  # new or worsened alerts are POSTed here as JSON; None = no webhook
    alert_fdr: float  # false discovery rate of the KPI change tests
    emerging_topics_period_days: int  # length of the latest period whose themes are tested against earlier ones
    # Memory cap of every DuckDB connection (dbt, ingest, assets) and where it spills beyond it (issue 19).
    duckdb_memory_limit: str
    duckdb_temp_dir: Path
    # dbt's own log file (`dbt.log` in each dbt step's target folder): `none`, or the least level it keeps (`debug`
    # writes every query); its events reach the run's output either way (issue 19)
    dbt_log_level_file: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """The settings `environ` (the process environment by default) asks for; the only place that reads it."""
        get = environ.get
        data_dir = _path(environ, "CX_DATA_DIR", REPO_ROOT / "data")
        return cls(
            data_dir=data_dir,
            landing_dir=_path(environ, "CX_LANDING_DIR", data_dir / "landing"),
            raw_dir=_path(environ, "CX_RAW_DIR", data_dir / "raw"),
            quarantine_dir=_path(environ, "CX_QUARANTINE_DIR", data_dir / "quarantine"),
            warehouse_path=_path(environ, "CX_WAREHOUSE", data_dir / "warehouse.duckdb"),
            demo_truth_dir=_path(environ, "CX_DEMO_TRUTH_DIR", data_dir / "demo_truth"),
            reports_dir=_path(environ, "CX_REPORTS_DIR", REPO_ROOT / "reports" / "out"),
            exports_dir=_path(environ, "CX_EXPORTS_DIR", data_dir / "exports"),
            dagster_home=_path(environ, "DAGSTER_HOME", data_dir / "dagster_home"),
            dbt_project_dir=REPO_ROOT / "dbt_models",
            dbt_target=get("CX_DBT_TARGET", "duckdb"),
            spark_dir=_path(environ, "CX_SPARK_DIR", data_dir / "spark"),
            timezone=get("CX_TIMEZONE", "Europe/Berlin"),
            default_phone_country_code=get("CX_DEFAULT_PHONE_COUNTRY_CODE", "49"),
            as_of=get("CX_AS_OF") or None,
            # churn = no purchase in this many days after the as-of date
            churn_horizon_days=int(get("CX_CHURN_HORIZON_DAYS", "90")),
            # max outbound contacts per customer as "days:limit" pairs: 2 in 7 days and 4 in 30 days
            contact_cap=get("CX_CONTACT_CAP", "7:2,30:4"),
            currency=get("CX_CURRENCY", "EUR").strip().upper() or "EUR",
            sentiment_model=get("CX_SENTIMENT_MODEL") or None,
            ml_cache_dir=_path(environ, "CX_ML_CACHE_DIR", data_dir / "ml_cache"),
            models_dir=_path(environ, "CX_MODELS_DIR", data_dir / "models"),
            # a daily refresh rescores with the stored model; a weekly retrain follows the customers' drift
            model_max_age_days=int(get("CX_MODEL_MAX_AGE_DAYS", "7")),
            report_locale=get("CX_REPORT_LOCALE", "en"),
            report_plotly=get("CX_REPORT_PLOTLY", "shared"),
            # bad exports happen, but not many: warn above this share of a file's rows in quarantine
            quarantine_warn_rate=float(get("CX_QUARANTINE_WARN_RATE", "0.05")),
            # below this ROC AUC the churn model ranks customers barely better than chance
            churn_auc_floor=float(get("CX_CHURN_AUC_FLOOR", "0.70")),
            # a report older than this has missed at least one daily refresh
            report_max_age_hours=float(get("CX_REPORT_MAX_AGE_HOURS", "26")),
            freshness_warn_hours=float(get("CX_FRESHNESS_WARN_HOURS", "26")),
            freshness_fail_hours=float(get("CX_FRESHNESS_FAIL_HOURS", "50")),
            kpi_refresh_cron=get("CX_KPI_REFRESH_CRON", "0 6 * * *"),
            sensor_interval_seconds=int(get("CX_SENSOR_INTERVAL_SECONDS", "30")),
            # a call abandoned within this many seconds is a misdial: not in the abandonment rate or the SLA
            short_abandon_seconds=int(get("CX_SHORT_ABANDON_SECONDS", "5")),
            forecast_horizon_days=int(get("CX_FORECAST_HORIZON_DAYS", "42")),
            holiday_country=get("CX_HOLIDAY_COUNTRY", "DE"),
            staffing_shrinkage=float(get("CX_STAFFING_SHRINKAGE", "0.30")),
            staffing_max_occupancy=float(get("CX_STAFFING_MAX_OCCUPANCY", "0.85")),
            event_time_years_back=int(get("CX_EVENT_TIME_YEARS_BACK", "10")),
            event_time_days_ahead=int(get("CX_EVENT_TIME_DAYS_AHEAD", "2")),
            privacy_dir=_path(environ, "CX_PRIVACY_DIR", data_dir / "privacy"),
            # outside the data folder: a copy of the data without the key cannot be re-identified by hashing
            pseudonym_key_file=_path(environ, "CX_PSEUDONYM_KEY_FILE",
                                     Path.home() / ".config" / "cx-pipeline" / "pseudonym.key"),
            retention_days=get("CX_RETENTION_DAYS", ""),
            nba_holdout_share=float(get("CX_NBA_HOLDOUT_SHARE", "0.10")),
            alerts_dir=_path(environ, "CX_ALERTS_DIR", data_dir / "alerts"),
            alert_webhook_url=get("CX_ALERT_WEBHOOK_URL") or None,
            alert_fdr=float(get("CX_ALERT_FDR", "0.05")),
            emerging_topics_period_days=int(get("CX_EMERGING_TOPICS_PERIOD_DAYS", "7")),
            # per process; dbt, the run and a report kernel may each hold this much, and more spills to disk
            duckdb_memory_limit=get("CX_DUCKDB_MEMORY_LIMIT", "4GB"),
            duckdb_temp_dir=_path(environ, "CX_DUCKDB_TEMP_DIR", data_dir / "duckdb_tmp"),
            dbt_log_level_file=get("CX_DBT_LOG_LEVEL_FILE", "none"),
        )

    def as_env(self) -> dict[str, str]:
        """The values dbt and child processes read, keyed by their environment variable."""
        return {
            "CX_DATA_DIR": str(self.data_dir),
            "CX_LANDING_DIR": str(self.landing_dir),
            "CX_RAW_DIR": str(self.raw_dir),
            "CX_QUARANTINE_DIR": str(self.quarantine_dir),
            "CX_WAREHOUSE": str(self.warehouse_path),
            "CX_DEMO_TRUTH_DIR": str(self.demo_truth_dir),
            "CX_REPORTS_DIR": str(self.reports_dir),
            "CX_DBT_TARGET": self.dbt_target,
            "CX_SPARK_DIR": str(self.spark_dir),
            "CX_TIMEZONE": self.timezone,
            "CX_DEFAULT_PHONE_COUNTRY_CODE": self.default_phone_country_code,
            "CX_SHORT_ABANDON_SECONDS": str(self.short_abandon_seconds),
            "CX_PSEUDONYM_KEY_FILE": str(self.pseudonym_key_file),
            "CX_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "CX_DUCKDB_TEMP_DIR": str(self.duckdb_temp_dir),
        }

    @property
    def builds_on_duckdb(self) -> bool:
        """Whether dbt builds the warehouse on DuckDB (the embedded default: incremental models, a build file), not on
        another target such as `spark`."""
        return self.dbt_target == "duckdb"

    def duckdb_config(self) -> dict[str, str]:
        """The `config` of a DuckDB connection that keeps to the memory cap and spills to the temp folder.
        Creates the folder's parents: DuckDB creates only its last level, and fails on the first spill."""
        self.duckdb_temp_dir.parent.mkdir(parents=True, exist_ok=True)
        return {"memory_limit": self.duckdb_memory_limit, "temp_directory": str(self.duckdb_temp_dir)}

    def export_env(self) -> None:
        """Make the resolved values visible to subprocesses (dbt) without overriding explicit ones."""
        for key, value in self.as_env().items():
            os.environ.setdefault(key, value)

    def describe(self) -> str:
        return "\n".join(f"{f.name:>22}: {getattr(self, f.name)}" for f in fields(self))


def get_settings() -> Settings:
    return Settings.from_env()
