"""A dbt-duckdb plugin (profiles.yml `plugins:`) that holds dbt back until its build file is complete.

A dbt step starts dbt first and makes the build file (cx_core/warehouse_build.py `start_build`: at 100k customers
a 2 GB file copy in the main step, table copies in others) while dbt imports itself and loads its parse state,
which takes as long (issue 19). dbt-duckdb creates its plugins just before it first opens the database, so this
one waits there until the file `CX_BUILD_READY` names exists (`start_build`'s caller creates it). Without that
variable (dbt run by hand, `dbt parse`) it does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from cx_core.warehouse_build import BUILD_READY_ENV, wait_until_ready


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        marker = os.environ.get(BUILD_READY_ENV)
        if marker:
            wait_until_ready(Path(marker))
