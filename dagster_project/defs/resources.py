"""The resources every asset, check and sensor receives instead of reading the environment itself.

- `cx`: the pipeline's paths and thresholds (`PipelineSettings`). It keeps the `CX_*` variables it was built
  with, so every step of a run sees the same values; `cx_core.settings` turns them into a `Settings`.
- `warehouse`: dagster-duckdb's `DuckDBResource` on the warehouse file; open it only for the duration of one
  read or write (DuckDB allows one writer; the `duckdb` pool serialises the steps that use it).
- `dbt`: the dbt CLI on `dbt_models/`.
- `report_kernels`: the Jupyter kernels of a run's report notebooks (`ReportKernelsResource`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from cx_core.settings import Settings

if TYPE_CHECKING:
    from cx_core.report_kernels import ReportKernels

SETTINGS_PREFIXES = ("CX_", "DAGSTER_HOME")


class PipelineSettings(dg.ConfigurableResource):
    """Paths and thresholds of the pipeline as `CX_*` variables (the README's Configuration table). Set one in
    the launchpad's resource config to change it for one run, e.g. `{"environment": {"CX_AS_OF": "2026-06-30"}}`."""

    environment: dict[str, str] = {}

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.environment)


class ReportKernelsResource(dg.ConfigurableResource):
    """The kernels the report steps of one run execute their notebooks in (`cx_core/report_kernels.py`): the first
    starts with the run, the next while a report renders; the run's end stops the spare no report took, also after
    a failure. Initialised only in runs with a report step (the ingest run never loads the notebook libraries), at
    the start of the run, or of the step where each step has a process of its own."""

    _kernels: ReportKernels | None = PrivateAttr(default=None)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[ReportKernelsResource]:
        from cx_core.report_kernels import report_kernels
        from cx_core.reporting import REPORTS_SOURCE_DIR

        with report_kernels(REPORTS_SOURCE_DIR) as self._kernels:
            self._kernels.start_next()  # the run has a report step: its kernel starts with the run
            yield self

    @property
    def kernels(self) -> ReportKernels:
        assert self._kernels is not None, "only a running step has the run's kernels"
        return self._kernels


def pipeline_settings(environ: Mapping[str, str] = os.environ) -> PipelineSettings:
    """`cx` from the settings' variables of `environ` at this moment (all the ingestion job needs,
    dagster_project/ingest_definitions.py)."""
    return PipelineSettings(environment={key: value for key, value in environ.items()
                                         if key.startswith(SETTINGS_PREFIXES)})


def pipeline_resources(environ: Mapping[str, str] = os.environ) -> dict[str, object]:
    """`cx`, `warehouse`, `dbt` and `report_kernels`, resolved from `environ` (the process environment by default) at this moment:
    definitions.py calls it once at load time; tests call it after pointing CX_DATA_DIR at a temporary folder."""
    from dagster_project.defs.assets.dbt import dbt_cli_resource

    cx = pipeline_settings(environ)
    settings = cx.settings
    return {
        "cx": cx,
        "warehouse": DuckDBResource(database=str(settings.warehouse_path), connection_config=settings.duckdb_config()),
        "dbt": dbt_cli_resource(),
        "report_kernels": ReportKernelsResource(),
    }
