"""One verdict from all the evidence.

1. Conclusive provenance decides directly: generator settings found in their proper container,
   an AI declaration (IPTC DigitalSourceType) in a valid C2PA manifest or in the XMP, or
   Content Credentials that no longer match the pixels. Metadata can be stripped or forged,
   and every such verdict says so.
2. Otherwise a multinomial logistic regression over the analyzers' scores and evidence
   (:data:`FEATURES`) gives P(camera-original), P(ai-generated), P(manipulated). It is fitted
   with `pixelsleuth fit-verdict` on a corpus split that neither the detector nor the reported
   evaluation uses, and stored as plain JSON (no pickle).
3. A stability check scores a recompressed (JPEG q85) and a rescaled (0.75×) copy of the
   pixels the same way; if a copy disagrees on whether the image is AI-generated, the verdict
   is ``inconclusive`` and says why. (Only that question is asked of the copies: traces of
   editing are traces of compression history, which re-saving a copy rewrites by design.)
"""

from __future__ import annotations

import functools
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pixelsleuth.report import Direction, Evidence, Report, Verdict, VerdictLabel, percent

CLASSES = (VerdictLabel.CAMERA_ORIGINAL, VerdictLabel.AI_GENERATED, VerdictLabel.MANIPULATED)
SCORED_ANALYZERS = (
    "metadata",
    "thumbnail",
    "jpeg",
    "ela",
    "ghost",
    "noise",
    "copy-move",
    "spectrum",
    "detector",
)
DIRECTIONS = (Direction.AI, Direction.EDITED, Direction.CAMERA)
FEATURES = (
    *(f"score:{a}" for a in SCORED_ANALYZERS),
    *(f"missing:{a}" for a in SCORED_ANALYZERS),
    *(f"strongest:{d.value}" for d in DIRECTIONS),
    *(f"total:{d.value}" for d in DIRECTIONS),
)
DECISIVE_STRENGTH = 0.85  # provenance evidence at least this strong decides on its own
MIN_ANALYZERS = 5  # fewer scored analyzers (say, --analyzers metadata): no model verdict
MIN_PROBABILITY = 0.5  # a label needs a majority; otherwise the verdict is inconclusive
STABILITY_VIEWS = (("recompressed as JPEG q85", None, 85), ("rescaled to 0.75×", 0.75, None))
# Findings about the file rather than its pixels; the stability copies keep the original's,
# since re-encoding a copy rewrites them by construction (new tables, no metadata).
FILE_ANALYZERS = (
    "metadata",
    "thumbnail",
    "generator-metadata",
    "provenance",
    "integrity",
    "jpeg",
)
# Also kept: copy-move. The check asks whether the *AI* call survives a re-save and a rescale
# (see `contradicts`); copy-move speaks to manipulation (its weight on P(AI) in verdict.json
# is 0.01), and rerunning it on a copy would measure its own robustness, at its full cost —
# the largest of any analyzer.
CARRIED_TO_COPIES = (*FILE_ANALYZERS, "copy-move")
CAVEAT = (
    "Metadata can be stripped or forged: this verdict trusts what the file declares about itself."
)
DEFAULT_MODEL = Path(__file__).parent / "weights" / "verdict.json"


def features(report: Report) -> np.ndarray:
    """The model's input for one report, in the order of :data:`FEATURES`."""
    out: list[float] = []
    findings = {f.analyzer: f for f in report.findings if f.error is None}
    scores = [findings[a].score if a in findings else None for a in SCORED_ANALYZERS]
    out += [0.5 if s is None else float(s) for s in scores]
    out += [1.0 if s is None else 0.0 for s in scores]
    evidence = [e for f in findings.values() for e in f.evidence]
    for d in DIRECTIONS:
        out.append(max((e.strength for e in evidence if e.direction is d), default=0.0))
    for d in DIRECTIONS:
        out.append(min(3.0, sum(e.strength for e in evidence if e.direction is d)))
    return np.asarray(out, dtype=np.float64)


