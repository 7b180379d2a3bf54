"""Headless Debian Chromium through Playwright (no browser download): open a page, collect JavaScript errors,
take a screenshot. `python -m tests.helpers.browser PAGE.html OUT.png` refreshes a screenshot such as
docs/scorecard.png."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@dataclass
class PageVisit:
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    title: str = ""
    plots: int = 0


def visit(pages: list[Path], screenshots: list[Path | None] | None = None, width: int = 1200) -> list[PageVisit]:
    """Open each page, wait for it to settle, and record page errors, console errors, every network request
    other than the page itself, and the number of rendered Plotly charts; optionally save a full-page PNG."""
    visits = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for page_path, screenshot in zip(pages, screenshots or [None] * len(pages)):
                record = PageVisit()
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.on("pageerror", lambda error, record=record: record.errors.append(str(error)))
                page.on("console", lambda message, record=record: message.type == "error"
                        and record.errors.append(message.text))
                page.on("request", lambda request, record=record: request.url.startswith("file://")
                        or record.requests.append(request.url))
                page.goto(page_path.resolve().as_uri(), wait_until="load")
                page.wait_for_timeout(500)
                record.title = page.title()
                record.plots = page.locator(".js-plotly-plot .main-svg").count()
                if screenshot is not None:
                    page.screenshot(path=str(screenshot), full_page=True)
                page.close()
                visits.append(record)
        finally:
            browser.close()
    return visits


if __name__ == "__main__":
    page_arg, png_arg = sys.argv[1:3]
    print(visit([Path(page_arg)], [Path(png_arg)])[0])
