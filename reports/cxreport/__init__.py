"""Shared building blocks of the CX report notebooks (style, numbers, KPIs, warehouse access, display)."""

from cxreport.formatting import NumberFormat, label, readable, words
from cxreport.kpis import (
    KPIS_BY_METRIC,
    SCORECARD_KPIS,
    SERVICE_KPI_METRICS,
    Change,
    Kpi,
    action_link,
    change_is_significant,
    month_changes,
)
from cxreport.next_steps import TOP_FINDINGS, Finding, next_steps_markdown, share_confidence, top_findings
from cxreport.privacy import pseudonymise
from cxreport.report import WEEKDAYS, Column, Report, link_token
from cxreport.style import NEGATIVE_SHARE_SCALE, channel_colour

__all__ = ["Change", "Column", "Finding", "KPIS_BY_METRIC", "Kpi", "NEGATIVE_SHARE_SCALE", "NumberFormat", "Report",
           "SCORECARD_KPIS",
           "SERVICE_KPI_METRICS", "TOP_FINDINGS",
           "WEEKDAYS",
           "action_link", "change_is_significant", "channel_colour", "label", "link_token", "month_changes",
           "next_steps_markdown", "pseudonymise", "readable", "share_confidence", "top_findings", "words"]
