"""What a report notebook calls: the warehouse (read-only, short connections), the reader's number format,
and display helpers that emit HTML only (prose, big-number cards, charts, tables, plain notes)."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.io.json import to_json_plotly
import polars as pl
from IPython.display import HTML, Markdown, display

from cxreport import style, warehouse
from cxreport.formatting import NumberFormat, readable
from cxreport.kpis import Change, Kpi

# cx_core/reporting.py collects this output for the asset's metadata (HTML export skips the type).
HEADLINES_MIMETYPE = "application/vnd.cx.headlines+json"
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
# Horizontal bar labels: characters per line, px per line of 12 px text, px between two bars' labels, and the
# px of axis title, ticks and margins around the bars.
BAR_LABEL_CHARACTERS, LABEL_LINE_PX, BAR_GAP_PX, CHART_FRAME_PX = 30, 15, 12, 90
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


# HTML entities for the characters that would turn data in prose into markup or a Markdown link
PROSE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "&#91;", "]": "&#93;"})


def link_token(index: int) -> str:
    """Where `Report.say` puts its `index`-th link (private-use characters, which exports do not carry)."""
    return f"\ue000{index}\ue001"


def months_before(first_of_month: date, count: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


@dataclass
class Column:
    """A table column: its heading, how to print a value, and whether it is numeric (right-aligned)."""

    heading: str
    render: Callable[[Any], str] = str
    numeric: bool = False
    missing: str = "–"  # what an empty cell reads


@dataclass
class Report:
    title: str
    warehouse_path: str | Path
    as_of: str | date | None = None
    number_locale: str = "en"
    business_timezone: str = "Europe/Berlin"
    headlines: dict[str, str] = field(default_factory=dict)
    on_target: dict[str, bool] = field(default_factory=dict)
    # True when the pipeline renders the report: one read-only connection for the whole notebook instead of one per
    # query (opening the 100k-customer warehouse costs 40-50 ms, a report asks 5-25 queries; issue 19). The report
    # step holds the duckdb pool meanwhile, and the step stops the kernel, and with it the connection, as soon as
    # the notebook ends (cx_core.report_kernels). False elsewhere: a kernel left open never holds DuckDB's lock.
    hold_connection: bool = False

    def __post_init__(self) -> None:
        self.fmt = NumberFormat(self.number_locale)
        if isinstance(self.as_of, str):
            self.as_of = date.fromisoformat(self.as_of)
        self.as_of = self.as_of or warehouse.latest_data_date(self.query, self.columns)
        style.use_template(self.fmt)
        self._channel_labels: dict[str, str] | None = None

    @property
    def month(self) -> date:
        """The latest complete calendar month on or before the as-of date (the period reports compare)."""
        first_of_month = self.as_of.replace(day=1)
        month_is_complete = (self.as_of + timedelta(days=1)).day == 1
        return first_of_month if month_is_complete else months_before(first_of_month, 1)

    def months(self, count: int) -> list[date]:
        """The first days of the `count` months ending with `self.month`, oldest first."""
        return [months_before(self.month, back) for back in range(count - 1, -1, -1)]

    def window_start(self, months: int) -> date:
        """First day of the `months`-month window that ends with `self.month` (journeys, topics, segments)."""
        return months_before(self.month, months - 1)

    @property
    def period_end(self) -> date:
        """The day after `self.month` (exclusive end of every window)."""
        return months_before(self.month, -1)

    # -- data -------------------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        if self.hold_connection:
            return warehouse.read(self._connection, sql, params)
        return warehouse.query(self.warehouse_path, sql, params)

    @cached_property
    def _connection(self) -> duckdb.DuckDBPyConnection:
        return warehouse.connect(self.warehouse_path)

    @cached_property
    def columns(self) -> dict[str, set[str]]:
        """Every table's column names, read once, when first asked for: the warehouse does not change while a
        report renders (the report assets take the duckdb pool)."""
        return warehouse.schema_columns(self.query)

    def missing(self, needs: Mapping[str, Iterable[str]]) -> list[str]:
        return warehouse.missing_inputs(self.columns, needs)

    def channel_label(self, channel: str) -> str:
        """The seed's readable channel name ('Chat with an agent'), the code itself when unknown."""
        if self._channel_labels is None:
            self._channel_labels = {"all": "All channels"}
            if not self.missing({"channel_taxonomy": ["channel", "channel_label"]}):
                rows = self.query("select channel, channel_label from channel_taxonomy")
                self._channel_labels.update(zip(rows["channel"], rows["channel_label"]))
        return self._channel_labels.get(channel, channel)

    # -- text -------------------------------------------------------------------------------------------
    def header(self, summary: str) -> None:
        rendered = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        display(HTML(
            f"<h1>{html.escape(self.title)}</h1><div class='cx-meta'>Data as of {self.fmt.day(self.as_of)} · "
            f"rendered {rendered}</div>"
        ))
        self.say(summary)

    def section(self, heading: str, lead: str = "", anchor: str = "") -> None:
        """`anchor`: an id other reports link to as '<report>#<anchor>' (Report.say)."""
        anchor_id = f" id='{html.escape(anchor)}'" if anchor else ""
        display(HTML(f"<h2{anchor_id}>{html.escape(heading)}</h2>"))
        if lead:
            self.say(lead)

    def say(self, markdown_text: str, links: Sequence[tuple[str, str]] = ()) -> None:
        """Prose in Markdown, snake_case codes in it as words. Angle and square brackets are escaped: sentences
        carry values from exports (segments, paths, reasons) and those must never become HTML or a link.
        `links` are (label, report name) pairs of our own reports, placed where the text has `link_token(i)`:
        they are added after the escaping, so they are the only links prose can have. 'report#anchor' links a
        section of a report (Report.section's anchor)."""
        text = readable(markdown_text).translate(PROSE_ESCAPES)
        for index, (label, target) in enumerate(links):
            report_name, _, anchor = target.partition("#")
            text = text.replace(link_token(index), f"[{label.translate(PROSE_ESCAPES)}]({report_name}.html"
                                                   f"{'#' + anchor if anchor else ''})")
        display(Markdown(text))

    def unavailable(self, what: str, missing: Sequence[str]) -> None:
        """A plain note in place of a section whose data does not exist yet (the report still renders)."""
        display(HTML(
            f"<div class='cx-note'><strong>{html.escape(what)}: not available yet.</strong> The warehouse has no "
            f"{html.escape(', '.join(missing))}; this section fills in once that data is built.</div>"
        ))

    def nothing_in_period(self, what: str, period: str) -> None:
        """A plain note where the data exists but the period has none of it."""
        display(HTML(f"<div class='cx-note'>No {html.escape(what)} in this period ({html.escape(period)}).</div>"))

    def quote(self, text: str, source: str) -> None:
        display(HTML(f"<blockquote class='cx-quote'>“{html.escape(text)}”<div class='source'>"
                     f"{html.escape(source)}</div></blockquote>"))

    # -- numbers ----------------------------------------------------------------------------------------
    def cards(self, changes: Sequence[Change], period_word: str = "last month") -> None:
        """One big number per KPI: value, change vs the previous period (coloured only when significant),
        and the target."""
        cards = []
        for change in changes:
            kpi = change.kpi
            difference = kpi.change_text(self.fmt, change.difference) if change.difference is not None else "–"
            # The arrow shows the direction of the change, the colour whether that is good news.
            arrow = "▲" if (change.difference or 0) > 0 else "▼"
            marker = "" if change.verdict == "steady" else f"{arrow} significant"
            target_class = "miss" if change.meets_target is False else ""
            target_text = change.target_text(self.fmt) if change.value is not None else (
                change.missing_reason or "no data in this period")
            cards.append(
                f"<div class='cx-card {change.verdict}' title='{html.escape(kpi.meaning)}'>"
                f"<div class='label'>{html.escape(kpi.label)}</div>"
                f"<div class='value'>{html.escape(kpi.value_text(self.fmt, change.value))}</div>"
                f"<div class='change'>{html.escape(difference)} vs {period_word} "
                f"<span class='{change.verdict}'>{marker}</span></div>"
                f"<div class='target {target_class}'>{html.escape(target_text)}</div></div>"
            )
        display(HTML(f"<div class='cx-cards'>{''.join(cards)}</div>"))

    def profile_cards(self, cards: Sequence[tuple[str, str, Mapping[str, str]]]) -> None:
        """One card per profile (a persona, say): title, a sentence, and facts as label -> value text."""
        rendered = []
        for title, sentence, facts in cards:
            rows = "".join(f"<dt>{html.escape(label)}</dt><dd>{html.escape(readable(value))}</dd>"
                           for label, value in facts.items())
            rendered.append(f"<div class='cx-card cx-profile'><div class='title'>{html.escape(title)}</div>"
                            f"<div class='sentence'>{html.escape(sentence)}</div><dl>{rows}</dl></div>")
        display(HTML(f"<div class='cx-cards cx-profiles'>{''.join(rendered)}</div>"))

    def headline(self, name: str, value_text: str, on_target: bool | None = None) -> None:
        """Remember a headline number for the asset's metadata and the index (see publish_headlines);
        `on_target` colours it there when the number has a target."""
        self.headlines[name] = value_text
        if on_target is not None:
            self.on_target[name] = on_target

    def publish_headlines(self) -> None:
        display({HEADLINES_MIMETYPE: {"as_of": self.as_of.isoformat(), "headlines": self.headlines,
                                      "on_target": self.on_target}}, raw=True)

    # -- charts and tables ------------------------------------------------------------------------------
    def chart(self, figure: go.Figure, height: int = 380) -> None:
        display(HTML(self._chart_html(figure, height)))

    def small_multiples(self, panels: Sequence[go.Figure], height: int = 240) -> None:
        """One small chart per figure, side by side where they fit and one per row on phones (a grid of
        subplots would squeeze its titles into each other on a narrow screen)."""
        display(HTML("<div class='cx-panels'>" + "".join(self._chart_html(f, height) for f in panels) + "</div>"))

    def _chart_html(self, figure: go.Figure, height: int) -> str:
        # The title goes above the chart as HTML, which wraps on a phone where Plotly would cut it off.
        title = figure.layout.title.text
        figure.update_layout(title_text=None)
        for trace in figure.data:
            # Whole numbers as labels print like the tables (10,548, not 5488; Plotly keeps them as given).
            labels = trace["text"] if "text" in trace else None
            if isinstance(labels, tuple) and labels and all(str(label).isdigit() for label in labels):
                trace.text = [self.fmt.number(int(label)) for label in labels]
            if trace.type == "bar" and trace.orientation == "h" and trace.y is not None:
                height = max(height, self._wrap_bar_labels(trace))
        figure.update_layout(height=height)
        # The figure as data beside an empty box of its final height: the page's charts.js draws it, first the
        # charts on screen, then the rest (to_json_plotly escapes '<' and '/', so no text can end the script).
        figure_json = to_json_plotly({**figure.to_dict(), "config": PLOTLY_CONFIG})
        heading = f"<div class='cx-chart-title'>{html.escape(title)}</div>" if title else ""
        return (f"<div class='cx-chart'>{heading}<div class='cx-plot' style='height:{height}px'></div>"
                f"<script type='application/json' class='cx-figure'>{figure_json}</script></div>")

    @staticmethod
    def _wrap_bar_labels(trace: go.Bar) -> int:
        """Break a horizontal bar chart's long category labels into lines (a phone leaves the bars no room
        beside a 70-character label) and return the chart height that gives every label its lines."""
        wrapped = [textwrap.wrap(str(label), BAR_LABEL_CHARACTERS) or [""] for label in trace.y]
        trace.y = ["<br>".join(lines) for lines in wrapped]
        return CHART_FRAME_PX + len(wrapped) * (LABEL_LINE_PX * max(map(len, wrapped)) + BAR_GAP_PX)

    def kpi_channel_table(self, kpis: Sequence[Kpi]) -> None:
        """`kpis` per channel for `self.month` from kpi_metrics, shares with their sample size ("not available"
        where a channel has no value or the KPI does not apply to it)."""
        needs = {"kpi_metrics": ["period_grain", "period_start", "channel", "segment", "metric", "value", "n"]}
        missing = self.missing(needs)
        rows = None if missing else self.query(
            "select channel, metric, value::double as value, n from kpi_metrics where period_grain = 'month' "
            "and segment = 'all' and channel <> 'all' and period_start = ? and list_contains(?, metric)",
            [self.month, [kpi.metric for kpi in kpis]],
        )
        if missing:
            self.unavailable("A per-channel breakdown", missing)
            return
        if not rows.height:
            self.nothing_in_period("per-channel KPIs", self.fmt.month(self.month))
            return
        by_metric = {kpi.metric: kpi for kpi in kpis}
        texts = rows.with_columns(text=pl.Series([
            # A duration of exactly 0 s is a channel without waiting or handling (the bot): it does not apply.
            None if value is None or (by_metric[metric].unit == "seconds" and value == 0)
            else by_metric[metric].value_text(self.fmt, value, n)
            for metric, value, n in rows.select("metric", "value", "n").iter_rows()
        ], dtype=pl.String))
        by_channel = texts.pivot(on="metric", index="channel", values="text").sort("channel")
        self.table(by_channel, {"channel": Column("Channel"), **{
            kpi.metric: Column(kpi.label, numeric=True, missing=kpi.value_text(self.fmt, None))
            for kpi in kpis if kpi.metric in by_channel.columns
        }})

    def weekday_hour_heatmap(self, frame: pl.DataFrame, value: str, colour_scale: str, title: str = "") -> None:
        """A weekday × hour grid of `value` (frame columns weekday 1 = Monday, hour 0..23); empty cells are 0."""
        grid = (
            pl.DataFrame({"weekday": range(1, 8)}).join(pl.DataFrame({"hour": range(24)}), how="cross")
            .join(frame.select("weekday", "hour", value), on=["weekday", "hour"], how="left")
            .with_columns(pl.col(value).fill_null(0))
        )
        figure = go.Figure(go.Heatmap(
            z=[grid.filter(weekday=day).sort("hour")[value].to_list() for day in range(1, 8)],
            x=list(range(24)), y=WEEKDAYS, colorscale=colour_scale, xgap=1, ygap=1,
            colorbar=dict(title=value), hovertemplate=f"%{{y}} %{{x}}:00: %{{z}} {value}<extra></extra>",
        ))
        figure.update_layout(title=title, yaxis=dict(autorange="reversed"),
                             xaxis=dict(title="hour of day", dtick=2, ticksuffix=":00"))
        self.chart(figure, height=300)

    def weekday_slot_heatmap(self, frame: pl.DataFrame, value: str, colour_scale: str, title: str = "",
                             whole_numbers: bool = False) -> None:
        """A weekday × half-hour grid of `value` (frame columns weekday 1 = Monday, slot = minutes after
        midnight). `whole_numbers` shows integers in discrete colour steps, one colour per count, so a reader
        sees exactly where the number changes."""
        slots = sorted(frame["slot"].unique().to_list()) if frame.height else []
        grid = (pl.DataFrame({"weekday": range(1, 8)}).join(pl.DataFrame({"slot": slots}, schema={"slot": pl.Int64}),
                                                           how="cross")
                .join(frame.select("weekday", pl.col("slot").cast(pl.Int64), value), on=["weekday", "slot"], how="left")
                .with_columns(pl.col(value).fill_null(0)))
        z = [grid.filter(weekday=day).sort("slot")[value].to_list() for day in range(1, 8)]
        colours = style.discrete_scale(colour_scale, int(max(map(max, z), default=0))) if whole_numbers else colour_scale
        figure = go.Figure(go.Heatmap(
            z=z, x=[f"{slot // 60:02d}:{slot % 60:02d}" for slot in slots], y=WEEKDAYS, colorscale=colours,
            xgap=1, ygap=1, zmin=-0.5 if whole_numbers else None,
            zmax=max(map(max, z), default=0) + 0.5 if whole_numbers else None,
            text=z if whole_numbers else None, texttemplate="%{text}" if whole_numbers else None,
            colorbar=dict(title=value, dtick=1 if whole_numbers else None),
            hovertemplate=f"%{{y}} %{{x}}: %{{z}} {value}<extra></extra>",
        ))
        figure.update_layout(title=title, yaxis=dict(autorange="reversed"), xaxis=dict(title="half-hour starting"))
        self.chart(figure, height=320)

    def table(self, frame: pl.DataFrame, columns: Mapping[str, Column]) -> None:
        """An HTML table of `frame`'s `columns` (name -> Column) with a colour swatch next to channel codes."""
        head = "".join(f"<th class='{'num' if c.numeric else ''}'>{html.escape(c.heading)}</th>"
                       for c in columns.values())
        rows = []
        for record in frame.iter_rows(named=True):
            cells = []
            for name, column in columns.items():
                value = record[name]
                text = readable(column.render(value)) if value is not None else column.missing
                # A text cell is a label and starts with a capital ('digital native' -> 'Digital native').
                text = html.escape(text if column.numeric else text[:1].upper() + text[1:])
                if name == "channel" and value is not None:
                    text = (f"<span class='swatch' style='background:{style.channel_colour(value)}'></span>"
                            + html.escape(self.channel_label(value)))
                cells.append(f"<td class='{'num' if column.numeric else ''}'>{text}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        display(HTML(f"<div class='cx-table-box'><table class='cx-table'><thead><tr>{head}</tr></thead>"
                     f"<tbody>{''.join(rows)}</tbody></table></div>"))

