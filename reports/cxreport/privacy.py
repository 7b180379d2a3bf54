"""Verbatims go into reports redacted: the rules dbt applies to every text before the marts (ml/redaction.py)
run once more on what a report quotes, so a text that reached a mart another way is masked all the same."""

from ml.redaction import redact as pseudonymise

__all__ = ["pseudonymise"]