def decisive_provenance(report: Report) -> Verdict | None:
    """A verdict straight from conclusive provenance, or None."""
    strong: list[tuple[Evidence, VerdictLabel]] = []
    for name in ("provenance", "generator-metadata"):
        finding = report.finding(name)
        if finding is None or finding.error:
            continue
        for e in finding.evidence:
            if e.code == "c2pa_tampered":
                strong.append((e, VerdictLabel.MANIPULATED))
            elif e.direction is Direction.AI and e.strength >= DECISIVE_STRENGTH:
                strong.append((e, VerdictLabel.AI_GENERATED))
    if not strong:
        return None
    strong.sort(key=lambda item: -item[0].strength)
    label = strong[0][1]
    probability = max(e.strength for e, lab in strong if lab is label)
    reasons = [*[e.message for e, lab in strong if lab is label][:4], CAVEAT]
    return Verdict(
        label,
        ai_probability=probability if label is VerdictLabel.AI_GENERATED else None,
        manipulation_probability=probability if label is VerdictLabel.MANIPULATED else None,
        reasons=reasons,
        method="provenance",
    )


@dataclass
class VerdictModel:
    """Standardisation + multinomial logistic regression, as plain numbers."""

    feature_names: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[list[float]]  # classes × features
    intercept: list[float]
    classes: list[str] = field(default_factory=lambda: [c.value for c in CLASSES])
    card: dict[str, Any] = field(default_factory=dict)  # data, recipe, measured metrics

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, c: float = 0.5) -> VerdictModel:
        """``y`` holds indices into :data:`CLASSES`; classes are weighted to balance."""
        from sklearn.linear_model import LogisticRegression

        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-6] = 1.0
        lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
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
        x = np.atleast_2d(x)
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = z @ np.asarray(self.coef).T + np.asarray(self.intercept)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> VerdictModel:
        data = json.loads(Path(path).read_text())
        if data.get("feature_names") != list(FEATURES):
            raise ValueError(f"{path} was fitted on other features; fit it again")
        return cls(**data)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> VerdictModel:
    return VerdictModel.load(path)


def default_model() -> VerdictModel | None:
    """PIXELSLEUTH_VERDICT_MODEL, else the model shipped with the package, else None."""
    path = Path(os.environ.get("PIXELSLEUTH_VERDICT_MODEL") or DEFAULT_MODEL)
    return _load_cached(str(path), path.stat().st_mtime) if path.is_file() else None


def _reasons(report: Report, label: VerdictLabel, limit: int = 4) -> list[str]:
    """The evidence that points the way of the verdict, strongest first."""
    want = {
        VerdictLabel.AI_GENERATED: Direction.AI,
        VerdictLabel.MANIPULATED: Direction.EDITED,
        VerdictLabel.CAMERA_ORIGINAL: Direction.CAMERA,
    }.get(label)
    evidence = [
        e for f in report.findings if f.error is None for e in f.evidence if e.direction is want
    ]
    evidence.sort(key=lambda e: -e.strength)
    return [e.message for e in evidence[:limit]]


def label_of(p: np.ndarray) -> VerdictLabel:
    """The label for class probabilities in the order of CLASSES: the most likely one if it
    has a majority, else inconclusive."""
    best = int(np.argmax(p))
    return CLASSES[best] if p[best] >= MIN_PROBABILITY else VerdictLabel.INCONCLUSIVE


