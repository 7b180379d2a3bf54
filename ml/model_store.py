"""Fitted models kept between runs, so a daily refresh rescores customers without retraining.

A stored model is two files in the models folder (CX_MODELS_DIR, default `data/models`):
`<name>-v<FORMAT_VERSION>.joblib`, the fitted object, and `<name>-v<FORMAT_VERSION>.json` beside it, which says
when it was trained, for which as-of date, on which features and how many training rows, with which parameters
and library versions. A run reuses the model only while it is younger than CX_MODEL_MAX_AGE_DAYS and was fitted
with the parameters and library versions the run would use now; otherwise `retrain_reason` says why to retrain.

Only aggregates may go into a stored model (coefficients, trees, bin edges, rates): no customer ids or rows, so
erasing a person (`cx forget`) leaves nothing to remove here. tests/test_churn_rescoring.py checks the churn model.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import joblib
import numpy as np
import polars as pl

# Bump when the stored object changes shape: files of another version are then not read (a retrain replaces them).
FORMAT_VERSION = 1


def library_versions() -> dict[str, str]:
    """The versions a pickled model depends on: another version may unpickle it differently, or not at all."""
    return {
        "python": ".".join(platform.python_version_tuple()[:2]),
        # the installed version, read without importing scikit-learn (0.4 s of every `cx run`'s start-up, issue 19)
        "scikit-learn": importlib.metadata.version("scikit-learn"),
        "numpy": np.__version__,
        "polars": pl.__version__,
        "joblib": joblib.__version__,
    }


@dataclass(frozen=True)
class ModelInfo:
    name: str
    trained_at: datetime  # UTC, when the model was fitted: its age counts from here
    as_of: date  # the as-of date of the data it was trained for
    features: list[str]
    training_rows: int
    parameters: dict[str, object]  # what else decides the fit (horizon, feature families): a change retrains
    library_versions: dict[str, str]

    def to_json(self) -> str:
        return json.dumps(
            asdict(self) | {"trained_at": self.trained_at.isoformat(), "as_of": self.as_of.isoformat()}, indent=2
        )

    @classmethod
    def from_json(cls, text: str) -> "ModelInfo":
        fields = json.loads(text)
        return cls(**fields | {"trained_at": datetime.fromisoformat(fields["trained_at"]),
                               "as_of": date.fromisoformat(fields["as_of"])})


def rescored_with(info: ModelInfo) -> str:
    """How a run that scored with this stored model says so in its metadata and model card."""
    return f"rescored with the model trained on {info.trained_at.date().isoformat()} (data as of {info.as_of.isoformat()})"


def age_days(info: ModelInfo, now: datetime) -> float:
    return (now - info.trained_at) / timedelta(days=1)


def retrain_reason(stored: ModelInfo | None, parameters: dict[str, object], as_of: date, now: datetime,
                   max_age_days: int) -> str | None:
    """Why the stored model must not score the data as of `as_of` (None: rescore with it)."""
    if stored is None:
        return "no stored model"
    if age_days(stored, now) > max_age_days:
        return f"model older than {max_age_days} days (trained on {stored.trained_at.date().isoformat()})"
    if as_of < stored.as_of:
        return (f"the as-of date {as_of.isoformat()} is before the model's {stored.as_of.isoformat()}: it learned "
                "from outcomes after that date")
    changed = [f"{name} {stored.parameters.get(name)} -> {value}" for name, value in parameters.items()
               if stored.parameters.get(name) != value]
    changed += [f"{name} {stored.library_versions.get(name)} -> {version}"
                for name, version in library_versions().items() if stored.library_versions.get(name) != version]
    return f"changed since training: {'; '.join(changed)}" if changed else None


class ModelStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def model_path(self, name: str) -> Path:
        return self.folder / f"{name}-v{FORMAT_VERSION}.joblib"

    def info_path(self, name: str) -> Path:
        return self.folder / f"{name}-v{FORMAT_VERSION}.json"

    def info(self, name: str) -> ModelInfo | None:
        """The stored model's description, or None when there is no complete stored model."""
        path = self.info_path(name)
        if not (path.exists() and self.model_path(name).exists()):
            return None
        return ModelInfo.from_json(path.read_text(encoding="utf-8"))

    def load(self, name: str) -> object:
        return joblib.load(self.model_path(name))

    def save(self, model: object, info: ModelInfo) -> None:
        """Write the model and its description, each replacing its file in one step. The old description goes
        first and the new one comes last, so an interrupted save leaves no stored model (the next run retrains),
        never a description of another model."""
        self.folder.mkdir(parents=True, exist_ok=True)
        model_path, info_path = self.model_path(info.name), self.info_path(info.name)
        info_path.unlink(missing_ok=True)
        temporary = model_path.with_suffix(".tmp")
        joblib.dump(model, temporary)
        os.replace(temporary, model_path)
        temporary = info_path.with_suffix(".tmp")
        temporary.write_text(info.to_json(), encoding="utf-8")
        os.replace(temporary, info_path)
