"""Free-text redaction (ml/redaction.py): recall on 200 hand-labelled German and English comments
(tests/fixtures/redaction_comments.csv, written for this project; each labelled value must be gone from the
redacted text), and what must stay."""

import csv
from pathlib import Path

import duckdb
import pytest

from cx_core.sources.contracts import CONTRACTS
from dagster_project.defs.assets.ingest import PII_MASK, preview_markdown
from ml.redaction import LABELLED_KINDS, recall_by_kind, redact
from tests.helpers.raw_parquet import write_raw_parquet

COMMENTS = Path(__file__).parent / "fixtures" / "redaction_comments.csv"
REQUIRED_RECALL = {"emails": 0.95, "phones": 0.95, "ibans": 0.95, "cards": 0.95, "addresses": 0.8, "names": 0.8}


def labelled_recall() -> dict[str, tuple[int, int]]:
    with COMMENTS.open(encoding="utf-8") as handle:
        return recall_by_kind(csv.DictReader(handle))


def test_the_labelled_set_has_200_comments_in_both_languages():
    with COMMENTS.open(encoding="utf-8") as handle:
        languages = [row["language"] for row in csv.DictReader(handle)]
    assert len(languages) == 200 and set(languages) == {"de", "en"}


@pytest.mark.parametrize("kind", LABELLED_KINDS)
def test_recall_per_kind(kind):
    found, total = labelled_recall()[kind]
    assert total >= 15 and found / total >= REQUIRED_RECALL[kind], f"{kind}: {found}/{total}"


def test_the_issue_example():
    text = "+49 171 5559999 … max.evale@example.org … Maximilian Evaltester"
    assert redact(text) == "[PHONE] … [EMAIL] … [NAME]"


def test_checksums_keep_numbers_that_are_not_accounts_or_cards():
    # a failing Luhn number, an order number, a date and a price stay; a failing IBAN check is no IBAN
    text = "4111 1111 1111 1112, order 12345678, 12.03.2026, 59,90 EUR"
    assert redact(text) == text
    assert "[IBAN]" not in redact("DE00 3704 0044 0532 0130 00")
    assert redact("DE89 3704 0044 0532 0130 00 / 4111 1111 1111 1111") == "[IBAN] / [CARD]"


def test_plain_feedback_stays():
    for text in ("Schnelle Lieferung!", "Die App stürzt ab, Kunde seit 2019.", "Great shoes, fast delivery."):
        assert redact(text) == text
    assert redact(None) is None


def test_the_ingest_preview_masks_identifiers_and_redacts_free_text(tmp_path):
    parquet = tmp_path / "surveys.parquet"
    write_raw_parquet(parquet, "surveys", [
        {"response_id": "R1", "responded_at": "2026-03-04T12:00:00Z", "email": "max.evale@example.org",
         "survey_type": "nps", "score": 3, "comment": "Ruft mich an: +49 171 5559999, Maximilian Evaltester",
         "_source_file": "s.csv", "_source_line": 1, "_file_sha256": "x", "_ingested_at": "2026-03-05T00:00:00Z"},
    ])
    with duckdb.connect() as con:
        preview = preview_markdown(CONTRACTS["surveys"], [parquet], con)
    assert "Ruft mich an: [PHONE], [NAME]" in preview and PII_MASK in preview
    assert "5559999" not in preview and "Evaltester" not in preview and "max.evale" not in preview
