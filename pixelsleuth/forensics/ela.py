"""Error level analysis (ELA): how much each region changes when the image is saved again.

Regions with the same compression history change by similar amounts; a region pasted from
elsewhere, or retouched after the last save, can stand out. ELA assumes a JPEG history: on a
never-compressed image (PNG, lossless WebP) it mostly shows edges and texture, and after heavy
or repeated compression the error levels even out.
"""

from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
from PIL import Image

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.formats.parsed import parsed_metadata
from pixelsleuth.forensics.maps import block_mean, limit_size, robust_z
from pixelsleuth.imageio import JPEG_MAX_SIDE, LoadedImage, decode_jpeg_rgb, jpeg_roundtrip
from pixelsleuth.report import Direction, Evidence, Finding, Heatmap

ELA_QUALITY = 90
ELA_BLOCK = 16
ELA_STRIPE_ROWS = 512  # a multiple of 16: stripes start on the JPEG block grid
HALO = 16


def error_level(rgb: np.ndarray, quality: int = ELA_QUALITY) -> np.ndarray:
    """Per-pixel error level: max over R, G, B of |image − JPEG re-save at ``quality``|.

    ``rgb``: uint8 H×W×3. Returns uint8 H×W (grey levels, 0–255).

    Re-saved ELA_STRIPE_ROWS rows at a time, each with HALO rows around it: JPEG codes 16×16
    blocks (at 4:2:0) on the same grid as the whole image's, and decoding reaches one chroma
    row across a block edge, so inside the halo the pixels are those of re-saving the whole
    image, while the temporaries stay a few MB at any image size.
    """
    h = rgb.shape[0]
    levels = np.empty(rgb.shape[:2], np.uint8)
    for y0 in range(0, h, ELA_STRIPE_ROWS):
        y1 = min(y0 + ELA_STRIPE_ROWS, h)
        top, bottom = max(y0 - HALO, 0), min(y1 + HALO, h)
        part = np.ascontiguousarray(rgb[top:bottom])
        diff = cv2.absdiff(part, _resaved(part, quality))  # uint8, no int16 copies
        # an elementwise maximum of the three planes is ~20× faster than max(axis=2) here
        level = np.maximum(diff[..., 0], diff[..., 1])
        np.maximum(level, diff[..., 2], out=level)
        levels[y0:y1] = level[y0 - top : y1 - top]
    return levels


def _scaled(levels: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """:func:`normalize` of uint8 error levels through a 256-entry table: the percentiles of
    the levels, one float32 copy at the end rather than three."""
    a, b = np.percentile(levels, [lo, hi])
    if b - a < 1e-12:
        return np.zeros(levels.shape, np.float32)
    table = np.clip((np.arange(256, dtype=np.float32) - a) / (b - a), 0, 1).astype(np.float32)
    return table[levels]


def _resaved(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``rgb`` saved by Pillow as JPEG at ``quality`` and decoded again (uint8 H×W×3): the
    pixels of :func:`jpeg_roundtrip`, decoded by libjpeg-turbo straight into one array where
    it is installed (the same values, without Pillow's conversion copies)."""
    if max(rgb.shape[:2]) > JPEG_MAX_SIDE:  # libjpeg would refuse it, on stderr: say it in words
        return np.asarray(jpeg_roundtrip(Image.fromarray(rgb), quality), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    decoded = decode_jpeg_rgb(buf.getvalue())
    if decoded is not None and decoded.shape == rgb.shape:
        return decoded
    return np.asarray(jpeg_roundtrip(Image.fromarray(rgb), quality), dtype=np.uint8)


def ela_unevenness(block_levels: np.ndarray) -> tuple[float, np.ndarray]:
    """How much the most extreme regions differ from the typical error level.

    ``block_levels``: mean error level per block (grey levels). Returns a score in [0, 1] (a
    logistic of the robust z-score of the 99th-percentile block) and the per-block robust
    z-scores of log error level.
    """
    logs = np.log1p(block_levels)
    z = robust_z(logs)
    extreme = float(np.percentile(np.abs(z), 99)) if z.size else 0.0
    score = 1.0 / (1.0 + np.exp(-(extreme - 6.0) / 1.5))  # ~0.07 at z=2, 0.5 at z=6
    return float(score), z.astype(np.float32)


@register
class ElaAnalyzer(Analyzer):
    name = "ela"
    title = "Error level analysis"
    explains = (
        "Bright regions changed more than the rest when the image was saved again; a region "
        "with a different compression history can stand out, but edges and texture also look "
        "bright, and ELA says little about never-compressed or heavily recompressed images."
    )
    order = 50

    def analyze(self, image: LoadedImage) -> Finding:
        if reduced := image.require_full_resolution("error level analysis (a re-save on its grid)"):
            return Finding(self.name, reduced, details={"abstained": "reduced copy"})
        rgb = image.rgb()
        levels = error_level(rgb)
        blocks = block_mean(levels, ELA_BLOCK)
        counts = np.bincount(levels.ravel(), minlength=256)
        if blocks.size < 16:
            return Finding(self.name, "The image is too small for error level analysis.")
        score, _ = ela_unevenness(blocks)
        kind = parsed_metadata(image).containers.kind
        details: dict[str, Any] = {
            "resave_quality": ELA_QUALITY,
            "block": ELA_BLOCK,
            "mean_error_level": round(float(counts @ np.arange(256)) / max(levels.size, 1), 3),
            "p99_block_error_level": round(float(np.percentile(blocks, 99)), 3),
            "unevenness": round(score, 4),
        }
        # amplified for display: error levels are a few grey levels at most
        heat = Heatmap(
            "ela",
            f"Error level after re-saving at quality {ELA_QUALITY}, amplified "
            "(bright = changed more).",
            limit_size(_scaled(levels, 0.5, 99.5)),
        )
        evidence: list[Evidence] = []
        if kind != "jpeg":
            summary = (
                "This image has no JPEG history to compare against, so error levels mostly "
                "follow edges and texture; ELA is not informative here."
            )
            return Finding(self.name, summary, None, evidence, details, [heat])
        jpeg_quality = _jpeg_quality(image)
        details["file_quality"] = jpeg_quality
        if jpeg_quality is not None and jpeg_quality < 70:
            summary = (
                f"The file is heavily compressed (quality about {jpeg_quality:.0f}), which evens "
                "out error levels; ELA cannot say much here."
            )
            return Finding(self.name, summary, None, evidence, details, [heat])
        if score >= 0.5:
            evidence.append(
                Evidence(
                    "ela_uneven",
                    "Some regions have a clearly different error level from the rest of the "
                    "image, as a pasted or retouched region can (check them against edges and "
                    "texture on the map).",
                    Direction.EDITED,
                    round(0.3 + 0.4 * score, 3),
                )
            )
            summary = evidence[0].message
        else:
            summary = "Error levels are even across the image: no region stands out."
        return Finding(self.name, summary, round(0.2 + 0.6 * score, 4), evidence, details, [heat])


def _jpeg_quality(image: LoadedImage) -> float | None:
    from pixelsleuth.forensics.formats.jpeg_quality import jpeg_tables

    tables = jpeg_tables(image)
    return None if tables is None or tables[1] is None else tables[1].quality
