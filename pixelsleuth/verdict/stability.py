"""The perturbed copies that the stability check scores again.

Only the AI call is checked: traces of editing are traces of compression history, which
re-saving a copy rewrites by design. So a copy re-runs only the pixel analyzers that feed
P(AI-generated) (:data:`STABILITY_ANALYZERS`) and keeps every other finding of the original
(file-level findings, ghost and copy-move, which speak to editing and cost the most).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pixelsleuth.imageio import JPEG_MAX_SIDE

# (description, scale or None, JPEG quality or None: PNG)
STABILITY_VIEWS = (("recompressed as JPEG q85", None, 85), ("rescaled to 0.75×", 0.75, None))
# The pixel analyzers whose scores move P(AI-generated) in the verdict model; the others'
# findings are carried over from the original.
STABILITY_ANALYZERS = ("detector", "spectrum", "noise", "ela")
MIN_STABILITY_SIDE = 256  # the detector's crop: smaller images have no detector score to check


def stability_copies(rgb: np.ndarray) -> list[tuple[str, bytes]]:
    """(description, JPEG/PNG bytes) of each copy of ``rgb`` (uint8 H×W×3) to score again."""
    out = []
    for name, scale, quality in STABILITY_VIEWS:
        im = Image.fromarray(rgb)
        if scale:
            im = im.resize(
                (max(8, round(im.width * scale)), max(8, round(im.height * scale))),
                Image.Resampling.BICUBIC,
            )
        buf = io.BytesIO()
        if quality and max(im.size) > JPEG_MAX_SIDE:
            continue  # no JPEG copy exists of so wide an image: libjpeg refuses to write it
        if quality:
            im.save(buf, "JPEG", quality=quality)
        else:
            im.save(buf, "PNG", compress_level=1)
        out.append((name, buf.getvalue()))
    return out
