"""Which modules a piece of Python code loads, run in a fresh interpreter (nothing imported before it)."""

import json
import subprocess
import sys
from pathlib import Path

# Libraries the model-fitting code needs; loading them costs 0.4-2.4 s (issue 19).
MODEL_LIBRARIES = ("sklearn", "statsmodels", "scipy.stats", "scipy.optimize", "scipy.linalg")


def json_printed_by(code: str, cwd: Path | None = None):
    """What `code`, run in a fresh interpreter, prints as JSON."""
    completed = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout)


def modules_loaded_by(code: str, cwd: Path | None = None) -> set[str]:
    return set(json_printed_by(f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))", cwd))
