"""How the detector's accuracy on unseen corpus images grows with the amount of training data.

    python scripts/learning_curve.py --work out/curve [--cap 10 --cap 20 --cap 40 --cap 80]
        [--aligned out/default/aligned] [--backbone resnet34]
    python scripts/learning_curve.py --pool out/eval/shipped   # pool two existing reports

For each cap N, `pixelsleuth train` on the corpus's train split (+ the aligned fakes) with
``--max-images-per-group N`` (every group, real and AI, keeps at most N images), then
`pixelsleuth eval` on the test and the calibration split, which no run trains on. The two
splits are pooled (35 real photos instead of 11 or 24) for AUC with a bootstrap 95 % interval,
the false alarms on real photos at each model's own threshold, and the AUC after JPEG q75 +
0.5× rescale (also on just the images judged in both conditions: the paired drop). A model or
report already in WORK is reused, so an interrupted run resumes.
Results go to WORK/curve.json and WORK/curve.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from pixelsleuth.detectors.evaluate import metrics

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT.parent / "shared/corpus/manifest.csv"
SPLITS = ("test", "calibration")
CONDITIONS = ("jpeg90", "jpeg75+rescale0.5")


def pixelsleuth(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pixelsleuth", *args], check=True)


def pooled(reports: list[dict], condition: str, seed: int = 0) -> dict:
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


def paired_drop(reports: list[dict], hard: str = CONDITIONS[1]) -> dict:
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


def pool_reports(prefix: Path) -> None:
    """Print the pooled metrics and the paired drop of PREFIX-test.json and
    PREFIX-calibration.json (reports `pixelsleuth eval` wrote)."""
    reports = [json.loads(Path(f"{prefix}-{split}.json").read_text()) for split in SPLITS]
    out = {c: pooled(reports, c) for c in CONDITIONS if c in reports[0]["conditions"]}
    if all(c in r["conditions"] for c in CONDITIONS for r in reports):
        out["paired_drop"] = paired_drop(reports)
        for split, report in zip(SPLITS, reports, strict=True):
            out[f"paired_drop_{split}"] = paired_drop([report])
    print(json.dumps(out, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "out/curve")
    parser.add_argument("--cap", type=int, action="append", help="default: 10 20 40 80")
    parser.add_argument("--aligned", type=Path, default=ROOT / "out/default/aligned")
    parser.add_argument("--backbone", default="resnet34")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--pool",
        type=Path,
        action="append",
        metavar="PREFIX",
        help="only pool existing reports PREFIX-test.json and PREFIX-calibration.json",
    )
    args = parser.parse_args()
    if args.pool:
        for prefix in args.pool:
            pool_reports(prefix)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    data = [str(MANIFEST)] + ([str(args.aligned)] if args.aligned.is_dir() else [])
    rows = []
    for cap in args.cap or [10, 20, 40, 80]:
        model = args.work / f"cap{cap}"
        if not (model / "model.safetensors").is_file():
            pixelsleuth(
                "train", *data, "--split", "train", "--out", str(model),
                "--epochs", str(args.epochs), "--max-images-per-group", str(cap),
                "--backbone", args.backbone,
            )  # fmt: skip
        reports = []
        for split in SPLITS:
            report = args.work / f"cap{cap}-{split}"
            if not report.with_suffix(".json").is_file():
                conditions = [a for c in CONDITIONS for a in ("--condition", c)]
                pixelsleuth(
                    "eval", str(MANIFEST), "--split", split, "--weights", str(model),
                    "--out", str(report), *conditions,
                )  # fmt: skip
            reports.append(json.loads(report.with_suffix(".json").read_text()))
        training = json.loads((model / "training.json").read_text())
        row = {
            "cap": cap,
            "train_images": training["train_images"],
            "train_seconds": training["seconds"],
            "threshold": reports[0]["threshold"],
        }
        row.update({c: pooled(reports, c) for c in CONDITIONS})
        row["paired_drop"] = paired_drop(reports)
        rows.append(row)
    (args.work / "curve.json").write_text(json.dumps(rows, indent=2) + "\n")
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
    (args.work / "curve.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
