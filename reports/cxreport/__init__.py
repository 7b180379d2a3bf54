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
from cxreport.next_steps import (
    CASE_LISTS_ANCHOR,
    CASE_LISTS_LINK,
    CASE_LISTS_SECTION,
    TOP_FINDINGS,
    CaseList,
    Finding,
    case_export_file,
    case_lists_action,
    next_steps_markdown,
    open_case_lists,
    share_confidence,
    top_findings,
)
from cxreport.preload import preload
from cxreport.privacy import pseudonymise
from cxreport.report import WEEKDAYS, Column, Report, link_token
from cxreport.style import NEGATIVE_SHARE_SCALE, channel_colour

__all__ = ["CASE_LISTS_ANCHOR", "CASE_LISTS_LINK", "CASE_LISTS_SECTION", "CaseList", "Change", "Column", "Finding",
           "KPIS_BY_METRIC", "Kpi", "NEGATIVE_SHARE_SCALE", "NumberFormat", "Report", "SCORECARD_KPIS",
           "SERVICE_KPI_METRICS", "TOP_FINDINGS", "WEEKDAYS",
           "action_link", "case_export_file", "case_lists_action", "change_is_significant", "channel_colour", "label",
           "link_token", "month_changes", "next_steps_markdown", "open_case_lists", "preload", "pseudonymise",
           "readable",
           "share_confidence", "top_findings", "words"]
