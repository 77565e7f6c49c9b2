"""The verdict model: standardisation + multinomial logistic regression, stored as plain JSON."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixelsleuth.report import VerdictLabel
from pixelsleuth.verdict.calibration import save_json
from pixelsleuth.verdict.features import FEATURES

CLASSES = (VerdictLabel.CAMERA_ORIGINAL, VerdictLabel.AI_GENERATED, VerdictLabel.MANIPULATED)
DEFAULT_MODEL = Path(__file__).parent / "data" / "verdict.json"
MIN_PROBABILITY = 0.5  # a label needs a majority (and its fitted threshold, see `thresholds`)


@dataclass
class VerdictModel:
    """Standardisation + multinomial logistic regression, as plain numbers.

    ``thresholds`` holds, per label value, the probability it needs (at least
    :data:`MIN_PROBABILITY`); `pixelsleuth fit-verdict` fits them on the calibration split so
    that ordinary photos are rarely called AI-generated or manipulated.
    """

    feature_names: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[list[float]]  # classes × features
    intercept: list[float]
    classes: list[str] = field(default_factory=lambda: [c.value for c in CLASSES])
    thresholds: dict[str, float] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)  # data, recipe, measured metrics

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, c: float = 0.5) -> VerdictModel:
        """``x``: samples × features; ``y``: indices into :data:`CLASSES`; ``c`` is the
        inverse L2 regularisation strength. Classes are not reweighted: the probabilities stay
        calibrated to the mix fitted on (mostly real photos, as in the wild), which balancing
        would distort (expected calibration error 0.135 balanced against 0.011 unweighted on
        the calibration split)."""
        from sklearn.linear_model import LogisticRegression

        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-6] = 1.0
        lr = LogisticRegression(C=c, class_weight=None, max_iter=5000)
        lr.fit((x - mean) / scale, y)
        coef = np.zeros((len(CLASSES), x.shape[1]))
        intercept = np.full(len(CLASSES), -30.0)  # a class absent from the data is never chosen
        for row, k in enumerate(lr.classes_):
            if len(lr.classes_) == 2:  # binary: sklearn keeps one row for the second class
                sign = 1.0 if row == 1 else -1.0
                coef[k], intercept[k] = sign * lr.coef_[0] / 2, sign * lr.intercept_[0] / 2
            else:
                coef[k], intercept[k] = lr.coef_[row], lr.intercept_[row]
        return cls(list(FEATURES), mean.tolist(), scale.tolist(), coef.tolist(), intercept.tolist())

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (samples × CLASSES) for features (samples × FEATURES)."""
        x = np.atleast_2d(x)
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = z @ np.asarray(self.coef).T + np.asarray(self.intercept)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def label_of(self, p: np.ndarray) -> VerdictLabel:
        """The most likely label when it reaches its threshold (a majority at least), else
        inconclusive; ``p`` in the order of CLASSES."""
        best = int(np.argmax(p))
        label = CLASSES[best]
        needed = max(MIN_PROBABILITY, self.thresholds.get(label.value, MIN_PROBABILITY))
        return label if p[best] >= needed else VerdictLabel.INCONCLUSIVE

    def save(self, path: str | Path) -> Path:
        return save_json(self.__dict__, path)

    @classmethod
    def load(cls, path: str | Path) -> VerdictModel:
        data = json.loads(Path(path).read_text())
        if data.get("feature_names") != list(FEATURES):
            raise ValueError(f"{path} was fitted on other features; fit it again")
        return cls(**data)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> VerdictModel:
    return VerdictModel.load(path)


def default_model(path: Path | None = None) -> VerdictModel | None:
    """The model at ``path`` (Settings.verdict_model), else the model shipped with the
    package, else None."""
    path = Path(path or DEFAULT_MODEL)
    return _load_cached(str(path), path.stat().st_mtime) if path.is_file() else None
