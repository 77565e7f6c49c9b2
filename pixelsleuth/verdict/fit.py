"""`pixelsleuth fit-verdict`: fit the calibration table and the verdict model on one corpus
split, measure both on another.

Real photos are seen in the conditions people meet them in (:data:`REAL_CONDITIONS`): as
they are, re-saved once at JPEG quality 70–95 with their metadata (whole), and from a centre
crop of at most MAX_SIDE pixels (which bounds the time): halved and re-saved,
stripped (JPEG q90, no metadata), converted to PNG or WebP, and as a screenshot (fitted to
1280×720, PNG). AI-generated and manipulated images (the corpus's forgeries plus splices made
from the split's own photos, :mod:`pixelsleuth.datasets.forgeries`) are seen as they are and
stripped. Every view's findings, what its pixels cover and its stability copies' findings are
cached in ``OUT/records.jsonl``, so a second run (a new detector aside) only refits; the
decision itself is :func:`pixelsleuth.verdict.rules.decide`, the very code that analyses
files.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from pixelsleuth.report import Finding, Report, Verdict, VerdictLabel
from pixelsleuth.verdict.calibration import (
    TARGET_RATE,
    CalibrationTable,
    fit_table,
    threshold_for,
)
from pixelsleuth.verdict.features import SCORED_ANALYZERS, features
from pixelsleuth.verdict.model import CLASSES, VerdictModel
from pixelsleuth.verdict.rules import Coverage, coverage_cause, decide, decisive_provenance, settle

LABELS = {"real": 0, "ai": 1, "forged": 2}  # indices into CLASSES
REAL_CONDITIONS = ("original", "resaved", "resized", "stripped", "png-webp", "screenshot")
OTHER_VIEWS = ("as-is", "stripped")
MAX_SIDE = 1536  # derived views start from a centre crop of at most this side (bounds the time)
FALSE_ALARM_RATE = 0.025  # per label (AI, manipulated) and condition, real calibration views
ALL_LABELS = (
    VerdictLabel.CAMERA_ORIGINAL,
    VerdictLabel.NO_SIGNS_FOUND,
    VerdictLabel.MANIPULATED,
    VerdictLabel.AI_GENERATED,
    VerdictLabel.INCONCLUSIVE,
)


@dataclass
class Item:
    name: str
    label: int  # index into CLASSES
    group: str
    path: Path | None = None
    data: bytes | None = None  # made in memory (splices)

    def read(self) -> bytes:
        return self.data if self.data is not None else Path(self.path).read_bytes()

    @property
    def views(self) -> tuple[str, ...]:
        return REAL_CONDITIONS if self.label == 0 else OTHER_VIEWS


def corpus_items(
    manifests: Sequence[Path],
    split: str,
    max_per_group: int = 12,
    splices: int = 8,
    seed: int = 0,
    max_real_per_group: int = 12,
) -> list[Item]:
    """The split's files, at most ``max_real_per_group`` real photos and ``max_per_group``
    AI or forged files per group (chosen by hash), and ``splices`` splices made from its real
    camera photos; real photos first."""
    from pixelsleuth.detectors.data import corpus_split

    by_group: dict[str, list[Item]] = {}
    for manifest in manifests:
        with Path(manifest).open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row["label"] not in LABELS or corpus_split(row["path"]) != split:
                    continue
                group = f"{row['label']}/{row['group']}"
                path = Path(manifest).parent / row["path"]
                by_group.setdefault(group, []).append(
                    Item(row["path"], LABELS[row["label"]], group, path)
                )
    items = []
    for group in sorted(by_group):
        ranked = sorted(by_group[group], key=lambda i: hashlib.sha256(i.name.encode()).digest())
        items += ranked[: max_real_per_group if group.startswith("real/") else max_per_group]
    photos = [i.path for i in items if i.group == "real/camera"]
    if splices and len(photos) >= 2:
        from pixelsleuth.datasets.forgeries import make_splices

        for k, s in enumerate(make_splices(photos, splices, seed)):
            items.append(Item(f"splice-{split}-{k:03d}.jpg", 2, "forged/splice", data=s.data))
    return sorted(items, key=lambda i: i.label != 0)


def _pick(key: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % n


def render(data: bytes, view: str, key: str) -> bytes:
    """The bytes of one view of an image (see the module docstring); ``key`` picks the
    quality and format where a view has a choice, the same on every run."""
    if view in ("original", "as-is"):
        return data
    from pixelsleuth.detectors.evaluate import centre_crop

    with Image.open(io.BytesIO(data)) as im:
        exif = im.info.get("exif")
        # a re-save keeps the whole picture (a crop would contradict its EXIF thumbnail and
        # dimensions, which a real re-save keeps consistent)
        im = im.convert("RGB") if view == "resaved" else centre_crop(im.convert("RGB"), MAX_SIDE)
    buf = io.BytesIO()
    if view == "resaved":
        extra = {"exif": exif} if exif else {}
        im.save(buf, "JPEG", quality=70 + _pick(key, 26), **extra)
    elif view == "resized":
        half = (max(1, im.width // 2), max(1, im.height // 2))
        im.resize(half, Image.Resampling.LANCZOS).save(buf, "JPEG", quality=85)
    elif view == "stripped":
        im.save(buf, "JPEG", quality=90)
    elif view == "png-webp":
        if _pick(key, 2):
            im.save(buf, "WEBP", quality=80)
        else:
            im.save(buf, "PNG")
    elif view == "screenshot":
        im.thumbnail((1280, 720), Image.Resampling.LANCZOS)
        im.save(buf, "PNG")
    else:
        raise ValueError(f"unknown view {view!r}")
    return buf.getvalue()


def _slim(finding: Finding) -> dict[str, Any]:
    """A finding without its maps and details (the decision reads scores and evidence)."""
    out = finding.to_dict()
    out["details"], out["heatmaps"] = {}, []
    return out


def view_record(
    item: Item, view: str, analyzers: Sequence[Any], stability: bool = True
) -> dict[str, Any] | None:
    """One view's findings, coverage and (with ``stability``) its stability copies'
    findings; None when it cannot be read at all."""
    from pixelsleuth.analyze import analyze_image, measure_coverage, stability_reports
    from pixelsleuth.imageio import ImageInputError, load_bytes

    try:
        image = load_bytes(render(item.read(), view, item.name), item.name)
    except Exception:  # an unreadable source or view: left out of fitting and measuring
        return None
    report = analyze_image(image, analyzers, verdict=False)
    if report.error:
        return None
    copies = {}
    if stability and decisive_provenance(report) is None:
        try:
            for name, copy in stability_reports(report, image, analyzers):
                kept = {id(f) for f in report.findings}
                copies[name] = [_slim(f) for f in copy.findings if id(f) not in kept]
        except ImageInputError:
            copies = {}
    report.findings = [dataclasses.replace(f, heatmaps=[], details={}) for f in report.findings]
    return {
        "key": f"{item.name}|{view}",
        "name": item.name,
        "label": item.label,
        "group": item.group,
        "view": view,
        "report": report.to_dict(),
        "coverage": dataclasses.asdict(measure_coverage(image)),
        "copies": copies,
    }


def collect(
    items: list[Item], cache: Path, progress: bool = True, stability: bool = True
) -> list[dict[str, Any]]:
    """Records for every item and view, read from / appended to the ``cache`` JSONL file."""
    from pixelsleuth.analyzers import create_analyzers

    done: dict[str, dict[str, Any]] = {}
    if cache.is_file():
        for line in cache.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                done[rec["key"]] = rec
    analyzers = create_analyzers()
    out = []
    with cache.open("a") as fh:
        for item in tqdm(items, desc="views", unit="img", disable=not progress):
            for view in item.views:
                key = f"{item.name}|{view}"
                if key not in done:
                    rec = view_record(item, view, analyzers, stability)
                    if rec is None:
                        continue
                    fh.write(json.dumps(rec) + "\n")
                    fh.flush()
                    done[key] = rec
                out.append(done[key])
    return out


def record_split(rec: dict[str, Any]) -> str:
    """The split a record belongs to: its file name's hash split (splices carry theirs)."""
    from pixelsleuth.detectors.data import corpus_split

    if rec["group"] == "forged/splice":
        return rec["name"].split("-")[1]
    return corpus_split(rec["name"])


