"""`cx run` imports the ML steps' libraries and loads the text models while its first dbt step runs
(dagster_project/warm_up.py, issue 19)."""

import ast
from pathlib import Path

from cx_core.settings import REPO_ROOT
from tests.helpers.fresh_imports import json_printed_by

WARMED_PACKAGES = ("scipy", "sklearn", "statsmodels")


def imports_inside_functions(source: Path) -> set[str]:
    """The modules a file imports in its functions (`from x import y` and `import x`) from the warmed packages."""
    modules = set()
    for function in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    modules.add(node.module or "")
                elif isinstance(node, ast.Import):
                    modules.update(alias.name for alias in node.names)
    return {module for module in modules if module.split(".")[0] in WARMED_PACKAGES}


def test_after_the_warm_up_the_ml_functions_load_nothing_more_of_those_libraries():
    lazy = sorted(set().union(*(imports_inside_functions(path) for path in (REPO_ROOT / "ml").glob("*.py"))))
    assert "statsmodels.tsa.holtwinters" in lazy and "sklearn.ensemble" in lazy  # what the forecast step paid for
    imports = "\n".join(f"import {module}" for module in lazy)
    loaded_after_the_warm_up = json_printed_by(f"""
import json, sys
from dagster_project.warm_up import warm_up_during_dbt, start_warm_up
warm_up_during_dbt(loads=())
start_warm_up().join()
before = set(sys.modules)
{imports}
print(json.dumps(sorted(name for name in set(sys.modules) - before if name.split('.')[0] in {WARMED_PACKAGES})))
""", REPO_ROOT)
    assert loaded_after_the_warm_up == []


def test_only_cx_run_warms_up_and_only_once_per_process():
    """A dbt step started from the UI (its own process) imports nothing; in `cx run` only the first dbt step does."""
    threads = json_printed_by("""
import json, sys
from dagster_project.warm_up import warm_up_during_dbt, start_warm_up
without_cx_run = start_warm_up()
warm_up_during_dbt(("json",), loads=())
first, second = start_warm_up(), start_warm_up()
first.join()
print(json.dumps([without_cx_run is None, first is not None, second is None, "sklearn" in sys.modules]))
""", REPO_ROOT)
    assert threads == [True, True, True, False]


def test_the_warm_up_loads_the_text_models_into_the_caches_the_text_steps_read():
    loaded = json_printed_by("""
import json
from dagster_project.warm_up import warm_up_during_dbt, start_warm_up
from ml.language import ngram_identifier
from ml.sentiment import shared_multilingual_encoder
warm_up_during_dbt(modules=())
start_warm_up().join()
print(json.dumps([ngram_identifier.cache_info().currsize, shared_multilingual_encoder.cache_info().currsize,
                  ngram_identifier().classify("Die Lieferung kam zwei Tage zu spät")[0]]))
""", REPO_ROOT)
    assert loaded == [1, 1, "de"]
