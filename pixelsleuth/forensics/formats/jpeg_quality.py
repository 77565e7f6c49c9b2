"""JPEG quantization tables and quality: libjpeg's scaled standard tables, an exact or
estimated quality on its 1–100 scale, ImageMagick's convention for comparison, and the table
signature a camera model writes.

Shared by the analyzers that need a file's JPEG quality or libjpeg's tables (``jpeg``, ``ela``,
``ghost``) and by ``scripts/build_jpeg_signatures.py``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from pixelsleuth.forensics.formats.jpeg import ZIGZAG, JpegInfo, parse_jpeg
from pixelsleuth.forensics.formats.parsed import parsed_metadata
from pixelsleuth.imageio import LoadedImage

# ITU-T T.81 Annex K example tables, natural order: the base of libjpeg's quality scaling
IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]).reshape(8, 8)  # fmt: skip
IJG_CHROMA = np.full((8, 8), 99)
IJG_CHROMA[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]


def ijg_table(base: np.ndarray, quality: int, force_baseline: bool = True) -> np.ndarray:
    """libjpeg's ``jpeg_quality_scaling`` + ``jpeg_add_quant_table`` for quality 1–100."""
    quality = min(max(int(quality), 1), 100)
    scale = 5000 // quality if quality < 50 else 200 - quality * 2
    table = (base * scale + 50) // 100
    return np.clip(table, 1, 255 if force_baseline else 32767)


@functools.cache
def _ijg_tables() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return {q: (ijg_table(IJG_LUMA, q), ijg_table(IJG_CHROMA, q)) for q in range(1, 101)}


@dataclass
class QualityEstimate:
    """``quality`` on libjpeg's 1–100 scale; ``exact`` when the tables are libjpeg's own.
    ``low``/``high``: the spread of the quality implied by individual coefficients."""

    quality: float
    exact: bool
    low: float
    high: float

    def describe(self) -> str:
        if self.exact:
            return f"exactly libjpeg's tables at quality {self.quality:.0f}"
        return f"about {self.quality:.0f} (coefficients imply {self.low:.0f}–{self.high:.0f})"


def estimate_quality(luma: np.ndarray, chroma: np.ndarray | None = None) -> QualityEstimate:
    """Match the tables against libjpeg's scaled standard tables, exactly or approximately."""
    for q, (std_luma, std_chroma) in _ijg_tables().items():
        if np.array_equal(luma, std_luma) and (
            chroma is None or np.array_equal(chroma, std_chroma)
        ):
            return QualityEstimate(float(q), True, float(q), float(q))
    # Approximate: the scale factor libjpeg would have used, implied by the table sums
    # (luma and chroma together: both were scaled from their base tables).
    tables, bases = [luma], [IJG_LUMA]
    if chroma is not None:
        tables.append(chroma)
        bases.append(IJG_CHROMA)
    scale = 100.0 * sum(t.sum() for t in tables) / sum(b.sum() for b in bases)
    quality = _quality_from_scale(scale)
    values = np.concatenate([t.ravel() for t in tables])
    base = np.concatenate([b.ravel() for b in bases])
    usable = (values > 1) & (values < 255)  # clamped entries say nothing about the scale
    per_coef = [
        _quality_from_scale(100.0 * v / b)
        for v, b in zip(values[usable], base[usable], strict=True)
    ]
    low, high = np.percentile(per_coef, [10, 90]) if per_coef else (quality, quality)
    return QualityEstimate(round(quality, 1), False, round(float(low), 1), round(float(high), 1))


@functools.cache
def _imagemagick_references() -> dict[int, tuple[int, int, int, int]]:
    """quality -> (two-table sum, two-table checksum, luma sum, luma checksum) of libjpeg's
    tables; the checksum adds the coefficients ImageMagick samples (natural order 2 and 53 of
    luma, 0 and 63 of chroma)."""
    out = {}
    for q, (lum, chrom) in _ijg_tables().items():
        lum_check = int(lum.flat[2] + lum.flat[53])
        out[q] = (
            int(lum.sum() + chrom.sum()),
            lum_check + int(chrom.flat[0] + chrom.flat[63]),
            int(lum.sum()),
            lum_check,
        )
    return out


def imagemagick_quality(qtables: dict[int, np.ndarray]) -> int | None:
    """The quality ImageMagick's ``identify -format %Q`` reports, by its convention: the
    lowest libjpeg quality that is at least as coarse as the file's tables by their sum (over
    *every* table in the file) or by a four-coefficient checksum. Kept for comparison with
    other tools; a third table (a separate Cr copy) makes this read low, so
    :func:`estimate_quality` is the better number."""
    if 0 not in qtables:
        return None
    t0 = qtables[0]
    total = int(sum(t.sum() for t in qtables.values()))
    two = 1 in qtables
    check = int(t0.flat[2] + t0.flat[53]) + (
        int(qtables[1].flat[0] + qtables[1].flat[63]) if two else 0
    )
    for q, (sum2, check2, sum1, check1) in _imagemagick_references().items():
        ref_sum, ref_check = (sum2, check2) if two else (sum1, check1)
        if check < ref_check and total < ref_sum:
            continue
        return q
    return 100


def _quality_from_scale(scale: float) -> float:
    q = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / max(scale, 1e-9)
    return float(min(max(q, 1.0), 100.0))


def table_signature(info: JpegInfo) -> tuple[int, ...] | None:
    """Luma then chroma table in zigzag order, as stored in the signature file."""
    luma, chroma = info.luma_table(), info.chroma_table()
    if luma is None:
        return None
    parts = [luma.ravel()[ZIGZAG]]
    if chroma is not None:
        parts.append(chroma.ravel()[ZIGZAG])
    return tuple(int(v) for v in np.concatenate(parts))


def jpeg_tables(image: LoadedImage) -> tuple[JpegInfo, QualityEstimate | None] | None:
    """The file's JPEG coding parameters and quality estimate (None if not a JPEG); memoised."""

    def compute() -> tuple[JpegInfo, QualityEstimate | None] | None:
        structure = parsed_metadata(image).containers.jpeg
        if structure is None:
            return None
        info = parse_jpeg(structure)
        luma = info.luma_table()
        return info, None if luma is None else estimate_quality(luma, info.chroma_table())

    return image.memo("jpeg_tables", compute)
