"""What a report's kernel imports: every report starts a Jupyter kernel of its own in the daily refresh, so a
library a notebook imports only for a constant or a small polars function costs each refresh its import time
(scikit-learn, SciPy's statistics and optimisers and statsmodels took 0.4-2.4 s a report at 100k customers,
issue 19). The notebooks' import statements run in a fresh interpreter, as in the kernel."""

import ast

import pytest

from cx_core.reporting import REPORTS_SOURCE_DIR
from dagster_project.defs.assets.reports import REPORTS
from tests.helpers.fresh_imports import MODEL_LIBRARIES, modules_loaded_by


def import_statements(notebook: str) -> str:
    """The top-level import statements of a jupytext notebook, as source."""
    source = (REPORTS_SOURCE_DIR / f"{notebook}.py").read_text(encoding="utf-8")
    return "\n".join(ast.unparse(node) for node in ast.parse(source).body
                     if isinstance(node, ast.Import) or isinstance(node, ast.ImportFrom) and node.module != "__future__")


@pytest.mark.parametrize("notebook", [spec.name for spec in REPORTS])
def test_a_report_imports_no_model_fitting_library(notebook):
    imports = import_statements(notebook)
    assert "import cxreport" in imports  # the parse found the notebook's imports
    loaded = modules_loaded_by(imports, cwd=REPORTS_SOURCE_DIR)
    assert "polars" in loaded
    assert sorted(library for library in MODEL_LIBRARIES if library in loaded) == []
