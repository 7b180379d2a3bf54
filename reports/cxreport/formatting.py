"""Numbers as a CX lead reads them: English (1,234.5) or German (1.234,5) separators, shares as percent,
durations in minutes and seconds, NPS in points."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

from ml.wording import words

# The reports' words are English; the locale changes only how numbers and dates are written.
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December"]
MISSING = "–"


# not file names: report links, and the case export a finding names (cases_2026-10-31.csv)
SNAKE_CASE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b(?![\w-]*\.\w)")


def readable(text: str) -> str:
    """Free text with every snake_case code in it as words: 'purchase_share_store +2.0 sd' ->
    'purchase share store +2.0 sd' (feature names and table names reach prose through the data)."""
    return SNAKE_CASE.sub(lambda match: words(match.group()), text)


def label(code: str) -> str:
    """`words` as a label starting with a capital: 'returns_refunds' -> 'Returns and refunds'."""
    text = words(code)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class NumberFormat:
    """`locale` is 'en' or 'de'; anything else falls back to English."""

    locale: str = "en"

    @property
    def german(self) -> bool:
        return self.locale == "de"

    @property
    def plotly_separators(self) -> str:
        """Plotly's `layout.separators`: decimal mark, then thousands separator."""
        return ",." if self.german else ".,"

    @property
    def percent_sign(self) -> str:
        return "\u202f%" if self.german else "%"

    def number(self, value: float | None, decimals: int = 0, signed: bool = False) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        text = f"{value:{'+' if signed else ''},.{decimals}f}"
        if self.german:
            text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
        return text.replace("-", "−")

    def percent(self, share: float | None, decimals: int = 0, signed: bool = False) -> str:
        """A share (0..1) as percent: 0.412 -> '41%' (German '41 %')."""
        if share is None:
            return MISSING
        return self.number(100 * share, decimals, signed) + self.percent_sign

    def percentage_points(self, share_change: float | None, decimals: int = 1) -> str:
        """A change of a share (0..1) in percentage points: 0.023 -> '+2.3 pp' (German '+2,3 Pp.')."""
        if share_change is None:
            return MISSING
        return self.number(100 * share_change, decimals, signed=True) + (" Pp." if self.german else " pp")

    def share_of(self, share: float | None, sample_size: int | None, decimals: int = 0) -> str:
        """A rate with the number it rests on, so a 100% on three answers reads as such: '84% (n = 1,204)'."""
        if share is None or sample_size is None:
            return self.percent(share, decimals)
        return f"{self.percent(share, decimals)} (n = {self.number(sample_size)})"

    def duration(self, seconds: float | None, signed: bool = False) -> str:
        """'42 s', '7 min 5 s', '3 h 20 min' (signed: with + or − in front)."""
        if seconds is None:
            return MISSING
        sign = ("+" if seconds >= 0 else "−") if signed else ("−" if seconds < 0 else "")
        total = round(abs(seconds))
        if total < 60:
            return f"{sign}{total} s"
        if total < 3600:
            minutes, rest = divmod(total, 60)
            return f"{sign}{minutes} min" + (f" {rest} s" if rest else "")
        if total < 2 * 86400:
            hours, rest = divmod(total, 3600)
            return f"{sign}{hours} h" + (f" {rest // 60} min" if rest // 60 else "")
        days, rest = divmod(total, 86400)
        return f"{sign}{self.number(days)} days" + (f" {rest // 3600} h" if rest // 3600 else "")

    def month(self, day: date) -> str:
        return f"{MONTH_NAMES[day.month - 1]} {day.year}"

    def day(self, value: date) -> str:
        return value.strftime("%d.%m.%Y") if self.german else value.strftime("%d %b %Y")
