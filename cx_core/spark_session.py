"""The SparkSession of the `spark` dbt target, for code that runs Spark beside dbt (text scoring) or inside the dbt
process (the project's Python functions and ML tables, `cx_core.spark_dbt`).

The session takes the `spark` output's `server_side_parameters` from `dbt_models/profiles.yml`, so dbt and the
Python code run with the same master, time zone and warehouse folder. With `SPARK_REMOTE` set (Spark Connect),
pyspark connects to that cluster instead and the master from the profile is left out.
"""

from __future__ import annotations

import os
import sys

import jinja2
import yaml
from pyspark.sql import SparkSession

from cx_core.settings import REPO_ROOT, Settings

PROFILES_FILE = REPO_ROOT / "dbt_models" / "profiles.yml"


def profile_spark_conf(settings: Settings) -> dict[str, str]:
    """The `spark` output's session parameters, rendered with the settings' CX_ values as dbt renders them."""
    environ = {**os.environ, **settings.as_env()}
    rendered = jinja2.Template(PROFILES_FILE.read_text(encoding="utf-8")).render(
        env_var=lambda name, default=None: environ.get(name, default))
    output = yaml.safe_load(rendered)["cx_pipeline"]["outputs"]["spark"]
    return {key: str(value) for key, value in output.get("server_side_parameters", {}).items()}


def spark_session(settings: Settings, metastore: bool = False) -> SparkSession:
    """A SparkSession with the profile's parameters; Python workers run this interpreter (this venv).
    `metastore`: with the Hive metastore of the profile, as dbt-spark's session opens it (only one process at a
    time can hold its Derby database), for code that runs inside the dbt process."""
    conf = profile_spark_conf(settings) | {"spark.pyspark.python": sys.executable}
    # A local session starts its Python workers with PYSPARK_PYTHON (else `python3` on PATH, which outside an
    # activated virtualenv lacks this project): the conf above alone did not reach them.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if "SPARK_REMOTE" in os.environ:  # Spark Connect: the cluster owns master and resources
        conf = {key: value for key, value in conf.items() if not key.startswith(("spark.master", "spark.driver"))}
    builder = SparkSession.builder.appName("cx-pipeline")
    if metastore:
        builder = builder.enableHiveSupport()
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
