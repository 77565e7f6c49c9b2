"""Fit the double-JPEG decision threshold on real photos that the evaluation does not use.

    python scripts/calibrate_double_jpeg.py [FOLDER ...]
        (default: ../shared/corpus/real/ml72 and ../shared/corpus/real/copy-move)

Each photo is used at two sizes (long side 1600 and 640 px). Single-compressed images are made
from its pixels resized by 0.71 (which erases any earlier JPEG grid) and saved once at
qualities 75, 90, 95 and 98; double-compressed ones are saved at 85, 95 or 98 first, then again
at a quality above that. Prints the score distributions and the
95th percentile of the single-compressed scores, the value of DOUBLE_JPEG_THRESHOLD.
real/camera is left for the evaluation in tests/test_jpeg.py.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from pixelsleuth.analyze import analyze_bytes

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [ROOT.parent / "shared/corpus/real/ml72", ROOT.parent / "shared/corpus/real/copy-move"]


def score(data: bytes) -> float | None:
    finding = analyze_bytes(data, "x.jpg", ["jpeg"]).findings[0]
    return finding.details["double_compression"]["score"]


def encode(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:]] or DEFAULT
    single, double = [], []
    for path in sorted(p for f in folders for p in f.iterdir() if p.is_file()):
        full = Image.open(path).convert("RGB")
        for side in (1600, 640):  # large and small images: noise differs with size
            im = full.copy()
            im.thumbnail((side, side))
            small = im.resize(
                (int(im.width * 0.71), int(im.height * 0.71)), Image.Resampling.LANCZOS
            )
            single += [score(encode(small, q)) for q in (75, 90, 95, 98)]
            for q1 in (85, 95, 98):
                first = Image.open(io.BytesIO(encode(im, q1))).convert("RGB")
                double += [score(encode(first, q2)) for q2 in sorted({q1 + 2, 100})]
    single = np.array([s for s in single if s is not None])
    double = np.array([s for s in double if s is not None])
    print(
        f"single-compressed: n={len(single)} p50={np.median(single):.3f} "
        f"p90={np.percentile(single, 90):.3f} p95={np.percentile(single, 95):.3f} "
        f"max={single.max():.3f}"
    )
    print(
        f"double-compressed: n={len(double)} p5={np.percentile(double, 5):.3f} "
        f"p50={np.median(double):.3f}"
    )
    threshold = float(np.percentile(single, 95))
    print(
        f"threshold (95th percentile of single): {threshold:.3f}; "
        f"double detected at it: {(double >= threshold).mean():.1%}"
    )


if __name__ == "__main__":
    main()
