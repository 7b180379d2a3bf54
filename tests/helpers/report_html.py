"""Reading a rendered report's HTML in tests: the charts' figure data the page draws from."""

import json
import re

FIGURE_DATA = re.compile(r"<script[^>]*\bcx-figure\b[^>]*>(.*?)</script>")


def chart_figures(page: str) -> list[dict]:
    """Every chart's Plotly figure (data, layout, config) in page order."""
    return [json.loads(data) for data in FIGURE_DATA.findall(page)]
