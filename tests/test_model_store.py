"""The model store: a stored model is reused only while young enough and fitted for the same parameters and
library versions; saving replaces the model and its description together."""

from datetime import date, datetime, timedelta, timezone

from ml.model_store import FORMAT_VERSION, ModelInfo, ModelStore, library_versions, retrain_reason

TRAINED_AT = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
PARAMETERS = {"horizon_days": 90, "feature_families": ["purchases", "web"]}


def info(**changes) -> ModelInfo:
    fields = dict(name="churn", trained_at=TRAINED_AT, as_of=date(2026, 11, 19), features=["a", "b"],
                  training_rows=1234, parameters=PARAMETERS, library_versions=library_versions())
    return ModelInfo(**fields | changes)


def test_a_young_model_with_the_same_parameters_and_versions_is_reused():
    six_days_later = TRAINED_AT + timedelta(days=6, hours=23)
    assert retrain_reason(info(), PARAMETERS, date(2026, 11, 26), six_days_later, max_age_days=7) is None


def test_each_reason_to_retrain_is_named():
    now = TRAINED_AT + timedelta(days=1)
    as_of = date(2026, 11, 20)
    assert retrain_reason(None, PARAMETERS, as_of, now, 7) == "no stored model"
    assert retrain_reason(info(), PARAMETERS, as_of, TRAINED_AT + timedelta(days=7, minutes=1), 7) == (
        "model older than 7 days (trained on 2026-11-20)")
    assert retrain_reason(info(), PARAMETERS, date(2026, 11, 18), now, 7).startswith(
        "the as-of date 2026-11-18 is before the model's 2026-11-19")
    assert retrain_reason(info(), PARAMETERS | {"horizon_days": 60}, as_of, now, 7) == (
        "changed since training: horizon_days 90 -> 60")
    assert retrain_reason(info(), PARAMETERS | {"feature_families": ["purchases"]}, as_of, now, 7) == (
        "changed since training: feature_families ['purchases', 'web'] -> ['purchases']")
    older_sklearn = info(library_versions=library_versions() | {"scikit-learn": "1.8.0"})
    assert retrain_reason(older_sklearn, PARAMETERS, as_of, now, 7) == (
        f"changed since training: scikit-learn 1.8.0 -> {library_versions()['scikit-learn']}")


def test_a_saved_model_comes_back_with_its_description(tmp_path):
    store = ModelStore(tmp_path / "models")
    store.save({"coefficients": [0.5, -1.25]}, info())

    assert store.info("churn") == info()
    assert store.load("churn") == {"coefficients": [0.5, -1.25]}
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == [
        f"churn-v{FORMAT_VERSION}.joblib", f"churn-v{FORMAT_VERSION}.json"]


def test_a_model_without_its_description_is_not_a_stored_model(tmp_path):
    store = ModelStore(tmp_path / "models")
    assert store.info("churn") is None
    store.save({"coefficients": [1.0]}, info())
    store.info_path("churn").unlink()  # as an interrupted save leaves it

    assert store.info("churn") is None


def test_a_description_of_another_format_version_is_not_read(tmp_path):
    store = ModelStore(tmp_path / "models")
    store.save({"coefficients": [1.0]}, info())
    for path in (store.model_path("churn"), store.info_path("churn")):
        path.rename(path.with_name(path.name.replace(f"-v{FORMAT_VERSION}.", f"-v{FORMAT_VERSION - 1}.")))

    assert store.info("churn") is None

