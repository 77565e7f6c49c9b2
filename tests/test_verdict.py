"""The fused verdict: provenance rules, the JSON-stored model, the stability check, fitting
and evaluation."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixelsleuth.analyze import analyze_bytes, analyze_file
from pixelsleuth.analyzers import Analyzer, create_analyzers
from pixelsleuth.cli import app
from pixelsleuth.datasets.generate import encode_image
from pixelsleuth.detectors.data import corpus_split
from pixelsleuth.detectors.fit_verdict import confusion, evaluate_records, fit_records
from pixelsleuth.detectors.fusion import (
    CAVEAT,
    FEATURES,
    VerdictModel,
    decide,
    features,
    fuse,
)
from pixelsleuth.report import Finding, VerdictLabel

from .conftest import corpus_dir, corpus_manifest, jpeg_bytes, photo_like

PIXEL_FAST = ["metadata", "jpeg", "ela", "noise", "spectrum"]


def _model_on(feature: str, weight: float = 4.0) -> VerdictModel:
    """A model that says AI when ``feature`` is high and camera original when it is low."""
    n = len(FEATURES)
    coef = np.zeros((3, n))
    coef[1, FEATURES.index(feature)] = weight
    coef[0, FEATURES.index(feature)] = -weight
    return VerdictModel(list(FEATURES), [0.5] * n, [0.1] * n, coef.tolist(), [0.0, 0.0, -9.0])


def test_generator_metadata_decides_with_a_caveat():
    corpus_dir()
    entry = next(e for e in corpus_manifest() if e["group"] == "comfyui")
    report = analyze_file(corpus_dir() / entry["path"], stability=False)
    v = report.verdict
    assert v.label is VerdictLabel.AI_GENERATED and v.method == "provenance"
    assert "ComfyUI" in v.reasons[0] and v.reasons[-1] == CAVEAT
    assert v.ai_probability >= 0.9


def test_declared_ai_source_type_decides_even_when_stripped_of_pixels_evidence():
    data = encode_image(Image.fromarray(photo_like(96, 128)), "jpeg", 90, {"generator": {}})
    v = analyze_bytes(data, "declared.jpg", stability=False).verdict
    assert v.label is VerdictLabel.AI_GENERATED and v.method == "provenance"
    assert "trainedAlgorithmicMedia" in v.reasons[0]


def test_model_round_trips_as_json_and_refuses_other_features(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, len(FEATURES)))
    y = np.repeat([0, 1, 2], 30)
    x[:, 0] += 3 * (y == 1)  # class 1 separable on feature 0, class 2 on feature 1
    x[:, 1] += 3 * (y == 2)
    model = VerdictModel.fit(x, y)
    path = model.save(tmp_path / "verdict.json")
    assert b"\x80" not in path.read_bytes()[:2]  # plain JSON, never a pickle
    again = VerdictModel.load(path)
    p = again.predict_proba(x)
    np.testing.assert_allclose(p, model.predict_proba(x))
    assert (p.argmax(1) == y).mean() > 0.9
    bad = json.loads(path.read_text())
    bad["feature_names"] = bad["feature_names"][:-1]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="other features"):
        VerdictModel.load(tmp_path / "bad.json")


def test_too_few_analyzers_give_no_model_verdict():
    report = analyze_bytes(jpeg_bytes(photo_like()), "p.jpg", ["metadata"], verdict=False)
    v = decide(report, _model_on("score:metadata"))
    assert v.label is VerdictLabel.INCONCLUSIVE and "Only 1" in v.reasons[0]


class SizeSensitive(Analyzer):
    """Stands in for the detector: confident only at the original size, so a rescaled copy
    reads differently."""

    name = "detector"
    title = "size-sensitive test detector"
    explains = "test"

    def __init__(self, width: int) -> None:
        self.width = width

    def analyze(self, image):
        return Finding(self.name, "test", 0.95 if image.info.width == self.width else 0.05)


def test_a_verdict_that_flips_on_a_copy_is_inconclusive():
    rgb = photo_like(128, 160)
    analyzers = [*create_analyzers(PIXEL_FAST), SizeSensitive(160)]
    report = analyze_bytes(jpeg_bytes(rgb), "p.jpg", analyzers, verdict=False)
    model = _model_on("score:detector")
    assert decide(report, model).label is VerdictLabel.AI_GENERATED
    v = fuse(report, rgb, analyzers, model)
    assert v.label is VerdictLabel.INCONCLUSIVE and v.method == "model (unstable)"
    assert "rescaled to 0.75×" in v.reasons[0] and "camera-original" in v.reasons[0]
    stable = [*create_analyzers(PIXEL_FAST), SizeSensitive(-1)]  # always 0.05
    report = analyze_bytes(jpeg_bytes(rgb), "p.jpg", stable, verdict=False)
    v = fuse(report, rgb, stable, model)
    assert v.label is VerdictLabel.CAMERA_ORIGINAL and v.method == "model"
    assert v.ai_probability < 0.1 and "Combined evidence" in v.reasons[0]


def test_confusion_matrix_counts():
    c = confusion(
        ["camera-original", "ai-generated", "ai-generated", "manipulated"],
        ["camera-original", "ai-generated", "inconclusive", "camera-original"],
    )
    assert c["matrix"]["ai-generated"] == {
        "camera-original": 0,
        "ai-generated": 1,
        "manipulated": 0,
        "inconclusive": 1,
    }
    assert c["accuracy"] == 0.5 and c["inconclusive"] == 1
    assert c["accuracy_per_label"] == {
        "camera-original": 1.0,
        "ai-generated": 0.5,
        "manipulated": 0.0,
    }


def test_fit_and_evaluate_records_use_rules_model_and_copies():
    rng = np.random.default_rng(1)

    def rec(label, rule=None, flip=False):
        f = rng.normal(0, 0.2, len(FEATURES))
        f[FEATURES.index("score:detector")] = 0.9 if label == 1 else 0.1
        copy = f.copy()
        if flip:
            copy[FEATURES.index("score:detector")] = 0.1
        return {
            "label": label,
            "view": "stripped",
            "features": f.tolist(),
            "copies": [copy.tolist()],
            "rule": rule,
            "detector": 0.9 if label == 1 else 0.1,
            "detector_threshold": 0.5,
        }

    train = [rec(i % 2) for i in range(40)]
    model = fit_records(train)
    test = [rec(1), rec(0), rec(1, flip=True), rec(0, rule="ai-generated")]
    res = evaluate_records(model, test)["stripped"]
    m = res["fused"]["matrix"]
    assert m["ai-generated"]["ai-generated"] == 1 and m["ai-generated"]["inconclusive"] == 1
    assert m["camera-original"]["camera-original"] == 1
    assert m["camera-original"]["ai-generated"] == 1  # the (wrong) rule decided
    assert res["decided_by_provenance"] == 1
    assert res["detector_alone"]["accuracy"] == 1.0


def _name_in(split: str, stem: str) -> str:
    for i in range(1000):
        name = f"{stem}{i}.png"
        if corpus_split(name) == split:
            return name
    raise AssertionError


def test_fit_verdict_command_on_a_small_manifest(tmp_path):
    rows = []
    for split in ("calibration", "test"):
        for k in range(3):
            for label, seed in (("real", 0), ("ai", 100)):
                name = _name_in(split, f"{label}-{k}-")
                rgb = photo_like(96, 96, seed=seed + k)
                if label == "ai":  # a crude "generator": smooth and blocky
                    rgb = np.kron(rgb[::4, ::4], np.ones((4, 4, 1), np.uint8))
                (tmp_path / name).write_bytes(encode_image(Image.fromarray(rgb), "png", 95))
                rows.append(
                    {"path": name, "label": label, "group": f"{label}-g", "width": 96, "height": 96}
                )
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        w = csv.DictWriter(fh, ["path", "label", "group", "width", "height"])
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "fit"
    result = CliRunner().invoke(
        app, ["fit-verdict", str(manifest), "--out", str(out), "--splices", "0"]
    )
    assert result.exit_code == 0, result.output
    model = VerdictModel.load(out / "verdict.json")
    assert "split 'calibration'" in model.card["fitted_on"]
    evaluation = json.loads((out / "verdict-eval.json").read_text())
    assert evaluation["stripped"]["fused"]["n"] == 6
    assert evaluation["swapped"]["stripped"]["fused"]["n"] == 6
    cal = evaluation["stripped"]["calibration"]
    assert cal["n"] == 6 and 0 <= cal["brier_ai"] <= 1 and 0 <= cal["ece_ai"] <= 1
    assert "| camera-original |" in (out / "verdict-eval.md").read_text()
    cached = (out / "features.jsonl").read_text().count("\n")
    assert cached == 24  # 12 images × 2 views
    again = CliRunner().invoke(
        app, ["fit-verdict", str(manifest), "--out", str(out), "--splices", "0"]
    )
    assert again.exit_code == 0 and (out / "features.jsonl").read_text().count("\n") == cached


def test_features_are_finite_for_every_kind_of_report():
    for data, name in (
        (jpeg_bytes(photo_like()), "p.jpg"),
        (b"not an image", "x.jpg"),
        (encode_image(Image.fromarray(photo_like()), "png", 95), "p.png"),
    ):
        report = analyze_bytes(data, name, verdict=False)
        x = features(report)
        assert x.shape == (len(FEATURES),) and np.isfinite(x).all()


def test_copies_rescale_and_recompress():
    from pixelsleuth.detectors.fusion import stability_copies

    copies = dict(stability_copies(photo_like(100, 200)))
    small = Image.open(io.BytesIO(copies["rescaled to 0.75×"]))
    assert small.size == (150, 75)
    assert Image.open(io.BytesIO(copies["recompressed as JPEG q85"])).format == "JPEG"


def test_copies_keep_file_level_and_copy_move_findings_and_rerun_the_rest():
    from pixelsleuth.detectors.fusion import copy_reports

    rgb = photo_like(96, 128)
    analyzers = create_analyzers(["metadata", "jpeg", "ela", "noise", "copy-move"])
    report = analyze_bytes(jpeg_bytes(rgb), "p.jpg", analyzers, verdict=False)
    original = {f.analyzer: f for f in report.findings}
    copies = dict(copy_reports(report, rgb, analyzers))
    assert set(copies) == {"recompressed as JPEG q85", "rescaled to 0.75×"}
    for copy in copies.values():
        found = {f.analyzer: f for f in copy.findings}
        assert set(found) == set(original)
        for name in ("metadata", "jpeg", "copy-move"):  # carried over, not recomputed
            assert found[name] is original[name]
        for name in ("ela", "noise"):  # the copy's own pixels
            assert found[name] is not original[name]
