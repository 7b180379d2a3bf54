"""The resources every asset, check and sensor receives instead of reading the environment itself.

- `cx`: the pipeline's paths and thresholds (`PipelineSettings`). It keeps the `CX_*` variables it was built
  with, so every step of a run sees the same values; `cx_core.settings` turns them into a `Settings`.
- `warehouse`: dagster-duckdb's `DuckDBResource` on the warehouse file (`WarehouseResource`); open it only for the
  duration of one read or write, or of one step that holds it open (`holds_warehouse_open`): DuckDB allows one
  writer, and the `duckdb` pool serialises the steps that use it.
- `dbt`: the dbt CLI on `dbt_models/`.
- `report_kernels`: the Jupyter kernels of a run's report notebooks (`ReportKernelsResource`).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
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


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's resource on the warehouse file, which a step can hold open while it reads and writes.

    While one connection is open, DuckDB serves the process's other connections to the file from the same open
    database: 0.4 ms each instead of 20-30 ms to open the file and load its catalog, and no checkpoint when each
    writer closes (one when the last connection does). The Python steps of a daily refresh opened the warehouse ~60
    times (issue 19). No other process can open the file meanwhile, so only a step that starts none may hold it.
    On the `spark` target the steps also open the file with other settings (`cx_core/spark_catalog.py`), which
    DuckDB refuses while a connection with these is open: there `steps_hold_open` is false."""

    steps_hold_open: bool = True

    @classmethod
    def of(cls, settings: Settings) -> WarehouseResource:
        return cls(database=str(settings.warehouse_path), connection_config=settings.duckdb_config(),
                   steps_hold_open=settings.builds_on_duckdb)

    @contextmanager
    def held_open(self) -> Iterator[None]:
        if not self.steps_hold_open:
            yield
            return
        with self.get_connection() as connection:
            try:
                yield
            finally:
                connection.close()  # dagster-duckdb's connection is not closed when the block raises


def holds_warehouse_open(compute: Callable) -> Callable:
    """An asset's compute function (plain or generator) that keeps its `warehouse` open for its whole step
    (`WarehouseResource.held_open`). Dagster reads the function's parameters through the wrapper."""
    if inspect.isgeneratorfunction(compute):
        @functools.wraps(compute)
        def step(*args, **kwargs):
            with kwargs["warehouse"].held_open():
                yield from compute(*args, **kwargs)
    else:
        @functools.wraps(compute)
        def step(*args, **kwargs):
            with kwargs["warehouse"].held_open():
                return compute(*args, **kwargs)
    return step


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
        "warehouse": WarehouseResource.of(settings),
        "dbt": dbt_cli_resource(),
        "report_kernels": ReportKernelsResource(),
    }
