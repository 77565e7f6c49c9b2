"""JPEG tables, quality and compression history."""

from __future__ import annotations

import io
import math
import shutil
import subprocess

import numpy as np
import piexif
import pytest
from PIL import Image

from pixelsleuth.analyze import analyze_bytes
from pixelsleuth.forensics.formats.jpeg_quality import IJG_LUMA, estimate_quality, ijg_table
from pixelsleuth.forensics.jpeg import DOUBLE_JPEG_THRESHOLD

from .conftest import corpus_dir, jpeg_bytes, photo_like


def _jpeg_finding(data: bytes, name: str = "x.jpg"):
    return analyze_bytes(data, name, ["jpeg"]).findings[0]


def test_pillow_qualities_1_to_100_are_matched_exactly():
    arr = photo_like(64, 64)
    wrong = []
    for q in range(1, 101):
        quality = _jpeg_finding(jpeg_bytes(arr, quality=q)).details["quality"]
        if not (quality["exact_ijg"] and quality["estimate"] == q):
            wrong.append((q, quality))
    assert wrong == []


def test_structure_facts():
    arr = photo_like(64, 96)
    d = _jpeg_finding(jpeg_bytes(arr, quality=80, subsampling="4:4:4")).details
    assert (d["process"], d["subsampling"], d["huffman"], d["progressive"]) == (
        "baseline",
        "4:4:4",
        "standard",
        False,
    )
    d = _jpeg_finding(jpeg_bytes(arr, quality=80, progressive=True, optimize=True)).details
    assert d["progressive"] and d["subsampling"] == "4:2:0" and d["huffman"] == "optimised"
    assert d["scans"] > 1


def test_estimate_of_scaled_nonstandard_tables_has_a_spread():
    noisy = np.clip(ijg_table(IJG_LUMA, 80) + np.tile([0, 1], 32).reshape(8, 8), 1, 255)
    est = estimate_quality(noisy)
    assert not est.exact and 77 <= est.quality <= 81 and est.low < est.high


@pytest.mark.skipif(
    shutil.which("identify") is None,
    reason="ImageMagick is not installed (Debian imagemagick; .ci/run installs it)",
)
def test_quality_agrees_with_imagemagick_on_camera_photos():
    paths = sorted(corpus_dir("real", "camera").glob("*.jpg"))
    rows = []
    for path in paths:
        q = _jpeg_finding(path.read_bytes()).details["quality"]
        im = subprocess.run(
            ["identify", "-format", "%Q", str(path)], capture_output=True, text=True, timeout=60
        ).stdout.strip()
        rows.append((path.name.split("__")[-1], q, float(im)))
    convention = sum(abs(q["imagemagick"] - im) <= 2 for _, q, im in rows) / len(rows)
    principled = sum(abs(q["estimate"] - im) <= 2 for _, q, im in rows) / len(rows)
    print(
        f"\nwithin ±2 of identify %Q: ImageMagick-convention {convention:.1%}, "
        f"pixelsleuth estimate {principled:.1%} (n={len(rows)})"
    )
    for name, q, im in rows:
        if abs(q["estimate"] - im) > 2:
            print(
                f"  {name}: estimate {q['estimate']} (exact={q['exact_ijg']}), "
                f"convention {q['imagemagick']}, identify {im}"
            )
    assert convention >= 0.95
    assert principled >= 0.80


def _reencode(data: bytes, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _double_score(data: bytes) -> float | None:
    return _jpeg_finding(data).details["double_compression"]["score"]


@pytest.mark.slow
def test_double_compression_on_camera_photos():
    """Threshold fitted on other photos (scripts/calibrate_double_jpeg.py); evaluated here.

    The detector abstains (score None) on images too small for coefficient statistics; those
    cases are counted apart and must all be tiny.
    """
    doubles, singles, abstained = [], [], []
    for path in sorted(corpus_dir("real", "camera").glob("*.jpg")):
        data = path.read_bytes()
        try:
            im = Image.open(io.BytesIO(data))
            im.load()
        except OSError:
            continue  # a damaged file cannot be re-encoded
        q1 = _jpeg_finding(data).details["quality"]["estimate"]
        for q2 in sorted({math.ceil(q1) + 3, 100}):
            if q1 < q2 <= 100:
                score = _double_score(_reencode(data, q2))
                if score is None:
                    abstained.append((path.name, im.size))
                else:
                    doubles.append(score)
        # once compressed from pixels without JPEG history: resized off the 8×8 grid
        rgb = im.convert("RGB")
        small = rgb.resize(
            (int(rgb.width * 0.71), int(rgb.height * 0.71)), Image.Resampling.LANCZOS
        )
        for q in (75, 95):
            buf = io.BytesIO()
            small.save(buf, "JPEG", quality=q)
            singles.append(_double_score(buf.getvalue()) or 0.0)
    doubles, singles = np.array(doubles), np.array(singles)
    detected = float((doubles >= DOUBLE_JPEG_THRESHOLD).mean())
    false_alarms = float((singles >= DOUBLE_JPEG_THRESHOLD).mean())
    total = len(doubles) + len(abstained)
    print(
        f"\ndouble (q2 > q1): flagged {detected:.1%} of {len(doubles)} decided; "
        f"{len(abstained)} abstained (too small); "
        f"flagged {(doubles >= DOUBLE_JPEG_THRESHOLD).sum() / total:.1%} of all {total}"
    )
    print(f"single: flagged {false_alarms:.1%} of {len(singles)}")
    assert len(doubles) >= 60 and len(singles) >= 100
    assert detected >= 0.90
    assert false_alarms <= 0.10
    assert all(w * h < 20_000 for _, (w, h) in abstained), abstained


def test_png_pixels_compressed_once_are_not_flagged():
    paths = sorted(corpus_dir("ai", "comfyui").glob("*.png"))[:8]
    flagged = 0
    for path in paths:
        rgb = Image.open(path).convert("RGB")
        rgb.thumbnail((1024, 1024))
        for q in (70, 90, 98):
            buf = io.BytesIO()
            rgb.save(buf, "JPEG", quality=q)
            flagged += (_double_score(buf.getvalue()) or 0) >= DOUBLE_JPEG_THRESHOLD
    print(f"\nPNG → JPEG once: {flagged}/{len(paths) * 3} flagged")
    assert flagged <= 0.1 * len(paths) * 3


def test_camera_exif_with_software_tables_is_evidence():
    folder = corpus_dir("real", "camera")
    path = next(p for p in folder.glob("*.jpg") if p.name.endswith("Canon PowerShot A70.jpg"))
    original = path.read_bytes()
    f = _jpeg_finding(original)
    assert any(e.code == "camera_tables" for e in f.evidence)
    # the same photo re-saved by Pillow with its EXIF kept
    exif = piexif.dump(piexif.load(original))
    resaved = io.BytesIO()
    Image.open(io.BytesIO(original)).save(resaved, "JPEG", quality=90, exif=exif)
    f = _jpeg_finding(resaved.getvalue())
    codes = {e.code: e for e in f.evidence}
    assert codes["software_tables_with_camera_exif"].strength >= 0.5
    assert "double_compression" in codes or f.details["double_compression"]["score"] is not None
    assert f.score > 0.7
