"""Leave-one-group-out evaluation of the detector on the corpus, beside the spectral baseline.

    python scripts/logo.py --work out/logo [--group ai/comfyui ...] [--no-aligned]
        [--epochs 6] [--max-images-per-group 60] [--precision auto|float32|bfloat16]
        [--backbone resnet34] [--stages 2]

Real photos are split by content hash: 30 % are test images used by every fold and never
trained on. Aligned fakes are made with taef2 from the training 70 % only (their real twins,
re-encoded identically, join the training reals). For each AI group g: train on every other AI
group + aligned fakes + training reals, then evaluate on g + the test reals, every image
re-encoded as JPEG q90 without metadata (and after JPEG q75 + 0.5× rescale). Results go to
WORK/logo.json and WORK/logo.md; a group already there is skipped, and a fold's model already in
WORK is evaluated without training it again.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

from pixelsleuth.datasets.generate import GenerationConfig, generate
from pixelsleuth.datasets.samples import hash_unit
from pixelsleuth.detectors.data import Sample, from_imagefolder, from_manifest
from pixelsleuth.detectors.evaluate import (
    SpectralBaseline,
    evaluate,
    prepare,
    with_min_side,
)
from pixelsleuth.detectors.model import ResidualDetector
from pixelsleuth.detectors.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared/corpus"
TAEF2 = ROOT.parent / "shared/models/taef2"
CONDITIONS = ("jpeg90", "jpeg75+rescale0.5")


def is_test_real(sample: Sample) -> bool:
    return hash_unit(sample.path.name) < 0.3


def write_manifest(samples: list[Sample], path: Path) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "group", "width", "height"])
        for s in samples:
            label = "ai" if s.label else "real"
            w.writerow([str(s.path.resolve()), label, s.group.split("/", 1)[-1], s.width, s.height])
    return path


def aligned_fakes(reals: list[Sample], work: Path) -> list[Sample]:
    src = work / "aligned-src"
    src.mkdir(parents=True, exist_ok=True)
    for s in reals:
        link = src / s.path.name
        if not link.exists():
            os.symlink(s.path.resolve(), link)
    out = work / "aligned"
    generate(
        GenerationConfig(
            out=out,
            mode="aligned",
            autoencoder=str(TAEF2),
            images=src,
            count=0,
            max_side=768,
            format="png",
            provenance=False,
            fractions=(1.0, 0.0, 0.0),
        )
    )
    return from_imagefolder(out)


def fit_baseline(train_samples: list[Sample]) -> SpectralBaseline:
    images, labels = [], []
    for s in train_samples:
        try:
            images.append(prepare(s.path, None, None))
            labels.append(s.label)
        except (OSError, ValueError):
            continue
    return SpectralBaseline().fit(images, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "out/logo")
    parser.add_argument("--group", action="append", help="only these held-out groups")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--max-images-per-group", type=int, default=60)
    parser.add_argument("--no-aligned", action="store_true")
    parser.add_argument("--precision", default="auto", help="training arithmetic (see train)")
    parser.add_argument("--backbone", default="resnet34", help="timm ResNet (see train)")
    parser.add_argument("--stages", type=int, default=2, help="ResNet stages kept")
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    samples = from_manifest(CORPUS / "manifest.csv")
    samples = [s for s in samples if s.group != "ai/generator-metadata"]  # cropped carriers
    reals = [s for s in samples if s.label == 0]
    test_reals = [s for s in reals if is_test_real(s)]
    train_reals = [s for s in reals if not is_test_real(s)]
    extra = [] if args.no_aligned else aligned_fakes(train_reals, work)
    groups = args.group or sorted({s.group for s in samples if s.label == 1})
    results_path = work / "logo.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    tag = "no-aligned" if args.no_aligned else "aligned"
    for g in groups:
        key = f"{g}|{tag}"
        if key in results:
            continue
        train_ai = [s for s in samples if s.label == 1 and s.group != g]
        manifest = write_manifest(train_ai + train_reals, work / f"train-{g.replace('/', '_')}.csv")
        data = [str(manifest)] + ([str(work / "aligned")] if extra else [])
        out = work / f"model-{g.replace('/', '_')}-{tag}"
        if (out / "model.safetensors").is_file():  # trained by an earlier run: evaluate only
            summary = json.loads((out / "training.json").read_text())
        else:
            summary = train(
                TrainConfig(
                    data=data,
                    out=out,
                    epochs=args.epochs,
                    max_images_per_group=args.max_images_per_group,
                    precision=args.precision,
                    backbone=args.backbone,
                    stages=args.stages,
                )
            )
        model = ResidualDetector.from_pretrained(out)
        test = [s for s in samples if s.group == g] + test_reals
        det = evaluate(model.probability, test, model.config.threshold, CONDITIONS)
        pool = train_ai + train_reals
        base_model = fit_baseline(pool[:: max(1, len(pool) // 300)])
        base = evaluate(with_min_side(base_model.score, model.min_side), test, 0.5, CONDITIONS)
        results[key] = {
            "held_out": g,
            "aligned": not args.no_aligned,
            "detector": {c: det["conditions"][c]["overall"] for c in CONDITIONS},
            "baseline": {c: base["conditions"][c]["overall"] for c in CONDITIONS},
            "best_validation_auc": summary["best_validation_auc"],
            "train_seconds": summary["seconds"],
            "precision": summary["precision"],
            "backbone": f"{args.backbone}, {args.stages} stages",
        }
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results[key]["detector"]["jpeg90"]), flush=True)
    lines = [
        "| held-out group | aligned | detector AUC (q90) | FPR real | AUC after q75+0.5× | "
        "baseline AUC (q90) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results.values():
        d, b = r["detector"], r["baseline"]
        lines.append(
            f"| {r['held_out']} | {r['aligned']} | {d['jpeg90'].get('auc', float('nan')):.3f} "
            f"| {d['jpeg90'].get('fpr_real', float('nan')):.3f} "
            f"| {d['jpeg75+rescale0.5'].get('auc', float('nan')):.3f} "
            f"| {b['jpeg90'].get('auc', float('nan')):.3f} |"
        )
    (work / "logo.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