def decide(report: Report, model: VerdictModel | None) -> Verdict:
    """The verdict for one report, without the stability check."""
    if report.error:
        return Verdict(
            VerdictLabel.INCONCLUSIVE,
            reasons=[f"The file could not be analysed: {report.error}."],
            method="error",
        )
    ruled = decisive_provenance(report)
    if ruled is not None:
        return ruled
    if model is None:
        return Verdict(
            VerdictLabel.INCONCLUSIVE,
            reasons=["No verdict model is installed, so the evidence was not combined."],
            method="none",
        )
    ran = [a for a in SCORED_ANALYZERS if (f := report.finding(a)) is not None and not f.error]
    if len(ran) < MIN_ANALYZERS:
        return Verdict(
            VerdictLabel.INCONCLUSIVE,
            reasons=[
                f"Only {len(ran)} of the analyzers the combined model weighs ran "
                f"({', '.join(ran) or 'none'}); run all of them for a verdict."
            ],
            method="none",
        )
    p = model.predict_proba(features(report))[0]
    p_real, p_ai, p_manip = (float(v) for v in p)
    label = label_of(p)
    summary = (
        f"Combined evidence: {percent(p_ai)} AI-generated, {percent(p_manip)} manipulated, "
        f"{percent(p_real)} camera original."
    )
    if label is VerdictLabel.INCONCLUSIVE:
        reasons = [summary + " No outcome has a majority."]
    else:
        reasons = [summary, *_reasons(report, label)]
    return Verdict(label, p_ai, p_manip, reasons, method="model")


def contradicts(label: VerdictLabel, copy_label: VerdictLabel) -> bool:
    """Whether a copy's label undoes the original's: they disagree on "AI-generated"."""
    ai = VerdictLabel.AI_GENERATED
    return (label is ai) != (copy_label is ai)


def stability_copies(rgb: np.ndarray) -> list[tuple[str, bytes]]:
    """(description, JPEG/PNG bytes) of the perturbed copies the stability check scores."""
    out = []
    for name, scale, quality in STABILITY_VIEWS:
        im = Image.fromarray(rgb)
        if scale:
            im = im.resize(
                (max(8, round(im.width * scale)), max(8, round(im.height * scale))),
                Image.Resampling.BICUBIC,
            )
        buf = io.BytesIO()
        if quality:
            im.save(buf, "JPEG", quality=quality)
        else:
            im.save(buf, "PNG", compress_level=1)
        out.append((name, buf.getvalue()))
    return out


def copy_reports(
    report: Report, rgb: np.ndarray, analyzers: Sequence[Any]
) -> Iterator[tuple[str, Report]]:
    """(description, Report) for each stability copy: the pixel analyzers rerun on the copy,
    the original's findings kept for the analyzers in :data:`CARRIED_TO_COPIES`."""
    from pixelsleuth.analyze import analyze_image
    from pixelsleuth.imageio import load_bytes

    pixel = [a for a in analyzers if a.name not in CARRIED_TO_COPIES]
    kept = [f for f in report.findings if f.analyzer in CARRIED_TO_COPIES]
    for name, data in stability_copies(rgb):
        copy = analyze_image(load_bytes(data, f"{report.file.path} ({name})"), pixel, verdict=False)
        copy.findings = kept + copy.findings
        yield name, copy


def fuse(
    report: Report,
    image: Any,
    analyzers: Sequence[Any],
    model: VerdictModel | None,
    stability: bool = True,
) -> Verdict:
    """The verdict with the stability check: the copies keep the original's file-level and
    copy-move findings and rerun the other pixel analyzers. ``image`` is the LoadedImage (or
    its RGB array); its pixels are only decoded when the model decided and a check is due."""
    verdict = decide(report, model)
    if not stability or image is None or verdict.method != "model":
        return verdict
    try:
        rgb = image if isinstance(image, np.ndarray) else image.rgb()
    except Exception:  # pixels that do not decode: nothing to perturb
        return verdict
    for name, copy in copy_reports(report, rgb, analyzers):
        other = decide(copy, model)
        if contradicts(verdict.label, other.label):
            return Verdict(
                VerdictLabel.INCONCLUSIVE,
                verdict.ai_probability,
                verdict.manipulation_probability,
                [
                    f"Unstable: the evidence says {verdict.label.value}, but a copy "
                    f"{name} reads as {other.label.value}, so neither is reliable.",
                    *verdict.reasons,
                ],
                method="model (unstable)",
            )
    return verdict
