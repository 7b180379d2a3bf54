"""Which modules a piece of Python code loads, run in a fresh interpreter (nothing imported before it)."""

import json
import subprocess
import sys
from pathlib import Path

# Libraries the model-fitting code needs; loading them costs 0.4-2.4 s (issue 19).
MODEL_LIBRARIES = ("sklearn", "statsmodels", "scipy.stats", "scipy.optimize", "scipy.linalg")


def modules_loaded_by(code: str, cwd: Path | None = None) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, check=True)
    return set(json.loads(completed.stdout))
