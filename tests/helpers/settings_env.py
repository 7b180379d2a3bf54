"""Point the pipeline's settings at a test's own data folder, so no test reads or writes another's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cx_core.settings import Settings, get_settings


def point_settings_at(env: pytest.MonkeyPatch, data_dir: Path, **variables: str) -> Settings:
    """CX_DATA_DIR (and the reports folder) under `data_dir`, every other CX_* variable removed, so a value from
    the shell or an earlier test cannot leak in, then `variables` set. Every derived value is set too, as
    `cx run` exports them, so dbt started directly by a test reads the same paths. Returns the settings."""
    for name in [name for name in os.environ if name.startswith("CX_")]:
        env.delenv(name)
    env.setenv("CX_DATA_DIR", str(data_dir))
    env.setenv("CX_REPORTS_DIR", str(data_dir / "reports"))
    # the pseudonym key lives outside the data folder, as in production, but inside the test's temporary folder
    env.setenv("CX_PSEUDONYM_KEY_FILE", str(data_dir.parent / "secrets" / "pseudonym.key"))
    for name, value in variables.items():
        env.setenv(name, value)
    settings = get_settings()
    for name, value in settings.as_env().items():
        env.setenv(name, value)
    return settings
