"""'What to do next', the first section of a report: its most important findings, each with its size, how sure
it is and the action, customer list or case list it leads to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cx_core.cases import export_day, export_file_name
from cxreport.formatting import NumberFormat, words
from ml.holdout import wilson

if TYPE_CHECKING:
    from cxreport.report import Report

TOP_FINDINGS = 3
# The scorecard's table of every case list, which each finding that leads to cases links to.
CASE_LISTS_SECTION = "Open cases by type and team"
CASE_LISTS_ANCHOR = "open-cases"
CASE_LISTS_LINK = (f"{CASE_LISTS_SECTION} in the CX scorecard", f"cx_scorecard#{CASE_LISTS_ANCHOR}")


@dataclass(frozen=True)
class Finding:
    """finding: what was found, its size in bold (Markdown); confidence: how sure, with the interval or the
    model's measured quality; action: what to do and the list it leads to; stake: importance in one unit per
    report (e.g. the money at stake), to rank the findings."""

    finding: str
    confidence: str
    action: str
    stake: float


def top_findings(findings: Sequence[Finding], top: int = TOP_FINDINGS) -> list[Finding]:
    """The `top` findings with the largest stake, largest first."""
    return sorted(findings, key=lambda finding: finding.stake, reverse=True)[:top]


def next_steps_markdown(findings: Sequence[Finding], top: int = TOP_FINDINGS) -> str:
    """The `top` findings with the largest stake as a numbered list."""
    return "\n".join(f"{number}. {finding.finding} How sure: {finding.confidence} Act on it: {finding.action}"
                     for number, finding in enumerate(top_findings(findings, top), start=1))


def share_confidence(fmt: NumberFormat, part: int, whole: int) -> str:
    """How sure a share `part` of `whole` is: its 95% (Wilson) interval and n."""
    low, high = wilson(part, whole)
    return f"95% interval {fmt.percent(low)} to {fmt.percent(high)}, n = {fmt.number(whole)}."


@dataclass(frozen=True)
class CaseList:
    """The open cases of one case type and owner team (kpi_open_case_lists): the part of the CRM's case export a
    finding hands to a team, which filters the file by these two columns."""

    case_type: str
    case_label: str
    owner_team: str
    open_cases: int
    overdue_cases: int

    def text(self, fmt: NumberFormat) -> str:
        return (f"*{self.case_label}* of owner team {words(self.owner_team)} ({fmt.number(self.open_cases)} open, "
                f"{fmt.number(self.overdue_cases)} of them past their due time)")


def open_case_lists(report: Report) -> dict[str, CaseList]:
    """Case type -> its case list, most overdue first; empty while the cases are not built."""
    columns = ["case_type", "case_label", "owner_team", "open_cases", "overdue_cases"]
    if report.missing({"kpi_open_case_lists": columns}):
        return {}
    rows = report.query(f"select {', '.join(columns)} from kpi_open_case_lists "
                        "order by overdue_cases desc, open_cases desc, case_type")
    return {row["case_type"]: CaseList(**row) for row in rows.iter_rows(named=True)}


def case_export_file(as_of: str | None, timezone: str) -> str:
    """The case export the CRM imports for the report's day (the `cases_export` asset names it by the same rule)."""
    return export_file_name(export_day(as_of, timezone))


def case_lists_action(fmt: NumberFormat, case_lists: Sequence[CaseList], export_file: str, link: str) -> str:
    """Where a finding's cases are: each list by case type and owner team with its counts, the CRM file to filter,
    and `link` (a link token) to the scorecard's table of all lists."""
    lists = " and ".join(case_list.text(fmt) for case_list in case_lists)
    return f"the case list{'s' if len(case_lists) > 1 else ''} {lists} in the CRM file {export_file} (see {link})"
