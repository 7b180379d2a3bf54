"""The reports as a reader opens them: headless Debian Chromium loads the index and the scorecard from disk,
with no JavaScript or console errors, no network requests (everything is embedded) and the charts drawn."""

import pytest

from dagster_project.defs.assets.reports import REPORTS
from cx_core.reporting import REPORTS_SOURCE_DIR, render_index, render_report
from tests.helpers.browser import visit
from tests.helpers.report_warehouse import AS_OF, build_report_warehouse

pytestmark = pytest.mark.slow


def test_index_and_scorecard_open_offline_without_errors(tmp_path):
    warehouse = build_report_warehouse(tmp_path / "warehouse.duckdb")
    scorecard = next(spec for spec in REPORTS if spec.name == "cx_scorecard")
    report = render_report(scorecard.name, scorecard.title, REPORTS_SOURCE_DIR / f"{scorecard.name}.py",
                           tmp_path / "out", {"warehouse_path": str(warehouse), "as_of": AS_OF.isoformat()})
    index = render_index(tmp_path / "out", [(s.name, s.title, s.question) for s in REPORTS])

    index_visit, scorecard_visit = visit([index, report.html_path], [None, tmp_path / "scorecard.png"])

    assert index_visit.errors == [] and index_visit.requests == []
    assert index_visit.title == "Customer experience reports"
    assert scorecard_visit.errors == [] and scorecard_visit.requests == []
    assert scorecard_visit.title == "CX scorecard"
    assert scorecard_visit.plots >= 1  # the trend panels rendered as SVG
    assert (tmp_path / "scorecard.png").stat().st_size > 10_000
