"""`pixelsleuth eval`: measure a detector (or the spectral baseline) on labelled images.

Every image is first re-encoded as JPEG q90 without metadata (so neither format nor metadata
can help), then scored as is and after perturbations (JPEG q95/75/50, rescale 0.75/0.5, and
JPEG q75 after a 0.5 rescale). Reported per condition: AUC, average precision, balanced
accuracy and the false-positive rate on real images at the detector's threshold, with
bootstrap 95 % confidence intervals, overall and per AI group (each group against all real
images).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sklearn.metrics import average_precision_score, roc_auc_score
from tqdm import tqdm

from pixelsleuth.detectors.data import Sample
from pixelsleuth.imageio import jpeg_roundtrip

# name -> (rescale factor or None, JPEG quality or None), applied after the q90 baseline
CONDITIONS: dict[str, tuple[float | None, int | None]] = {
    "jpeg90": (None, None),
    "jpeg95": (None, 95),
    "jpeg75": (None, 75),
    "jpeg50": (None, 50),
    "rescale0.75": (0.75, None),
    "rescale0.5": (0.5, None),
    "jpeg75+rescale0.5": (0.5, 75),
}
MAX_EVAL_SIDE = 2048  # larger photos are centre-cropped (not resized) to bound the time


def centre_crop(im: Image.Image, side: int = MAX_EVAL_SIDE) -> Image.Image:
    """The central ``side``×``side`` region (or less) of a larger image; smaller ones as is."""
    if max(im.size) <= side:
        return im
    w, h = min(im.width, side), min(im.height, side)
    x0, y0 = (im.width - w) // 2, (im.height - h) // 2
    return im.crop((x0, y0, x0 + w, y0 + h))


def prepare(path: Path, scale: float | None, quality: int | None) -> np.ndarray:
    """The evaluation view of an image: centre crop to MAX_EVAL_SIDE, JPEG q90 (metadata
    dropped), then the condition's rescale and JPEG."""
    with Image.open(path) as im:
        im = centre_crop(im.convert("RGB"))
    im = jpeg_roundtrip(im, 90)
    if scale:
        im = im.resize(
            (max(1, round(im.width * scale)), max(1, round(im.height * scale))),
            Image.Resampling.BICUBIC,
        )
    if quality:
        im = jpeg_roundtrip(im, quality)
    return np.asarray(im)


def metrics(
    labels: np.ndarray, probs: np.ndarray, threshold: float, n_boot: int = 200, seed: int = 0
) -> dict[str, Any]:
    pred = probs >= threshold
    out: dict[str, Any] = {"n_ai": int(labels.sum()), "n_real": int((1 - labels).sum())}
    if len(set(labels.tolist())) == 2:
        out["auc"] = float(roc_auc_score(labels, probs))
        out["ap"] = float(average_precision_score(labels, probs))
        tpr = float(pred[labels == 1].mean())
        tnr = float((~pred[labels == 0]).mean())
        out["balanced_accuracy"] = (tpr + tnr) / 2
        rng = np.random.default_rng(seed)
        boots = []
        ai, real = np.where(labels == 1)[0], np.where(labels == 0)[0]
        for _ in range(n_boot):  # stratified: both classes resampled within themselves
            idx = np.concatenate([rng.choice(ai, len(ai)), rng.choice(real, len(real))])
            boots.append(roc_auc_score(labels[idx], probs[idx]))
        out["auc_ci95"] = [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]
    if (labels == 0).any():
        out["fpr_real"] = float(pred[labels == 0].mean())
    if (labels == 1).any():
        out["tpr_ai"] = float(pred[labels == 1].mean())
    return out


def judged_metrics(
    labels: np.ndarray, probs: np.ndarray, selected: np.ndarray, threshold: float
) -> dict[str, Any]:
    """:func:`metrics` of the ``selected`` images that were scored (probability not NaN), and
    how many selected images were not (``abstained``)."""
    judged = selected & ~np.isnan(probs)
    out = metrics(labels[judged], probs[judged], threshold)
    return {**out, "abstained": int((selected & ~judged).sum())}


def with_min_side(
    score: Callable[[np.ndarray], float], min_side: int
) -> Callable[[np.ndarray], float | None]:
    """``score`` that, like the detector, gives no score (None) for an image with a side under
    ``min_side`` pixels: so that a baseline is measured on the same images as the detector."""

    def gated(rgb: np.ndarray) -> float | None:
        return None if min(rgb.shape[:2]) < min_side else score(rgb)

    return gated


