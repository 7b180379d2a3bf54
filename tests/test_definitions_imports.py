"""What importing the Dagster definitions loads: every `cx run` process and every Dagster code server imports them
before anything runs, so a model-fitting library imported at the top of an `ml/` module an asset uses cost each
start-up its import time (scikit-learn, SciPy's statistics and statsmodels: about 1 CPU second of 3.2, issue 19).
They are imported in the functions that fit or score, PySpark only where the spark target runs."""

from tests.helpers.fresh_imports import MODEL_LIBRARIES, modules_loaded_by


def test_importing_the_definitions_loads_no_model_fitting_library_and_no_spark():
    loaded = modules_loaded_by("import dagster_project.definitions")

    assert "ml.churn" in loaded and "ml.forecast" in loaded  # the assets' ML modules are imported
    assert sorted(library for library in (*MODEL_LIBRARIES, "pyspark") if library in loaded) == []
