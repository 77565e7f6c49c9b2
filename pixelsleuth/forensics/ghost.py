"""JPEG ghosts: a region that was once saved at a lower quality than the rest of the image.

Re-saving at quality q changes an image least where it was already quantized at q, so a region
with another compression history leaves a "ghost" (a local minimum of the difference) at its
own earlier quality (H. Farid, "Exposing digital forgeries from JPEG ghosts", 2009). The ghost
appears when the region's 8×8 grid lines up with the image's, which is common but not certain.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.maps import block_mean, limit_size, normalize, robust_z
from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding, Heatmap

GHOST_QUALITIES = tuple(range(50, 100, 5))
GHOST_BLOCK = 16
MIN_SPREAD = 1.0  # grey levels²: blocks whose difference varies less across qualities are flat
GRID_CELL = 16  # pixels per cell of the blocking map (a multiple of 8)
GRID_WINDOW = 5  # cells per side of the sliding window the grid is measured over
GRID_FLOOR = 1.0  # grey levels per boundary: smaller steps are noise, not a grid
GRID_Z = 10.0  # robust z of the blockiest area where grid evidence reaches 0.5 (see below)
# GRID_Z is the 95th percentile of once-compressed photos outside real/camera (corpus
# real/ml72 and real/copy-move, long side 768, saved at q85/90/95/98): 10.3; splices of those
# photos have a median of 19.2. The quality-ghost share was measured the same way and does not
# separate them (spliced median 0), so it yields a map but no evidence. real/camera is kept for
# the evaluation in tests/test_localization.py.
GHOST_GAP = 8  # quality points kept between the file's quality and the highest tried
GHOST_NEAR_MIN = 0.15  # normalised difference under which a block counts as at its minimum


# How much a unit error in each JPEG channel moves the mean squared RGB error: the squared
# column norms of the YCbCr → RGB matrix over the three channels (cross terms average out);
# chroma errors also pass libjpeg's upsampling (taps 3/4, 1/4 per axis), which keeps
# (10/16)² of the energy of an uncorrelated error.
_UPSAMPLING = (10 / 16) ** 2
_CHANNEL_WEIGHTS = (
    1.0,
    _UPSAMPLING * (0.344136**2 + 1.772**2) / 3,
    _UPSAMPLING * (1.402**2 + 0.714136**2) / 3,
)


def _channel_energy(plane: np.ndarray, base: np.ndarray, qualities: tuple[int, ...]) -> np.ndarray:
    """Per 8×8 block and quality: the mean squared error a re-save adds to ``plane``."""
    from pixelsleuth.forensics.formats.jpeg_dct import block_dct32
    from pixelsleuth.forensics.formats.jpeg_quality import ijg_table

    coefficients = block_dct32(plane)
    error = np.empty_like(coefficients)
    out = []
    for q in qualities:
        table = ijg_table(base, q).astype(np.float32)
        # in place: c − round(c / t)·t, squared (a 12 MP plane is 48 MB per temporary)
        np.divide(coefficients, table, out=error)
        np.rint(error, out=error)
        error *= table
        np.subtract(coefficients, error, out=error)
        error *= error
        out.append(error.sum(axis=(2, 3)) / 64.0)
    return np.stack(out)


def ghost_differences(
    rgb: np.ndarray, qualities: tuple[int, ...] = GHOST_QUALITIES, block: int = GHOST_BLOCK
) -> np.ndarray:
    """Block-mean squared difference between the image and its re-save at each quality.

    ``rgb``: uint8 H×W×3; ``block``: a multiple of 16. Returns float32
    (len(qualities), H/block, W/block), grey levels² averaged over R, G and B.

    Computed in the DCT domain instead of by encoding and decoding every quality: a re-save
    (libjpeg tables, 4:2:0 chroma) changes each 8×8 block of Y, Cb and Cr by the quantization
    error of its coefficients, and the DCT is orthonormal, so that error's energy over the
    coefficients equals its energy over the pixels (Parseval). One DCT per channel serves every
    quality: about four times faster on a 12 MP photo than re-encoding, and as good at finding
    splices (ghost-map pixel AUC on 50 corpus splices: 0.654 against 0.650). Approximated: the
    smoothing of chroma upsampling (a fixed factor); left out: rounding and clipping to 8-bit
    pixels, a fraction of a grey level.
    """
    if block % 16:
        raise ValueError(f"block must be a multiple of 16 (one chroma block), not {block}")
    h = (rgb.shape[0] // block) * block
    w = (rgb.shape[1] // block) * block
    if h == 0 or w == 0:
        return np.zeros((len(qualities), 0, 0), np.float32)
    # A stripe of whole blocks at a time: each block's energy depends on its own pixels only,
    # so the result is the same, and the float32 planes stay a few MB instead of 6 × 4 bytes
    # per pixel (over 500 MB at 22 MP).
    rows = max(block, (STRIPE_PIXELS // max(w, 1)) // block * block)
    stripes = [_stripe_energy(rgb[y : y + rows, :w], qualities, block) for y in range(0, h, rows)]
    return np.concatenate(stripes, axis=1)


STRIPE_PIXELS = 1 << 20  # pixels per stripe that ghost_differences works on at once


def _stripe_energy(rgb: np.ndarray, qualities: tuple[int, ...], block: int) -> np.ndarray:
    """:func:`ghost_differences` of a stripe whose height and width are multiples of
    ``block``."""
    from pixelsleuth.forensics.formats.jpeg_quality import IJG_CHROMA, IJG_LUMA

    h = (rgb.shape[0] // block) * block
    w = rgb.shape[1]
    r, g, b = (rgb[:h, :w, c].astype(np.float32) for c in range(3))
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128.0
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128.0
    # 4:2:0: chroma is averaged over 2×2 pixels, so one chroma block covers 16×16 pixels
    energy = _block_mean_stack(_channel_energy(luma, IJG_LUMA, qualities), 2) * _CHANNEL_WEIGHTS[0]
    for plane, weight in ((cb, _CHANNEL_WEIGHTS[1]), (cr, _CHANNEL_WEIGHTS[2])):
        half = plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        energy += weight * _channel_energy(half, IJG_CHROMA, qualities)
    per = block // 16
    if per > 1:
        energy = _block_mean_stack(energy, per)
    return energy.astype(np.float32)


def _block_mean_stack(x: np.ndarray, block: int) -> np.ndarray:
    """:func:`block_mean` of each plane of a (N, H, W) stack."""
    return np.stack([block_mean(plane, block) for plane in x])


def ghost_map(
    diffs: np.ndarray, qualities: tuple[int, ...], below: float | None = None
) -> tuple[np.ndarray, int | None, float]:
    """The strongest ghost: (map in [0, 1], its quality, the share of the image it covers).

    Each block's differences are normalised across qualities (0 = its minimum, 1 = its
    maximum). Re-saving a once-compressed block changes it less and less as the quality
    rises, so at a low quality it is far from its minimum; a ghost block is at its minimum at
    its earlier quality. The quality chosen is where the most blocks are within
    ``GHOST_NEAR_MIN`` of their minimum while the typical block is far from its own; the
    share is 0 unless the typical block is (median normalised difference above 0.3).
    """
    lo = diffs.min(axis=0)
    spread = diffs.max(axis=0) - lo
    informative = spread > MIN_SPREAD  # flat blocks barely change at any quality: noise
    empty = np.zeros(diffs.shape[1:], np.float32)
    candidates = [
        i for i, q in enumerate(qualities[:-1]) if below is None or q <= below - GHOST_GAP
    ]  # the highest quality tried is where every once-compressed block's minimum lies
    if informative.sum() < 16 or not candidates:
        return empty, None, 0.0
    norm = (diffs - lo) / np.maximum(spread, 1e-6)

    def contrast(i: int) -> float:
        # ghost blocks at their minimum while the typical block is far from its own
        values = norm[i][informative]
        return float((values < GHOST_NEAR_MIN).mean() * np.median(values))

    best_i = max(candidates, key=contrast)
    values = norm[best_i][informative]
    share = float((values < GHOST_NEAR_MIN).mean()) if np.median(values) > 0.3 else 0.0
    heat = np.where(informative, 1.0 - norm[best_i], 0.0)
    return heat.astype(np.float32), qualities[best_i], share


def _boundary_excess(g: np.ndarray, axis: int) -> np.ndarray:
    """|difference| across each pixel boundary minus the mean of its two neighbours' (≥ 0):
    a step between blocks stands out, a smooth gradient or texture does not."""
    a = np.abs(np.diff(g, axis=axis))
    padded = np.pad(a, [(1, 1) if ax == axis else (0, 0) for ax in range(2)], mode="edge")
    before = np.take(padded, range(0, a.shape[axis]), axis=axis)
    after = np.take(padded, range(2, a.shape[axis] + 2), axis=axis)
    return np.maximum(a - 0.5 * (before + after), 0.0)


def _stripe_steps(
    gray: np.ndarray, y0: int, y1: int, h: int, w: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``y0:y1`` of the horizontal and vertical boundary steps over the ``h``×``w``
    top-left part of ``gray`` (each boundary's |difference| in excess of its neighbours'),
    exactly as :func:`_boundary_excess` gives them on the whole plane: the boundary after the
    last column (row) is against the next one, or against a repeat where the image ends."""
    cols = gray[y0:y1, : w + 1].astype(np.float32)
    if cols.shape[1] == w:
        cols = np.pad(cols, ((0, 0), (0, 1)), mode="edge")
    steps_x = _boundary_excess(cols, axis=1)  # boundary after column x
    top, bottom = max(y0 - 1, 0), min(y1 + 1, h)  # the rows whose steps are needed, ±1
    rows = gray[top : bottom + 1, :w].astype(np.float32)
    if bottom == gray.shape[0]:
        rows = np.concatenate([rows, rows[-1:]])
    a = np.abs(np.diff(rows, axis=0))  # a[i]: the step after row top + i
    first, last = y0 - top, y1 - top
    before = a[first - 1 : last - 1] if y0 else np.concatenate([a[:1], a[: last - 1]])
    after = a[first + 1 : last + 1] if y1 < h else np.concatenate([a[first + 1 : last], a[-1:]])
    steps_y = np.maximum(a[first:last] - 0.5 * (before + after), 0.0)
    return steps_x, steps_y


