"""One look for every report: fixed channel colours, a readable font stack, a quiet Plotly template.

The page CSS lives next to this file (report.css); the renderer inlines it into every HTML file.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import sample_colorscale

from cxreport.formatting import NumberFormat

# System fonts only: the HTML must look right offline, without web fonts.
FONT_FAMILY = "Inter, 'Segoe UI', Roboto, 'Helvetica Neue', 'DejaVu Sans', Arial, sans-serif"
TEXT_COLOUR = "#1f2933"
MUTED_COLOUR = "#616e7c"
GRID_COLOUR = "#e4e7eb"
GOOD_COLOUR = "#1b7f4b"
BAD_COLOUR = "#c0392b"
NEUTRAL_COLOUR = "#3d5a80"

# Every channel keeps its colour in every chart of every report.
CHANNEL_COLOURS = {
    "all": "#3d5a80",
    "web": "#1f77b4",
    "app": "#17becf",
    "store": "#8c564b",
    "email": "#9467bd",
    "chat_bot": "#2ca02c",
    "chat_agent": "#98c379",
    "phone": "#ff7f0e",
    "ivr": "#f4b183",
    "social": "#e377c2",
    "survey": "#7f7f7f",
    "sms": "#bcbd22",
    "push": "#b5179e",  # not another yellow next to sms
    "web_form": "#6baed6",
}
UNKNOWN_CHANNEL_COLOUR = "#9aa5b1"
# Share of negative texts, 0% to 100%: even 0% stays a visible pale red (Plotly's "Reds" starts at white).
NEGATIVE_SHARE_SCALE = [[0.0, "#f2c4bd"], [1.0, "#8e1b10"]]
SENTIMENT_COLOURS = {"negative": BAD_COLOUR, "neutral": "#9aa5b1", "positive": GOOD_COLOUR}
SEQUENCE = ["#3d5a80", "#ee6c4d", "#98c1d9", "#293241", "#e0a458", "#5c946e", "#8e7dbe"]
TEMPLATE_NAME = "cx"


def channel_colour(channel: str) -> str:
    return CHANNEL_COLOURS.get(channel, UNKNOWN_CHANNEL_COLOUR)


def discrete_scale(scale_name: str, highest: int) -> list[list]:
    """A Plotly colour scale with one flat colour per whole number 0..highest (steps, not a gradient), sampled
    from the named sequential scale; meant for zmin = -0.5 and zmax = highest + 0.5."""
    steps = max(highest, 0) + 1
    colours = sample_colorscale(scale_name, [index / max(steps - 1, 1) for index in range(steps)])
    scale = []
    for index, colour in enumerate(colours):
        scale += [[index / steps, colour], [(index + 1) / steps, colour]]
    return scale


def template(fmt: NumberFormat) -> go.layout.Template:
    """The `cx` Plotly template, with the locale's separators."""
    axis = dict(gridcolor=GRID_COLOUR, linecolor=GRID_COLOUR, zerolinecolor=GRID_COLOUR, automargin=True,
                title=dict(font=dict(size=13, color=MUTED_COLOUR)), tickfont=dict(size=12, color=MUTED_COLOUR))
    return go.layout.Template(
        layout=go.Layout(
            font=dict(family=FONT_FAMILY, size=13, color=TEXT_COLOUR),
            colorway=SEQUENCE,
            paper_bgcolor="white",
            plot_bgcolor="white",
            separators=fmt.plotly_separators,
            # Chart titles are HTML above the chart (report.py), so the top margin only holds legends.
            margin=dict(l=10, r=10, t=24, b=10),
            legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=12)),
            hoverlabel=dict(font=dict(family=FONT_FAMILY)),
            xaxis=axis,
            yaxis=axis,
        )
    )


def use_template(fmt: NumberFormat) -> None:
    """Register the `cx` Plotly template (with the locale's separators) and make it the default."""
    pio.templates[TEMPLATE_NAME] = template(fmt)
    pio.templates.default = TEMPLATE_NAME
