"""Headless Debian Chromium through Playwright (no browser download): open a page, collect JavaScript errors,
take a screenshot, inspect the layout at a given width, time the charts. `python -m tests.helpers.browser
PAGE.html OUT.png` refreshes a screenshot such as docs/scorecard.png."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# True once the page has loaded and every chart box (or, for the first screen, every box the window shows) holds a
# Plotly plot with its SVG laid out (width > 0).
CHARTS_DRAWN = """first_screen => document.readyState === 'complete'
    && [...document.querySelectorAll('.cx-chart')].filter(box => !first_screen
        || (box.getBoundingClientRect().bottom > 0 && box.getBoundingClientRect().top < window.innerHeight))
    .every(box => {
    const plot = box.querySelector('.js-plotly-plot');
    const svg = plot && plot._fullLayout && plot.querySelector('.main-svg');
    return svg && svg.getBoundingClientRect().width > 0;
})"""
PLOTLY_READY = "() => document.readyState === 'complete' && Boolean(window.Plotly)"
# Per chart: its box, the boxes of its title, legend and annotations (subplot titles are annotations) and, per
# axis, the boxes of its tick labels.
CHART_LAYOUT = """() => [...document.querySelectorAll('.cx-chart .js-plotly-plot')].map(plot => {
    const box = element => { const r = element.getBoundingClientRect();
                             return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
    const visible = elements => [...elements].filter(element => element.getBoundingClientRect().width > 0)
        .map(element => ({text: element.textContent, ...box(element)}));
    const axes = [...plot.querySelectorAll('.xaxislayer-above, .yaxislayer-above')]
        .map(axis => visible(axis.querySelectorAll('.xtick text, .ytick text')));
    return {chart: box(plot.querySelector('.main-svg')),
            labels: visible(plot.querySelectorAll('.gtitle, .legend, .annotation-text-g')), ticks: axes,
            drawn: Boolean(plot._fullLayout), traces: plot.querySelectorAll('.trace, .sankey, .hm').length};
})"""
# Numbers in table cells that wrap onto a second line (a table squeezed into the page instead of scrolling).
WRAPPED_NUMBERS = """() => [...document.querySelectorAll('.cx-table td.num')].filter(cell => {
    const range = document.createRange(); range.selectNodeContents(cell);
    return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size > 1;
}).map(cell => cell.textContent)"""
VISIBLE_TEXT = """() => document.body.innerText + '\\n'
    + [...document.querySelectorAll('svg text')].map(text => text.textContent).join('\\n')"""


@dataclass
class PageVisit:
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    title: str = ""
    plots: int = 0


@dataclass
class LayoutCheck:
    """What a reader at one screen width gets: horizontal page scroll in px (0 = none), chart boxes and
    how many were drawn, each chart's label boxes, numbers wrapped inside table cells, and the visible text
    (HTML and chart SVG)."""

    width: int
    sideways_scroll: int
    chart_boxes: int
    charts: list[dict]
    wrapped_numbers: list[str]
    text: str
    errors: list[str] = field(default_factory=list)


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open(browser: Browser, page_path: Path, width: int, record: PageVisit) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.on("pageerror", lambda error: record.errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and record.errors.append(message.text))
    page.on("request", lambda request: request.url.startswith("file://") or record.requests.append(request.url))
    page.goto(page_path.resolve().as_uri(), wait_until="load")
    return page


def visit(browser: Browser, pages: list[Path], screenshots: list[Path | None] | None = None,
          width: int = 1200) -> list[PageVisit]:
    """Open each page, wait until its charts are drawn, and record page errors, console errors, every network request
    other than the page itself, and the number of rendered Plotly charts; optionally save a full-page PNG."""
    visits = []
    for page_path, screenshot in zip(pages, screenshots or [None] * len(pages)):
        record = PageVisit()
        page = _open(browser, page_path, width, record)
        page.wait_for_function(CHARTS_DRAWN, arg=False, timeout=10_000)
        record.title = page.title()
        record.plots = page.locator(".js-plotly-plot .main-svg").count()
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
        page.close()
        visits.append(record)
    return visits


def check_layout(browser: Browser, page_path: Path, width: int) -> LayoutCheck:
    """Open `page_path` at `width` px, wait (up to 10 s) for every chart, and measure its layout."""
    record = PageVisit()
    page = _open(browser, page_path, width, record)
    try:
        page.wait_for_function(CHARTS_DRAWN, arg=False, timeout=10_000)
    except PlaywrightTimeout as error:  # a chart that never draws is a finding, reported below
        record.errors.append(f"charts not drawn within 10 s: {error}")
    check = LayoutCheck(
        width=width,
        sideways_scroll=page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"),
        chart_boxes=page.locator(".cx-chart").count(),
        charts=page.evaluate(CHART_LAYOUT),
        wrapped_numbers=page.evaluate(WRAPPED_NUMBERS),
        text=page.evaluate(VISIBLE_TEXT),
        errors=record.errors + [f"network request: {url}" for url in record.requests],
    )
    page.close()
    return check


def seconds_to_charts(browser: Browser, page_path: Path, until: str = "all", width: int = 1440) -> float:
    """Seconds from the start of navigation until every chart on the page is drawn (`until` "all"), the charts
    of the first screen are ("first_screen", 1440 × 900 px: what a reader sees on opening) or plotly.js is ready
    ("plotly"), in a fresh browser context (nothing cached: a reader opening the report cold)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(page_path.resolve().as_uri(), wait_until="commit")
    if until == "plotly":
        page.wait_for_function(PLOTLY_READY, polling="raf", timeout=30_000)
    else:
        page.wait_for_function(CHARTS_DRAWN, arg=until == "first_screen", polling="raf", timeout=30_000)
    seconds = page.evaluate("performance.now()") / 1000
    context.close()
    return seconds


if __name__ == "__main__":
    page_arg, png_arg = sys.argv[1:3]
    with chromium() as main_browser:
        print(visit(main_browser, [Path(page_arg)], [Path(png_arg)])[0])
