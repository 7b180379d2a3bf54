"""Runs that `cx run` executes in-process belong to the job the Dagster UI shows: they carry the origin of the
code location `dagster dev` loads (pyproject.toml [tool.dagster]), so they appear in the job's run history and
timeline and the UI can re-execute them. `execute_in_process` has no origin parameter, hence the wrapper."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from cx_core.settings import REPO_ROOT

CODE_LOCATION = "cx_pipeline"  # [tool.dagster] code_location_name
DEFINITIONS_MODULE = "dagster_project.definitions"  # [tool.dagster] module_name
REPOSITORY = "__repository__"  # the repository name Dagster gives a Definitions object


def ui_job_origin(job_name: str) -> RemoteJobOrigin:
    loadable = LoadableTargetOrigin(executable_path=sys.executable, module_name=DEFINITIONS_MODULE,
                                    working_directory=str(REPO_ROOT))
    location = ManagedGrpcPythonEnvCodeLocationOrigin(loadable_target_origin=loadable, location_name=CODE_LOCATION)
    return RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(location, REPOSITORY), job_name=job_name)


@contextmanager
def runs_of_the_ui_job(instance: dg.DagsterInstance, job_name: str) -> Iterator[None]:
    """While open, every run `instance` creates carries the UI's origin of `job_name`."""
    instance.create_run_for_job = functools.partial(instance.create_run_for_job,
                                                    remote_job_origin=ui_job_origin(job_name))
    try:
        yield
    finally:
        del instance.create_run_for_job  # the class's method again