def evaluate(
    score: Callable[[np.ndarray], float | None],
    samples: Sequence[Sample],
    threshold: float,
    conditions: Sequence[str] = tuple(CONDITIONS),
    progress: bool = True,
) -> dict[str, Any]:
    """Score every sample under every condition; metrics overall and per AI group, and each
    image's probability (``report["images"]`` lists the images in the order of every
    condition's ``probabilities``), so that a number can be traced to the images behind it.

    ``score`` may return None for an image it does not judge (smaller than the detector's
    minimum size): such an image is left out of the metrics, counted in each row's
    ``abstained`` and listed with a probability of None."""
    labels = np.array([s.label for s in samples])
    groups = np.array([s.group for s in samples])
    report: dict[str, Any] = {
        "threshold": threshold,
        "images": [{"path": str(s.path), "group": s.group, "label": s.label} for s in samples],
        "conditions": {},
    }
    for name in conditions:
        scale, quality = CONDITIONS[name]
        scores = [
            score(prepare(s.path, scale, quality))
            for s in tqdm(samples, desc=name, unit="img", disable=not progress)
        ]
        probs = np.array([np.nan if p is None else p for p in scores], dtype=np.float64)
        real = labels == 0
        # each AI group against all real images; each real group on its own
        rows = {g: (groups == g) | real for g in sorted(set(groups[labels == 1]))}
        rows |= {g: groups == g for g in sorted(set(groups[real]))}
        cond: dict[str, Any] = {
            "overall": judged_metrics(labels, probs, np.ones_like(real), threshold),
            "groups": {g: judged_metrics(labels, probs, sel, threshold) for g, sel in rows.items()},
        }
        cond["probabilities"] = [None if p is None else float(p) for p in scores]
        report["conditions"][name] = cond
    return report


def markdown(report: dict[str, Any], title: str) -> str:
    """A table per condition: rows overall and per group."""
    lines = [
        f"## {title}",
        "",
        f"Threshold {report['threshold']:.3f}. AI and real count the images scored; "
        "'no score': images the detector did not judge (under its minimum size).",
        "",
    ]
    for name, cond in report["conditions"].items():
        lines += [
            f"### {name}",
            "",
            "| rows | AI | real | AUC (95 % CI) | AP | balanced acc. | FPR real | no score |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label, m in [("overall", cond["overall"]), *cond["groups"].items()]:
            auc = (
                f"{m['auc']:.3f} ({m['auc_ci95'][0]:.3f}–{m['auc_ci95'][1]:.3f})"
                if "auc" in m
                else "–"
            )
            ap = f"{m['ap']:.3f}" if "ap" in m else "–"
            ba = f"{m['balanced_accuracy']:.3f}" if "balanced_accuracy" in m else "–"
            fpr = f"{m['fpr_real']:.3f}" if "fpr_real" in m else "–"
            lines.append(
                f"| {label} | {m['n_ai']} | {m['n_real']} | {auc} | {ap} | {ba} | {fpr} | "
                f"{m.get('abstained', 0)} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_reports(report: dict[str, Any], out: Path, title: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report, title) + "\n")


@dataclass
class SpectralBaseline:
    """Radial power spectrum of the noise residual of a central crop + logistic regression."""

    crop: int = 256
    bins: int = 48
    model: Any = None

    def features(self, rgb: np.ndarray) -> np.ndarray:
        from pixelsleuth.forensics.maps import median_residual

        gray = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        h, w = gray.shape
        c = min(self.crop, h, w)
        y0, x0 = (h - c) // 2, (w - c) // 2
        res = median_residual(gray[y0 : y0 + c, x0 : x0 + c])
        power = np.abs(np.fft.fftshift(np.fft.fft2(res - res.mean()))) ** 2
        yy, xx = np.indices(power.shape)
        radius = np.hypot(yy - c / 2, xx - c / 2) / (c / 2)
        idx = np.clip((radius * self.bins).astype(int), 0, self.bins - 1)
        sums = np.bincount(idx.ravel(), power.ravel(), minlength=self.bins)
        counts = np.bincount(idx.ravel(), minlength=self.bins)
        profile = np.log1p(sums / np.maximum(counts, 1))
        return profile - profile.mean()  # shape, not overall level

    def fit(self, images: list[np.ndarray], labels: list[int]) -> SpectralBaseline:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x = np.stack([self.features(im) for im in images])
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        self.model.fit(x, labels)
        return self

    def score(self, rgb: np.ndarray) -> float:
        return float(self.model.predict_proba(self.features(rgb)[None])[0, 1])


def fit_baseline(samples: Sequence[Sample], max_images: int = 400) -> SpectralBaseline:
    """The spectral baseline fitted on (an even subsample of) ``samples``, each seen the way
    evaluation sees images (JPEG q90, no metadata)."""
    step = max(1, len(samples) // max_images)
    images, labels = [], []
    for s in samples[::step]:
        try:
            images.append(prepare(s.path, None, None))
        except (OSError, ValueError):
            continue
        labels.append(s.label)
    return SpectralBaseline().fit(images, labels)
