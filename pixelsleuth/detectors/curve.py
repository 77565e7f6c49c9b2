"""`pixelsleuth eval-curve`: how the detector's accuracy on unseen images grows with the amount
of training data.

For each cap N, a detector is trained (:func:`pixelsleuth.detectors.train.train`) on the
``train`` split of the data with at most N images per group, then evaluated
(:func:`pixelsleuth.detectors.evaluate.evaluate`) on the ``test`` and ``calibration`` splits of
the evaluation data, which no run trains on. The two splits are pooled (more real photos than
either alone) for AUC with a bootstrap 95 % interval, the false alarms on real photos at each
model's own threshold, and the AUC after JPEG q75 + 0.5× rescale (also on just the images
judged in both conditions: the paired drop). A model or report already in the work folder is
reused, so an interrupted run resumes. Results go to WORK/curve.json and WORK/curve.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from pixelsleuth.datasets.samples import load_samples
from pixelsleuth.detectors.evaluate import evaluate, metrics, write_reports

CAPS = (10, 20, 40, 80)
SPLITS = ("test", "calibration")
CONDITIONS = ("jpeg90", "jpeg75+rescale0.5")


@dataclass
class CurveConfig:
    data: list[str]  # training data: manifests and imagefolder datasets
    evaluation: list[str]  # manifests whose test and calibration splits are measured
    work: Path
    caps: tuple[int, ...] = CAPS
    train_overrides: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    progress: bool = True


def pooled(reports: list[dict], condition: str, seed: int = 0) -> dict[str, Any]:
    """:func:`pixelsleuth.detectors.evaluate.metrics` (AUC with a 1000-fold bootstrap 95 % CI,
    hit rate and false-positive rate at the model's threshold) over the images of all
    ``reports`` together, with the false alarms counted; images the detector did not score
    (under its minimum size) are counted per class, not judged."""
    scores = [p for r in reports for p in r["conditions"][condition]["probabilities"]]
    labels = np.array([i["label"] for r in reports for i in r["images"]])
    judged = np.array([p is not None for p in scores])
    probs = np.array([p for p in scores if p is not None], dtype=np.float64)
    abstained = {
        "real": int((~judged & (labels == 0)).sum()),
        "ai": int((~judged & (labels == 1)).sum()),
    }
    labels = labels[judged]
    threshold = reports[0]["threshold"]
    out = metrics(labels, probs, threshold, n_boot=1000, seed=seed)
    false_alarms = int((probs[labels == 0] >= threshold).sum())
    return {**out, "false_alarms": false_alarms, "abstained": abstained}


def paired_drop(reports: list[dict], hard: str = CONDITIONS[1]) -> dict[str, Any]:
    """AUC at q90 and after ``hard`` on the images judged in both conditions (a photo under
    twice the crop size no longer fills a crop after a 0.5× rescale), and the drop."""
    q90 = [p for r in reports for p in r["conditions"][CONDITIONS[0]]["probabilities"]]
    after = [p for r in reports for p in r["conditions"][hard]["probabilities"]]
    labels = [i["label"] for r in reports for i in r["images"]]
    both = [(y, a, b) for y, a, b in zip(labels, q90, after, strict=True) if None not in (a, b)]
    y, a, b = (np.array(col, dtype=np.float64) for col in zip(*both, strict=True))
    auc_a, auc_b = float(roc_auc_score(y, a)), float(roc_auc_score(y, b))
    return {
        "n_ai": int(y.sum()),
        "n_real": int((y == 0).sum()),
        "auc_q90": auc_a,
        "auc_after": auc_b,
        "drop": auc_a - auc_b,
    }


def pool_reports(reports: list[dict]) -> dict[str, Any]:
    """The pooled metrics per condition of reports `pixelsleuth eval` wrote (one per split),
    with the paired drop overall and per report."""
    out: dict[str, Any] = {
        c: pooled(reports, c) for c in CONDITIONS if c in reports[0]["conditions"]
    }
    if all(c in r["conditions"] for c in CONDITIONS for r in reports):
        out["paired_drop"] = paired_drop(reports)
        for i, report in enumerate(reports):
            out[f"paired_drop_{i}"] = paired_drop([report])
    return out


def _model(cfg: CurveConfig, cap: int) -> Path:
    """The detector trained with at most ``cap`` images per group (trained unless there)."""
    from pixelsleuth.detectors.train import TrainConfig, train

    folder = cfg.work / f"cap{cap}"
    if not (folder / "model.safetensors").is_file():
        train_cfg = TrainConfig(
            data=cfg.data,
            out=folder,
            split="train",
            max_images_per_group=cap,
            progress=cfg.progress,
        )
        train(replace(train_cfg, **cfg.train_overrides))
    return folder


def _split_report(cfg: CurveConfig, folder: Path, split: str) -> dict[str, Any]:
    """The evaluation of the detector in ``folder`` on ``split`` (measured unless there)."""
    from pixelsleuth.detectors.model import ResidualDetector

    out = cfg.work / f"{folder.name}-{split}"
    if not out.with_suffix(".json").is_file():
        model = ResidualDetector.from_pretrained(folder)
        samples = [s for src in cfg.evaluation for s in load_samples(src, split)]
        report = evaluate(model.probability, samples, model.config.threshold, CONDITIONS)
        write_reports(report, out, f"Detector {folder}")
    return json.loads(out.with_suffix(".json").read_text())


def run_curve(cfg: CurveConfig) -> list[dict[str, Any]]:
    """One row per cap; writes WORK/curve.json and WORK/curve.md and returns the rows."""
    cfg.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for cap in cfg.caps:
        folder = _model(cfg, cap)
        reports = [_split_report(cfg, folder, split) for split in SPLITS]
        training = json.loads((folder / "training.json").read_text())
        row = {
            "cap": cap,
            "train_images": training["train_images"],
            "train_seconds": training["seconds"],
            "threshold": reports[0]["threshold"],
        }
        row.update({c: pooled(reports, c) for c in CONDITIONS})
        row["paired_drop"] = paired_drop(reports)
        rows.append(row)
        (cfg.work / "curve.json").write_text(json.dumps(rows, indent=2) + "\n")
    (cfg.work / "curve.md").write_text(markdown(rows))
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| images per group (cap) | training images | AUC q90 (95 % CI) | false alarms | "
        "hit rate | not scored (real/AI) | AUC q75+0.5× | training |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        q90, hard = r["jpeg90"], r["jpeg75+rescale0.5"]
        lo, hi = q90["auc_ci95"]
        lines.append(
            f"| {r['cap']} | {r['train_images']} | {q90['auc']:.3f} ({lo:.3f}–{hi:.3f}) | "
            f"{q90['false_alarms']}/{q90['n_real']} | {q90['tpr_ai']:.2f} | "
            f"{q90['abstained']['real']}/{q90['abstained']['ai']} | {hard['auc']:.3f} | "
            f"{r['train_seconds'] / 60:.1f} min |"
        )
    return "\n".join(lines) + "\n"
