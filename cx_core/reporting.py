"""Turn a report notebook into one self-contained HTML file (no Dagster here; the assets call it).

jupytext percent `.py` -> notebook with a kernelspec -> papermill (parameters injected after the cell tagged
`parameters`, executed in a kernel started in `reports/`, where the notebooks import the shared `cxreport`
package, and stopped when the notebook is done: `cx_core/report_kernels.py`) -> nbconvert
HTML without input cells or prompts -> our page shell with the report CSS, a navigation bar to the other
reports, plotly.js and the script that draws the charts from their data, so the file opens offline. plotly.js is
our own bundle of the trace types the reports draw (`reports/plotlyjs/`, 1.4 MB; the full 4.8 MB library takes a
browser over a second just to parse), either written once as `plotly.min.js` beside the reports and loaded from
there ("shared": small reports, the folder works offline) or inlined into every file ("inline": one file that can
be mailed on its own). Each report also writes `<name>.json` next to its HTML (as-of date, render time, headline
numbers and whether each meets its target), which the index page and the asset metadata read.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Collection, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from cx_core.files import write_text_atomically
from cx_core.settings import REPO_ROOT

if TYPE_CHECKING:
    from cx_core.report_kernels import ReportKernel, ReportKernels

REPORTS_SOURCE_DIR = REPO_ROOT / "reports"
REPORT_CSS = REPORTS_SOURCE_DIR / "cxreport" / "report.css"
# Draws the charts whose data the notebooks leave in the page (on-screen ones first).
CHARTS_SCRIPT = REPORTS_SOURCE_DIR / "cxreport" / "charts.js"
# Built by `make plotly-bundle` from the plotly.js version that plotly.py writes its figures for.
PLOTLY_BUNDLE = REPORTS_SOURCE_DIR / "plotlyjs" / "plotly-cx.min.js"
KERNEL_NAME = "python3"
# The notebooks publish their headline numbers under this output type (reports/cxreport/report.py).
HEADLINES_MIMETYPE = "application/vnd.cx.headlines+json"
PLOTLY_MODES = ("shared", "inline")
SHARED_PLOTLY_FILE = "plotly.min.js"
INDEX_FILE = "index.html"


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
    on_target: dict[str, bool]  # headline name -> meets its target (only headlines that have one)

    def summary_path(self) -> Path:
        return self.html_path.with_suffix(".json")


def load_notebook(source: Path) -> nbformat.NotebookNode:
    """A jupytext percent-format `.py` as a notebook that papermill can execute (it needs a kernelspec)."""
    import jupytext  # here, like papermill and nbconvert below: only the report steps need them (issue 19)

    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    return notebook


def execute_notebook(source: Path, parameters: Mapping[str, Any], kernel: ReportKernel) -> nbformat.NotebookNode:
    """Run the notebook top to bottom in `kernel` (started in the notebook's folder, so that it imports `cxreport`);
    raises papermill's PapermillExecutionError when a cell fails."""
    import papermill

    return papermill.execute_notebook(
        load_notebook(source),
        None,
        parameters=dict(parameters),
        kernel_name=KERNEL_NAME,
        progress_bar=False,
        log_output=False,
        km=kernel,
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


@cache
def html_exporter():
    """One exporter for every report of the process: a new one compiles its templates again on first use (0.06 s of
    each report's 0.13 s of HTML at 100k customers, issue 19). It compiles them here, on an empty notebook
    (0.3-0.6 s on the busy machine): `render_report` asks for it before the notebook runs, while a kernel that was
    not started ahead starts."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    exporter.from_notebook_node(nbformat.v4.new_notebook())
    return exporter


def notebook_body_html(notebook: nbformat.NotebookNode) -> str:
    """The executed cells as HTML fragments: outputs only, no code, no prompts, no page head (no CDN links)."""
    body, _ = html_exporter().from_notebook_node(notebook)
    return body


def plotly_script(mode: str, output_dir: Path) -> str:
    """The <script> that loads plotly.js: inline, or from the shared file beside the reports (written when absent
    or from another build)."""
    if mode not in PLOTLY_MODES:
        raise ValueError(f"plotly mode {mode!r}: use one of {', '.join(PLOTLY_MODES)}")
    library = PLOTLY_BUNDLE.read_text(encoding="utf-8")
    if mode == "inline":
        return f"<script type='text/javascript'>{library}</script>"
    shared = output_dir / SHARED_PLOTLY_FILE
    if not shared.exists() or shared.stat().st_size != len(library.encode("utf-8")):
        write_text_atomically(shared, library)
    return f"<script type='text/javascript' src='{SHARED_PLOTLY_FILE}'></script>"


def navigation(pages: Sequence[tuple[str, str]], current: str) -> str:
    """A bar linking the index and every report (file stem, title); the open page is marked, not linked."""
    links = [(INDEX_FILE.removesuffix(".html"), "All reports"), *pages]
    items = [f"<a aria-current='page'>{html.escape(title)}</a>" if name == current
             else f"<a href='{html.escape(name)}.html'>{html.escape(title)}</a>" for name, title in links]
    return f"<nav class='cx-nav'>{''.join(items)}</nav>"


def page(title: str, body: str, footer: str, head_script: str = "", nav: str = "", end_script: str = "") -> str:
    """A complete offline HTML page in the shared report style; `end_script` runs once the body is there."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{REPORT_CSS.read_text(encoding='utf-8')}</style>{head_script}"
        f"</head><body>{nav}<main>{body}<footer>{footer}</footer></main>{end_script}</body></html>\n"
    )


def render_report(
    name: str, title: str, source: Path, output_dir: Path, parameters: Mapping[str, Any], plotly_mode: str = "shared",
    siblings: Sequence[tuple[str, str]] = (), kernels: ReportKernels | None = None, reports_of_run: Collection[str] = (),
) -> RenderedReport:
    """Execute `source` with `parameters` and write `<output_dir>/<name>.html` and `<name>.json`; the page's
    navigation bar links the index and the `siblings` (name, title) rendered into the same folder. The notebook
    runs in a kernel of `kernels` (a run's, started in the folder of `source`), which meanwhile starts the kernel
    of the next of `reports_of_run`; without `kernels`, in a kernel started for this report alone."""
    from cx_core.report_kernels import report_kernels

    started = time.perf_counter()
    with ExitStack() as kernel_scope:
        kernels = kernels or kernel_scope.enter_context(report_kernels(source.parent))
        kernel = kernel_scope.enter_context(kernels.kernel(name, reports_of_run))
        html_exporter()
        notebook = execute_notebook(source, parameters, kernel)
    stderr_lines = drop_stderr(notebook)
    published = take_headlines(notebook)
    output_dir.mkdir(parents=True, exist_ok=True)
    rendered_at = datetime.now().astimezone().isoformat(timespec="seconds")
    footer = f"CX pipeline · {html.escape(title)} · <a href='{INDEX_FILE}'>all reports</a>"
    html_path = output_dir / f"{name}.html"
    write_text_atomically(html_path, page(title, notebook_body_html(notebook), footer,
                                          plotly_script(plotly_mode, output_dir), navigation(siblings, name),
                                          f"<script>{CHARTS_SCRIPT.read_text(encoding='utf-8')}</script>"))
    report = RenderedReport(
        name=name,
        title=title,
        html_path=html_path,
        as_of=published.get("as_of", ""),
        rendered_at=rendered_at,
        seconds=round(time.perf_counter() - started, 2),
        headlines=published.get("headlines", {}),
        stderr_lines=stderr_lines,
        on_target=published.get("on_target", {}),
    )
    summary = {**asdict(report), "html_path": html_path.name}
    write_text_atomically(report.summary_path(), json.dumps(summary, indent=2, ensure_ascii=False))
    return report


def headline_html(name: str, value: str, on_target: bool | None) -> str:
    """'NPS: 41', coloured green or red (with the words for readers who do not see colour) when it has a target."""
    text = f"{html.escape(name)}: {html.escape(value)}"
    if on_target is None:
        return text
    state, words = ("on-target", "on target") if on_target else ("off-target", "off target")
    return f"<span class='{state}'>{text} <span class='target-state'>({words})</span></span>"


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
        on_target = summary.get("on_target", {})
        headlines = " · ".join(headline_html(k, str(v), on_target.get(k)) for k, v in summary["headlines"].items())
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
    index_path = output_dir / INDEX_FILE
    output_dir.mkdir(parents=True, exist_ok=True)
    nav = navigation([(name, title) for name, title, _ in reports], INDEX_FILE.removesuffix(".html"))
    write_text_atomically(index_path, page("Customer experience reports", body, "CX pipeline", nav=nav))
    return index_path
