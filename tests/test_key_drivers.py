"""Key drivers of NPS/CSAT: the effect arithmetic by hand, and planted effects recovered from simulated answers
(a strong but rare experience, a weak but common one, one without effect)."""

import numpy as np
import polars as pl
import pytest

from ml.key_drivers import key_drivers


def test_one_experience_effect_is_the_difference_of_the_two_groups():
    # With it: 10 and 0 → +100 and −100, NPS 0. Without: 10, 10, 9, 3 → NPS 50. Effect −50, prevalence 1/3,
    # impact −50 / 3 = −16.67.
    answers = pl.DataFrame({"score": [10, 0, 10, 10, 9, 3], "waited": [True, True, False, False, False, False]})
    [row] = key_drivers(answers, "nps", ["waited"], min_answers=2).iter_rows(named=True)
    assert (row["kpi_with"], row["kpi_without"], row["answers_with"]) == (0.0, 50.0, 2)
    assert row["effect"] == pytest.approx(-50.0) and row["impact"] == pytest.approx(-50 / 3)
    assert row["ci_low"] < -50 < row["ci_high"] and row["importance"] == 1.0


def test_csat_counts_4_and_5_as_satisfied():
    answers = pl.DataFrame({"score": [5, 4, 2, 1, 5, 5], "late": [True, True, True, True, False, False]})
    [row] = key_drivers(answers, "csat", ["late"], min_answers=2).iter_rows(named=True)
    assert (row["kpi_with"], row["kpi_without"], row["effect"]) == (50.0, 100.0, pytest.approx(-50.0))


def simulated_answers(n: int = 6000, seed: int = 11) -> pl.DataFrame:
    """Promoter/detractor chances move additively: 'rare' (5%) costs 50 NPS points, 'common' (50%) 12, 'none'
    (30%) nothing; 'too_rare' has 10 answers."""
    rng = np.random.default_rng(seed)
    rare, common, none = rng.random(n) < 0.05, rng.random(n) < 0.5, rng.random(n) < 0.3
    too_rare = np.zeros(n, dtype=bool)
    too_rare[:10] = True
    promoter = 0.5 - 0.25 * rare - 0.06 * common
    detractor = 0.2 + 0.25 * rare + 0.06 * common
    draw = rng.random(n)
    score = np.where(draw < promoter, 10, np.where(draw < promoter + detractor, 3, 7))
    return pl.DataFrame({"score": score, "rare": rare, "common": common, "none": none, "too_rare": too_rare})


def test_planted_effects_are_recovered_and_weak_but_common_outranks_strong_but_rare():
    drivers = key_drivers(simulated_answers(), "nps", ["rare", "common", "none", "too_rare"])
    rows = {row["experience"]: row for row in drivers.iter_rows(named=True)}
    assert set(rows) == {"rare", "common", "none"}  # too few answers with 'too_rare'
    assert rows["rare"]["ci_low"] < -50 < rows["rare"]["ci_high"] and rows["rare"]["p_value"] < 0.001
    assert rows["common"]["ci_low"] < -12 < rows["common"]["ci_high"] and rows["common"]["p_value"] < 0.05
    assert rows["none"]["ci_low"] < 0 < rows["none"]["ci_high"] and rows["none"]["p_value"] > 0.05
    # impact: −50 × 5% = −2.5 against −12 × 50% = −6 points of NPS
    assert drivers["experience"].to_list()[:2] == ["common", "rare"]
    assert drivers["importance"].sum() == pytest.approx(1.0)
