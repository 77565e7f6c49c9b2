"""The CNN detector as an analyzer: a calibrated probability that the pixels were generated."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding
from pixelsleuth.settings import Settings

DEFAULT_WEIGHTS = Path(__file__).parent / "weights"


def weights_path(configured: str | None = None) -> Path | None:
    """``configured`` weights (a folder, or a hub id written hf:org/name; see
    Settings.detector_weights), else the weights shipped with the package, else None."""
    if configured:
        return Path(configured)
    return DEFAULT_WEIGHTS if (DEFAULT_WEIGHTS / "model.safetensors").is_file() else None


@functools.lru_cache(maxsize=2)
def load_detector(path: str, precision: str = "auto"):
    """The detector at ``path`` computing in ``precision``, loaded once per process."""
    from pixelsleuth.detectors.model import ResidualDetector

    model = ResidualDetector.from_pretrained(path)
    model.precision = precision
    return model


@register
class DetectorAnalyzer(Analyzer):
    name = "detector"
    title = "AI-image detector (CNN)"
    explains = (
        "A neural network trained on generator traces in the pixels gives a calibrated "
        "probability that the image was generated; it can be wrong on generators and "
        "processing it has not seen, so it is one piece of evidence among others."
    )
    order = 80

    def __init__(self, weights: str | None = None, precision: str = "auto") -> None:
        self.weights = weights
        self.precision = precision

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> DetectorAnalyzer:
        return cls(settings.detector_weights, settings.detector_precision, **options)

    def preload(self) -> None:
        path = weights_path(self.weights)
        if path is not None:
            load_detector(str(path), self.precision)

    def analyze(self, image: LoadedImage) -> Finding:
        path = weights_path(self.weights)
        if path is None:
            return Finding(
                self.name,
                "No detector weights are installed, so the CNN detector did not run.",
                None,
                details={"weights": None},
            )
        from pixelsleuth.detectors.model import ImageTooSmall

        try:
            model = load_detector(str(path), self.precision)
        except (FileNotFoundError, ValueError) as exc:  # a mistyped or unsafe weights path
            return Finding(
                self.name,
                f"The detector did not run: {exc}.",
                None,
                details={"weights": str(path)},
                error=str(exc),
            )
        try:
            prob, logit = model.score_image(image.rgb())
        except ImageTooSmall as exc:
            return Finding(
                self.name,
                f"The detector did not judge this image: {exc}. The verdict rests on the "
                "other evidence.",
                None,
                details={"weights": str(path), "min_side": model.min_side, "abstained": str(exc)},
            )
        threshold = model.config.threshold
        details = {
            "probability": round(prob, 4),
            "logit": round(logit, 4),
            "threshold": round(threshold, 4),
            "weights": str(path),
            "crops": model.config.crops,
            "crop": model.config.crop,
        }
        if prob >= threshold:
            evidence = [
                Evidence(
                    "detector_ai",
                    f"The detector rates the pixels as generated "
                    f"(probability {prob:.0%}, above its threshold of "
                    f"{threshold:.0%}).",
                    Direction.AI,
                    round(min(0.9, prob), 3),
                )
            ]
            summary = evidence[0].message
        else:
            evidence = [
                Evidence(
                    "detector_real",
                    f"The detector finds no generator traces it "
                    f"knows (probability {prob:.0%}, threshold {threshold:.0%}).",
                    Direction.CAMERA,
                    round(min(0.5, 1 - prob) * 0.5, 3),
                )
            ]
            summary = evidence[0].message
        return Finding(self.name, summary, round(prob, 4), evidence, details)
