"""Turn a report notebook into one self-contained HTML file (no Dagster here; the assets call it).

jupytext percent `.py` -> notebook with a kernelspec -> papermill (parameters injected after the cell tagged
`parameters`, executed in `reports/` so the notebooks import the shared `cxreport` package) -> nbconvert
HTML without input cells or prompts -> our page shell with the report CSS and plotly.js inlined, so the file
opens offline. Each report also writes `<name>.json` next to its HTML (as-of date, render time, headline
numbers), which the index page and the asset metadata read.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import papermill
import plotly.offline
from nbconvert import HTMLExporter

from cx_core.files import write_text_atomically
from cx_core.settings import REPO_ROOT

REPORTS_SOURCE_DIR = REPO_ROOT / "reports"
REPORT_CSS = REPORTS_SOURCE_DIR / "cxreport" / "report.css"
KERNEL_NAME = "python3"
# The notebooks publish their headline numbers under this output type (reports/cxreport/report.py).
HEADLINES_MIMETYPE = "application/vnd.cx.headlines+json"


@dataclass(frozen=True)
class RenderedReport:
    name: str
    title: str
    html_path: Path
    as_of: str
    rendered_at: str
    seconds: float
    headlines: dict[str, str]
    stderr_lines: int

    def summary_path(self) -> Path:
        return self.html_path.with_suffix(".json")


def load_notebook(source: Path) -> nbformat.NotebookNode:
    """A jupytext percent-format `.py` as a notebook that papermill can execute (it needs a kernelspec)."""
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    return notebook


def execute_notebook(source: Path, parameters: Mapping[str, Any]) -> nbformat.NotebookNode:
    """Run the notebook top to bottom; raises papermill's PapermillExecutionError when a cell fails."""
    return papermill.execute_notebook(
        load_notebook(source),
        None,
        parameters=dict(parameters),
        kernel_name=KERNEL_NAME,
        cwd=str(source.parent),
        progress_bar=False,
        log_output=False,
    )


def take_headlines(notebook: nbformat.NotebookNode) -> dict[str, Any]:
    """Remove the notebook's published headlines output (it is data, not page content) and return it."""
    published: dict[str, Any] = {}
    for cell in notebook.cells:
        outputs = cell.get("outputs", [])
        for output in list(outputs):
            payload = output.get("data", {}).get(HEADLINES_MIMETYPE)
            if payload is not None:
                published = json.loads(payload) if isinstance(payload, str) else dict(payload)
                outputs.remove(output)
    return published


def drop_stderr(notebook: nbformat.NotebookNode) -> int:
    """Remove stderr streams (library warnings) so readers never see them; return how many lines went."""
    dropped = 0
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                dropped += len(str(output.get("text", "")).splitlines())
            else:
                kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept
    return dropped


def notebook_body_html(notebook: nbformat.NotebookNode) -> str:
    """The executed cells as HTML fragments: outputs only, no code, no prompts, no page head (no CDN links)."""
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(notebook)
    return body


def page(title: str, body: str, with_plotly: bool, footer: str) -> str:
    """A complete offline HTML page in the shared report style."""
    plotly_js = f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script>" if with_plotly else ""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{REPORT_CSS.read_text(encoding='utf-8')}</style>{plotly_js}"
        f"</head><body><main>{body}<footer>{footer}</footer></main></body></html>\n"
    )


def render_report(
    name: str, title: str, source: Path, output_dir: Path, parameters: Mapping[str, Any],
    siblings: Sequence[tuple[str, str]] = (),
) -> RenderedReport:
    """Execute `source` with `parameters` and write `<output_dir>/<name>.html` and `<name>.json`; the footer
    links the index and the `siblings` (name, title) rendered into the same folder."""
    started = time.perf_counter()
    notebook = execute_notebook(source, parameters)
    stderr_lines = drop_stderr(notebook)
    published = take_headlines(notebook)
    output_dir.mkdir(parents=True, exist_ok=True)
    rendered_at = datetime.now().astimezone().isoformat(timespec="seconds")
    links = "".join(f" · <a href='{html.escape(other)}.html'>{html.escape(other_title)}</a>"
                    for other, other_title in siblings if other != name)
    footer = f"CX pipeline · {html.escape(title)} · <a href='index.html'>all reports</a>{links}"
    html_path = output_dir / f"{name}.html"
    write_text_atomically(html_path, page(title, notebook_body_html(notebook), True, footer))
    report = RenderedReport(
        name=name,
        title=title,
        html_path=html_path,
        as_of=published.get("as_of", ""),
        rendered_at=rendered_at,
        seconds=round(time.perf_counter() - started, 2),
        headlines=published.get("headlines", {}),
        stderr_lines=stderr_lines,
    )
    summary = {**asdict(report), "html_path": html_path.name}
    write_text_atomically(report.summary_path(), json.dumps(summary, indent=2, ensure_ascii=False))
    return report


def render_index(output_dir: Path, reports: Sequence[tuple[str, str, str]]) -> Path:
    """`index.html` linking the reports (name, title, what it answers) with each one's as-of date, render time
    and headline numbers, read from the `<name>.json` summaries; a report not rendered yet is listed as such."""
    items = []
    for name, title, description in reports:
        summary_path = output_dir / f"{name}.json"
        if not summary_path.exists():
            items.append(f"<li><strong>{html.escape(title)}</strong> — not rendered yet.</li>")
            continue
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        headlines = " · ".join(f"{html.escape(k)}: {html.escape(str(v))}" for k, v in summary["headlines"].items())
        items.append(
            f"<li><a href='{html.escape(summary['html_path'])}'><strong>{html.escape(title)}</strong></a> — "
            f"{html.escape(description)}<br><span class='headlines'>Data as of {html.escape(summary['as_of'])}, "
            f"rendered {html.escape(summary['rendered_at'][:16].replace('T', ' '))}"
            f"{'<br>' + headlines if headlines else ''}</span></li>"
        )
    body = (
        "<h1>Customer experience reports</h1><div class='cx-meta'>Generated "
        f"{datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}</div>"
        f"<ul class='cx-index'>{''.join(items)}</ul>"
    )
    index_path = output_dir / "index.html"
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(index_path, page("Customer experience reports", body, False, "CX pipeline"))
    return index_path
