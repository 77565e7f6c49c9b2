"""The faster code paths give the results of the plain ones, and the triage profile runs what
it says. Speed itself is measured by the benchmarks in bench/, never by timed tests."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from scipy.ndimage import median_filter

from pixelsleuth.audit import AuditOptions, analyse_path
from pixelsleuth.forensics import copymove, ghost
from pixelsleuth.forensics.spectrum import median_filter_wrap, residual_spectrum
from pixelsleuth.imageio import load_image

from .conftest import camera_photo, corpus_dir
from .test_bad_input import run_cli

TRIAGE = ["metadata", "generator-metadata", "provenance", "jpeg", "detector"]


def test_triage_profile_runs_the_file_level_analyzers_and_the_detector():
    path = camera_photo("Canon EOS 7D")
    proc = run_cli("analyze", "--json", "--profile", "triage", str(path))
    assert proc.returncode == 0, proc.stderr
    findings = {f["analyzer"]: f for f in json.loads(proc.stdout)["findings"]}
    assert list(findings) == TRIAGE
    jpeg = findings["jpeg"]
    assert jpeg["details"]["double_compression"]["score"] is None  # tables only
    assert jpeg["details"]["quality"]["estimate"] > 90  # the tables were still read
    assert findings["metadata"]["score"] is not None


def test_triage_profile_in_an_audit_worker_and_unknown_profiles():
    row, extras = analyse_path(str(camera_photo("Canon EOS 7D")), AuditOptions(profile="triage"))
    assert row.error is None and list(row.findings) == TRIAGE and extras is None
    bad = run_cli("analyze", "--profile", "fastest", str(camera_photo("Canon EOS 7D")))
    assert bad.returncode == 2 and "unknown profile 'fastest'" in bad.stderr


@pytest.mark.parametrize("name", ["Sony Ericsson U10i", "Canon EOS 7D"])
def test_stripes_give_the_maps_of_the_whole_image(monkeypatch, name):
    # ghost works stripe by stripe to bound its memory; the stripes must not show
    image = load_image(camera_photo(name))
    gray, rgb = image.gray()[:, :-3], image.rgb()[:-5]  # ragged edges, not block multiples
    qualities = (60, 70, 80)
    whole_grid, whole_ghost = ghost.blocking_map(gray), ghost.ghost_differences(rgb, qualities)
    monkeypatch.setattr(ghost, "STRIPE_PIXELS", 5000)  # stripes of one cell / block row
    assert np.array_equal(ghost.blocking_map(gray), whole_grid)
    # equal up to float32 rounding (numpy 2.4 sums a stripe's chroma means in another order)
    np.testing.assert_allclose(
        ghost.ghost_differences(rgb, qualities), whole_ghost, rtol=1e-5, atol=1e-3
    )
    assert whole_grid.shape == (gray.shape[0] // 16, gray.shape[1] // 16)


def test_spectrum_median_is_scipys():
    gray = load_image(camera_photo("Sony Ericsson U10i")).gray()
    spectrum = np.abs(np.fft.fft2(gray[:256, :256] - gray[:256, :256].mean())) ** 2
    assert np.array_equal(
        median_filter_wrap(spectrum, 9), median_filter(spectrum, size=9, mode="wrap")
    )
    assert residual_spectrum(gray).shape == (512, 512)


def test_nearest_descriptors_are_the_brute_force_matchers():
    gray = np.clip(np.rint(load_image(camera_photo("Sony Ericsson U10i")).gray()), 0, 255)
    gray = cv2.resize(gray.astype(np.uint8), None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    _, desc = cv2.SIFT_create(nfeatures=2000).detectAndCompute(gray, None)
    indices, distances = copymove._nearest(desc, 6)
    matches = cv2.BFMatcher(cv2.NORM_L2).knnMatch(desc, desc, k=6)
    expected = np.array([[m.distance for m in row] for row in matches], np.float32)
    assert np.array_equal(distances, expected)
    same = indices == np.array([[m.trainIdx for m in row] for row in matches])
    assert same.mean() > 0.999  # only equally distant neighbours may be ordered differently
    assert np.array_equal(indices[:, 0], np.arange(len(desc)))  # itself first (distance 0)


def test_copy_move_findings_do_not_depend_on_what_ran_before():
    folder = corpus_dir("forged", "copy-move")
    target = folder / "michalsorel+jpegcopymove__NoSo_dataset__02_mod.png"
    others = [folder / f"michalsorel+jpegcopymove__NoSo_dataset__0{i}_mod.png" for i in (1, 3)]
    analyzer = copymove.CopyMoveAnalyzer()
    first = analyzer.analyze(load_image(target)).details
    for other in others:  # RANSAC draws from OpenCV's generator in between
        analyzer.analyze(load_image(other))
    assert analyzer.analyze(load_image(target)).details == first
    assert first["exact_copies"] >= 1, "the forgery's clone is found"


def test_an_image_over_the_memory_budget_is_refused_in_words_and_its_metadata_read(
    monkeypatch,
):
    from pixelsleuth.analyze import analyze_file
    from pixelsleuth.budget import GIB, memory_budget_bytes

    monkeypatch.delenv("PIXELSLEUTH_MEMORY_BUDGET_MB", raising=False)
    assert 1.5 * GIB <= memory_budget_bytes() <= 3 * GIB  # the machine's default
    monkeypatch.setenv("PIXELSLEUTH_MEMORY_BUDGET_MB", "100")
    report = analyze_file(camera_photo("Canon EOS 7D"), ["metadata", "ela"], verdict=False)
    metadata, ela = report.findings
    assert metadata.error is None and "Canon EOS 7D" in " ".join(
        e.message for e in metadata.evidence
    )
    assert ela.error is not None and "over the memory budget of 0.1 GiB" in ela.summary
    monkeypatch.setenv("PIXELSLEUTH_MEMORY_BUDGET_MB", "3000")
    report = analyze_file(camera_photo("Canon EOS 7D"), ["ela"], verdict=False)
    assert report.findings[0].error is None


def test_an_image_over_the_memory_budget_is_analysed_on_a_reduced_copy_and_says_so(monkeypatch):
    from pixelsleuth.analyze import analyze_file
    from pixelsleuth.report import Report

    big = camera_photo("Issue 266")  # 5760×3840, 22 MP
    monkeypatch.setenv("PIXELSLEUTH_MEMORY_BUDGET_MB", "1300")  # room for about 6.8 MP
    report = analyze_file(big, ["ela", "ghost", "jpeg", "noise", "spectrum"], verdict=False)
    assert report.file.working_size == [2880, 1920]  # libjpeg's 1/2 DCT scaling
    by_name = {f.analyzer: f for f in report.findings}
    for name in ("ela", "ghost"):  # they need the original 8×8 grid: abstain, in words
        f = by_name[name]
        assert f.error is None and f.score is None and f.details["abstained"] == "reduced copy"
        assert "2880×1920 copy" in f.summary and "memory budget" in f.summary
    jpeg = by_name["jpeg"]
    assert jpeg.details["double_compression"]["score"] is None
    assert "original pixel grid" in jpeg.details["double_compression"]["reason"]
    for name in ("noise", "spectrum"):
        f = by_name[name]
        assert f.score is not None and f.details["working_size"] == [2880, 1920]
        assert "reduced to fit the memory budget" in f.summary
    again = Report.from_json(report.to_json())
    assert again.file.working_size == [2880, 1920]

    monkeypatch.setenv("PIXELSLEUTH_MEMORY_BUDGET_MB", "3000")  # fits: every pixel
    full = analyze_file(big, ["noise"], verdict=False)
    assert full.file.working_size is None and "working_size" not in full.findings[0].details


def test_a_png_over_the_memory_budget_is_decoded_once_and_reduced(monkeypatch):
    from pixelsleuth import imageio
    from pixelsleuth.analyze import analyze_file
    from pixelsleuth.budget import BASELINE_BYTES, BYTES_PER_PIXEL, MIB

    png = corpus_dir("forged", "copy-move") / "michalsorel+jpegcopymove__NoSo_dataset__01_mod.png"
    monkeypatch.setattr(imageio, "MIN_WORKING_PIXELS", 100_000)
    budget = (BASELINE_BYTES + BYTES_PER_PIXEL * 300_000) / MIB
    monkeypatch.setenv("PIXELSLEUTH_MEMORY_BUDGET_MB", f"{budget:.3f}")
    report = analyze_file(png, ["noise", "copy-move"], verdict=False)
    w, h = report.file.working_size
    assert w * h <= 300_000 and abs(w / h - 1024 / 768) < 0.01
    assert all(f.details.get("working_size") == [w, h] for f in report.findings if f.score)
