"""`pixelsleuth fit-verdict`: fit the verdict model on one corpus split, measure it on another.

Every image is seen twice: as it is (metadata and all) and stripped (re-encoded as JPEG q90
without metadata), because files in the wild come both ways. Manipulated examples are the
corpus's forgeries plus splices made from the split's own real photos
(:mod:`pixelsleuth.datasets.forgeries`). Features of every view and of its stability copies
are cached in ``OUT/features.jsonl``, so a second run only refits.

The evaluation reports accuracy per label and a confusion matrix for the full verdict
(provenance rules, model, stability check) beside the detector alone (AI when its probability
is over its threshold, camera original otherwise).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from pixelsleuth.analyzers import create_analyzers
from pixelsleuth.detectors.data import MIN_SIDE, corpus_split
from pixelsleuth.detectors.fusion import (
    CLASSES,
    VerdictModel,
    contradicts,
    copy_reports,
    decisive_provenance,
    features,
    label_of,
)
from pixelsleuth.report import VerdictLabel

LABELS = {"real": 0, "ai": 1, "forged": 2}  # indices into fusion.CLASSES
VIEWS = ("as-is", "stripped")


@dataclass
class Item:
    name: str
    label: int
    group: str
    path: Path | None = None
    data: bytes | None = None  # made in memory (splices)

    def read(self) -> bytes:
        return self.data if self.data is not None else Path(self.path).read_bytes()


def corpus_items(
    manifest: Path, split: str, max_per_group: int = 30, splices: int = 12, seed: int = 0
) -> list[Item]:
    """The split's AI, real and forged files (at most ``max_per_group`` per group, chosen by
    hash), plus ``splices`` splices made from its real camera photos."""
    by_group: dict[str, list[Item]] = {}
    with manifest.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["label"] not in LABELS or corpus_split(row["path"]) != split:
                continue
            group = f"{row['label']}/{row['group']}"
            item = Item(row["path"], LABELS[row["label"]], group, manifest.parent / row["path"])
            by_group.setdefault(group, []).append(item)
    items = []
    for group in sorted(by_group):
        ranked = sorted(by_group[group], key=lambda i: hashlib.sha256(i.name.encode()).digest())
        items += ranked[:max_per_group]
    photos = [i.path for i in items if i.group == "real/camera"]
    if splices and len(photos) >= 2:
        from pixelsleuth.datasets.forgeries import make_splices

        for k, s in enumerate(make_splices(photos, splices, seed)):
            items.append(Item(f"splice-{split}-{k:03d}.jpg", 2, "forged/splice", data=s.data))
    return items


def stripped(data: bytes) -> bytes:
    """The pixels re-encoded as JPEG q90 without metadata (larger photos centre-cropped to
    2048 px, as in detector evaluation)."""
    from pixelsleuth.detectors.evaluate import centre_crop

    with Image.open(io.BytesIO(data)) as im:
        im = centre_crop(im.convert("RGB"))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def view_record(item: Item, view: str, analyzers: Sequence[Any]) -> dict[str, Any] | None:
    """Features of one view and of its stability copies, the rule verdict, and the detector's
    probability and threshold; None when the image cannot be read."""
    from pixelsleuth.analyze import analyze_image
    from pixelsleuth.imageio import ImageInputError, load_bytes

    try:
        data = item.read() if view == "as-is" else stripped(item.read())
        image = load_bytes(data, item.name)
    except (OSError, ValueError, Image.DecompressionBombError, ImageInputError):
        return None
    report = analyze_image(image, analyzers, verdict=False)
    if report.error:
        return None
    ruled = decisive_provenance(report)
    copies = []
    if ruled is None and min(image.info.width or 0, image.info.height or 0) >= MIN_SIDE:
        copies = [
            features(copy).tolist() for _, copy in copy_reports(report, image.rgb(), analyzers)
        ]
    det = report.finding("detector")
    return {
        "key": f"{item.name}|{view}",
        "label": item.label,
        "group": item.group,
        "view": view,
        "features": features(report).tolist(),
        "copies": copies,
        "rule": None if ruled is None else ruled.label.value,
        "detector": None if det is None or det.score is None else det.score,
        "detector_threshold": (det.details or {}).get("threshold") if det else None,
    }


def collect(items: list[Item], cache: Path, progress: bool = True) -> list[dict[str, Any]]:
    """Records for every item and view, read from / appended to the ``cache`` JSONL file."""
    done: dict[str, dict[str, Any]] = {}
    if cache.is_file():
        for line in cache.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                done[rec["key"]] = rec
    analyzers = create_analyzers()
    out = []
    with cache.open("a") as fh:
        for item in tqdm(items, desc="features", unit="img", disable=not progress):
            for view in VIEWS:
                key = f"{item.name}|{view}"
                if key not in done:
                    rec = view_record(item, view, analyzers)
                    if rec is None:
                        continue
                    fh.write(json.dumps(rec) + "\n")
                    fh.flush()
                    done[key] = rec
                out.append(done[key])
    return out


def _label_of(model: VerdictModel, feats: list[float]) -> VerdictLabel:
    return label_of(model.predict_proba(np.asarray(feats)[None])[0])


def verdict_of(model: VerdictModel, rec: dict[str, Any]) -> tuple[str, float | None]:
    """The full verdict label (rules, model, stability) and P(AI) for a record."""
    if rec["rule"]:
        return rec["rule"], None
    label = _label_of(model, rec["features"])
    p_ai = float(model.predict_proba(np.asarray(rec["features"])[None])[0, 1])
    if label is not VerdictLabel.INCONCLUSIVE:
        for copy in rec["copies"]:
            if contradicts(label, _label_of(model, copy)):
                return VerdictLabel.INCONCLUSIVE.value, p_ai
    return label.value, p_ai


def detector_alone(rec: dict[str, Any]) -> str:
    if rec["detector"] is None:
        return VerdictLabel.INCONCLUSIVE.value
    ai = rec["detector"] >= (rec["detector_threshold"] or 0.5)
    return (VerdictLabel.AI_GENERATED if ai else VerdictLabel.CAMERA_ORIGINAL).value


def confusion(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    """Counts truth × predicted over the four labels, accuracy per true label and overall."""
    labels = [c.value for c in CLASSES] + [VerdictLabel.INCONCLUSIVE.value]
    matrix = {t: dict.fromkeys(labels, 0) for t in labels[:3]}
    for t, p in zip(truth, predicted, strict=True):
        matrix[t][p] += 1
    per_label = {
        t: (row[t] / sum(row.values()) if sum(row.values()) else None) for t, row in matrix.items()
    }
    n = len(truth)
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    inconclusive = sum(p == VerdictLabel.INCONCLUSIVE.value for p in predicted)
    return {
        "n": n,
        "accuracy": correct / n if n else None,
        "inconclusive": inconclusive,
        "accuracy_per_label": per_label,
        "matrix": matrix,
    }


def evaluate_records(model: VerdictModel, records: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for view in VIEWS:
        recs = [r for r in records if r["view"] == view]
        truth = [CLASSES[r["label"]].value for r in recs]
        fused = [verdict_of(model, r)[0] for r in recs]
        out[view] = {
            "fused": confusion(truth, fused),
            "detector_alone": confusion(truth, [detector_alone(r) for r in recs]),
            "decided_by_provenance": sum(1 for r in recs if r["rule"]),
            "calibration": calibration(model, [r for r in recs if not r["rule"]]),
        }
    return out


def calibration(model: VerdictModel, records: list[dict[str, Any]], bins: int = 5):
    """How well P(AI) is calibrated where the model decides: Brier score and expected
    calibration error (equal-width bins), with the detector's own probability beside it."""
    if not records:
        return {}
    y = np.asarray([r["label"] == 1 for r in records], dtype=float)
    p = model.predict_proba(np.asarray([r["features"] for r in records]))[:, 1]
    det = np.asarray([r["detector"] if r["detector"] is not None else 0.5 for r in records])

    def ece(q: np.ndarray) -> float:
        idx = np.minimum((q * bins).astype(int), bins - 1)
        return float(
            sum(
                abs(q[idx == b].mean() - y[idx == b].mean()) * (idx == b).mean()
                for b in range(bins)
                if (idx == b).any()
            )
        )

    return {
        "n": len(records),
        "brier_ai": float(np.mean((p - y) ** 2)),
        "ece_ai": ece(p),
        "brier_detector": float(np.mean((det - y) ** 2)),
        "ece_detector": ece(det),
    }