def blocking_map(gray: np.ndarray, cell: int = GRID_CELL, window: int = GRID_WINDOW) -> np.ndarray:
    """Local strength of 8×8 JPEG blocking, at whatever grid phase it has.

    The step across each pixel boundary (its |difference| in excess of its neighbours') is
    profiled by column (row) phase modulo 8 over sliding windows of ``window``×``window``
    cells of ``cell`` pixels; a JPEG grid makes one phase stand out. Returns float32
    (H/cell, W/cell): (peak − median) / mean of each profile, summed over both directions.
    A region that went through an earlier, coarser compression shows a stronger grid, or one
    at another phase than the rest of the image.
    """
    h, w = (gray.shape[0] // cell) * cell, (gray.shape[1] // cell) * cell
    if h == 0 or w == 0:
        return np.zeros((0, 0), np.float32)
    per = cell // 8
    # A stripe of whole cells at a time, with the rows around it that the vertical steps
    # need: the same profiles, without a dozen full-size float32 temporaries.
    rows = max(cell, (STRIPE_PIXELS // max(w, 1)) // cell * cell)
    parts_x, parts_y = [], []
    for y0 in range(0, h, rows):
        y1 = min(y0 + rows, h)
        steps_x, steps_y = _stripe_steps(gray, y0, y1, h, w)
        parts_x.append(steps_x.reshape((y1 - y0) // cell, cell, w // cell, per, 8).sum(axis=(1, 3)))
        parts_y.append(steps_y.reshape((y1 - y0) // cell, per, 8, w // cell, cell).sum(axis=(1, 4)))
    prof_x = np.concatenate(parts_x)
    prof_y = np.concatenate(parts_y).transpose(0, 2, 1)
    floor = GRID_FLOOR * cell * cell / 8  # per window and phase
    strength = np.zeros(prof_x.shape[:2], np.float32)
    for prof in (prof_x, prof_y):
        prof = uniform_filter(prof, size=(window, window, 1), mode="nearest")
        strength += (prof.max(axis=2) - np.median(prof, axis=2)) / (prof.mean(axis=2) + floor)
    return strength


@register
class GhostAnalyzer(Analyzer):
    name = "ghost"
    title = "JPEG ghosts"
    explains = (
        "Traces of an earlier JPEG compression in part of the image: a ghost appears where a "
        "region saved before at a lower quality is re-saved at that quality (when its 8×8 grid "
        "lines up with the image's), and a pasted region's block artefacts can be stronger or "
        "out of step with the rest; smooth and strongly textured areas can mislead both."
    )
    order = 55

    # Over 80 lines: two analyses of one JPEG (the block-grid trace, then the ghosts below the
    # file's own quality), each with its map and evidence, then one summary over both.
    def analyze(self, image: LoadedImage) -> Finding:
        from pixelsleuth.forensics.formats.jpeg_quality import jpeg_tables

        if image.info.format != "JPEG":
            # Ghosts and grid traces are JPEG compression history; a PNG, WebP or TIFF may never
            # have been a JPEG, and generators' 8-pixel upsampling grids mimic JPEG blocking.
            return Finding(
                self.name,
                f"Not a JPEG file ({image.info.format or 'unknown format'}): it may never have "
                "been JPEG-compressed, so there is no JPEG history to read and this analysis "
                "does not judge it.",
                details={"abstained": "not a JPEG file"},
            )
        if reduced := image.require_full_resolution("the JPEG ghost and grid analysis"):
            return Finding(self.name, reduced, details={"abstained": "reduced copy"})
        tables = jpeg_tables(image)
        file_quality = tables[1].quality if tables and tables[1] else None
        evidence: list[Evidence] = []
        maps: list[Heatmap] = []
        details: dict[str, Any] = {"file_quality": file_quality}

        grid = blocking_map(image.gray())
        if grid.size >= 16:
            grid_z = robust_z(grid)
            grid_extreme = float(np.percentile(grid_z, 99.5))
            grid_score = 1.0 / (1.0 + np.exp(-(grid_extreme - GRID_Z) / 1.0))
            details["grid"] = {"extreme_z": round(grid_extreme, 3), "score": round(grid_score, 4)}
            maps.append(
                Heatmap(
                    "jpeg_grid",
                    "Strength of 8×8 JPEG blocking in each area, at any grid position (bright = "
                    "stronger or shifted blocking than elsewhere: a trace of another compression).",
                    limit_size(normalize(grid, 1, 99.5)),
                )
            )
            if grid_score >= 0.5:
                evidence.append(
                    Evidence(
                        "jpeg_grid_anomaly",
                        "One area shows JPEG block artefacts much stronger than, or out of step "
                        "with, the rest of the image: a sign of a region pasted from another JPEG.",
                        Direction.EDITED,
                        round(0.3 + 0.4 * grid_score, 3),
                    )
                )

        # Near the file's own quality every block changes little (the last save quantized it
        # there), which would hide an earlier ghost: look only well below it.
        qualities = tuple(
            q for q in GHOST_QUALITIES if file_quality is None or q <= file_quality - GHOST_GAP
        )
        if len(qualities) >= 3:
            diffs = ghost_differences(image.rgb(), qualities)
            if diffs.shape[1] * diffs.shape[2] >= 16:
                heat, q_star, share = ghost_map(diffs, qualities, file_quality)
                details.update(
                    qualities=list(qualities),
                    strongest_ghost_quality=q_star,
                    ghost_share=round(share, 4),
                )
                maps.insert(
                    0,
                    Heatmap(
                        "ghost",
                        f"How close each area is to its smallest change when re-saved at quality "
                        f"{q_star} (bright = a ghost of an earlier save at that quality).",
                        limit_size(heat),
                    ),
                )
                # The share does not separate pasted from untouched photos well enough to
                # decide on its own (see GRID_Z's note): the map is for a person to read.
        else:
            details["note"] = "the file's quality is too low to look for an earlier, lower one"
        if not maps:
            return Finding(self.name, "The image is too small to look for JPEG ghosts.")
        strongest = max(evidence, key=lambda e: e.strength, default=None)
        summary = (
            strongest.message
            if strongest
            else ("No area shows traces of a different, earlier JPEG compression.")
        )
        score = 0.5 + 0.5 * strongest.strength if strongest else 0.3
        return Finding(self.name, summary, round(score, 4), evidence, details, maps)
