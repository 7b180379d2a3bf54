"""'What to do next', the first section of a report: its most important findings, each with its size, how sure
it is and the action or customer list it leads to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cxreport.formatting import NumberFormat
from ml.holdout import wilson

TOP_FINDINGS = 3


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
