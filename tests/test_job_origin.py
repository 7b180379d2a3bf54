"""A run started the way `cx run` starts it is a run of the UI's job: same code location and repository, so the
job page lists it and the UI can re-execute it."""

import dagster as dg
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from dagster_project.definitions import defs
from dagster_project.job_origin import runs_of_the_ui_job
from dagster_project.defs.resources import pipeline_resources


def test_in_process_runs_carry_the_ui_job_origin(data_dir):
    job = defs.resolve_job_def("ingest_new_files")  # nothing in the landing folder: every step is quick
    with dg.DagsterInstance.ephemeral() as instance:
        with runs_of_the_ui_job(instance, job.name):
            result = job.execute_in_process(instance=instance, resources=pipeline_resources())
        run = instance.get_run_by_id(result.run_id)
        # what the job page asks for: the job's runs of this repository
        listed = instance.get_run_records(
            dg.RunsFilter(job_name=job.name, tags={REPOSITORY_LABEL_TAG: "__repository__@cx_pipeline"}))
        later = instance.create_run_for_job(job_def=job)  # the wrapper is gone once the block ends
    origin = run.remote_job_origin
    assert (origin.location_name, origin.repository_origin.repository_name, origin.job_name) == \
        ("cx_pipeline", "__repository__", "ingest_new_files")
    assert [record.dagster_run.run_id for record in listed] == [run.run_id]
    assert later.remote_job_origin is None
