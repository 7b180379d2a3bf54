"""Free-text redaction (ml/redaction.py): recall per kind of personal data on the 200 hand-labelled German and
English comments of tests/fixtures/redaction_comments.csv, and redaction speed on them. The comments were
written together with the rules, so the recall is an in-sample figure; the targets are the issue's."""

import csv
import time
from pathlib import Path

from ml.redaction import recall_by_kind, redact

COMMENTS = Path(__file__).resolve().parent.parent / "fixtures" / "redaction_comments.csv"
TARGETS = {"emails": 0.95, "phones": 0.95, "ibans": 0.95, "names": 0.8}


def run() -> dict[str, float]:
    with COMMENTS.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    figures: dict[str, float] = {}
    for kind, (found, total) in recall_by_kind(rows).items():
        figures[f"redaction_recall_{kind}"] = round(found / total, 3)
        figures[f"redaction_labelled_{kind}"] = total
        if kind in TARGETS:
            figures[f"redaction_target_recall_{kind}"] = TARGETS[kind]
    started = time.perf_counter()
    repeats = 20
    for _ in range(repeats):
        for row in rows:
            redact(row["text"])
    figures["redaction_texts_per_second"] = round(repeats * len(rows) / (time.perf_counter() - started))
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
