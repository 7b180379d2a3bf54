"""Report rendering: seconds per notebook (kernel start, queries, charts, HTML) and the size of each
self-contained HTML file, on the report test warehouse (tests/helpers/report_warehouse.py)."""

import tempfile
import time
from pathlib import Path

from dagster_project.defs.assets.reports import REPORTS
from cx_core.reporting import REPORTS_SOURCE_DIR, render_index, render_report
from tests.helpers.report_warehouse import AS_OF, build_report_warehouse


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cx-bench-reports-") as tmp:
        folder = Path(tmp)
        warehouse = build_report_warehouse(folder / "warehouse.duckdb")
        started_all = time.perf_counter()
        for spec in REPORTS:
            started = time.perf_counter()
            report = render_report(spec.name, spec.title, REPORTS_SOURCE_DIR / f"{spec.name}.py", folder / "out",
                                   {"warehouse_path": str(warehouse), "as_of": AS_OF.isoformat()})
            figures[f"report_{spec.name}_s"] = round(time.perf_counter() - started, 2)
            figures[f"report_{spec.name}_html_mb"] = round(report.html_path.stat().st_size / 1e6, 2)
        render_index(folder / "out", [(s.name, s.title, s.question) for s in REPORTS])
        figures["reports_all_five_and_index_s"] = round(time.perf_counter() - started_all, 2)
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:>48}: {value:,}")