def fit_records(records: list[dict[str, Any]]) -> VerdictModel:
    """Fit on every view the rules leave to the model (that is where it will be used)."""
    recs = [r for r in records if not r["rule"]]
    if len({r["label"] for r in recs}) < 2:
        raise ValueError("the fitting split needs at least two kinds of image")
    x = np.asarray([r["features"] for r in recs])
    y = np.asarray([r["label"] for r in recs])
    return VerdictModel.fit(x, y)


def markdown(evaluation: dict[str, Any], title: str) -> str:
    lines = [f"## {title}", ""]
    for view, res in evaluation.items():
        for name in ("fused", "detector_alone"):
            c = res[name]
            lines += [
                f"### {view}: {'fused verdict' if name == 'fused' else 'detector alone'} "
                f"(n={c['n']}, accuracy {c['accuracy']:.3f}, inconclusive {c['inconclusive']})",
                "",
                "| truth \\ verdict | " + " | ".join(next(iter(c["matrix"].values()))) + " | "
                "accuracy |",
                "|---" * (len(next(iter(c["matrix"].values()))) + 2) + "|",
            ]
            for t, row in c["matrix"].items():
                acc = c["accuracy_per_label"][t]
                cells = " | ".join(str(v) for v in row.values())
                lines.append(f"| {t} | {cells} | {'–' if acc is None else f'{acc:.3f}'} |")
            lines.append("")
        lines.append(f"Decided by provenance: {res['decided_by_provenance']}.")
        cal = res.get("calibration") or {}
        if cal:
            lines.append(
                f"Calibration of P(AI) where the model decides (n={cal['n']}): Brier "
                f"{cal['brier_ai']:.3f}, ECE {cal['ece_ai']:.3f} (detector alone: Brier "
                f"{cal['brier_detector']:.3f}, ECE {cal['ece_detector']:.3f})."
            )
        lines.append("")
    return "\n".join(lines)


