"""Pairwise precision/recall of identity resolution, on a truth small enough to count pairs by hand."""

import polars as pl
import pytest

from cx_core.identity_quality import measure_identity_quality, normalise_identifier


def test_pairs_are_counted_from_the_contingency_table():
    truth = pl.DataFrame(
        {
            "source": ["crm_customers", "orders", "crm_customers", "crm_customers", "web_events", "web_events",
                       "calls", "calls"],
            "identifier_type": ["email", "email", "phone", "email", "anonymous_id", "anonymous_id", "phone", "phone"],
            "identifier_value": ["Anna@X.de ", "anna@x.de", "0171 1234567", "bob@y.de", "a1", "a2",
                                 "+49 30 1111111", "030 1111111"],
            "person_id": ["P1", "P1", "P1", "P2", "P2", "P3", "P1", "P2"],
        }
    )
    resolved = pl.DataFrame(
        {
            "identifier_type": ["email", "phone", "email", "anonymous_id", "phone"],
            "identifier_value": ["anna@x.de", "+491711234567", "bob@y.de", "a1", "+49301111111"],
            "customer_key": ["C-1", "C-1", "C-2", "C-1", "C-1"],
        }
    )
    # a1 only ever appeared alone (a cookie that never logged in): no rule could link it to bob.
    linkable = pl.DataFrame({"identifier_type": ["email", "phone", "email"],
                             "identifier_value": ["anna@x.de", "+491711234567", "bob@y.de"]})
    quality = measure_identity_quality(resolved, truth, linkable)
    # Items: P1 {anna, 0171}, P2 {bob, a1}, P3 {a2}; the shared 030 phone (P1 and P2) is left out.
    # True pairs: P1 1 + P2 1 = 2. Predicted: C-1 {anna, 0171, a1} = 3, C-2 and unresolved a2 none.
    # Correct: (C-1, P1) holds 2 items = 1 pair. Linkable pairs: P1 {anna, 0171} = 1, so the ceiling is 1/2.
    assert (quality.true_pairs, quality.predicted_pairs, quality.correct_pairs) == (2, 3, 1)
    assert quality.precision == pytest.approx(1 / 3)
    assert quality.recall == pytest.approx(1 / 2)
    assert (quality.identifiers, quality.persons, quality.customers) == (5, 3, 3)
    assert (quality.ambiguous_identifiers, quality.unresolved_identifiers) == (1, 1)
    assert quality.recall_ceiling == pytest.approx(1 / 2)
    assert quality.as_metadata()["identity_recall"] == pytest.approx(0.5)


def test_perfect_resolution_scores_one_and_singletons_make_no_pairs():
    truth = pl.DataFrame(
        {"identifier_type": ["customer_id", "user_id", "email"], "identifier_value": ["C1", "C1 ", "c@d.de"],
         "person_id": ["P1", "P1", "P2"]}
    )
    resolved = pl.DataFrame(
        {"identifier_type": ["crm_id", "email"], "identifier_value": ["C1", "c@d.de"], "customer_key": ["C-C1", "P-9"]}
    )
    quality = measure_identity_quality(resolved, truth, resolved.head(0))
    assert (quality.precision, quality.recall, quality.true_pairs, quality.predicted_pairs) == (1.0, 1.0, 0, 0)
    assert quality.recall_ceiling == 1.0


@pytest.mark.parametrize(
    ("identifier_type", "raw", "expected"),
    [
        ("email", "  Anna.Mueller@Example.DE ", "anna.mueller@example.de"),
        ("phone", "0171 234-5678", "+491712345678"),
        ("phone", "+49 (0)171 2345678", "+491712345678"),
        ("phone", "0043 1 234 5678", "+4312345678"),
        ("phone", "1712345678", None),
        ("phone", "0171 CALL ME", None),
        ("phone", "0123", None),
        ("social_handle", "@@Anna_B", "@anna_b"),
        ("social_handle", "@", None),
        ("loyalty_id", " l12345678 ", "L12345678"),
        ("anonymous_id", " ", None),
    ],
)
def test_truth_identifiers_are_normalised_like_staging(identifier_type, raw, expected):
    frame = pl.DataFrame({"identifier_type": [identifier_type], "value": [raw]})
    assert frame.select(normalise_identifier(pl.col("identifier_type"), pl.col("value"))).item() == expected
