"""`pixelsleuth eval-lofo`: leave-one-generator-family-out evaluation.

For every generator family with at least ``min_family`` images (FLUX.1, SDXL, SD 1.x, ...), a
detector is trained on the ``train`` split of everything else — that family's images never
trained — and measured on that family's images against real photos of the ``test`` split
(which no fold trained on), beside a reference detector (today's shipped weights) on exactly
the same images. Three views of every image:

- ``jpeg90``: JPEG q90 without metadata, the way images travel on the web;
- ``neutral``: a native 256×256 centre crop of both classes, JPEG-compressed twice (q95 then
  q90), so that neither shape (square fakes, oblong photos) nor compression history (WebP
  fakes, JPEG photos) can separate the classes;
- ``jpeg75+rescale0.5``: the jpeg90 view rescaled 0.5× and saved at q75 (robustness).

Reported per fold and view: AUC with its bootstrap interval, FPR on real photos at each
detector's own threshold, broken down by the kind of photo (phone, camera, wallpaper, ...).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from pixelsleuth.datasets.samples import Sample, corpus_split, hash_unit, load_samples
from pixelsleuth.detectors.evaluate import centre_crop, metrics
from pixelsleuth.imageio import jpeg_roundtrip

VIEWS = ("jpeg90", "neutral", "jpeg75+rescale0.5")
NEUTRAL_SIDE = 256


def views(path: Path) -> dict[str, np.ndarray | None]:
    """Every one of :data:`VIEWS` of the image at ``path``, decoded once: ``jpeg90`` is the
    image (centre-cropped to MAX_EVAL_SIDE) at JPEG q90 without metadata, ``neutral`` its
    native NEUTRAL_SIDE² centre crop at q95 then q90 (None when a side is shorter),
    ``jpeg75+rescale0.5`` the jpeg90 view rescaled 0.5× and saved at q75."""
    with Image.open(path) as im:
        im = centre_crop(im.convert("RGB"))
    out: dict[str, np.ndarray | None] = {}
    q90 = jpeg_roundtrip(im, 90)
    out["jpeg90"] = np.asarray(q90)
    if min(im.size) >= NEUTRAL_SIDE:
        x0 = (im.width - NEUTRAL_SIDE) // 4 * 2
        y0 = (im.height - NEUTRAL_SIDE) // 4 * 2
        crop = im.crop((x0, y0, x0 + NEUTRAL_SIDE, y0 + NEUTRAL_SIDE))
        out["neutral"] = np.asarray(jpeg_roundtrip(jpeg_roundtrip(crop, 95), 90))
    else:
        out["neutral"] = None
    half = q90.resize(
        (max(1, round(q90.width * 0.5)), max(1, round(q90.height * 0.5))),
        Image.Resampling.BICUBIC,
    )
    out["jpeg75+rescale0.5"] = np.asarray(jpeg_roundtrip(half, 75))
    return out


def families(samples: Sequence[Sample], min_family: int, by: str = "family") -> list[str]:
    """AI families (``by="group"``: groups) with at least ``min_family`` images, largest
    first ("mixed" and unknown families are never held out: they are not one family)."""
    counts = Counter(getattr(s, by) for s in samples if s.label == 1)
    return [f for f, n in counts.most_common() if n >= min_family and f not in ("", "mixed")]


@dataclass
class LofoConfig:
    data: list[str]
    out: Path
    reference: str | None = None  # weights folder of today's detector (None: the shipped ones)
    min_family: int = 50
    max_eval_ai: int = 150  # per held-out family, by hash
    max_eval_real: int = 300  # test-split photos, by hash, shared by every fold
    only_families: list[str] = field(default_factory=list)
    # what a fold holds out: "family" (FLUX.1, SDXL, ...) or "group" (one source of images)
    by: str = "family"
    train_overrides: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    # False: measure only the reference on every fold's images (no training)
    train_folds: bool = True
    progress: bool = True


def _take(samples: list[Sample], n: int, salt: str) -> list[Sample]:
    return sorted(samples, key=lambda s: hash_unit(f"{salt}:{s.path.name}"))[:n]


def _score_views(
    scorers: dict[str, Callable[[np.ndarray], float | None]],
    samples: Sequence[Sample],
    desc: str,
    progress: bool,
) -> dict[str, dict[str, list[float | None]]]:
    """scorer → view → one probability per sample (None where not judged); each image is
    decoded once for every scorer and view."""
    out: dict[str, dict[str, list[float | None]]] = {n: {v: [] for v in VIEWS} for n in scorers}
    for s in tqdm(samples, desc=desc, unit="img", disable=not progress):
        rgb_views = views(s.path)
        for name, score in scorers.items():
            for v in VIEWS:
                rgb = rgb_views[v]
                out[name][v].append(None if rgb is None else score(rgb))
    return out


def _fold_metrics(
    samples: Sequence[Sample], probs: list[float | None], threshold: float
) -> dict[str, Any]:
    labels = np.array([s.label for s in samples])
    p = np.array([np.nan if x is None else x for x in probs], dtype=np.float64)
    judged = ~np.isnan(p)
    out = metrics(labels[judged], p[judged], threshold)
    out["abstained"] = int((~judged).sum())
    kinds = np.array([s.family or "?" for s in samples])
    out["fpr_by_kind"] = {
        k: {
            "n": int(((kinds == k) & judged & (labels == 0)).sum()),
            "fpr": float((p[(kinds == k) & judged & (labels == 0)] >= threshold).mean()),
        }
        for k in sorted(set(kinds[labels == 0]))
        if ((kinds == k) & judged & (labels == 0)).any()
    }
    return out


# Over 80 lines: the folds, each trained, measured and written before the next starts, so that
# an interrupted run keeps every finished fold; the steps share the fold's views and scores.
def run_lofo(cfg: LofoConfig) -> dict[str, Any]:
    """Train one detector per held-out family, measure it and the reference on the same
    images; writes OUT/lofo.json and OUT/lofo.md and returns the report."""
    from pixelsleuth.detectors.analyzer import DEFAULT_WEIGHTS
    from pixelsleuth.detectors.model import ResidualDetector
    from pixelsleuth.detectors.train import TrainConfig, train

    if cfg.by not in ("family", "group"):
        raise ValueError(f"hold out by family or group, not {cfg.by!r}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    samples = [s for src in cfg.data for s in load_samples(src)]
    reference = ResidualDetector.from_pretrained(cfg.reference or DEFAULT_WEIGHTS)
    held_families = cfg.only_families or families(samples, cfg.min_family, cfg.by)
    test_real = _take(
        [s for s in samples if s.label == 0 and corpus_split(s.path) == "test"],
        cfg.max_eval_real,
        "real",
    )
    report: dict[str, Any] = {
        "data": cfg.data,
        "views": list(VIEWS),
        "held_out_by": cfg.by,
        "family_counts": dict(Counter(getattr(s, cfg.by) for s in samples if s.label == 1)),
        "test_real": len(test_real),
        "reference": str(cfg.reference or DEFAULT_WEIGHTS),
        "reference_training_groups": reference.config.training.get("groups", []),
        "folds": {},
    }
    ref_real = _score_views(
        {"reference": reference.probability}, test_real, "real (reference)", cfg.progress
    )["reference"]
    for family in held_families:
        start = time.perf_counter()
        in_fold = [s for s in samples if s.label == 1 and getattr(s, cfg.by) == family]
        fold_groups = sorted({s.group for s in in_fold})
        held = _take(in_fold, cfg.max_eval_ai, family)
        evaluated = [*held, *test_real]
        fold: dict[str, Any] = {"held_out_groups": fold_groups, "n_ai": len(held), "views": {}}
        scorers = {"reference": reference.probability}
        model = None
        if cfg.train_folds:
            fold_dir = out / f"fold-{family.replace('/', '+')}"
            train_cfg = TrainConfig(
                data=cfg.data, out=fold_dir, split="train", progress=cfg.progress
            )
            train_cfg = replace(train_cfg, **cfg.train_overrides)
            train_cfg.exclude_groups = [*train_cfg.exclude_groups, *fold_groups]
            summary = train(train_cfg)
            fold |= {"train_seconds": summary["seconds"], "train_images": summary["train_images"]}
            model = ResidualDetector.from_pretrained(fold_dir)
            scorers["new"] = model.probability
        on_held = _score_views(scorers, held, family, cfg.progress)
        on_real = (
            _score_views({"new": model.probability}, test_real, "real (new)", cfg.progress)
            if model is not None
            else {}
        )
        for v in VIEWS:
            ref = on_held["reference"][v] + ref_real[v]
            fold["views"][v] = {
                "reference": _fold_metrics(evaluated, ref, reference.config.threshold)
            }
            if model is not None:
                new = on_held["new"][v] + on_real["new"][v]
                fold["views"][v]["new"] = _fold_metrics(evaluated, new, model.config.threshold)
        for who in fold["views"]["jpeg90"]:
            a = fold["views"]["jpeg90"][who].get("auc")
            b = fold["views"]["jpeg75+rescale0.5"][who].get("auc")
            if a is not None and b is not None:
                fold[f"auc_drop_q75_rescale0.5_{who}"] = a - b
        fold["seconds"] = round(time.perf_counter() - start, 1)
        report["folds"][family] = fold
        (out / "lofo.json").write_text(json.dumps(report, indent=2) + "\n")
    report["recipe"] = (
        None
        if not cfg.train_folds
        else {
            k: v
            for k, v in asdict(TrainConfig(data=[], out=Path())).items()
            if k not in ("data", "out")
        }
        | cfg.train_overrides
    )
    (out / "lofo.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "lofo.md").write_text(markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    """The per-family table: AUC (new / reference) per view, FPR at the threshold."""
    lines = [
        "| held-out family | images | view | AUC new | AUC reference | FPR new | FPR reference |",
        "|---|---|---|---|---|---|---|",
    ]
    for family, fold in report["folds"].items():
        for v, r in fold["views"].items():
            new, ref = r.get("new", {}), r["reference"]
            lines.append(
                f"| {family} | {fold['n_ai']} | {v} | {new.get('auc', float('nan')):.3f} | "
                f"{ref.get('auc', float('nan')):.3f} | {new.get('fpr_real', float('nan')):.3f} | "
                f"{ref.get('fpr_real', float('nan')):.3f} |"
            )
    return "\n".join(lines) + "\n"