def fit_verdict(
    manifest: Path,
    out: Path,
    fit_split: str = "calibration",
    eval_split: str = "test",
    max_per_group: int = 30,
    splices: int = 12,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Fit on ``fit_split``, evaluate on ``eval_split``, write OUT/verdict.json (the model,
    with its card) and OUT/verdict-eval.{json,md}; returns the evaluation."""
    random.seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "features.jsonl"
    fit_recs = collect(
        corpus_items(manifest, fit_split, max_per_group, splices, seed), cache, progress
    )
    eval_recs = collect(
        corpus_items(manifest, eval_split, max_per_group, splices, seed + 1), cache, progress
    )
    model = fit_records(fit_recs)
    evaluation = evaluate_records(model, eval_recs)
    # the same with the splits' roles swapped: a second, independent estimate (not shipped)
    swapped = evaluate_records(fit_records(eval_recs), fit_recs)
    model.card = {
        "fitted_on": f"{manifest} split '{fit_split}' ({len(fit_recs)} views)",
        "evaluated_on": f"{manifest} split '{eval_split}' ({len(eval_recs)} views)",
        "recipe": {"max_per_group": max_per_group, "splices": splices, "seed": seed},
        "evaluation": evaluation,
    }
    model.save(out / "verdict.json")
    (out / "verdict-eval.json").write_text(
        json.dumps({**evaluation, "swapped": swapped}, indent=2) + "\n"
    )
    (out / "verdict-eval.md").write_text(
        markdown(evaluation, f"Verdict on split '{eval_split}' (fitted on '{fit_split}')")
        + "\n"
        + markdown(swapped, f"Swapped: on split '{fit_split}' (fitted on '{eval_split}')")
        + "\n"
    )
    return evaluation
