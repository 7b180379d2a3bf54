"""Fixtures shared by the test modules."""

from pathlib import Path

import pytest

from tests.helpers.settings_env import point_settings_at


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh data folder for one test, with every setting pointed at it (the folder itself is not created)."""
    data = tmp_path / "data"
    point_settings_at(monkeypatch, data)
    return data
