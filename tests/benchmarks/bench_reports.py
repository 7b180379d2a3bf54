"""Report rendering and reading, on the report test warehouse (tests/helpers/report_warehouse.py): seconds per
notebook (kernel start, queries, charts, HTML), the size of each HTML file with plotly.js shared beside the
reports and inlined into each, and the seconds Chromium needs from opening a report until the charts of the first
screen are drawn (what a reader sees on opening; the page draws the others after them) and until every chart is
(1440 × 900 px, a fresh browser context each time: nothing cached; median of 5 openings), next to the seconds
plotly.js alone takes to load on an empty page, the floor of any page with a chart. Targets: < 1 MB per shared
report, charts drawn in < 1.5 s."""

import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser

from cx_core.reporting import PLOTLY_MODES, REPORTS_SOURCE_DIR, plotly_script, render_index, render_report
from dagster_project.defs.assets.reports import REPORTS
from tests.helpers.browser import chromium, seconds_to_charts
from tests.helpers.report_warehouse import AS_OF, build_report_warehouse

OPENINGS = 5


def median_seconds(browser: Browser, path: Path, until: str) -> float:
    """The median of OPENINGS cold openings: one opening on 2 shared cores varies by a second."""
    return round(statistics.median(seconds_to_charts(browser, path, until) for _ in range(OPENINGS)), 2)


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cx-bench-reports-") as tmp:
        folder = Path(tmp)
        warehouse = build_report_warehouse(folder / "warehouse.duckdb")
        pages: dict[str, list[Path]] = {}
        for mode in PLOTLY_MODES:
            out = folder / mode
            started_all = time.perf_counter()
            for spec in REPORTS:
                started = time.perf_counter()
                report = render_report(spec.name, spec.title, REPORTS_SOURCE_DIR / f"{spec.name}.py", out,
                                       {"warehouse_path": str(warehouse), "as_of": AS_OF.isoformat()}, mode,
                                       [(s.name, s.title) for s in REPORTS])
                figures[f"report_{spec.name}_{mode}_s"] = round(time.perf_counter() - started, 2)
                figures[f"report_{spec.name}_{mode}_html_mb"] = round(report.html_path.stat().st_size / 1e6, 3)
                pages.setdefault(mode, []).append(report.html_path)
            render_index(out, [(s.name, s.title, s.question) for s in REPORTS])
            figures[f"reports_all_and_index_{mode}_s"] = round(time.perf_counter() - started_all, 2)
            figures[f"reports_folder_{mode}_mb"] = round(sum(f.stat().st_size for f in out.iterdir()) / 1e6, 2)
        plotly_only = folder / "shared" / "plotly_only.html"
        plotly_only.write_text(f"<html><head>{plotly_script('shared', plotly_only.parent)}</head></html>")
        with chromium() as browser:
            seconds_to_charts(browser, pages["shared"][0])  # the browser's own start-up is not the report's
            for mode, paths in pages.items():
                for path in paths:
                    for until in ("first_screen", "all"):
                        figures[f"charts_{until}_{path.stem}_{mode}_s"] = median_seconds(browser, path, until)
            figures["plotly_js_alone_s"] = median_seconds(browser, plotly_only, "plotly")
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:>48}: {value:,}")
