"""The CNN detector as an analyzer: a calibrated probability that the pixels were generated."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding

DEFAULT_WEIGHTS = Path(__file__).parent / "weights"


def weights_path() -> Path | None:
    """PIXELSLEUTH_DETECTOR_WEIGHTS (a folder, or a hub id written hf:org/name), else the
    weights shipped with the package, else None."""
    env = os.environ.get("PIXELSLEUTH_DETECTOR_WEIGHTS")
    if env:
        return Path(env)
    return DEFAULT_WEIGHTS if (DEFAULT_WEIGHTS / "model.safetensors").is_file() else None


@functools.lru_cache(maxsize=2)
def load_detector(path: str):
    """The detector at ``path``, loaded once per process."""
    from pixelsleuth.detectors.model import ResidualDetector

    return ResidualDetector.from_pretrained(path)


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

    def analyze(self, image: LoadedImage) -> Finding:
        path = weights_path()
        if path is None:
            return Finding(
                self.name,
                "No detector weights are installed, so the CNN detector did not run.",
                None,
                details={"weights": None},
            )
        from pixelsleuth.detectors.model import ImageTooSmall

        try:
            model = load_detector(str(path))
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
