"""Array maths for heatmaps and the analyses behind them: block statistics, normalisation,
resizing, robust z-scores and the median noise residual.

Maps are float32 arrays in [0, 1] (higher = more suspicious), usually at block resolution to
keep reports small; :func:`to_image_size` brings them back to the image grid. Drawing them
(colours, PNGs, overlays) is ``pixelsleuth/drawing.py``'s job.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

MAX_MAP_SIDE = 1024  # maps are kept at most this large: enough to see, small to keep


def block_view(x: np.ndarray, block: int) -> np.ndarray:
    """(H, W) -> (H // block, W // block, block, block), dropping the ragged edge."""
    h, w = (x.shape[0] // block) * block, (x.shape[1] // block) * block
    return x[:h, :w].reshape(h // block, block, w // block, block).swapaxes(1, 2)


def block_mean(x: np.ndarray, block: int) -> np.ndarray:
    return block_view(x, block).mean(axis=(2, 3), dtype=np.float64).astype(np.float32)


def normalize(
    x: np.ndarray, lo: float = 1.0, hi: float = 99.0, in_place: bool = False
) -> np.ndarray:
    """Scale by robust percentiles into [0, 1] (float32). ``in_place``: a float32 ``x`` that
    the caller no longer needs is scaled itself, without another full-size array."""
    x = np.asarray(x, dtype=np.float32)
    finite = x if np.isfinite(x).all() else x[np.isfinite(x)]  # no copy in the usual case
    if finite.size == 0:
        return np.zeros_like(x)
    a, b = np.percentile(finite, [lo, hi])
    if b - a < 1e-12:
        return np.zeros_like(x)
    out = np.subtract(x, a, out=x if in_place else None)  # scaled and clipped in place
    out /= b - a
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)


def limit_size(x: np.ndarray, max_side: int = MAX_MAP_SIDE) -> np.ndarray:
    """Downscale a map (area average) so that its longer side is at most ``max_side``."""
    h, w = x.shape
    if max(h, w) <= max_side:
        return x.astype(np.float32)
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(x.astype(np.float32), "F").resize(size, Image.Resampling.BOX))


def to_image_size(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a map to the image grid (bilinear), e.g. to compare with a ground-truth mask."""
    im = Image.fromarray(np.asarray(x, np.float32), "F")
    return np.asarray(im.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def robust_z(x: np.ndarray) -> np.ndarray:
    """(x - median) / (1.4826 · MAD), a z-score that outliers do not inflate."""
    med = np.median(x)
    mad = np.median(np.abs(x - med)) * 1.4826
    return (x - med) / max(mad, 1e-9)


def median_residual(gray: np.ndarray, rows: int = 1024) -> np.ndarray:
    """Noise residual: luma minus its 3×3 median. ``gray``: float H×W in 0–255.
    Returns float32 H×W (grey levels, signed).

    ``rows`` rows at a time, each with the row above and below that the median needs (the
    image's own edge is handled by OpenCV as before): the same values, with one full-size
    array instead of four."""
    out = np.empty(gray.shape, np.float32)
    h = gray.shape[0]
    for y0 in range(0, h, rows):
        y1 = min(y0 + rows, h)
        top, bottom = max(y0 - 1, 0), min(y1 + 1, h)
        part = gray[top:bottom]
        g8 = np.clip(np.rint(part), 0, 255).astype(np.uint8)
        # uint8 → float32 is exact: the same values as converting both first
        median = cv2.medianBlur(g8, 3)[y0 - top : y1 - top]
        np.subtract(gray[y0:y1], median, out=out[y0:y1], dtype=np.float32)
    return out