def cached_records(cache: Path, split: str) -> list[dict[str, Any]]:
    """The records of one split in a ``records.jsonl`` cache (the last one per view)."""
    if not cache.is_file():
        raise ValueError(f"{cache}: no cached records to refit from")
    recs: dict[str, dict[str, Any]] = {}
    for line in cache.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            recs[rec["key"]] = rec
    return [r for r in recs.values() if record_split(r) == split]


def record_report(rec: dict[str, Any]) -> Report:
    return Report.from_dict(rec["report"])


def record_verdict(
    rec: dict[str, Any], model: VerdictModel | None, table: CalibrationTable
) -> Verdict:
    """The full verdict for a record, by the same code that analyses files: decide, then
    settle against the stability copies."""
    report = record_report(rec)
    verdict = decide(report, model, table, Coverage(**rec["coverage"]))
    if verdict.method != "model":
        return verdict
    copies = []
    for name, redone in rec["copies"].items():
        swap = {f["analyzer"]: Finding.from_dict(f) for f in redone}
        copy = Report(report.file, [swap.get(f.analyzer, f) for f in report.findings])
        copies.append((name, decide(copy, model, table)))
    return settle(verdict, copies)


def _model_decides(rec: dict[str, Any]) -> bool:
    report = record_report(rec)
    return decisive_provenance(report) is None and (
        coverage_cause(report, Coverage(**rec["coverage"])) is None
    )


