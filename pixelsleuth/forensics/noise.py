"""Noise analysis: is the sensor noise the same everywhere, as in one photograph?

A camera leaves noise of a similar level across the frame (depending on brightness). A region
pasted from another photo, airbrushed, or synthesised often has a different noise level.
Texture and strong edges also raise the estimate, and very dark or saturated areas lower it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.maps import block_view, limit_size, median_residual, normalize, robust_z
from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding, Heatmap

NOISE_BLOCK = 32  # pixels per block side for the noise-level map


def haar_hh(gray: np.ndarray) -> np.ndarray:
    """The diagonal (HH) band of a one-level Haar wavelet transform, at half resolution."""
    h, w = (gray.shape[0] // 2) * 2, (gray.shape[1] // 2) * 2
    g = gray[:h, :w].astype(np.float32, copy=False)
    return (g[0::2, 0::2] - g[0::2, 1::2] - g[1::2, 0::2] + g[1::2, 1::2]) / 2.0


def block_noise_sigma(gray: np.ndarray, block: int = NOISE_BLOCK) -> np.ndarray:
    """Noise standard deviation per block (grey levels): σ = median(|HH|) / 0.6745 (Donoho's
    robust estimator) over each ``block``×``block`` pixel block. Returns float32 (H/b)×(W/b)."""
    hh = np.abs(haar_hh(gray))
    blocks = block_view(hh, block // 2)
    flat = blocks.reshape(blocks.shape[0], blocks.shape[1], -1)
    return (np.median(flat, axis=2) / 0.6745).astype(np.float32)


def noise_inconsistency(sigma: np.ndarray, brightness: np.ndarray) -> tuple[float, np.ndarray]:
    """Score in [0, 1] for how inconsistent the block noise levels are, and a per-block map of
    |robust z| of log σ. Blocks that are nearly black or white (noise clipped) are ignored."""
    usable = (brightness > 12) & (brightness < 243)  # clipped areas have no noise to measure
    logs = np.log(np.maximum(sigma, 0.05))
    z = np.zeros_like(logs)
    if usable.sum() < 16:
        return 0.0, z
    z_usable = robust_z(logs[usable])
    z[usable] = np.abs(z_usable)
    # the share of blocks far from the common level, weighted by how far
    extreme = float(np.percentile(np.abs(z_usable), 98))
    score = 1.0 / (1.0 + np.exp(-(extreme - 4.5) / 1.0))
    return float(score), z.astype(np.float32)


@register
class NoiseAnalyzer(Analyzer):
    name = "noise"
    title = "Noise consistency"
    explains = (
        "A photograph has similar sensor noise everywhere; a region whose noise level differs "
        "may come from elsewhere or have been retouched, though texture, edges, dark and "
        "saturated areas also change the estimate."
    )
    order = 60

    def analyze(self, image: LoadedImage) -> Finding:
        gray = image.gray()
        blocks = (gray.shape[0] // NOISE_BLOCK) * (gray.shape[1] // NOISE_BLOCK)
        if blocks < 16:  # fewer blocks than that give no common level to compare against
            return Finding(
                self.name,
                f"The image is too small for noise analysis (it needs at least 16 blocks of "
                f"{NOISE_BLOCK}×{NOISE_BLOCK} pixels, about 128×128).",
                details={"abstained": "too small", "blocks": blocks},
            )
        sigma = block_noise_sigma(gray)
        brightness = block_view(gray, NOISE_BLOCK).mean(axis=(2, 3))
        score, z = noise_inconsistency(sigma, brightness)
        residual = median_residual(gray)
        details: dict[str, Any] = {
            "block": NOISE_BLOCK,
            "median_sigma": round(float(np.median(sigma)), 4),
            "sigma_p5_p95": [round(float(v), 4) for v in np.percentile(sigma, [5, 95])],
            "inconsistency": round(score, 4),
        }
        maps = [
            Heatmap(
                "noise_level",
                "How far each block's noise level is from the image's usual "
                "level (bright = different).",
                limit_size(np.clip(z / 6.0, 0, 1)),
            ),
            Heatmap(
                "noise_residual",
                "The noise residual (image minus its 3×3 median), amplified.",
                limit_size(normalize(np.abs(residual, out=residual), 0.5, 99.5, in_place=True)),
            ),
        ]
        evidence = []
        if score >= 0.5:
            evidence.append(
                Evidence(
                    "noise_inconsistent",
                    "Some regions have a noise level unlike the rest of the image, as a pasted, "
                    "smoothed or generated region can (texture and lighting can also cause this).",
                    Direction.EDITED,
                    round(0.25 + 0.4 * score, 3),
                )
            )
            summary = evidence[0].message
        else:
            summary = "The noise level is consistent across the image."
        return Finding(self.name, summary, round(0.2 + 0.6 * score, 4), evidence, details, maps)
