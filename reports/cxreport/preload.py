"""What a kernel started ahead of its report (cx_core/report_kernels.py) loads while it waits: the modules every
report imports on its first query and its first chart (pyarrow, plotly's layout classes and their validators;
0.3-0.5 s of a report's first cell). It leaves nothing a notebook sees: no name, no registered template."""

import duckdb

from cxreport.formatting import NumberFormat
from cxreport.style import template


def preload() -> None:
    with duckdb.connect() as con:
        con.sql("select 1 as one").pl()  # a result becomes a polars frame through Arrow
    template(NumberFormat("en"))