def calibration_scores(records: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """analyzer → condition → scores of the real photos' views (abstentions left out)."""
    out: dict[str, dict[str, list[float]]] = {}
    for rec in records:
        if rec["label"] != 0:
            continue
        for f in rec["report"]["findings"]:
            if f["analyzer"] in SCORED_ANALYZERS and f["score"] is not None and not f["error"]:
                out.setdefault(f["analyzer"], {}).setdefault(rec["view"], []).append(f["score"])
    return out


def fit_records(records: list[dict[str, Any]]) -> tuple[VerdictModel, CalibrationTable]:
    """The calibration table (real views) and the model (every view the rules leave to it),
    with AI and manipulated thresholds that keep each label's false alarms on the real views
    at FALSE_ALARM_RATE in every condition (so both together at most twice that)."""
    table = fit_table(calibration_scores(records))
    recs = [r for r in records if _model_decides(r)]
    if len({r["label"] for r in recs}) < 2:
        raise ValueError("the fitting split needs at least two kinds of image")
    x = np.asarray([features(record_report(r)) for r in recs])
    y = np.asarray([r["label"] for r in recs])
    model = VerdictModel.fit(x, y)
    real = [r for r in records if r["label"] == 0]
    p = model.predict_proba(np.asarray([features(record_report(r)) for r in real]))
    decides = np.asarray([_model_decides(r) for r in real])
    for k in (1, 2):
        # a real view's "alarm score" for label k: its P(k) where the model would call it k
        called = np.where(decides & (p.argmax(1) == k), p[:, k], 0.0)
        by_condition: dict[str, list[float]] = {}
        for rec, score in zip(real, called, strict=True):
            by_condition.setdefault(rec["view"], []).append(float(score))
        # a point rule at half the analyzers' target rate: its margin is the halving
        level = (
            threshold_for(by_condition, FALSE_ALARM_RATE, confidence=None) if by_condition else 0.5
        )
        model.thresholds[CLASSES[k].value] = round(min(max(0.5, level), 1.0), 4)
    return model, table


def _truth(rec: dict[str, Any]) -> str:
    kind = ("real", "ai", "manipulated")[rec["label"]]
    return f"{kind}/{rec['view']}"


def confusion(records: list[dict[str, Any]], verdicts: list[Verdict]) -> dict[str, Any]:
    """Rows: the truth per condition (real/<condition>, ai/<view>, manipulated/<view>);
    columns: the five labels; with each row's inconclusive rate and, for real rows, the
    share called AI-generated or manipulated."""
    rows: dict[str, dict[str, int]] = {}
    for rec, v in zip(records, verdicts, strict=True):
        row = rows.setdefault(_truth(rec), {label.value: 0 for label in ALL_LABELS})
        row[v.label.value] += 1
    out: dict[str, Any] = {"matrix": dict(sorted(rows.items()))}
    summary = {}
    for name, row in sorted(rows.items()):
        n = sum(row.values())
        entry = {"n": n, "inconclusive_rate": row["inconclusive"] / n}
        if name.startswith("real/"):
            entry["false_alarm_rate"] = (row["ai-generated"] + row["manipulated"]) / n
        elif name.startswith("ai/"):
            entry["recall"] = row["ai-generated"] / n
        else:
            entry["recall"] = row["manipulated"] / n
        summary[name] = entry
    real = [r for name, r in rows.items() if name.startswith("real/")]
    n_real = sum(sum(r.values()) for r in real)
    if n_real:
        alarms = sum(r["ai-generated"] + r["manipulated"] for r in real)
        summary["real (all conditions)"] = {
            "n": n_real,
            "false_alarm_rate": alarms / n_real,
            "inconclusive_rate": sum(r["inconclusive"] for r in real) / n_real,
        }
    out["summary"] = summary
    return out


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability diagram (equal-width bins: mean probability against observed frequency),
    expected calibration error and Brier score."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    table = []
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            table.append(
                {
                    "bin": [b / bins, (b + 1) / bins],
                    "n": int(m.sum()),
                    "mean_probability": float(p[m].mean()),
                    "observed": float(y[m].mean()),
                }
            )
            ece += abs(p[m].mean() - y[m].mean()) * m.mean()
    return {"n": len(p), "ece": float(ece), "brier": float(np.mean((p - y) ** 2)), "bins": table}


def analyzer_rates(records: list[dict[str, Any]], table: CalibrationTable) -> dict[str, Any]:
    """Per analyzer: its "suspicious" rate on the real views per condition, and its hit rate
    on the manipulated and AI-generated views."""
    out: dict[str, Any] = {}
    for analyzer in SCORED_ANALYZERS:
        per: dict[str, dict[str, float]] = {}
        for rec in records:
            finding = next(
                (f for f in rec["report"]["findings"] if f["analyzer"] == analyzer), None
            )
            if finding is None:
                continue
            group = (
                f"real/{rec['view']}"
                if rec["label"] == 0
                else ("ai" if rec["label"] == 1 else "manipulated")
            )
            cell = per.setdefault(group, {"n": 0, "scored": 0, "suspicious": 0})
            cell["n"] += 1
            cell["scored"] += finding["score"] is not None and not finding["error"]
            cell["suspicious"] += table.suspicious(Finding.from_dict(finding))
        for cell in per.values():
            cell["rate"] = cell["suspicious"] / cell["n"] if cell["n"] else None
        out[analyzer] = {"threshold": table.thresholds.get(analyzer), **dict(sorted(per.items()))}
    return out


def evaluate_records(
    model: VerdictModel, table: CalibrationTable, records: list[dict[str, Any]]
) -> dict[str, Any]:
    """Confusion matrix, calibration of P(AI) and P(manipulated) where the model decides,
    and the analyzers' suspicious and hit rates."""
    verdicts = [record_verdict(r, model, table) for r in records]
    decided = [r for r in records if _model_decides(r)]
    x = np.asarray([features(record_report(r)) for r in decided]).reshape(len(decided), -1)
    y = np.asarray([r["label"] for r in decided])
    p = model.predict_proba(x) if len(decided) else np.zeros((0, 3))
    return {
        "confusion": confusion(records, verdicts),
        "calibration": {
            "ai_generated": reliability(p[:, 1], (y == 1).astype(float)),
            "manipulated": reliability(p[:, 2], (y == 2).astype(float)),
        },
        "analyzers": analyzer_rates(records, table),
    }


def markdown(evaluation: dict[str, Any]) -> str:
    """The evaluation as Markdown: the analyzers' suspicious rates per real condition and hit
    rates, the confusion matrix with inconclusive and false-alarm rates, and calibration."""
    conditions = [f"real/{c}" for c in REAL_CONDITIONS]
    lines = [
        "| analyzer | level | " + " | ".join(c.split("/")[1] for c in conditions) + " | "
        "manipulated hit | AI hit |",
        "|---" * (len(conditions) + 4) + "|",
    ]

    def cell(row: dict[str, Any], key: str) -> str:
        c = row.get(key)
        return "–" if not c else f"{c['suspicious']}/{c['n']}"

    for analyzer, row in evaluation["analyzers"].items():
        level = row["threshold"]
        shown = "–" if level is None else ("never" if level > 1 else f"{level:.2f}")
        cells = [cell(row, c) for c in (*conditions, "manipulated", "ai")]
        lines.append(f"| {analyzer} | {shown} | " + " | ".join(cells) + " |")
    lines += ["", "| truth \\ verdict | " + " | ".join(x.value for x in ALL_LABELS) + " |"]
    lines.append("|---" * (len(ALL_LABELS) + 1) + "|")
    for truth, row in evaluation["confusion"]["matrix"].items():
        lines.append(f"| {truth} | " + " | ".join(str(row[x.value]) for x in ALL_LABELS) + " |")
    lines.append("")
    for name, row in evaluation["confusion"]["summary"].items():
        rates = ", ".join(f"{k.replace('_', ' ')} {v:.1%}" for k, v in row.items() if k != "n")
        lines.append(f"- {name} (n={row['n']}): {rates}")
    for name, cal in evaluation.get("calibration", {}).items():
        lines.append(
            f"- P({name.replace('_', ' ')}) where the model decides (n={cal['n']}): "
            f"ECE {cal['ece']:.3f}, Brier {cal['brier']:.3f}"
        )
    if "heldout_real" in evaluation:
        held = evaluation["heldout_real"]
        lines += ["", f"Held-out real photos: {held['evaluated_on']}", "", markdown(held)]
    return "\n".join(lines) + "\n"


# Over 80 lines: collect, fit, measure and write, in order, with the splits and views shared by
# every step; each step is one call, the length is their arguments.
def fit_verdict(
    manifests: Sequence[Path],
    out: Path,
    fit_split: str = "calibration",
    eval_split: str = "test",
    max_per_group: int = 12,
    splices: int = 8,
    seed: int = 0,
    progress: bool = True,
    max_real_per_group: int = 12,
    stability: bool = True,
    cached_only: bool = False,
    heldout_real: tuple[Path, str] | None = None,
    keep_model: Path | None = None,
    eval_max_real_per_group: int | None = None,
) -> dict[str, Any]:
    """Fit on ``fit_split``, evaluate on ``eval_split`` (with ``cached_only``, on exactly
    the views already in OUT/records.jsonl: a refit without analysis). ``heldout_real``
    (manifest, split) adds a second measurement on that split's real photos alone, for
    photos that neither the detector nor the verdict has seen (the detector pool's train
    split, say). ``keep_model``: refit the table alone (on the fit split's real photos) and
    measure with this verdict model, as it is. Writes OUT/verdict.json (the model with its
    card), OUT/calibration.json (the table) and OUT/verdict-eval.{json,md}; returns the
    evaluation."""
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "records.jsonl"
    heldout_recs: list[dict[str, Any]] = []
    if cached_only:  # exactly the views analysed before: a refit, no analysis
        fit_recs, eval_recs = cached_records(cache, fit_split), cached_records(cache, eval_split)
        if heldout_real:
            heldout_recs = [r for r in cached_records(cache, heldout_real[1]) if r["label"] == 0]
    else:
        fit_items = corpus_items(
            manifests, fit_split, max_per_group, splices, seed, max_real_per_group
        )
        if keep_model:  # the table is fitted on real photos alone
            fit_items = [i for i in fit_items if i.label == 0]
        eval_real = (
            max_real_per_group if eval_max_real_per_group is None else eval_max_real_per_group
        )
        eval_items = corpus_items(
            manifests, eval_split, max_per_group, splices, seed + 1, eval_real
        )
        # fitting reads the views' own findings; only a measured verdict needs the copies
        fit_recs = collect(fit_items, cache, progress, stability=False)
        eval_recs = collect(eval_items, cache, progress, stability)
        if heldout_real:
            manifest, split = heldout_real
            photos = corpus_items([manifest], split, 0, 0, seed + 2, eval_real)
            heldout_recs = collect(photos, cache, progress, stability)
    if keep_model:  # the table reads real photos alone (a cache may hold other views)
        fit_recs = [r for r in fit_recs if r["label"] == 0]
        model, table = VerdictModel.load(keep_model), fit_table(calibration_scores(fit_recs))
    else:
        model, table = fit_records(fit_recs)
    evaluation = evaluate_records(model, table, eval_recs)
    if heldout_recs:
        held = evaluate_records(model, table, heldout_recs)
        del held["calibration"]  # real photos alone: no probability to check against
        evaluation["heldout_real"] = {
            "evaluated_on": f"{heldout_real[0]} split '{heldout_real[1]}', real photos "
            f"({len(heldout_recs)} views)",
            **held,
        }
    recipe = {
        "max_per_group": max_per_group,
        "max_real_per_group": max_real_per_group,
        "splices": splices,
        "seed": seed,
        "stability_copies": stability,
        "eval_max_real_per_group": eval_max_real_per_group,
        "model_kept": str(keep_model) if keep_model else None,
    }
    fitted_on = f"{', '.join(map(str, manifests))} split '{fit_split}' ({len(fit_recs)} views)"
    evaluated_on = f"split '{eval_split}' ({len(eval_recs)} views)"
    table.card.update(fitted_on=fitted_on, conditions=list(REAL_CONDITIONS), target=TARGET_RATE)
    if not keep_model:
        model.card = {"fitted_on": fitted_on, "evaluated_on": evaluated_on, "recipe": recipe}
    table.card["recipe"] = recipe
    model.save(out / "verdict.json")
    table.save(out / "calibration.json")
    evaluation["seconds"] = round(time.perf_counter() - start, 1)
    evaluation["fitted_on"], evaluation["evaluated_on"] = fitted_on, evaluated_on
    (out / "verdict-eval.json").write_text(json.dumps(evaluation, indent=1) + "\n")
    (out / "verdict-eval.md").write_text(markdown(evaluation))
    return evaluation
